#include "admin/api.hpp"

#include <boost/json.hpp>
#include <ctime>
#include <fstream>
#include <stdexcept>

#include "proxy/log.hpp"

namespace veer::admin {
namespace json = boost::json;
namespace {

AdminReply error_reply(unsigned status, std::string_view error, std::string_view detail) {
  return AdminReply{status, json::serialize(json::object{{"error", error}, {"detail", detail}}),
                    "application/json", 0};
}

AdminReply json_reply(const json::value& value, std::uint64_t etag, unsigned status = 200) {
  return AdminReply{status, json::serialize(value), "application/json", etag};
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
  const auto at = std::chrono::system_clock::now() + d;
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// "/a/b/c" -> {"a", "b", "c"}, each percent-decoded.
std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const std::size_t end = path.find('/');
    out.push_back(percent_decode(path.substr(0, end)));
    path = end == std::string_view::npos ? std::string_view{} : path.substr(end);
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const std::size_t end = query.find('&');
    const std::string_view pair = query.substr(0, end);
    const std::size_t equals = pair.find('=');
    out[percent_decode(pair.substr(0, equals))] =
        equals == std::string_view::npos ? "" : percent_decode(pair.substr(equals + 1));
    query = end == std::string_view::npos ? std::string_view{} : query.substr(end + 1);
  }
  return out;
}

json::object backend_json(const proxy::BackendRuntime& b, double rate) {
  const auto now = health::BackendStats::Clock::now();
  const double ewma = b.stats->latency.estimate_ns(now, health::kLatencyDecayNs);
  json::object o{
      {"address", b.address},
      {"weight", b.weight},
      {"backup", b.backup},
      {"state", health::state_name(b.stats->reasons.load(std::memory_order_relaxed))},
      {"active_connections", b.stats->active_connections.load(std::memory_order_relaxed)},
      {"in_flight", b.stats->in_flight.load(std::memory_order_relaxed)},
      {"requests_total", b.stats->requests.load(std::memory_order_relaxed)},
      {"requests_per_second", rate},
      {"retries_total", b.stats->retries.load(std::memory_order_relaxed)},
      {"ejections_total", b.stats->ejections.load(std::memory_order_relaxed)}};
  o["latency_ewma_ms"] = ewma < 0 ? json::value(nullptr) : json::value(ewma / 1e6);
  return o;
}

json::object config_json(const conf::Config& c) {
  json::object listeners;
  for (const conf::ListenerConfig& l : c.listeners) {
    json::array routes;
    for (const conf::RouteConfig& r : l.routes) {
      routes.push_back(
          json::object{{"host", r.host}, {"path_prefix", r.path_prefix}, {"target", r.target}});
    }
    listeners[l.name] = json::object{{"address", l.address}, {"routes", std::move(routes)}};
  }
  json::object pools;
  for (const conf::PoolConfig& p : c.pools) {
    json::array backends;
    for (const conf::BackendConfig& b : p.backends) {
      backends.push_back(
          json::object{{"address", b.address}, {"weight", b.weight}, {"backup", b.backup}});
    }
    json::object pool{{"strategy", p.strategy},
                      {"backends", std::move(backends)},
                      {"slow_start", conf::format_duration(p.slow_start)},
                      {"panic_threshold", p.panic_threshold},
                      {"retries", json::object{{"attempts", p.retries.attempts},
                                               {"budget_percent", p.retries.budget_percent},
                                               {"budget_min", p.retries.budget_min}}}};
    if (p.strategy == "ip_hash") pool["hash_key"] = p.hash_key;
    pool["health"] =
        p.health ? json::value(json::object{{"interval", conf::format_duration(p.health->interval)},
                                            {"timeout", conf::format_duration(p.health->timeout)},
                                            {"rise", p.health->rise},
                                            {"fall", p.health->fall}})
                 : json::value(nullptr);
    pool["outlier"] = p.outlier
                          ? json::value(json::object{
                                {"consecutive_failures", p.outlier->consecutive_failures},
                                {"base_ejection", conf::format_duration(p.outlier->base_ejection)},
                                {"max_ejected_percent", p.outlier->max_ejected_percent}})
                          : json::value(nullptr);
    pools[p.name] = std::move(pool);
  }
  json::object splits;
  for (const conf::SplitConfig& s : c.splits) {
    json::object targets;
    for (const conf::SplitTargetConfig& t : s.targets)
      targets[t.pool] = t.weight;
    splits[s.name] = json::object{{"targets", std::move(targets)},
                                  {"sticky", s.sticky},
                                  {"override_header", s.override_header},
                                  {"failover", s.failover}};
  }
  const conf::Timeouts& t = c.timeouts;
  return json::object{
      {"server", json::object{{"workers", c.server.workers},
                              {"io_engine", conf::to_string(c.server.io_engine)},
                              {"access_log", c.server.access_log},
                              {"state_file", c.server.state_file}}},
      {"timeouts", json::object{{"client_header", conf::format_duration(t.client_header)},
                                {"client_idle", conf::format_duration(t.client_idle)},
                                {"upstream_connect", conf::format_duration(t.upstream_connect)},
                                {"upstream_response", conf::format_duration(t.upstream_response)},
                                {"tunnel_idle", conf::format_duration(t.tunnel_idle)},
                                {"drain", conf::format_duration(t.drain)}}},
      {"limits", json::object{{"max_header_bytes", c.limits.max_header_bytes},
                              {"max_body_bytes", c.limits.max_body_bytes},
                              {"max_connections", c.limits.max_connections}}},
      {"listeners", std::move(listeners)},
      {"pools", std::move(pools)},
      {"splits", std::move(splits)}};
}

// A weight from a JSON body: a non-negative integer.
std::uint64_t weight_of(const json::value& v, std::string_view what) {
  if (v.is_uint64() && v.as_uint64() <= INT64_MAX) return v.as_uint64();
  if (v.is_int64() && v.as_int64() >= 0) return static_cast<std::uint64_t>(v.as_int64());
  throw std::invalid_argument(std::string(what) + " must be an integer from 0 to 2^63 - 1");
}

// Drops empty sets, so equal states compare equal and the state file stays small.
void normalize(conf::Overrides& o) {
  std::erase_if(o.disabled, [](const auto& e) { return e.second.empty(); });
  std::erase_if(o.drained, [](const auto& e) { return e.second.empty(); });
}

// The backend list a change starts from: the running one (file plus earlier changes).
std::vector<conf::BackendOverride> backends_of(const conf::PoolConfig& pool) {
  std::vector<conf::BackendOverride> list;
  for (const conf::BackendConfig& b : pool.backends)
    list.push_back({b.address, b.weight, b.backup});
  return list;
}

}  // namespace

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

Api::Api(Runtime& runtime, const conf::AdminConfig& config)
    : runtime_(runtime),
      tokens_(config.tokens),
      metrics_need_token_(config.metrics_need_token),
      audit_path_(config.audit_log) {}

AdminReply Api::handle(const AdminRequest& request) {
  const std::size_t question = request.target.find('?');
  const std::string path = request.target.substr(0, question);
  const auto query = parse_query(question == std::string::npos
                                     ? std::string_view{}
                                     : std::string_view(request.target).substr(question + 1));
  if (request.method == "GET" && path == "/healthz")
    return AdminReply{200, "ok\n", "text/plain", 0};
  if (request.method == "GET" && path == "/readyz") {
    return runtime_.ready() ? AdminReply{200, "ready\n", "text/plain", 0}
                            : AdminReply{503, "draining\n", "text/plain", 0};
  }
  const bool metrics = path == "/metrics";
  std::string who = "anonymous";
  if (!tokens_.open() && (!metrics || metrics_need_token_)) {
    who = tokens_.name_for(request.authorization);
    if (who.empty()) return error_reply(401, "unauthorized", "send Authorization: Bearer <token>");
  }
  if (metrics) {
    if (request.method != "GET") return error_reply(405, "method not allowed", "GET /metrics");
    std::optional<std::string> text = runtime_.metrics();
    if (!text) return error_reply(404, "not found", "metrics are off ([admin].metrics = false)");
    return AdminReply{200, std::move(*text), "text/plain; version=0.0.4; charset=utf-8", 0};
  }
  try {
    return route(request, path, query, who);
  } catch (const std::exception& e) {
    // A body of the wrong shape (a string where a number belongs, say).
    return error_reply(400, "bad request", e.what());
  }
}

AdminReply Api::route(const AdminRequest& request, const std::string& path,
                      const std::map<std::string, std::string>& query, const std::string& who) {
  const std::vector<std::string> parts = segments(path);
  const std::shared_ptr<const proxy::Snapshot> snapshot = runtime_.snapshot();
  const std::uint64_t version = snapshot->version;
  const std::string& method = request.method;
  const bool mutating =
      method == "PUT" || method == "POST" || method == "DELETE" || method == "PATCH";
  if (parts.size() < 2 || parts[0] != "api" || parts[1] != "v1") {
    return error_reply(404, "not found", "no endpoint " + path);
  }
  std::string etag = "\"";
  etag += std::to_string(version);
  etag += '"';
  if (mutating && !request.if_match.empty() && request.if_match != etag &&
      request.if_match != "*") {
    return json_reply(json::object{{"error", "precondition failed"},
                                   {"detail", "If-Match " + request.if_match +
                                                  " does not match the running version"},
                                   {"version", version}},
                      version, 412);
  }
  json::value body;
  if (mutating && !request.body.empty()) {
    boost::system::error_code ec;
    body = json::parse(request.body, ec);
    if (ec || !body.is_object())
      return error_reply(400, "bad request", "the body is not a JSON object");
  }
  const conf::Config& config = snapshot->config;

  if (parts.size() == 3 && parts[2] == "config" && method == "GET") {
    json::object o = config_json(config);
    o["version"] = version;
    return json_reply(o, version);
  }
  if (parts.size() == 3 && parts[2] == "reload" && method == "POST") {
    const Runtime::Outcome outcome = runtime_.reload();
    if (!outcome.errors.empty()) return refusal_reply(outcome, "invalid configuration", 400);
    audit(request, who, version, outcome.version, "reloaded " + config.source_path);
    return json_reply(json::object{{"version", outcome.version}}, outcome.version);
  }
  if (parts.size() >= 3 && parts[2] == "pools") {
    auto pool_json = [&](const proxy::PoolRuntime& pool) {
      json::array backends;
      for (const proxy::BackendRuntime& b : pool.backends) {
        backends.push_back(
            backend_json(b, request_rate(pool.name + "/" + b.address,
                                         b.stats->requests.load(std::memory_order_relaxed))));
      }
      return json::object{{"name", pool.name},
                          {"strategy", pool.config->strategy},
                          {"panic", pool.stats->panic.load(std::memory_order_relaxed)},
                          {"backends", std::move(backends)}};
    };
    if (parts.size() == 3 && method == "GET") {
      json::array pools;
      for (const proxy::PoolRuntime& pool : snapshot->pools)
        pools.push_back(pool_json(pool));
      return json_reply(json::object{{"version", version}, {"pools", std::move(pools)}}, version);
    }
    const proxy::PoolRuntime* pool = nullptr;
    for (const proxy::PoolRuntime& p : snapshot->pools) {
      if (p.name == parts[3]) pool = &p;
    }
    if (pool == nullptr) return error_reply(404, "not found", "no pool named " + parts[3]);
    if (parts.size() == 4 && method == "GET") {
      json::object o = pool_json(*pool);
      o["version"] = version;
      return json_reply(o, version);
    }
    if (parts.size() == 6 && parts[4] == "backends") {
      const std::string& address = parts[5];
      conf::Overrides next = runtime_.overrides();
      std::vector<conf::BackendOverride> list = backends_of(*pool->config);
      auto it = std::find_if(list.begin(), list.end(),
                             [&](const conf::BackendOverride& b) { return b.address == address; });
      const json::object* fields = body.is_object() ? &body.as_object() : nullptr;
      auto number = [&](const char* key, std::uint64_t& out) {
        if (fields != nullptr && fields->contains(key)) out = weight_of(fields->at(key), key);
      };
      if (method == "PUT") {
        conf::BackendOverride b = it != list.end() ? *it : conf::BackendOverride{address, 1, false};
        number("weight", b.weight);
        if (fields != nullptr && fields->contains("backup"))
          b.backup = fields->at("backup").as_bool();
        if (it != list.end()) {
          *it = b;
        } else {
          list.push_back(b);
        }
        next.pool_backends[pool->name] = list;
        return change(request, who, std::move(next), std::nullopt,
                      "pool " + pool->name + ": backend " + address + " weight " +
                          std::to_string(b.weight) + (b.backup ? " (backup)" : ""));
      }
      if (it == list.end()) {
        return error_reply(404, "not found", "pool " + pool->name + " has no backend " + address);
      }
      if (method == "DELETE") {
        std::optional<conf::Duration> drain;
        if (auto d = query.find("drain"); d != query.end()) {
          drain = conf::parse_duration(d->second);
          if (!drain)
            return error_reply(400, "bad request",
                               "drain=" + d->second + " is not a duration such as 30s");
        }
        list.erase(it);
        next.pool_backends[pool->name] = list;
        next.disabled[pool->name].erase(address);
        next.drained[pool->name].erase(address);
        const conf::Duration grace = drain.value_or(config.timeouts.drain);
        return change(
            request, who, std::move(next), drain,
            "pool " + pool->name + ": drain and remove backend " + address, 202,
            {{"drain_deadline", utc_after(grace)}, {"drain", conf::format_duration(grace)}});
      }
      if (method == "PATCH") {
        std::string summary = "pool " + pool->name + ": backend " + address;
        if (fields != nullptr && fields->contains("weight")) {
          number("weight", it->weight);
          next.pool_backends[pool->name] = list;
          summary += " weight " + std::to_string(it->weight);
        }
        if (fields != nullptr && fields->contains("state")) {
          const std::string state = json::value_to<std::string>(fields->at("state"));
          auto& disabled = next.disabled[pool->name];
          auto& drained = next.drained[pool->name];
          if (state == "up") {
            disabled.erase(address);
            drained.erase(address);
          } else if (state == "down") {
            disabled.insert(address);
          } else if (state == "drain") {
            drained.insert(address);
          } else {
            return error_reply(400, "bad request",
                               "state \"" + state + "\" is not up, down or drain");
          }
          summary += " state " + state;
        }
        return change(request, who, std::move(next), std::nullopt, summary);
      }
    }
  }
  if (parts.size() == 4 && parts[2] == "splits") {
    const proxy::SplitRuntime* split = snapshot->find_split(parts[3]);
    if (split == nullptr) return error_reply(404, "not found", "no split named " + parts[3]);
    if (method == "GET") {
      json::object targets;
      std::map<std::string, std::uint64_t> assigned = runtime_.split_assignments(split->name);
      for (std::size_t i = 0; i < split->pools.size(); ++i) {
        const proxy::PoolRuntime& pool = snapshot->pools[split->pools[i]];
        std::int64_t in_flight = 0, connections = 0;
        std::uint64_t requests = 0;
        for (const proxy::BackendRuntime& b : pool.backends) {
          in_flight += b.stats->in_flight.load(std::memory_order_relaxed);
          connections += b.stats->active_connections.load(std::memory_order_relaxed);
          requests += b.stats->requests.load(std::memory_order_relaxed);
        }
        targets[pool.name] = json::object{{"weight", split->weights[i]},
                                          {"in_flight", in_flight},
                                          {"active_connections", connections},
                                          {"requests_total", requests},
                                          {"assignments_total", assigned[pool.name]}};
      }
      return json_reply(json::object{{"name", split->name},
                                     {"version", version},
                                     {"sticky", split->config->sticky},
                                     {"override_header", split->config->override_header},
                                     {"failover", split->config->failover},
                                     {"targets", std::move(targets)}},
                        version);
    }
    if (method == "PUT") {
      const json::object& fields = body.as_object();
      if (!fields.contains("targets") || !fields.at("targets").is_object()) {
        return error_reply(400, "bad request", "expected {\"targets\": {\"POOL\": WEIGHT, ...}}");
      }
      std::map<std::string, std::uint64_t> targets;
      for (const auto& [pool, weight] : fields.at("targets").as_object()) {
        targets[std::string(pool)] = weight_of(weight, "weight of " + std::string(pool));
      }
      conf::Overrides next = runtime_.overrides();
      next.split_targets[split->name] = targets;
      std::string summary = "split " + split->name + ":";
      for (const auto& [pool, weight] : targets)
        summary += " " + pool + "=" + std::to_string(weight);
      return change(request, who, std::move(next), std::nullopt, summary);
    }
  }
  if (parts.size() == 4 && parts[2] == "export" && parts[3] == "nginx" && method == "GET") {
    return error_reply(501, "not implemented", "the nginx export arrives with its own issue");
  }
  return error_reply(404, "not found", method + " " + path + " is not an endpoint of this API");
}

AdminReply Api::change(const AdminRequest& request, const std::string& who, conf::Overrides next,
                       std::optional<conf::Duration> drain, std::string summary, unsigned status,
                       const std::vector<std::pair<std::string, std::string>>& extra) {
  const std::uint64_t before = runtime_.snapshot()->version;
  normalize(next);
  auto success = [&](std::uint64_t version, bool changed) {
    json::object o{{"version", version}, {"changed", changed}};
    for (const auto& [key, value] : extra)
      o[key] = value;
    return json_reply(o, version, status);
  };
  if (next == runtime_.overrides()) {
    // Idempotent: the state asked for is the state in force.
    return success(before, false);
  }
  const Runtime::Outcome outcome = runtime_.apply(std::move(next), drain);
  if (!outcome.errors.empty()) {
    return outcome.internal ? refusal_reply(outcome, "not persisted", 500)
                            : refusal_reply(outcome, "invalid change", 400);
  }
  audit(request, who, before, outcome.version, summary);
  return success(outcome.version, true);
}

void Api::audit(const AdminRequest& request, const std::string& who, std::uint64_t before,
                std::uint64_t after, const std::string& summary) {
  const std::string line = json::serialize(json::object{{"time", utc_after(conf::Duration{0})},
                                                        {"token", who},
                                                        {"method", request.method},
                                                        {"path", request.target},
                                                        {"old_version", before},
                                                        {"new_version", after},
                                                        {"summary", summary}});
  if (audit_path_.empty()) {
    log::info("audit ", line);
    return;
  }
  std::ofstream out(audit_path_, std::ios::app);
  out << line << '\n';
  if (!out) log::error("audit log ", audit_path_, ": cannot append; the line was: ", line);
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

}  // namespace veer::admin
