#pragma once

// Hexadecimal digits, both ways, for the HTTP codec (chunk sizes, %XX in a Host) and
// the ids and escapes veer writes.

namespace veer::core {

inline constexpr char kHexDigits[] = "0123456789abcdef";

// The value of a hex digit of either case, or -1 when `c` is not one.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace veer::core
