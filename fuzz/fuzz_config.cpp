// libFuzzer target: the config loader (conf::load_config_string), toml++ included.
// Host names do not resolve here (numeric_dns.cpp), so the fuzzer stays on the machine.
//
// Invariants, each a __builtin_trap(): a result has a config exactly when it has no
// errors; every error has a message and names the file.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "conf/load.hpp"
#include "proxy/log.hpp"

namespace {

// Whether `t` has a byte >= 0x80 outside strings and comments. toml++ 3.3.0 reaches
// TOML_UNREACHABLE on one in a bare key or in a bare value (`a = 1"ö"`, `a = -["ö`,
// `a = 1=="ö"`: it reads a bare value on to whitespace , ] } or #, quotes, brackets and
// = included; tomlplusplus #295, known; issue 11 adds a pre-scan to conf/load.cpp that
// refuses it first). Until that pre-scan is merged these inputs are skipped, so that
// fuzzing goes past the known bug: then delete this.
bool non_ascii_outside_strings(std::string_view t) {
  enum class In { code, comment, basic, literal, multi_basic, multi_literal } in = In::code;
  // Inside a bare key or value: a quote there starts no string. `=` does not end one
  // (a value may go on through it), so `a="ö"` is skipped too.
  bool bare = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    switch (in) {
      case In::code:
        if (static_cast<unsigned char>(c) >= 0x80) return true;
        if (c == '#') {
          in = In::comment;
          bare = false;
        } else if (!bare && (t.substr(i, 3) == R"(""")" || t.substr(i, 3) == "'''")) {
          in = c == '"' ? In::multi_basic : In::multi_literal;
          i += 2;
        } else if (!bare && (c == '"' || c == '\'')) {
          in = c == '"' ? In::basic : In::literal;
        } else if (std::string_view(" \t\r\n,]}").find(c) != std::string_view::npos) {
          bare = false;
        } else if (c != '[' && c != '{' && c != '.') {
          bare = true;
        }
        break;
      case In::comment:
        if (c == '\n') in = In::code;
        break;
      case In::basic:
        if (c == '\\') {
          ++i;
        } else if (c == '"' || c == '\n') {
          in = In::code;
        }
        break;
      case In::literal:
        if (c == '\'' || c == '\n') in = In::code;
        break;
      case In::multi_basic:
      case In::multi_literal:
        if (c == '\\' && in == In::multi_basic) {
          ++i;
        } else if (t.substr(i, 3) == (in == In::multi_basic ? R"(""")" : "'''")) {
          in = In::code;
          i += 2;
        }
        break;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  veer::log::set_min_level(veer::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (non_ascii_outside_strings(text)) return 0;
  const veer::conf::LoadResult result = veer::conf::load_config_string(text, "fuzz.toml");
  if (result.ok() != result.errors.empty()) __builtin_trap();
  for (const veer::conf::ConfigError& e : result.errors) {
    if (e.message.empty() || e.file != "fuzz.toml") __builtin_trap();
  }
  return 0;
}
