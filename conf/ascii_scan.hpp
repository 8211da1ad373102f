#pragma once

// The check that runs on a configuration file's text before toml++ parses it. toml++
// 3.3.0 (Debian 12's) reaches TOML_UNREACHABLE, undefined behaviour, when it asks
// whether a non-ASCII character is whitespace (is_non_ascii_horizontal_whitespace;
// tomlplusplus #190/#295, fixed after 3.3.0 by PR #305). It asks that wherever it looks
// for whitespace: after a bare key (`[pööls]`), inside a value that is not a string
// (`n = 1ö`), and in a multi-line basic string after a backslash. Non-ASCII text is legal
// TOML only inside strings and comments, so refusing it everywhere else costs nothing;
// the one legal place refused is the first character after a line-ending backslash.
// A pure function with no toml++ dependency, so that it can be fuzzed alone.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace veer::conf {

struct MisplacedNonAscii {
  enum class Where {
    key,                // `[pööls]`, `wörkers = 1`
    bare_value,         // `name = café`, `n = 1'ö'`
    after_backslash,    // `"\ö"`: not an escape sequence
    after_continuation  // """a \<newline>  über""": toml++ 3.3.0 cannot read it there
  };
  std::uint32_t line = 0;    // 1-based
  std::uint32_t column = 0;  // 1-based, in characters (UTF-8 code points), as toml++ counts
  Where where = Where::key;

  // "non-ASCII character in a key" and the like, for FILE:LINE:COLUMN errors.
  std::string message() const;
};

// The first non-ASCII byte of `toml_text` that toml++ 3.3.0 could not read safely, or
// nullopt. Follows toml++'s reading: "basic" strings with escapes, 'literal' strings,
// """multi-line""" and '''multi-line''' strings (up to two quotes before the closing
// delimiter), # comments, keys and values in tables, arrays and inline tables, and
// values that are not strings (numbers, dates), which toml++ reads up to a separator
// whatever they hold. A leading UTF-8 byte order mark is skipped, as toml++ does. In text
// that is not valid TOML it may report a byte that toml++ would have stopped before; a
// differential fuzz run against toml++ built with UBSan found no byte that toml++ reaches
// and this lets through. O(n), no allocation beyond a stack of open brackets.
std::optional<MisplacedNonAscii> find_misplaced_non_ascii(std::string_view toml_text);

}  // namespace veer::conf
