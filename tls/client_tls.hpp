#pragma once

// TLS from veer to a pool's backends (config: pool tls = { ... }), for proxied requests
// and health checks alike. Loaded with the configuration, immutable after, shared by
// all workers and the health thread.

#include <memory>
#include <string>
#include <string_view>

#include "conf/config.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"

namespace veer::tls {

class ClientTls;

struct ClientTlsResult {
  std::shared_ptr<const ClientTls> tls;  // null when loading failed
  std::string error;                     // names the file and the problem
};

class ClientTls : public std::enable_shared_from_this<ClientTls> {
 public:
  static ClientTlsResult load(const conf::UpstreamTlsConfig& config);

  // A client-side session to one backend. `backend_host` is the host part of the
  // backend's configured address: the SNI and the name verified when the config has
  // no `sni` (an IP address is sent as no SNI and verified as an IP SAN).
  std::unique_ptr<TlsSession> new_session(std::string_view backend_host) const;

  const conf::UpstreamTlsConfig& config() const;

  // Public for make_shared only: the key is private, so only load() can call it.
  class Key {
    friend class ClientTls;
    Key() = default;
  };
  ClientTls(Key, conf::UpstreamTlsConfig config, SslCtxPtr ctx)
      : config_(std::move(config)), ctx_(std::move(ctx)) {}
  ClientTls(const ClientTls&) = delete;
  ClientTls& operator=(const ClientTls&) = delete;
  ~ClientTls() = default;

 private:
  conf::UpstreamTlsConfig config_;
  SslCtxPtr ctx_;
};

}  // namespace veer::tls
