#include "conf/key_suggest.hpp"

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

namespace veer::conf {
namespace {

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return out;
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
// two neighbours ("strategyy", "wokrers") each cost 1. Three rows of the usual table.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> two_back(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  std::iota(previous.begin(), previous.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], two_back[j - 2] + 1);
      }
    }
    std::swap(two_back, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace

std::optional<std::string_view> closest_key(std::string_view unknown,
                                            std::span<const std::string_view> known) {
  const std::size_t limit = unknown.size() <= 4 ? 1 : 2;
  const std::string wanted = ascii_lower(unknown);
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  bool tied = false;
  for (const std::string_view candidate : known) {
    // The distance is at least the difference in length: skip the table when it is too far.
    const std::size_t length_gap = candidate.size() > unknown.size()
                                       ? candidate.size() - unknown.size()
                                       : unknown.size() - candidate.size();
    if (length_gap > limit || (best && candidate == *best)) continue;
    const std::size_t distance = edit_distance(wanted, ascii_lower(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
      tied = false;
    } else if (best && distance == best_distance) {
      tied = true;
    }
  }
  if (tied) return std::nullopt;
  return best;
}

}  // namespace veer::conf
