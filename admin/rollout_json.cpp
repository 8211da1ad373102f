#include "admin/rollout_json.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "conf/duration.hpp"
#include "conf/rollout_rules.hpp"

namespace veer::admin {
namespace json = boost::json;

namespace {

// Reading: every shape error throws Refused naming the field; the public readers turn
// it into *why.
class Refused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
  throw Refused(path + ": " + what);
}

std::string field(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// The object at `path`, refusing any field not in `allowed`.
const json::object& read_object(const json::value& v, const std::string& path,
                                std::initializer_list<std::string_view> allowed) {
  if (!v.is_object()) refuse(path.empty() ? "the body" : path, "expected a JSON object");
  for (const auto& [key, ignored] : v.as_object()) {
    bool known = false;
    std::string names;
    for (std::string_view name : allowed) {
      known = known || key == name;
      names += names.empty() ? "" : ", ";
      names += name;
    }
    if (!known) refuse(field(path, key), "unknown field (expected " + names + ")");
  }
  return v.as_object();
}

const json::value& required(const json::object& o, const std::string& path, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) refuse(field(path, key), "missing");
  return *v;
}

std::string read_string(const json::value& v, const std::string& path) {
  if (!v.is_string()) refuse(path, "expected a string");
  return std::string(v.as_string());
}

double read_number(const json::value& v, const std::string& path) {
  if (v.is_double()) return v.as_double();
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  refuse(path, "expected a number");
}

std::uint64_t read_uint(const json::value& v, const std::string& path,
                        std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
  std::optional<std::uint64_t> n;
  if (v.is_uint64()) n = v.as_uint64();
  if (v.is_int64() && v.as_int64() >= 0) n = static_cast<std::uint64_t>(v.as_int64());
  if (!n || *n > max) refuse(path, "expected an integer from 0 to " + std::to_string(max));
  return *n;
}

std::int64_t read_int(const json::value& v, const std::string& path) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= std::numeric_limits<std::int64_t>::max())
    return static_cast<std::int64_t>(v.as_uint64());
  refuse(path, "expected an integer");
}

conf::Duration read_duration(const json::value& v, const std::string& path) {
  const std::string text = read_string(v, path);
  const std::optional<conf::Duration> d = conf::parse_duration(text);
  if (!d) refuse(path, "bad duration \"" + text + "\" (use a number and a unit: ms, s, m, h)");
  return *d;
}

// Whole percents as integers ("steps": [1, 5]), others as the decimal they are (0.5).
json::value percent_json(std::uint32_t basis_points) {
  if (basis_points % 100 == 0) return json::value(std::uint64_t{basis_points / 100});
  return json::value(conf::basis_points_to_percent(basis_points));
}

std::vector<std::uint32_t> steps_at(const json::value& v, const std::string& path) {
  if (!v.is_array()) refuse(path, "expected an array of percents, such as [1, 5, 25, 50, 100]");
  std::vector<std::uint32_t> steps;
  for (std::size_t i = 0; i < v.as_array().size(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    const std::optional<std::uint32_t> bp =
        conf::percent_to_basis_points(read_number(v.as_array()[i], at));
    if (!bp) refuse(at, "not a percent from 0 to 100 with at most 2 decimals");
    steps.push_back(*bp);
  }
  return steps;
}

void guards_at(const json::value& v, const std::string& path, conf::RolloutConfig& rollout) {
  const json::object& guards = read_object(v, path, {"error_ratio", "latency"});
  if (const json::value* e = guards.if_contains("error_ratio")) {
    const std::string at = field(path, "error_ratio");
    conf::ErrorGuardConfig g;
    const json::object& o = read_object(*e, at, {"tolerance", "alpha"});
    if (const json::value* x = o.if_contains("tolerance"))
      g.tolerance = read_number(*x, at + ".tolerance");
    if (const json::value* x = o.if_contains("alpha")) g.alpha = read_number(*x, at + ".alpha");
    rollout.error_ratio = g;
  }
  if (const json::value* l = guards.if_contains("latency")) {
    const std::string at = field(path, "latency");
    conf::LatencyGuardConfig g;
    const json::object& o = read_object(*l, at, {"quantile", "tolerance_ms", "alpha"});
    if (const json::value* x = o.if_contains("quantile"))
      g.quantile = read_number(*x, at + ".quantile");
    if (const json::value* x = o.if_contains("tolerance_ms"))
      g.tolerance_ms = read_number(*x, at + ".tolerance_ms");
    if (const json::value* x = o.if_contains("alpha")) g.alpha = read_number(*x, at + ".alpha");
    rollout.latency = g;
  }
}

conf::RolloutConfig rollout_at(const json::value& v, const std::string& path) {
  const json::object& o = read_object(
      v, path, {"name", "split", "stable", "canary", "steps", "min_step", "max_step", "guards"});
  conf::RolloutConfig rollout;
  rollout.name = read_string(required(o, path, "name"), field(path, "name"));
  rollout.split = read_string(required(o, path, "split"), field(path, "split"));
  rollout.stable = read_string(required(o, path, "stable"), field(path, "stable"));
  rollout.canary = read_string(required(o, path, "canary"), field(path, "canary"));
  rollout.steps = steps_at(required(o, path, "steps"), field(path, "steps"));
  if (const json::value* d = o.if_contains("min_step"))
    rollout.min_step = read_duration(*d, field(path, "min_step"));
  if (const json::value* d = o.if_contains("max_step"))
    rollout.max_step = read_duration(*d, field(path, "max_step"));
  if (const json::value* g = o.if_contains("guards")) {
    guards_at(*g, field(path, "guards"), rollout);
  } else {
    rollout.error_ratio = conf::ErrorGuardConfig{};
  }
  return rollout;
}

runtime::TargetEvidence evidence_at(const json::value& v, const std::string& path) {
  const json::object& o = read_object(v, path, {"requests", "errors", "latency"});
  runtime::TargetEvidence e;
  e.requests = read_uint(required(o, path, "requests"), field(path, "requests"));
  e.errors = read_uint(required(o, path, "errors"), field(path, "errors"));
  if (e.errors > e.requests) refuse(field(path, "errors"), "more errors than requests");
  const json::value* latency = o.if_contains("latency");
  if (latency == nullptr) return e;
  const std::string at = field(path, "latency");
  if (!latency->is_array()) refuse(at, "expected an array of [bucket, count] pairs");
  std::optional<std::size_t> previous;
  for (std::size_t i = 0; i < latency->as_array().size(); ++i) {
    const std::string item = at + "[" + std::to_string(i) + "]";
    const json::value& pair = latency->as_array()[i];
    if (!pair.is_array() || pair.as_array().size() != 2) refuse(item, "expected [bucket, count]");
    const std::size_t bucket = static_cast<std::size_t>(
        read_uint(pair.as_array()[0], item + "[0]", runtime::kLatencyBuckets - 1));
    if (previous && bucket <= *previous) refuse(item + "[0]", "buckets must increase");
    previous = bucket;
    e.latency[bucket] = read_uint(pair.as_array()[1], item + "[1]");
  }
  return e;
}

runtime::RolloutEvent event_at(const json::value& v, const std::string& path) {
  const json::object& o = read_object(v, path, {"unix_ms", "step", "weight_bp", "event", "detail"});
  runtime::RolloutEvent e;
  e.unix_ms = read_int(required(o, path, "unix_ms"), field(path, "unix_ms"));
  e.step = static_cast<std::uint32_t>(read_uint(required(o, path, "step"), field(path, "step"),
                                                std::numeric_limits<std::uint32_t>::max()));
  e.weight_bp = static_cast<std::uint32_t>(
      read_uint(required(o, path, "weight_bp"), field(path, "weight_bp"), 10000));
  e.event = read_string(required(o, path, "event"), field(path, "event"));
  if (const json::value* d = o.if_contains("detail"))
    e.detail = read_string(*d, field(path, "detail"));
  return e;
}

runtime::RolloutProgress progress_at(const json::value& v, const std::string& path) {
  const json::object& o = read_object(
      v, path, {"state", "step", "step_running_ms", "stable", "canary", "reason", "history"});
  runtime::RolloutProgress p;
  const std::string state = read_string(required(o, path, "state"), field(path, "state"));
  if (!runtime::parse_rollout_state(state, p.state))
    refuse(field(path, "state"), "\"" + state +
                                     "\" is not running, paused, inconclusive, promoted, "
                                     "rolled_back or aborted");
  p.step = static_cast<std::uint32_t>(read_uint(required(o, path, "step"), field(path, "step"),
                                                std::numeric_limits<std::uint32_t>::max()));
  if (const json::value* ms = o.if_contains("step_running_ms")) {
    p.step_running_ms = read_int(*ms, field(path, "step_running_ms"));
    if (p.step_running_ms < 0) refuse(field(path, "step_running_ms"), "must not be negative");
  }
  if (const json::value* e = o.if_contains("stable"))
    p.stable = evidence_at(*e, field(path, "stable"));
  if (const json::value* e = o.if_contains("canary"))
    p.canary = evidence_at(*e, field(path, "canary"));
  if (const json::value* r = o.if_contains("reason"))
    p.reason = read_string(*r, field(path, "reason"));
  if (const json::value* h = o.if_contains("history")) {
    const std::string at = field(path, "history");
    if (!h->is_array()) refuse(at, "expected an array of events");
    const json::array& events = h->as_array();
    // Beyond the cap (a veer that kept more): the newest, as the cap keeps them.
    const std::size_t skip =
        events.size() > runtime::kRolloutHistory ? events.size() - runtime::kRolloutHistory : 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      runtime::RolloutEvent e = event_at(events[i], at + "[" + std::to_string(i) + "]");
      if (i >= skip) p.history.push_back(std::move(e));
    }
  }
  return p;
}

// Runs `read` and turns a refusal into nullopt with *why.
template <class Read>
auto guarded(std::string* why, Read read) -> std::optional<decltype(read())> {
  try {
    return read();
  } catch (const Refused& e) {
    *why = e.what();
  } catch (const std::exception& e) {  // Boost.JSON's own (allocation, say)
    *why = e.what();
  }
  return std::nullopt;
}

}  // namespace

std::optional<conf::RolloutConfig> rollout_from_json(const json::value& body, std::string* why) {
  return guarded(why, [&] { return rollout_at(body, ""); });
}

json::object rollout_config_json(const conf::RolloutConfig& rollout) {
  json::array steps;
  for (std::uint32_t bp : rollout.steps)
    steps.push_back(percent_json(bp));
  json::object guards;
  if (const auto& g = rollout.error_ratio)
    guards["error_ratio"] = json::object{{"tolerance", g->tolerance}, {"alpha", g->alpha}};
  if (const auto& g = rollout.latency) {
    guards["latency"] = json::object{
        {"quantile", g->quantile}, {"tolerance_ms", g->tolerance_ms}, {"alpha", g->alpha}};
  }
  return json::object{{"name", rollout.name},
                      {"split", rollout.split},
                      {"stable", rollout.stable},
                      {"canary", rollout.canary},
                      {"steps", std::move(steps)},
                      {"min_step", conf::format_duration(rollout.min_step)},
                      {"max_step", conf::format_duration(rollout.max_step)},
                      {"guards", std::move(guards)}};
}

json::object evidence_json(const runtime::TargetEvidence& evidence) {
  json::array latency;
  for (std::size_t bucket = 0; bucket < evidence.latency.size(); ++bucket) {
    if (evidence.latency[bucket] == 0) continue;
    latency.push_back(json::array{std::uint64_t{bucket}, evidence.latency[bucket]});
  }
  return json::object{{"requests", evidence.requests},
                      {"errors", evidence.errors},
                      {"latency", std::move(latency)}};
}

std::optional<runtime::TargetEvidence> evidence_from_json(const json::value& value,
                                                          std::string* why) {
  return guarded(why, [&] { return evidence_at(value, ""); });
}

json::object progress_json(const runtime::RolloutProgress& progress) {
  json::array history;
  for (const runtime::RolloutEvent& e : progress.history) {
    history.push_back(json::object{{"unix_ms", e.unix_ms},
                                   {"step", e.step},
                                   {"weight_bp", e.weight_bp},
                                   {"event", e.event},
                                   {"detail", e.detail}});
  }
  return json::object{{"state", runtime::to_string(progress.state)},
                      {"step", progress.step},
                      {"step_running_ms", progress.step_running_ms},
                      {"stable", evidence_json(progress.stable)},
                      {"canary", evidence_json(progress.canary)},
                      {"reason", progress.reason},
                      {"history", std::move(history)}};
}

std::optional<runtime::RolloutProgress> progress_from_json(const json::value& value,
                                                           std::string* why) {
  return guarded(why, [&] { return progress_at(value, ""); });
}

json::object rollout_record_json(const runtime::RolloutRecord& record) {
  return json::object{{"source", record.from_file ? "config" : "api"},
                      {"config", rollout_config_json(record.config)},
                      {"progress", progress_json(record.progress)}};
}

std::optional<runtime::RolloutRecord> rollout_record_from_json(const json::value& value,
                                                               const std::string& name,
                                                               const std::string& path,
                                                               std::string* why) {
  return guarded(why, [&] {
    const json::object& o = read_object(value, path, {"source", "config", "progress"});
    runtime::RolloutRecord record;
    const std::string source = read_string(required(o, path, "source"), field(path, "source"));
    if (source != "config" && source != "api")
      refuse(field(path, "source"), "expected \"config\" or \"api\"");
    record.from_file = source == "config";
    record.config = rollout_at(required(o, path, "config"), field(path, "config"));
    if (record.config.name != name)
      refuse(field(path, "config.name"), "\"" + record.config.name + "\" is not \"" + name + "\"");
    record.progress = progress_at(required(o, path, "progress"), field(path, "progress"));
    if (record.progress.step >= record.config.steps.size())
      refuse(field(path, "progress.step"), std::to_string(record.progress.step) +
                                               " is beyond the last step (steps count from 0)");
    return record;
  });
}

}  // namespace veer::admin
