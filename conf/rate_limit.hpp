#pragma once

// The value syntax of rate-limit policies, shared by the loader ([limits.NAME]), the
// runtime changes (PUT /api/v1/limits/{policy}) and `veer ctl`: a rate "N/s" | "N/m" |
// "N/h" and the parts of a key. Pure functions, no toml++.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conf/duration.hpp"

namespace veer::conf {

// Bounds that keep every GCRA product inside 64-bit nanoseconds: the interval per/rate
// is at least 1 ns (a rate of at most 10^9 per second), and (burst + delay) x interval
// stays below 2^63 ns even for one request per hour (2 x 10^6 x 3.6 x 10^12 < 9.2 x 10^18).
inline constexpr std::uint64_t kMaxRate = 1'000'000'000;
inline constexpr std::uint64_t kMaxBurst = 1'000'000;  // also the bound of delay
inline constexpr std::uint64_t kMaxPolicyKeys = 100'000'000;

struct Rate {
  std::uint64_t count = 0;  // requests ...
  Duration per{1000};       // ... per second, minute or hour
  friend bool operator==(const Rate&, const Rate&) = default;
};

// "100/s", "6000/m", "5/h": a decimal count from 1 to kMaxRate, '/', one unit letter.
// nullopt with *why (a short reason) for anything else.
std::optional<Rate> parse_rate(std::string_view text, std::string* why);
// The text parse_rate reads back: "100/s".
std::string format_rate(const Rate& rate);

// One part of a policy's key: client_ip, route, header:NAME (NAME an HTTP token) or
// cookie:NAME (a cookie name is a token too, RFC 6265). False with *why otherwise.
bool valid_limit_key_part(std::string_view part, std::string* why);
// Two parts that name the same thing (header names compare without case).
bool same_limit_key_part(std::string_view a, std::string_view b);

}  // namespace veer::conf
