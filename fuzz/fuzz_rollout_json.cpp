// libFuzzer target: rollouts as JSON (admin/rollout_json.hpp). The input is JSON text;
// it goes to rollout_from_json (a POST /api/v1/rollouts body), progress_from_json and
// evidence_from_json, and, when it is an object, its "progress" and "config" members too
// (the state file's record shape).
//
// Invariants, each a __builtin_trap(): a refusal says why; what a reader accepts is
// written and read back the same (progress and evidence exactly; a definition's guard
// numbers to within an ulp or so: Boost 1.81's parser may miss a 17-digit double by
// one); conf::check_rollout on an accepted definition answers without crashing, and
// against the fake runtime's config it accepts the documented example.
#include <boost/json.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "admin/rollout_json.hpp"
#include "conf/rollout_rules.hpp"
#include "core/log.hpp"
#include "fake_runtime.hpp"

namespace {

namespace json = boost::json;
using veer::conf::RolloutConfig;

bool near(double a, double b) {
  return a == b || std::fabs(a - b) <= 1e-12 * std::fmax(std::fabs(a), std::fabs(b)) ||
         std::fabs(a - b) <= 1e-300;
}

bool same_definition(const RolloutConfig& a, const RolloutConfig& b) {
  if (a.name != b.name || a.split != b.split || a.stable != b.stable || a.canary != b.canary ||
      a.steps != b.steps || a.min_step != b.min_step || a.max_step != b.max_step ||
      a.error_ratio.has_value() != b.error_ratio.has_value() ||
      a.latency.has_value() != b.latency.has_value())
    return false;
  if (a.error_ratio && (!near(a.error_ratio->tolerance, b.error_ratio->tolerance) ||
                        !near(a.error_ratio->alpha, b.error_ratio->alpha)))
    return false;
  return !a.latency || (near(a.latency->quantile, b.latency->quantile) &&
                        near(a.latency->tolerance_ms, b.latency->tolerance_ms) &&
                        near(a.latency->alpha, b.latency->alpha));
}

void definition(const json::value& value, const veer::conf::Config& file) {
  std::string why;
  const auto rollout = veer::admin::rollout_from_json(value, &why);
  if (!rollout) {
    if (why.empty()) __builtin_trap();
    return;
  }
  const json::value written =
      json::parse(json::serialize(veer::admin::rollout_config_json(*rollout)));
  const auto again = veer::admin::rollout_from_json(written, &why);
  if (!again || !same_definition(*again, *rollout)) __builtin_trap();
  (void)veer::conf::check_rollout(*rollout, file);
}

void progress(const json::value& value) {
  std::string why;
  const auto read = veer::admin::progress_from_json(value, &why);
  if (!read) {
    if (why.empty()) __builtin_trap();
    return;
  }
  if (read->history.size() > veer::runtime::kRolloutHistory) __builtin_trap();
  const json::value written = json::parse(json::serialize(veer::admin::progress_json(*read)));
  const auto again = veer::admin::progress_from_json(written, &why);
  if (!again || *again != *read) __builtin_trap();
}

void evidence(const json::value& value) {
  std::string why;
  const auto read = veer::admin::evidence_from_json(value, &why);
  if (!read) {
    if (why.empty()) __builtin_trap();
    return;
  }
  if (read->errors > read->requests) __builtin_trap();
  const auto again = veer::admin::evidence_from_json(veer::admin::evidence_json(*read), &why);
  if (!again || *again != *read) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  veer::core::log::set_min_level(veer::core::log::Level::error);
  // The documented body is valid against the fake runtime's split (blue, green).
  const veer::conf::Config file = veer::fuzz::fake_file_config();
  std::string why;
  const auto example = veer::admin::rollout_from_json(
      json::parse(R"({"name": "r1", "split": "rpc", "stable": "blue", "canary": "green",
                      "steps": [1, 5, 25, 50, 100], "min_step": "30s", "max_step": "10m"})"),
      &why);
  if (!example || !veer::conf::check_rollout(*example, file).empty()) __builtin_trap();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const veer::conf::Config file = veer::fuzz::fake_file_config();
  boost::system::error_code ec;
  const json::value value =
      json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec) return 0;
  definition(value, file);
  progress(value);
  evidence(value);
  if (const json::object* o = value.if_object()) {
    if (const json::value* p = o->if_contains("progress")) progress(*p);
    if (const json::value* c = o->if_contains("config")) definition(*c, file);
    std::string why;
    const auto record = veer::admin::rollout_record_from_json(value, "r1", "rollouts.r1", &why);
    if (!record && why.empty()) __builtin_trap();
  }
  return 0;
}
