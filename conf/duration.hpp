#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace veer::conf {

using Duration = std::chrono::milliseconds;

// Parses "250ms", "2s", "5m", "1h" and concatenations such as "1m30s". Integers only:
// sub-millisecond precision has no use in a proxy's timeouts. Returns nullopt on any
// malformed input (no unit, unknown unit, overflow, empty string).
std::optional<Duration> parse_duration(std::string_view text);

// The shortest exact spelling of a duration in the config syntax ("1h", "90s", "250ms").
std::string format_duration(Duration d);

}  // namespace veer::conf
