// libFuzzer target: the state file's read path. admin::read_state_file is a file read
// around state_from_json; what it returns is then applied on top of a config file at
// start, as conf::load_config_with does (here on fake_runtime.hpp's config).
//
// Invariants, each a __builtin_trap(): a refusal says why; what parses survives a
// round trip (state_from_json(state_to_json(s)) == s).
#include <cstddef>
#include <cstdint>
#include <string>

#include "admin/state_file.hpp"
#include "conf/overrides.hpp"
#include "core/log.hpp"
#include "fake_runtime.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  veer::core::log::set_min_level(veer::core::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const veer::conf::Config file = veer::fuzz::fake_file_config();
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  const std::optional<veer::conf::Overrides> state = veer::admin::state_from_json(text, file, &why);
  if (!state) {
    if (why.empty()) __builtin_trap();
    return 0;
  }
  std::string again_why;
  const auto again =
      veer::admin::state_from_json(veer::admin::state_to_json(*state), file, &again_why);
  if (!again || *again != *state) __builtin_trap();
  // As at start: the changes that still apply to the file, on top of it.
  veer::conf::OverrideReport report;
  const veer::conf::Overrides kept = veer::conf::prune_overrides(*state, file, &report);
  const veer::conf::LoadResult loaded =
      veer::conf::load_config_with(veer::fuzz::kFakeConfig, "fake.toml", kept);
  if (loaded.ok() != loaded.errors.empty()) __builtin_trap();
  return 0;
}
