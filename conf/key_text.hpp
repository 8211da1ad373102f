#pragma once

// Checks on the text of configuration keys that need no TOML parser: the ASCII scan
// that runs before toml++ sees a file, and the "did you mean" suggestion for an unknown
// key. Pure functions of their inputs, so they can be unit-tested and fuzzed alone.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace veer::conf {

// Where a non-ASCII byte sits outside every string and comment.
struct NonAsciiOutsideStrings {
  std::uint32_t line = 0;    // 1-based
  std::uint32_t column = 0;  // 1-based, in characters (UTF-8 code points), as toml++ counts
  bool in_key = true;        // false when it stands where a value goes (`name = café`)

  // "non-ASCII character in a key", or the value form, for FILE:LINE:COLUMN errors.
  std::string message() const;
};

// The first byte >= 0x80 of `toml_text` that is outside strings and comments, or nullopt.
// TOML allows non-ASCII only inside strings and comments, and toml++ 3.3.0 reaches
// TOML_UNREACHABLE (undefined behaviour) on a non-ASCII character in a bare key
// (tomlplusplus #190/#295, fixed after 3.3.0 by PR #305): the loader refuses such text
// before toml++ parses it. Understands "basic" strings with escapes, 'literal' strings,
// """multi-line""" and '''multi-line''' strings (with up to two quotes before the closing
// delimiter) and # comments; a leading UTF-8 byte order mark is skipped, as toml++ does.
// Text that is not valid TOML is scanned on a best-effort basis (toml++ reports it).
// O(n) in the text, no allocation beyond a stack of open brackets.
std::optional<NonAsciiOutsideStrings> find_non_ascii_outside_strings(std::string_view toml_text);

// The known key `unknown` was probably meant to be: the closest of `known` by
// case-insensitive Damerau-Levenshtein distance (optimal string alignment), when it is
// close enough and no other known key is as close. "Close enough" is at most 2 edits, or
// 1 for a key of up to 4 characters, where two edits change half the word and the
// suggestion would be a guess. Duplicates in `known` count once. Cost O(|known| * n * m).
std::optional<std::string_view> closest_key(std::string_view unknown,
                                            std::span<const std::string_view> known);

}  // namespace veer::conf
