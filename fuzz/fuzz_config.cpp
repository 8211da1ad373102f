// libFuzzer target: the config loader (conf::load_config_string), toml++ included, and
// its pre-scan for the non-ASCII text on which toml++ 3.3.0 has undefined behaviour.
// Host names do not resolve here (numeric_dns.cpp), so the fuzzer stays on the machine.
//
// Invariants, each a __builtin_trap(): a result has a config exactly when it has no
// errors; every error has a message and names the file. A config that loads is also
// exported to nginx (admin/nginx_export.hpp), which must not crash and must write a
// whole http block.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "admin/nginx_export.hpp"
#include "conf/load.hpp"
#include "core/log.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  veer::core::log::set_min_level(veer::core::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const veer::conf::LoadResult result = veer::conf::load_config_string(text, "fuzz.toml");
  if (result.ok() != result.errors.empty()) __builtin_trap();
  for (const veer::conf::ConfigError& e : result.errors) {
    if (e.message.empty() || e.file != "fuzz.toml") __builtin_trap();
  }
  if (result.config) {
    const veer::admin::NginxExport exported =
        veer::admin::export_nginx(*result.config, veer::admin::NginxExportOptions{});
    if (exported.text.find("\nhttp {\n") == std::string::npos) __builtin_trap();
  }
  return 0;
}
