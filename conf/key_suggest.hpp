#pragma once

// "Did you mean": the known key an unknown one was probably meant to be. A pure
// function of its inputs, apart from toml++, so it can be tested and fuzzed alone.

#include <optional>
#include <span>
#include <string_view>

namespace veer::conf {

// The closest of `known` to `unknown` by case-insensitive Damerau-Levenshtein distance
// (optimal string alignment), when it is close enough and no other known key is as
// close. "Close enough" is at most 2 edits, or 1 for a key of up to 4 characters, where
// two edits change half the word and the suggestion would be a guess. HAProxy's
// configuration check makes the same kind of suggestion. Duplicates in `known` count
// once. Cost O(|known| * n * m) for keys of n and m characters.
std::optional<std::string_view> closest_key(std::string_view unknown,
                                            std::span<const std::string_view> known);

}  // namespace veer::conf
