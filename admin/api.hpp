#pragma once

// The admin API's endpoints (ADMIN-API.md): authentication, routing, ETag/If-Match,
// JSON in and out, and the audit log. Transport-free: admin/http_server.cpp feeds it
// requests; every call runs on the server's control thread, so changes are serial.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "admin/auth.hpp"
#include "conf/overrides.hpp"
#include "runtime/rollout.hpp"
#include "runtime/snapshot.hpp"

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
  std::string allow;       // 405: the methods the path takes
};

// A rate-limit policy's decisions so far, summed over the workers.
struct PolicyRequests {
  std::uint64_t allowed = 0;
  std::uint64_t limited = 0;
  std::uint64_t delayed = 0;
  std::uint64_t dry_run_limited = 0;
};

// What the API steers: implemented by the server, called on its control thread only.
class Runtime {
 public:
  struct Outcome {
    std::vector<std::string> errors;  // empty: applied
    std::uint64_t version = 0;        // the version in force afterwards
    bool internal = false;            // errors are veer's (state file), not the caller's
  };

  virtual std::shared_ptr<const runtime::Snapshot> snapshot() const = 0;
  // The configuration file alone, as last loaded: what the changes are checked against.
  virtual const conf::Config& file_config() const = 0;
  // The runtime changes in force (the state file holds the same).
  virtual const conf::Overrides& overrides() const = 0;
  // What the last load kept and dropped of the changes.
  virtual const conf::OverrideReport& override_report() const = 0;
  virtual bool ready() const = 0;
  // Validates the config file with `next` on top exactly as a file, persists `next`
  // to the state file, then swaps the result in. `drain` replaces timeouts.drain for
  // backends the change removes.
  virtual Outcome apply(conf::Overrides next, std::optional<conf::Duration> drain) = 0;
  // Re-reads the config file (the overrides stay on top).
  virtual Outcome reload() = 0;
  // Counts a change request the API answered (for /metrics): every PUT, PATCH, DELETE
  // and POST but reload (counted as a reload) that reached its endpoint.
  virtual void count_change(bool succeeded) = 0;
  // Prometheus text exposition; nullopt when [admin].metrics is off.
  virtual std::optional<std::string> metrics() = 0;
  // Requests the split sent to each target pool so far.
  virtual std::map<std::string, std::uint64_t> split_assignments(const std::string& split) = 0;
  // Each rate-limit policy's decisions so far, by policy name.
  virtual std::map<std::string, PolicyRequests> policy_requests() = 0;

  // --- Progressive rollouts (app/rollout_book.hpp; docs/RELEASES.md).
  struct RolloutResult {
    unsigned status = 200;  // 200/201 done; 400 invalid; 404 unknown; 409 conflicting
    std::string why;        // when status >= 400
    std::uint64_t version = 0;
  };
  // Every rollout on record, by name.
  virtual const std::map<std::string, runtime::RolloutRecord>& rollouts() const = 0;
  virtual RolloutResult start_rollout(conf::RolloutConfig rollout) = 0;
  virtual RolloutResult act_on_rollout(const std::string& name, runtime::RolloutAction action) = 0;
  // Forgets an API rollout (aborting it when unfinished); aborts a file rollout.
  virtual RolloutResult forget_rollout(const std::string& name) = 0;

 protected:
  ~Runtime() = default;
};

struct Call;

// The admin API: a table of endpoints (method, path pattern, handler, one line of
// help), as Envoy's admin and HAProxy's CLI register theirs. Unknown paths get 404,
// a known path with another method 405 with Allow, HEAD answers like GET without a
// body, and GET /api/v1 lists the table.
class Api {
 public:
  Api(Runtime& runtime, const conf::AdminConfig& config);
  // Never throws: every failure is an error reply.
  AdminReply handle(const AdminRequest& request);

  struct Endpoint;

 private:
  static std::span<const Endpoint> endpoints();
  AdminReply dispatch(const AdminRequest& request, const std::vector<std::string>& segments,
                      Call& call);
  AdminReply run_change(const Endpoint& endpoint, Call& call);
  AdminReply refuse_cross_site(const AdminRequest& request) const;
  AdminReply refuse_body(const AdminRequest& request, std::uint64_t version) const;

  AdminReply healthz(Call& call);
  AdminReply readyz(Call& call);
  AdminReply metrics(Call& call);
  AdminReply index(Call& call);
  AdminReply get_config(Call& call);
  AdminReply reload(Call& call);
  AdminReply list_pools(Call& call);
  AdminReply get_pool(Call& call);
  AdminReply put_backend(Call& call);
  AdminReply delete_backend(Call& call);
  AdminReply patch_backend(Call& call);
  AdminReply list_splits(Call& call);
  AdminReply get_split(Call& call);
  AdminReply put_split(Call& call);
  AdminReply get_overrides(Call& call);
  AdminReply delete_overrides(Call& call);
  AdminReply export_nginx(Call& call);
  AdminReply get_certificates(Call& call);
  AdminReply list_limits(Call& call);
  AdminReply get_limit(Call& call);
  AdminReply put_limit(Call& call);
  AdminReply status_page(Call& call);
  AdminReply list_rollouts(Call& call);
  AdminReply get_rollout(Call& call);
  AdminReply post_rollout(Call& call);
  AdminReply rollout_action(Call& call);
  AdminReply delete_rollout(Call& call);
  AdminReply rollout_reply(Call& call, const Runtime::RolloutResult& result,
                           const std::string& name, const std::string& summary);

  boost::json::object pool_view(const runtime::PoolRuntime& pool);
  boost::json::object limit_view(const runtime::Snapshot& snapshot,
                                 const runtime::PolicyRuntime& policy,
                                 const std::map<std::string, PolicyRequests>& requests);
  // Applies `next`; a success answers `status` with the version, and `extra` string
  // fields.
  AdminReply change(Call& call, conf::Overrides next, std::optional<conf::Duration> drain,
                    std::string summary, unsigned status = 200,
                    const std::vector<std::pair<std::string, std::string>>& extra = {});
  void audit(const Call& call, std::uint64_t before, std::uint64_t after,
             const std::string& summary);
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

}  // namespace veer::admin
