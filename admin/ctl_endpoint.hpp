#pragma once

// Where `veer ctl` sends its call and with which token. For each, the first source
// given wins: the address from --admin, $VEER_ADMIN, the --config file's
// [admin].address, else 127.0.0.1:9901; the token from --token-file (read as veer
// reads a token file: the whole file, surrounding whitespace dropped),
// $VEER_ADMIN_TOKEN, the --config file's first [admin].tokens entry or else its
// [admin].token_file, else none. Explicit beats discovered, as with curl and kubectl.

#include <optional>
#include <string>

#include "conf/address.hpp"

namespace veer::admin {

struct EndpointSources {
  std::optional<std::string> admin;       // --admin HOST:PORT
  std::optional<std::string> token_file;  // --token-file FILE
  std::optional<std::string> config;      // --config FILE
  std::optional<std::string> env_admin;   // $VEER_ADMIN
  std::optional<std::string> env_token;   // $VEER_ADMIN_TOKEN
};

struct CtlEndpoint {
  conf::HostPort address;
  std::string token;  // "" = send none
};

// The config file is loaded (veer's own loader, blocking: it resolves backend names)
// only when the flags and the environment leave the address or the token open. nullopt
// with *problem when a source given is unusable: an unreadable token file, a config
// that does not load, has no [admin] table or a port of 0, a malformed address.
std::optional<CtlEndpoint> resolve_endpoint(const EndpointSources& sources, std::string* problem);

}  // namespace veer::admin
