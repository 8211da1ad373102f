#pragma once

// Character classes shared by the parsers of http/ (ASCII only, whatever the locale).

namespace veer::http {

constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace veer::http
