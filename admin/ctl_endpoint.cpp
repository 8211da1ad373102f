#include "admin/ctl_endpoint.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "conf/load.hpp"

namespace veer::admin {
namespace {

// The whole file without surrounding whitespace, as veer reads [admin].token_file.
std::optional<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!token.empty() && space(token.back()))
    token.pop_back();
  const auto first = std::find_if_not(token.begin(), token.end(), space);
  token.erase(token.begin(), first);
  return token;
}

// The admin API as the configuration file sets it up: its address (a wildcard one
// reached on loopback) and its first token. Loads the whole file with veer's own loader,
// so what ctl reads is what veer reads.
std::optional<CtlEndpoint> configured_endpoint(const std::string& path, std::string* problem) {
  conf::LoadResult loaded = conf::load_config_file(path);
  if (!loaded.ok()) {
    *problem = path + " does not load, so it names no admin address:";
    for (const conf::ConfigError& e : loaded.errors)
      *problem += "\n  " + e.to_string();
    return std::nullopt;
  }
  const conf::AdminConfig& admin = loaded.config->admin;
  if (!admin.enabled) {
    *problem = path + " has no [admin] table: that veer serves no admin API";
    return std::nullopt;
  }
  CtlEndpoint endpoint{admin.host_port, admin.tokens.empty() ? "" : admin.tokens.front().token};
  if (endpoint.address.port == 0) {
    *problem = path + ": [admin].address " + admin.address +
               " takes any free port; pass --admin with the one veer logged";
    return std::nullopt;
  }
  if (endpoint.address.host == "0.0.0.0") endpoint.address.host = "127.0.0.1";
  if (endpoint.address.host == "::") endpoint.address.host = "::1";
  return endpoint;
}

}  // namespace

std::optional<CtlEndpoint> resolve_endpoint(const EndpointSources& sources, std::string* problem) {
  const std::optional<std::string> admin = sources.admin ? sources.admin : sources.env_admin;
  std::optional<std::string> token = sources.env_token;
  if (sources.token_file) {
    token = read_token_file(*sources.token_file);
    if (!token) {
      *problem = "cannot read the token file " + *sources.token_file;
      return std::nullopt;
    }
  }
  std::optional<CtlEndpoint> configured;
  if (sources.config && (!admin || !token)) {  // read only when it has something to give
    configured = configured_endpoint(*sources.config, problem);
    if (!configured) return std::nullopt;
  }
  CtlEndpoint endpoint = configured.value_or(CtlEndpoint{{"127.0.0.1", 9901}, ""});
  if (token) endpoint.token = *token;
  if (admin) {
    const std::optional<conf::HostPort> parsed = conf::parse_host_port(*admin, problem);
    if (!parsed) {
      *problem = "admin address " + *admin + ": " + *problem;
      return std::nullopt;
    }
    endpoint.address = *parsed;
  }
  return endpoint;
}

}  // namespace veer::admin
