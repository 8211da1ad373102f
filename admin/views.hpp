#pragma once

// The JSON the admin API shows of the configuration and of the running pools and
// splits. Read-only: called on the control thread with a snapshot.

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "conf/overrides.hpp"
#include "runtime/snapshot.hpp"
#include "tls/server_tls.hpp"

namespace veer::admin {

boost::json::object config_json(const conf::Config& config);
// `rate` is the backend's recent requests per second.
boost::json::object backend_json(const runtime::BackendRuntime& backend, double rate);
// Head tracking (jsonrpc checks of eth_blockNumber): adds `head` (the backend's latest
// block) and `lag` (the pool's highest head minus it) to `out`, each null when unknown.
void add_head_json(boost::json::object& out, const runtime::PoolRuntime& pool,
                   const runtime::BackendRuntime& backend);
// `assigned`: requests the split sent to each target pool so far.
boost::json::object split_json(const runtime::Snapshot& snapshot,
                               const runtime::SplitRuntime& split,
                               std::map<std::string, std::uint64_t> assigned);
// A rate-limit policy: its settings as they run (`change`: the runtime change on top of
// the file, if any), where it is attached, and its Limiter's stats at `now`.
boost::json::object limit_json(const runtime::Snapshot& snapshot,
                               const runtime::PolicyRuntime& policy,
                               const conf::LimitChange* change, std::int64_t now);
// One key's state (GET /api/v1/limits/{policy}?key=K); `text` as the caller wrote it.
boost::json::object key_state_json(const std::string& text, const limits::KeyState& state);
// Whole seconds until `wait_ns` has passed, rounded up, at least 1: Retry-After.
std::int64_t retry_after_seconds(std::int64_t wait_ns);

// The state file's JSON and one line of words per change.
boost::json::object overrides_json(const conf::Overrides& changes);

// The certificates one TLS listener serves, default first (GET /api/v1/certificates,
// veer_tls_certificate_expiry_seconds). Plain data, so views and metrics are testable
// without loading certificates.
struct ListenerCertificates {
  std::string listener;
  std::vector<tls::CertificateInfo> certificates;
};
// Every TLS listener of `snapshot`, in configuration order.
std::vector<ListenerCertificates> listener_certificates(const runtime::Snapshot& snapshot);
// {"listeners": [{"listener", "certificates": [...]}]}; `now` (Unix time) gives days_left.
boost::json::object certificates_json(const std::vector<ListenerCertificates>& listeners,
                                      std::int64_t now);

}  // namespace veer::admin
