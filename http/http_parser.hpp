#pragma once

// A strict, zero-copy HTTP/1.1 head parser (RFC 9112). Strictness is the point: a
// proxy that accepts what its backend reads differently is a request-smuggling hole,
// so every ambiguous form (obs-fold, bare CR or LF, whitespace before a colon,
// conflicting framing) is refused rather than repaired.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/http_head.hpp"

namespace veer::http {

struct ParseError {
  std::uint16_t status = 0;  // 0 = no error; else the status to answer with
  std::string_view reason;   // short, static text for the response body and logs
  explicit operator bool() const { return status != 0; }
};

// Incremental search for the end of a head (the empty line). `scan_from` keeps the
// position between calls so a head arriving one byte at a time is scanned once,
// not once per byte. Returns the head length including the empty line, or 0.
// A bare LF also ends the search, so that the strict parser can refuse it at once.
std::size_t find_head_end(std::string_view buffer, std::size_t& scan_from);

// Parses a complete request head (as delimited by find_head_end).
ParseError parse_request_head(std::string_view head, RequestHead& out);

// Parses a complete response head. `request_method_is_head` and the status decide
// whether a body follows (RFC 9112 section 6.3).
ParseError parse_response_head(std::string_view head, bool request_method_is_head,
                               ResponseHead& out);

// Whether sending a request with this method twice has the effect of sending it once
// (RFC 9110 section 9.2.2): only these are retried after they may have reached a backend.
bool is_idempotent_method(std::string_view method);

// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b);

// Calls `fn(token)` for each element of a comma-separated list, trimmed of OWS,
// skipping empty elements (RFC 9110 section 5.6.1). Returns false if fn does.
template <typename Fn>
bool for_each_token(std::string_view list, Fn&& fn) {
  std::size_t i = 0;
  while (i <= list.size()) {
    std::size_t comma = list.find(',', i);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = list.substr(i, comma - i);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    if (!item.empty() && !fn(item)) return false;
    i = comma + 1;
  }
  return true;
}

}  // namespace veer::http
