#include "conf/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace veer::conf {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t millis;
};

// Longest suffix first so "ms" is not read as "m" followed by garbage.
constexpr std::array<Unit, 4> kUnits{{{"ms", 1}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}}};

// Durations above ten years are certainly typos; refusing them also keeps every
// deadline computation (now + duration) far from overflow.
constexpr std::int64_t kMaxMillis = 10LL * 365 * 24 * 3'600'000;

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t number = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      number = number * 10 + (text[i] - '0');
      if (number > kMaxMillis) return std::nullopt;
      ++i;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.suffix.size()) == u.suffix) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;
    i += unit->suffix.size();
    if (number > (kMaxMillis - total) / unit->millis) return std::nullopt;
    total += number * unit->millis;
  }
  return Duration{total};
}

std::string format_duration(Duration d) {
  const std::int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace veer::conf
