#include "http/forwarded.hpp"

#include <array>
#include <charconv>
#include <optional>

#include "http/ascii.hpp"
#include "http/http_parser.hpp"

namespace veer::http {
namespace {

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back()))
    s.remove_suffix(1);
  return s;
}

// A TCP port as written in a forwarding header: 1 to 5 digits, at most 65535.
bool valid_port(std::string_view digits) {
  if (digits.empty() || digits.size() > 5) return false;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return ec == std::errc{} && end == digits.data() + digits.size() && value <= 65535;
}

// RFC 7239 obfport: "_" followed by ALPHA / DIGIT / "." / "_" / "-".
bool valid_obfuscated_port(std::string_view s) {
  if (s.size() < 2 || s.front() != '_') return false;
  for (char c : s.substr(1)) {
    const bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<core::IpAddress> parse_v4(std::string_view text) {
  if (text.find(':') != std::string_view::npos) return std::nullopt;
  return core::IpAddress::parse(text);  // without ':' only a dotted quad parses
}

std::optional<core::IpAddress> parse_v6(std::string_view text) {
  if (text.find(':') == std::string_view::npos) return std::nullopt;
  return core::IpAddress::parse(text);
}

// "[v6]" followed by `after`, which `port_ok` judges (empty: no port).
template <typename PortOk>
std::optional<core::IpAddress> parse_bracketed(std::string_view text, PortOk port_ok) {
  const std::size_t close = text.find(']');
  if (close == std::string_view::npos) return std::nullopt;
  const std::string_view after = text.substr(close + 1);
  if (!after.empty() && (after.front() != ':' || !port_ok(after.substr(1)))) return std::nullopt;
  return parse_v6(text.substr(1, close - 1));
}

// Elements of a comma-separated list, right to left, empty ones skipped.
std::string_view pop_last_element(std::string_view& list) {
  while (!list.empty()) {
    const std::size_t comma = list.rfind(',');
    const std::size_t start = comma == std::string_view::npos ? 0 : comma + 1;
    const std::string_view element = trim(list.substr(start));
    list = list.substr(0, comma == std::string_view::npos ? 0 : comma);
    if (!element.empty()) return element;
  }
  return {};
}

// The walk shared by both headers: `next_hop()` yields each hop right to left as an
// optional address (nullopt: not an address), or ends with `false`.
template <typename NextHop>
ForwardedClient walk(const core::IpAddress& peer, std::span<const core::IpPrefix> trusted,
                     ForwardedSource source, NextHop next_hop) {
  ForwardedClient client{peer, ForwardedSource::peer};
  for (std::size_t examined = 0; examined < kMaxForwardedHops; ++examined) {
    std::optional<core::IpAddress> hop;
    if (!next_hop(hop) || !hop) break;
    client = {*hop, source};
    if (!is_trusted(trusted, *hop)) break;
  }
  return client;
}

ForwardedClient walk_x_forwarded_for(std::span<const HeaderField> fields,
                                     const core::IpAddress& peer,
                                     std::span<const core::IpPrefix> trusted) {
  std::size_t field = fields.size();
  std::string_view rest;
  return walk(peer, trusted, ForwardedSource::x_forwarded_for,
              [&](std::optional<core::IpAddress>& hop) {
                while (true) {
                  const std::string_view element = pop_last_element(rest);
                  if (!element.empty()) {
                    hop = parse_forwarded_for_element(element);
                    return true;
                  }
                  while (field > 0 && fields[field - 1].id != HeaderId::x_forwarded_for)
                    --field;
                  if (field == 0) return false;
                  rest = fields[--field].value;
                }
              });
}

// --- Forwarded (RFC 7239): parsed left to right, because quoted strings may hold
// commas; the last kMaxForwardedHops `for=` values are kept for the walk.

// The end of a quoted-string starting at `s[at] == '"'`, past its closing quote, or
// s.size() when it is not closed.
std::size_t skip_quoted(std::string_view s, std::size_t at) {
  for (std::size_t i = at + 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return s.size();
}

// The next piece of `s` up to a top-level `separator` (outside quotes); `s` keeps the rest.
std::string_view next_piece(std::string_view& s, char separator) {
  std::size_t i = 0;
  while (i < s.size() && s[i] != separator)
    i = s[i] == '"' ? skip_quoted(s, i) : i + 1;
  const std::string_view piece = s.substr(0, i);
  s = i < s.size() ? s.substr(i + 1) : std::string_view{};
  return piece;
}

// The raw value of the element's one `for=` parameter; empty when it has none, has
// several, or the element is broken (a pair without '=', an unclosed quote).
std::string_view for_value(std::string_view element) {
  std::string_view found;
  int count = 0;
  while (!element.empty()) {
    const std::string_view pair = trim(next_piece(element, ';'));
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) return {};
    const std::string_view value = pair.substr(eq + 1);
    // An unclosed quote, or bytes after the closing one.
    if (!value.empty() && value.front() == '"' && skip_quoted(value, 0) != value.size()) return {};
    if (iequals(pair.substr(0, eq), "for")) {
      found = value;
      ++count;
    }
  }
  return count == 1 ? found : std::string_view{};
}

// A `for=` value to an address: a token as is, a quoted-string unescaped (RFC 9110
// quoted-pair).
std::optional<core::IpAddress> parse_for_value(std::string_view raw) {
  if (raw.empty() || raw.front() != '"') return parse_forwarded_node(raw);
  if (raw.size() < 2 || raw.back() != '"') return std::nullopt;
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return parse_forwarded_node(inner);
  // Longest node: "[" + 45-character IPv6 + "]:" + 5 digits.
  std::array<char, 64> scratch;
  std::size_t length = 0;
  for (std::size_t i = 0; i < inner.size(); ++i) {
    if (inner[i] == '\\' && ++i == inner.size()) return std::nullopt;
    if (length == scratch.size()) return std::nullopt;
    scratch[length++] = inner[i];
  }
  return parse_forwarded_node({scratch.data(), length});
}

ForwardedClient walk_forwarded(std::span<const HeaderField> fields, const core::IpAddress& peer,
                               std::span<const core::IpPrefix> trusted) {
  // The last kMaxForwardedHops values, as a ring; an empty view stands for an element
  // without a usable for= (which ends the walk like "unknown").
  std::array<std::string_view, kMaxForwardedHops> ring;
  std::size_t seen = 0;
  for (const HeaderField& f : fields) {
    if (f.id != HeaderId::forwarded) continue;
    std::string_view rest = f.value;
    while (!rest.empty()) {
      const std::string_view element = trim(next_piece(rest, ','));
      if (element.empty()) continue;  // "a, , b": empty list elements do not count
      ring[seen++ % ring.size()] = for_value(element);
    }
  }
  std::size_t taken = 0;
  const std::size_t available = std::min(seen, ring.size());
  return walk(peer, trusted, ForwardedSource::forwarded, [&](std::optional<core::IpAddress>& hop) {
    if (taken == available) return false;
    const std::string_view raw = ring[(seen - 1 - taken++) % ring.size()];
    hop = raw.empty() ? std::nullopt : parse_for_value(raw);
    return true;
  });
}

}  // namespace

bool is_trusted(std::span<const core::IpPrefix> trusted, const core::IpAddress& address) {
  for (const core::IpPrefix& prefix : trusted) {
    if (prefix.contains(address)) return true;
  }
  return false;
}

std::optional<core::IpAddress> parse_forwarded_for_element(std::string_view element) {
  if (element.empty()) return std::nullopt;
  if (element.front() == '[') return parse_bracketed(element, valid_port);
  const std::size_t colon = element.find(':');
  if (colon == std::string_view::npos) return parse_v4(element);
  if (element.find(':', colon + 1) == std::string_view::npos) {  // one colon: v4:port
    if (!valid_port(element.substr(colon + 1))) return std::nullopt;
    return parse_v4(element.substr(0, colon));
  }
  return parse_v6(element);  // a bare IPv6 address (a port would need brackets)
}

std::optional<core::IpAddress> parse_forwarded_node(std::string_view node) {
  const auto port_ok = [](std::string_view p) { return valid_port(p) || valid_obfuscated_port(p); };
  if (node.empty()) return std::nullopt;
  if (node.front() == '[') return parse_bracketed(node, port_ok);
  const std::size_t colon = node.find(':');
  if (colon != std::string_view::npos && !port_ok(node.substr(colon + 1))) return std::nullopt;
  return parse_v4(node.substr(0, colon));  // "unknown", "_obf" and IPv6 without [] fail
}

ForwardedClient derive_client(std::span<const HeaderField> fields, const core::IpAddress& peer,
                              std::span<const core::IpPrefix> trusted) {
  if (!is_trusted(trusted, peer)) return {peer, ForwardedSource::peer};
  bool has_forwarded = false;
  for (const HeaderField& f : fields) {
    if (f.id == HeaderId::x_forwarded_for) return walk_x_forwarded_for(fields, peer, trusted);
    has_forwarded = has_forwarded || f.id == HeaderId::forwarded;
  }
  if (has_forwarded) return walk_forwarded(fields, peer, trusted);
  return {peer, ForwardedSource::peer};
}

}  // namespace veer::http
