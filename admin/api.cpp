#include "admin/api.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <ctime>
#include <limits>

#include "admin/audit.hpp"
#include "admin/body.hpp"
#include "admin/json_text.hpp"
#include "admin/nginx_export.hpp"
#include "admin/rollout_json.hpp"
#include "admin/rollout_view.hpp"
#include "admin/status_page.hpp"
#include "admin/views.hpp"
#include "conf/address.hpp"
#include "conf/rate_limit.hpp"
#include "core/log.hpp"
#include "health/reasons.hpp"

namespace veer::admin {
namespace json = boost::json;

// One admin call as a handler sees it.
struct Call {
  explicit Call(const AdminRequest& r) : request(r) {}
  const AdminRequest& request;
  std::string who = "anonymous";
  std::vector<std::string> params;  // the {name} segments of the pattern, decoded
  std::map<std::string, std::string> query;
  std::shared_ptr<const runtime::Snapshot> snapshot;
  std::uint64_t version() const { return snapshot->version; }
};

// Who may call an endpoint: anyone (probes), the token holders unless /metrics is
// open by config, or the token holders.
enum class Access { open, metrics, token };

struct Api::Endpoint {
  std::string_view method;
  std::string_view pattern;  // "{name}" matches one segment
  std::string_view help;
  AdminReply (Api::*handle)(Call&);
  Access access = Access::token;
};

namespace {

constexpr std::string_view kJson = "application/json";

AdminReply error_reply(unsigned status, std::string_view error, std::string_view detail) {
  return AdminReply{status, to_json_text(json::object{{"error", error}, {"detail", detail}}),
                    std::string(kJson), 0, ""};
}

AdminReply json_reply(const json::value& value, std::uint64_t etag, unsigned status = 200) {
  return AdminReply{status, to_json_text(value), std::string(kJson), etag, ""};
}

// A reload or change the runtime refused: every error, and the version still in force.
AdminReply refusal_reply(const Runtime::Outcome& outcome, std::string_view error, unsigned status) {
  json::array errors;
  for (const std::string& e : outcome.errors)
    errors.push_back(json::string(e));
  return json_reply(json::object{{"error", error},
                                 {"detail", outcome.errors.front()},
                                 {"errors", std::move(errors)},
                                 {"version", outcome.version}},
                    outcome.version, status);
}

// UTC time `d` from now, to the second ("2026-11-23T22:24:46Z").
std::string utc_after(conf::Duration d) {
  return health::utc_text(std::chrono::system_clock::now() + d);
}

// "\"7\"", an ETag. Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on
// "\"" + std::to_string(n) + "\"".
std::string quoted_version(std::uint64_t version) {
  std::string etag = "\"";
  etag += std::to_string(version);
  etag += '"';
  return etag;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return out;
}

// "application/json; charset=utf-8" is JSON; "application/jsonp" is not.
bool is_json(std::string_view content_type) {
  const std::string type = lower(content_type.substr(0, content_type.find(';')));
  const std::size_t end = type.find_last_not_of(" \t");
  return end != std::string::npos && std::string_view(type).substr(0, end + 1) == kJson;
}

// The pattern's {name} segments from `segments`, or nullopt when the path is another.
std::optional<std::vector<std::string>> match(std::string_view pattern,
                                              const std::vector<std::string>& segments) {
  std::vector<std::string> params;
  std::size_t i = 0;
  // A plain loop, not std::views::split: clang 14 (the fuzz build) cannot compile
  // libstdc++ 12's split_view.
  std::string_view rest = pattern.substr(1);
  for (bool more = !rest.empty(); more;) {
    const std::size_t slash = rest.find('/');
    more = slash != std::string_view::npos;
    const std::string_view literal = rest.substr(0, slash);
    rest.remove_prefix(more ? slash + 1 : rest.size());
    if (i == segments.size()) return std::nullopt;
    if (literal.starts_with('{')) {
      params.push_back(segments[i]);
    } else if (literal != segments[i]) {
      return std::nullopt;
    }
    ++i;
  }
  if (i != segments.size()) return std::nullopt;
  return params;
}

const runtime::PoolRuntime& pool_named(const Call& call) {
  for (const runtime::PoolRuntime& p : call.snapshot->pools) {
    if (p.name == call.params[0]) return p;
  }
  throw std::out_of_range("no pool named " + call.params[0]);
}

const runtime::PolicyRuntime& policy_named(const Call& call) {
  for (const runtime::PolicyRuntime& p : call.snapshot->policies) {
    if (p.name == call.params[0]) return p;
  }
  throw std::out_of_range("no rate-limit policy named " + call.params[0]);
}

bool runs_backend(const conf::PoolConfig& pool, const std::string& address) {
  return std::any_of(pool.backends.begin(), pool.backends.end(),
                     [&](const conf::BackendConfig& b) { return b.address == address; });
}

}  // namespace

Api::Api(Runtime& runtime, const conf::AdminConfig& config)
    : runtime_(runtime),
      tokens_(config.tokens),
      metrics_need_token_(config.metrics_need_token),
      audit_path_(config.audit_log) {}

AdminReply Api::handle(const AdminRequest& request) {
  Call call{request};
  try {
    const auto target = boost::urls::parse_origin_form(request.target);
    if (!target) return error_reply(400, "bad request", "the request target is not a valid path");
    for (const auto& param : target->params())
      call.query[param.key] = param.value;
    std::vector<std::string> segments;
    for (const std::string segment : target->segments())
      segments.push_back(segment);
    return dispatch(request, segments, call);
  } catch (const BadRequest& e) {
    return error_reply(400, "bad request", e.what());
  } catch (const std::out_of_range& e) {
    // A pool, split or backend named in the path that does not exist.
    return error_reply(404, "not found", e.what());
  } catch (const std::exception& e) {
    core::log::error("admin API: ", request.method, " ", request.target, ": ", e.what());
    return error_reply(500, "internal error", e.what());
  }
}

// Finds the endpoint, then checks in order: where the request comes from, the token,
// the path and method, the body's type and size, If-Match; then runs the handler.
AdminReply Api::dispatch(const AdminRequest& request, const std::vector<std::string>& segments,
                         Call& call) {
  const std::string method = request.method == "HEAD" ? std::string("GET") : request.method;
  const Endpoint* found = nullptr;
  std::string allow;
  for (const Endpoint& e : endpoints()) {
    std::optional<std::vector<std::string>> params = match(e.pattern, segments);
    if (!params) continue;
    allow += (allow.empty() ? "" : ", ") + std::string(e.method);
    if (e.method == "GET") allow += ", HEAD";
    if (e.method != method) continue;
    found = &e;
    call.params = std::move(*params);
  }
  if (found == nullptr || found->access != Access::open) {
    if (AdminReply refused = refuse_cross_site(request); refused.status != 0) return refused;
    const bool metrics_open =
        found != nullptr && found->access == Access::metrics && !metrics_need_token_;
    if (!tokens_.open() && !metrics_open) {
      call.who = tokens_.name_for(request.authorization);
      if (call.who.empty())
        return error_reply(401, "unauthorized", "send Authorization: Bearer <token>");
    }
  }
  // No name in a configuration holds a control character (the loader refuses them),
  // and a NUL would cut the name short in every message about it ("no pool named blue"
  // for blue%00).
  for (const std::string& segment : segments) {
    if (std::any_of(segment.begin(), segment.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      return error_reply(404, "not found", "no name has a control character, as this path's does");
  }
  std::string path;
  for (const std::string& segment : segments)
    path += "/" + segment;
  if (found == nullptr && allow.empty())
    return error_reply(404, "not found", "no endpoint " + path + " (GET /api/v1 lists them)");
  if (found == nullptr) {
    AdminReply reply =
        error_reply(405, "method not allowed", request.method + " " + path + " takes " + allow);
    reply.allow = allow;
    return reply;
  }
  call.snapshot = runtime_.snapshot();
  if (method == "GET") return (this->*found->handle)(call);
  AdminReply reply = refuse_body(request, call.version());
  if (reply.status == 0) reply = run_change(*found, call);
  if (found->handle != &Api::reload) runtime_.count_change(reply.status < 300);
  return reply;
}

// The handler of a change, with the caller's mistakes answered as errors here, so that
// every refusal is counted.
AdminReply Api::run_change(const Endpoint& endpoint, Call& call) {
  try {
    return (this->*endpoint.handle)(call);
  } catch (const BadRequest& e) {
    return error_reply(400, "bad request", e.what());
  } catch (const std::out_of_range& e) {
    return error_reply(404, "not found", e.what());
  }
}

// A browser marks a cross-site request with Origin or Sec-Fetch-Site; refusing those
// keeps a web page from driving a tokenless loopback admin port. status 0: allowed.
AdminReply Api::refuse_cross_site(const AdminRequest& request) const {
  const std::string site = lower(request.sec_fetch_site);
  const bool cross_origin =
      !request.origin.empty() && lower(request.origin) != "http://" + lower(request.host);
  if (cross_origin || site == "cross-site" || site == "same-site") {
    return error_reply(403, "forbidden",
                       "cross-site requests are refused (Origin " + request.origin +
                           ", Sec-Fetch-Site " + request.sec_fetch_site + ")");
  }
  return AdminReply{0, "", "", 0, ""};
}

// A change must be JSON: a browser cannot send that cross-site without a CORS preflight,
// which veer never grants. Then the size, then If-Match. status 0: acceptable.
AdminReply Api::refuse_body(const AdminRequest& request, std::uint64_t version) const {
  if (!is_json(request.content_type)) {
    return error_reply(415, "unsupported media type",
                       "changes must be sent with Content-Type: application/json, got \"" +
                           request.content_type + "\"");
  }
  if (request.body_too_large)
    return error_reply(413, "payload too large", "the body is over the admin API's 1 MiB limit");
  const std::string etag = quoted_version(version);
  if (!request.if_match.empty() && request.if_match != etag && request.if_match != "*") {
    return json_reply(json::object{{"error", "precondition failed"},
                                   {"detail", "If-Match " + request.if_match +
                                                  " does not match the running version " + etag},
                                   {"version", version}},
                      version, 412);
  }
  return AdminReply{0, "", "", 0, ""};
}

AdminReply Api::healthz(Call&) {
  return AdminReply{200, "ok\n", "text/plain", 0, ""};
}

AdminReply Api::readyz(Call&) {
  return runtime_.ready() ? AdminReply{200, "ready\n", "text/plain", 0, ""}
                          : AdminReply{503, "draining\n", "text/plain", 0, ""};
}

AdminReply Api::metrics(Call&) {
  std::optional<std::string> text = runtime_.metrics();
  if (!text) return error_reply(404, "not found", "metrics are off ([admin].metrics = false)");
  return AdminReply{200, std::move(*text), "text/plain; version=0.0.4; charset=utf-8", 0, ""};
}

AdminReply Api::index(Call& call) {
  json::array list;
  for (const Endpoint& e : endpoints())
    list.push_back(json::object{{"method", e.method}, {"path", e.pattern}, {"help", e.help}});
  return json_reply(json::object{{"version", call.version()}, {"endpoints", std::move(list)}},
                    call.version());
}

AdminReply Api::get_config(Call& call) {
  json::object o = config_json(call.snapshot->config);
  o["version"] = call.version();
  const conf::OverrideReport& report = runtime_.override_report();
  json::array kept, dropped;
  for (const std::string& line : report.kept)
    kept.push_back(json::string(line));
  for (const std::string& line : report.dropped)
    dropped.push_back(json::string(line));
  o["overrides"] = json::object{{"kept", std::move(kept)}, {"dropped", std::move(dropped)}};
  return json_reply(o, call.version());
}

AdminReply Api::reload(Call& call) {
  BodyFields body(call.request.body, {});
  const Runtime::Outcome outcome = runtime_.reload();
  if (!outcome.errors.empty()) {
    return outcome.internal ? refusal_reply(outcome, "not persisted", 500)
                            : refusal_reply(outcome, "invalid configuration", 400);
  }
  audit(call, call.version(), outcome.version, "reloaded " + call.snapshot->config.source_path);
  const conf::OverrideReport& report = runtime_.override_report();
  json::array dropped;
  for (const std::string& line : report.dropped)
    dropped.push_back(json::string(line));
  return json_reply(json::object{{"version", outcome.version}, {"dropped", std::move(dropped)}},
                    outcome.version);
}

json::object Api::pool_view(const runtime::PoolRuntime& pool) {
  json::array backends;
  for (const runtime::BackendRuntime& b : pool.backends) {
    json::object backend =
        backend_json(b, request_rate(pool.name + "/" + b.address,
                                     b.stats->requests.load(std::memory_order_relaxed)));
    add_head_json(backend, pool, b);
    backends.push_back(std::move(backend));
  }
  return json::object{{"name", pool.name},
                      {"strategy", pool.config->strategy},
                      {"panic", pool.stats->panic.load(std::memory_order_relaxed)},
                      {"backends", std::move(backends)}};
}

AdminReply Api::list_pools(Call& call) {
  json::array pools;
  for (const runtime::PoolRuntime& pool : call.snapshot->pools)
    pools.push_back(pool_view(pool));
  return json_reply(json::object{{"version", call.version()}, {"pools", std::move(pools)}},
                    call.version());
}

AdminReply Api::get_pool(Call& call) {
  json::object o = pool_view(pool_named(call));
  o["version"] = call.version();
  return json_reply(o, call.version());
}

AdminReply Api::put_backend(Call& call) {
  const BodyFields body(call.request.body, {"weight", "backup"});
  const runtime::PoolRuntime& pool = pool_named(call);
  const std::string& address = call.params[1];
  std::string why;
  const std::optional<conf::HostPort> host_port = conf::parse_host_port(address, &why);
  if (!host_port || host_port->port == 0 || !conf::resolve(*host_port, &why)) {
    throw BadRequest("backend address " + address + ": " +
                     (why.empty() ? "port 0 is not a backend port" : why));
  }
  const std::optional<std::uint64_t> weight = body.integer("weight", conf::kMaxBackendWeight);
  const std::optional<bool> backup = body.boolean("backup");
  const conf::PoolConfig* file = runtime_.file_config().find_pool(pool.name);
  if (file == nullptr) throw std::out_of_range("pool " + pool.name + " is not in the file");
  conf::Overrides next = runtime_.overrides();
  conf::put_backend(next, *file, *pool.config, address, weight, backup);
  std::string summary = "pool " + pool.name + ": put backend " + address;
  if (weight) summary += " weight " + std::to_string(*weight);
  if (backup) summary += *backup ? " backup" : " primary";
  return change(call, std::move(next), std::nullopt, summary);
}

AdminReply Api::delete_backend(Call& call) {
  const BodyFields body(call.request.body, {});
  const runtime::PoolRuntime& pool = pool_named(call);
  const std::string& address = call.params[1];
  if (!runs_backend(*pool.config, address))
    throw std::out_of_range("pool " + pool.name + " has no backend " + address);
  std::optional<conf::Duration> drain;
  if (auto d = call.query.find("drain"); d != call.query.end()) {
    drain = conf::parse_duration(d->second);
    if (!drain) throw BadRequest("drain=" + d->second + " is not a duration such as 30s");
  }
  const conf::PoolConfig* file = runtime_.file_config().find_pool(pool.name);
  if (file == nullptr) throw std::out_of_range("pool " + pool.name + " is not in the file");
  conf::Overrides next = runtime_.overrides();
  conf::remove_backend(next, *file, address);
  const conf::Duration grace = drain.value_or(call.snapshot->config.timeouts.drain);
  return change(call, std::move(next), drain,
                "pool " + pool.name + ": drain and remove backend " + address, 202,
                {{"drain_deadline", utc_after(grace)}, {"drain", conf::format_duration(grace)}});
}

AdminReply Api::patch_backend(Call& call) {
  const BodyFields body(call.request.body, {"state", "weight"});
  const runtime::PoolRuntime& pool = pool_named(call);
  const std::string& address = call.params[1];
  const std::optional<std::string> state = body.text("state");
  const std::optional<std::uint64_t> weight = body.integer("weight", conf::kMaxBackendWeight);
  std::optional<conf::AdminState> admin_state;
  if (state == "up") admin_state = conf::AdminState::none;
  if (state == "drain") admin_state = conf::AdminState::drain;
  if (state == "down") admin_state = conf::AdminState::down;
  if (state && !admin_state)
    throw BadRequest("state: \"" + *state + "\" is not one of up, drain, down");
  if (!state && !weight) throw BadRequest("nothing to change: send \"state\" or \"weight\"");
  if (!runs_backend(*pool.config, address))
    throw std::out_of_range("pool " + pool.name + " has no backend " + address);
  const conf::PoolConfig* file = runtime_.file_config().find_pool(pool.name);
  if (file == nullptr) throw std::out_of_range("pool " + pool.name + " is not in the file");
  conf::Overrides next = runtime_.overrides();
  std::string summary = "pool " + pool.name + ": backend " + address;
  if (weight) {
    conf::put_backend(next, *file, *pool.config, address, weight, std::nullopt);
    summary += " weight " + std::to_string(*weight);
  }
  if (admin_state) {
    conf::set_admin_state(next, pool.name, address, *admin_state);
    summary += " state " + *state;
  }
  return change(call, std::move(next), std::nullopt, summary);
}

AdminReply Api::list_splits(Call& call) {
  json::array splits;
  for (const runtime::SplitRuntime& split : call.snapshot->splits)
    splits.push_back(split_json(*call.snapshot, split, runtime_.split_assignments(split.name)));
  return json_reply(json::object{{"version", call.version()}, {"splits", std::move(splits)}},
                    call.version());
}

AdminReply Api::get_split(Call& call) {
  const runtime::SplitRuntime* split = call.snapshot->find_split(call.params[0]);
  if (split == nullptr) throw std::out_of_range("no split named " + call.params[0]);
  return json_reply(split_json(*call.snapshot, *split, runtime_.split_assignments(split->name)),
                    call.version());
}

AdminReply Api::put_split(Call& call) {
  const BodyFields body(call.request.body, {"targets"});
  const runtime::SplitRuntime* split = call.snapshot->find_split(call.params[0]);
  if (split == nullptr) throw std::out_of_range("no split named " + call.params[0]);
  const json::object* targets = body.object("targets");
  if (targets == nullptr) throw BadRequest("targets: missing ({\"targets\": {\"POOL\": WEIGHT}})");
  std::map<std::string, std::uint64_t> weights;
  std::string summary = "split " + split->name + ":";
  for (const auto& [key, weight] : *targets) {
    const std::string pool(key);
    const std::string name = "targets." + pool;
    if (call.snapshot->config.find_pool(pool) == nullptr)
      throw BadRequest(name + ": no pool named " + pool);
    const std::uint64_t n =
        BodyFields::integer_value(weight, name, std::numeric_limits<std::int64_t>::max());
    weights[pool] = n;
    summary.append(" ").append(pool).append("=").append(std::to_string(n));
  }
  const conf::SplitConfig* file = runtime_.file_config().find_split(split->name);
  if (file == nullptr) throw std::out_of_range("split " + split->name + " is not in the file");
  for (const auto& [name, rollout] : runtime_.rollouts()) {
    if (rollout.config.split != split->name || runtime::finished(rollout.progress.state)) continue;
    return error_reply(409, "conflict",
                       "split " + split->name + " is steered by rollout " + name + " (" +
                           runtime::to_string(rollout.progress.state) +
                           "): promote, abort or delete the rollout first");
  }
  conf::Overrides next = runtime_.overrides();
  conf::set_split(next, *file, std::move(weights));
  return change(call, std::move(next), std::nullopt, summary);
}

AdminReply Api::get_overrides(Call& call) {
  json::object o = overrides_json(runtime_.overrides());
  o["version"] = call.version();
  return json_reply(o, call.version());
}

AdminReply Api::delete_overrides(Call& call) {
  const BodyFields body(call.request.body, {});
  // An unfinished rollout's weights are the rollout's, not a change to drop: they stay, so
  // that no snapshot ever routes a steered split by the file's weights.
  conf::Overrides next;
  std::string summary = "every runtime change dropped";
  for (const auto& [name, rollout] : runtime_.rollouts()) {
    if (runtime::finished(rollout.progress.state)) continue;
    const conf::SplitConfig* file = runtime_.file_config().find_split(rollout.config.split);
    const conf::SplitConfig* running = call.snapshot->config.find_split(rollout.config.split);
    if (file == nullptr || running == nullptr) continue;
    std::map<std::string, std::uint64_t> weights;
    for (const conf::SplitTargetConfig& t : running->targets)
      weights[t.pool] = t.weight;
    conf::set_split(next, *file, std::move(weights));
    summary += "; split " + running->name + " keeps the weights of rollout " + name;
  }
  return change(call, std::move(next), std::nullopt, summary);
}

AdminReply Api::get_certificates(Call& call) {
  json::object o = certificates_json(listener_certificates(*call.snapshot), std::time(nullptr));
  o["version"] = call.version();
  return json_reply(o, call.version());
}

json::object Api::limit_view(const runtime::Snapshot& snapshot,
                             const runtime::PolicyRuntime& policy,
                             const std::map<std::string, PolicyRequests>& requests) {
  const auto change = runtime_.overrides().limits.find(policy.name);
  json::object o = limit_json(
      snapshot, policy, change == runtime_.overrides().limits.end() ? nullptr : &change->second,
      runtime::limiter_now());
  const auto counted = requests.find(policy.name);
  const PolicyRequests n = counted == requests.end() ? PolicyRequests{} : counted->second;
  o["requests"] = json::object{{"allowed", n.allowed},
                               {"limited", n.limited},
                               {"delayed", n.delayed},
                               {"dry_run_limited", n.dry_run_limited}};
  return o;
}

AdminReply Api::list_limits(Call& call) {
  const std::map<std::string, PolicyRequests> requests = runtime_.policy_requests();
  json::array policies;
  for (const runtime::PolicyRuntime& policy : call.snapshot->policies)
    policies.push_back(limit_view(*call.snapshot, policy, requests));
  return json_reply(json::object{{"version", call.version()}, {"policies", std::move(policies)}},
                    call.version());
}

AdminReply Api::get_limit(Call& call) {
  const runtime::PolicyRuntime& policy = policy_named(call);
  json::object o = limit_view(*call.snapshot, policy, runtime_.policy_requests());
  o["version"] = call.version();
  if (const auto key = call.query.find("key"); key != call.query.end()) {
    std::string why;
    const std::optional<std::uint64_t> hashed =
        runtime::limit_key_from_text(policy, key->second, &why);
    if (!hashed) throw BadRequest("key: " + why);
    const limits::KeyState state =
        policy.limiter->inspect(*hashed, runtime::limiter_now(), policy.gcra);
    o["key_state"] = key_state_json(key->second, state);
  }
  return json_reply(o, call.version());
}

AdminReply Api::put_limit(Call& call) {
  const BodyFields body(call.request.body, {"rate", "burst", "delay"});
  std::optional<conf::Rate> rate;
  if (const std::optional<std::string> text = body.text("rate")) {
    std::string why;
    rate = conf::parse_rate(*text, &why);
    if (!rate) throw BadRequest("rate: \"" + *text + "\": " + why);
  }
  const std::optional<std::uint64_t> burst = body.integer("burst", conf::kMaxBurst);
  const std::optional<std::uint64_t> delay = body.integer("delay", conf::kMaxBurst);
  if (!rate && !burst && !delay)
    throw BadRequest("nothing to change: send \"rate\", \"burst\" or \"delay\"");
  const runtime::PolicyRuntime& policy = policy_named(call);
  const conf::RateLimitPolicyConfig* file = runtime_.file_config().limits.find_policy(policy.name);
  if (file == nullptr) throw std::out_of_range("policy " + policy.name + " is not in the file");
  conf::Overrides next = runtime_.overrides();
  conf::set_limit(next, *file, *policy.config, rate, burst, delay);
  std::string summary = "limits " + policy.name + ":";
  if (rate) summary += " rate " + conf::format_rate(*rate);
  if (burst) summary += " burst " + std::to_string(*burst);
  if (delay) summary += " delay " + std::to_string(*delay);
  return change(call, std::move(next), std::nullopt, summary);
}

AdminReply Api::list_rollouts(Call& call) {
  json::array rollouts;
  for (const auto& [name, record] : runtime_.rollouts())
    rollouts.push_back(rollout_view(record));
  return json_reply(json::object{{"version", call.version()}, {"rollouts", std::move(rollouts)}},
                    call.version());
}

AdminReply Api::get_rollout(Call& call) {
  const auto& rollouts = runtime_.rollouts();
  const auto it = rollouts.find(call.params[0]);
  if (it == rollouts.end()) throw std::out_of_range("no rollout named " + call.params[0]);
  return json_reply(rollout_view(it->second), call.version());
}

AdminReply Api::post_rollout(Call& call) {
  json::value body;
  boost::system::error_code ec;
  body = json::parse(call.request.body, ec);
  if (ec) throw BadRequest("the body is not JSON: " + ec.message());
  std::string why;
  std::optional<conf::RolloutConfig> rollout = rollout_from_json(body, &why);
  if (!rollout) throw BadRequest(why);
  const std::string name = rollout->name;
  const std::string summary = "rollout " + name + " started on split " + rollout->split + ": " +
                              rollout->stable + " -> " + rollout->canary;
  return rollout_reply(call, runtime_.start_rollout(std::move(*rollout)), name, summary);
}

AdminReply Api::rollout_action(Call& call) {
  const BodyFields body(call.request.body, {});
  runtime::RolloutAction action{};
  if (!runtime::parse_rollout_action(call.params[1], action))
    throw std::out_of_range("no rollout action " + call.params[1] +
                            " (pause, resume, promote, abort)");
  const std::string& name = call.params[0];
  return rollout_reply(call, runtime_.act_on_rollout(name, action), name,
                       "rollout " + name + ": " + call.params[1]);
}

AdminReply Api::delete_rollout(Call& call) {
  const BodyFields body(call.request.body, {});
  const std::string& name = call.params[0];
  return rollout_reply(call, runtime_.forget_rollout(name), name, "rollout " + name + " deleted");
}

// A rollout call's answer: the rollout as it is now (or, once forgotten, its name).
AdminReply Api::rollout_reply(Call& call, const Runtime::RolloutResult& result,
                              const std::string& name, const std::string& summary) {
  if (result.status >= 400) {
    const std::string_view error = result.status == 404   ? "not found"
                                   : result.status == 409 ? "conflict"
                                   : result.status >= 500 ? "not persisted"
                                                          : "invalid rollout";
    return json_reply(
        json::object{{"error", error}, {"detail", result.why}, {"version", result.version}},
        result.version, result.status);
  }
  audit(call, call.version(), result.version, summary);
  const auto& rollouts = runtime_.rollouts();
  const auto it = rollouts.find(name);
  json::object o = it != rollouts.end() ? rollout_view(it->second)
                                        : json::object{{"name", name}, {"deleted", true}};
  o["version"] = result.version;
  return json_reply(o, result.version, result.status);
}

// The running configuration (runtime changes included) as an nginx configuration;
// ?nginx_version=1.25 for another nginx than Debian 12's 1.22.
AdminReply Api::export_nginx(Call& call) {
  NginxExportOptions options;
  if (const auto v = call.query.find("nginx_version"); v != call.query.end()) {
    const std::optional<NginxVersion> version = parse_nginx_version(v->second);
    if (!version)
      throw BadRequest("nginx_version: \"" + v->second +
                       "\" is not a version from 1.14 on, such as 1.22 or 1.25.3");
    options.version = *version;
  }
  options.certificate_names = certificate_file_names;
  // Drains and downs are runtime holds, not part of the configuration.
  for (const auto& [pool, backends] : runtime_.overrides().backends) {
    for (const auto& [address, change] : backends) {
      if (change.state != conf::AdminState::none) options.held[{pool, address}] = change.state;
    }
  }
  NginxExport exported = admin::export_nginx(call.snapshot->config, options);
  return AdminReply{200, std::move(exported.text), "text/plain; charset=utf-8", call.version(), ""};
}

// The status page: static and open (its script asks for the token); http_server.cpp
// adds its Content-Security-Policy.
AdminReply Api::status_page(Call&) {
  return AdminReply{200, std::string(status_page_html()), "text/html; charset=utf-8", 0, ""};
}

AdminReply Api::change(Call& call, conf::Overrides next, std::optional<conf::Duration> drain,
                       std::string summary, unsigned status,
                       const std::vector<std::pair<std::string, std::string>>& extra) {
  const std::uint64_t before = call.version();
  auto success = [&](std::uint64_t version, bool changed) {
    json::object o{{"version", version}, {"changed", changed}};
    for (const auto& [key, value] : extra)
      o[key] = value;
    return json_reply(o, version, status);
  };
  conf::normalize(next);
  // Idempotent: the state asked for is the state in force.
  if (next == runtime_.overrides()) return success(before, false);
  const Runtime::Outcome outcome = runtime_.apply(std::move(next), drain);
  if (!outcome.errors.empty()) {
    return outcome.internal ? refusal_reply(outcome, "not persisted", 500)
                            : refusal_reply(outcome, "invalid change", 400);
  }
  audit(call, before, outcome.version, summary);
  return success(outcome.version, true);
}

void Api::audit(const Call& call, std::uint64_t before, std::uint64_t after,
                const std::string& summary) {
  append_audit(audit_path_, audit_line(call.who, call.request.method, call.request.target, before,
                                       after, summary));
}

double Api::request_rate(const std::string& key, std::uint64_t count) {
  const auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = samples_.try_emplace(key, Sample{count, now, 0});
  Sample& s = it->second;
  const double elapsed = std::chrono::duration<double>(now - s.at).count();
  // Rates over at least a second; a quicker poll reports the last one.
  if (!fresh && elapsed >= 1.0) {
    s.rate = static_cast<double>(count - s.count) / elapsed;
    s.count = count;
    s.at = now;
  }
  return s.rate;
}

// The endpoint table: one row per endpoint; GET /api/v1 prints it.
std::span<const Api::Endpoint> Api::endpoints() {
  static constexpr Endpoint kEndpoints[] = {
      {"GET", "/healthz", "200 ok while the process serves", &Api::healthz, Access::open},
      {"GET", "/readyz", "200 once serving; 503 while draining", &Api::readyz, Access::open},
      {"GET", "/metrics", "Prometheus text exposition", &Api::metrics, Access::metrics},
      {"GET", "/api/v1", "this list of endpoints", &Api::index},
      {"GET", "/api/v1/config",
       "the running configuration, and what the last load kept and "
       "dropped of the runtime changes",
       &Api::get_config},
      {"POST", "/api/v1/reload", "re-read the configuration file; the runtime changes stay on top",
       &Api::reload},
      {"GET", "/api/v1/pools", "every pool and its backends, with live numbers", &Api::list_pools},
      {"GET", "/api/v1/pools/{pool}", "one pool", &Api::get_pool},
      {"PUT", "/api/v1/pools/{pool}/backends/{address}",
       "add or update a backend: {\"weight\": N, \"backup\": B}", &Api::put_backend},
      {"DELETE", "/api/v1/pools/{pool}/backends/{address}",
       "drain, then remove a backend (?drain=30s)", &Api::delete_backend},
      {"PATCH", "/api/v1/pools/{pool}/backends/{address}",
       "{\"state\": \"drain\" | \"down\" | \"up\", \"weight\": N}", &Api::patch_backend},
      {"GET", "/api/v1/splits", "every split with its weights and live counts", &Api::list_splits},
      {"GET", "/api/v1/splits/{split}", "one split", &Api::get_split},
      {"PUT", "/api/v1/splits/{split}", "set the weights: {\"targets\": {\"POOL\": N, ...}}",
       &Api::put_split},
      {"GET", "/api/v1/overrides", "the runtime changes layered on the configuration file",
       &Api::get_overrides},
      {"DELETE", "/api/v1/overrides", "drop every runtime change: back to the file alone",
       &Api::delete_overrides},
      {"GET", "/api/v1/certificates",
       "per TLS listener, the certificates served: subject, SANs, issuer, expiry, days left",
       &Api::get_certificates},
      {"GET", "/api/v1/limits",
       "the rate-limit policies: settings as they run, where attached, keys, requests",
       &Api::list_limits},
      {"GET", "/api/v1/limits/{policy}",
       "one policy; ?key=K adds that key's state (parts joined by '|')", &Api::get_limit},
      {"PUT", "/api/v1/limits/{policy}",
       "change a policy at runtime: {\"rate\": \"50/s\", \"burst\": N, \"delay\": N}",
       &Api::put_limit},
      {"GET", "/api/v1/export/nginx", "the running configuration as an nginx config",
       &Api::export_nginx},
      {"GET", "/", "the status page (HTML)", &Api::status_page, Access::open},
      {"GET", "/api/v1/rollouts", "every progressive rollout: state, step, evidence, history",
       &Api::list_rollouts},
      {"POST", "/api/v1/rollouts",
       "start a rollout: {\"name\", \"split\", \"stable\", \"canary\", \"steps\", "
       "\"min_step\", \"max_step\", \"guards\"}",
       &Api::post_rollout},
      {"GET", "/api/v1/rollouts/{name}", "one rollout", &Api::get_rollout},
      {"DELETE", "/api/v1/rollouts/{name}", "forget a rollout (an unfinished one is aborted first)",
       &Api::delete_rollout},
      {"POST", "/api/v1/rollouts/{name}/{action}", "pause, resume, promote or abort a rollout",
       &Api::rollout_action},
  };
  return kEndpoints;
}

}  // namespace veer::admin
