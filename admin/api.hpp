#pragma once

// The admin API's endpoints (ADMIN-API.md): authentication, routing, ETag/If-Match,
// JSON in and out, and the audit log. Transport-free: admin/http_server.cpp feeds it
// requests; every call runs on the server's control thread, so changes are serial.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin/auth.hpp"
#include "conf/overrides.hpp"
#include "proxy/snapshot.hpp"

namespace veer::admin {

struct AdminRequest {
  std::string method;
  std::string target;  // path and query as received
  std::string authorization;
  std::string if_match;
  std::string content_type;
  std::string host;            // Host, to tell a same-origin Origin from a cross-site one
  std::string origin;          // Origin, for refusing cross-site requests
  std::string sec_fetch_site;  // Sec-Fetch-Site, likewise
  std::string body;
  bool body_too_large = false;  // the transport cut the body at its limit: answer 413
};

struct AdminReply {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::uint64_t etag = 0;  // 0: no ETag header
};

// What the API steers: implemented by the server, called on its control thread only.
class Runtime {
 public:
  struct Outcome {
    std::vector<std::string> errors;  // empty: applied
    std::uint64_t version = 0;        // the version in force afterwards
    bool internal = false;            // errors are veer's (state file), not the caller's
  };

  virtual std::shared_ptr<const proxy::Snapshot> snapshot() const = 0;
  virtual const conf::Overrides& overrides() const = 0;
  virtual bool ready() const = 0;
  // Validates the config file with `next` on top exactly as a file, persists `next`
  // to the state file, then swaps the result in. `drain` replaces timeouts.drain for
  // backends the change removes.
  virtual Outcome apply(conf::Overrides next, std::optional<conf::Duration> drain) = 0;
  // Re-reads the config file (the overrides stay on top).
  virtual Outcome reload() = 0;
  // Prometheus text exposition; nullopt when [admin].metrics is off.
  virtual std::optional<std::string> metrics() = 0;
  // Requests the split sent to each target pool so far.
  virtual std::map<std::string, std::uint64_t> split_assignments(const std::string& split) = 0;

 protected:
  ~Runtime() = default;
};

class Api {
 public:
  Api(Runtime& runtime, const conf::AdminConfig& config);
  AdminReply handle(const AdminRequest& request);

 private:
  AdminReply route(const AdminRequest& request, const std::string& path,
                   const std::map<std::string, std::string>& query, const std::string& who);
  // Applies `next`; a success answers `status` with the version, and `extra` string
  // fields.
  AdminReply change(const AdminRequest& request, const std::string& who, conf::Overrides next,
                    std::optional<conf::Duration> drain, std::string summary, unsigned status = 200,
                    const std::vector<std::pair<std::string, std::string>>& extra = {});
  void audit(const AdminRequest& request, const std::string& who, std::uint64_t before,
             std::uint64_t after, const std::string& summary);
  double request_rate(const std::string& key, std::uint64_t count);

  Runtime& runtime_;
  TokenChecker tokens_;
  bool metrics_need_token_;
  std::string audit_path_;
  // Last request counts seen per backend, for GET /api/v1/pools' request rates.
  struct Sample {
    std::uint64_t count = 0;
    std::chrono::steady_clock::time_point at;
    double rate = 0;
  };
  std::map<std::string, Sample> samples_;
};

// "%5B::1%5D:8545" -> "[::1]:8545".
std::string percent_decode(std::string_view text);

}  // namespace veer::admin
