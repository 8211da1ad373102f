#pragma once

// A client's IP address as veer reasons about it: 16 bytes, IPv4 held as IPv4-mapped
// IPv6 (::ffff:a.b.c.d) so that one prefix test and one hash cover both families.
// Used by client identity (trusted proxies, X-Forwarded-For, PROXY protocol), by rate
// limit keys and by per-client connection counts.

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace veer::core {

struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};

  bool is_v4() const;  // an IPv4-mapped address
  // "192.0.2.1", "2001:db8::1"; also "[2001:db8::1]" and "::ffff:192.0.2.1" (read as
  // IPv4). No port, no zone id. nullopt for anything else.
  static std::optional<IpAddress> parse(std::string_view text);
  // AF_INET or AF_INET6 (IPv4-mapped read as IPv4); nullopt for other families.
  static std::optional<IpAddress> from_sockaddr(const sockaddr_storage& address);
  static IpAddress from_v4(const std::uint8_t (&octets)[4]);
  static IpAddress from_v6(const std::uint8_t (&octets)[16]);
  // Text as inet_ntop writes it (IPv4 dotted for mapped addresses) into `out`, which
  // must hold kMaxText bytes; returns the length written (no terminating NUL counted).
  static constexpr std::size_t kMaxText = 46;
  std::size_t format(char* out) const;
  // The address with all bits after the first `bits` cleared; `bits` counts within the
  // family (0..32 for IPv4, 0..128 for IPv6).
  IpAddress masked(unsigned bits) const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// An address block, "10.0.0.0/8", "2001:db8::/32", or one address (a full-length prefix).
struct IpPrefix {
  IpAddress address;      // with the bits after the prefix cleared
  std::uint8_t bits = 0;  // within the family: 0..32 for IPv4, 0..128 for IPv6

  // nullopt with *why set for bad syntax, a prefix longer than the family allows, or
  // bits set after the prefix ("10.0.0.1/8" is refused: it is almost always a typo).
  static std::optional<IpPrefix> parse(std::string_view text, std::string_view* why);
  bool contains(const IpAddress& a) const;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

}  // namespace veer::core
