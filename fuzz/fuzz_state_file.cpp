// libFuzzer target: the state file's read path. admin::read_state_file is a file read
// around state_from_json; what it returns is then applied on top of a config file at
// start, as conf::load_config_with does (here on fake_runtime.hpp's config).
//
// Invariants, each a __builtin_trap(): a refusal says why; what parses survives a
// round trip (state_from_json(state_to_json(s)) == s), its rollouts too (their guard
// numbers to within an ulp or so: Boost 1.81's parser may miss a 17-digit double by
// one; fuzz_rollout_json checks the rest of them exactly).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "admin/state_file.hpp"
#include "conf/overrides.hpp"
#include "core/log.hpp"
#include "fake_runtime.hpp"

namespace {

bool near(double a, double b) {
  return a == b || std::fabs(a - b) <= 1e-12 * std::fmax(std::fabs(a), std::fabs(b)) ||
         std::fabs(a - b) <= 1e-300;
}

// Equal records, but for an ulp in a guard's numbers.
bool same(const veer::runtime::RolloutRecord& a, veer::runtime::RolloutRecord b) {
  auto& x = b.config.error_ratio;
  auto& y = b.config.latency;
  const auto& ax = a.config.error_ratio;
  const auto& ay = a.config.latency;
  if (x && ax && near(x->tolerance, ax->tolerance) && near(x->alpha, ax->alpha)) *x = *ax;
  if (y && ay && near(y->quantile, ay->quantile) && near(y->tolerance_ms, ay->tolerance_ms) &&
      near(y->alpha, ay->alpha))
    *y = *ay;
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  veer::core::log::set_min_level(veer::core::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const veer::conf::Config file = veer::fuzz::fake_file_config();
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  std::vector<veer::runtime::RolloutRecord> rollouts;
  const std::optional<veer::conf::Overrides> state =
      veer::admin::state_from_json(text, file, &why, &rollouts);
  if (!state) {
    if (why.empty()) __builtin_trap();
    return 0;
  }
  std::string again_why;
  std::vector<veer::runtime::RolloutRecord> rollouts_again;
  const auto again = veer::admin::state_from_json(veer::admin::state_to_json(*state, rollouts),
                                                  file, &again_why, &rollouts_again);
  if (!again || *again != *state) __builtin_trap();
  // Names are keys of one object: a repeated one is read once.
  if (rollouts_again.size() > rollouts.size()) __builtin_trap();
  for (const veer::runtime::RolloutRecord& r : rollouts_again) {
    const auto first = std::find_if(rollouts.begin(), rollouts.end(),
                                    [&](const auto& o) { return o.config.name == r.config.name; });
    if (first == rollouts.end() || !same(*first, r)) __builtin_trap();
  }
  // As at start: the changes that still apply to the file, on top of it.
  veer::conf::OverrideReport report;
  const veer::conf::Overrides kept = veer::conf::prune_overrides(*state, file, &report);
  const veer::conf::LoadResult loaded =
      veer::conf::load_config_with(veer::fuzz::kFakeConfig, "fake.toml", kept);
  if (loaded.ok() != loaded.errors.empty()) __builtin_trap();
  return 0;
}
