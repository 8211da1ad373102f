#include "core/ip_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace veer::core {
namespace {

constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// Bits of the 16-byte form that `bits` of the address's own family stand for.
unsigned full_bits(const IpAddress& a, unsigned bits) {
  return a.is_v4() ? 96 + bits : bits;
}

}  // namespace

bool IpAddress::is_v4() const {
  return std::memcmp(bytes.data(), kMappedPrefix, sizeof kMappedPrefix) == 0;
}

IpAddress IpAddress::from_v4(const std::uint8_t (&octets)[4]) {
  IpAddress a;
  std::memcpy(a.bytes.data(), kMappedPrefix, sizeof kMappedPrefix);
  std::memcpy(a.bytes.data() + 12, octets, 4);
  return a;
}

IpAddress IpAddress::from_v6(const std::uint8_t (&octets)[16]) {
  IpAddress a;
  std::memcpy(a.bytes.data(), octets, 16);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  char buffer[kMaxText];
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  std::uint8_t octets[16];
  if (text.find(':') == std::string_view::npos) {
    std::uint8_t v4[4];
    if (inet_pton(AF_INET, buffer, v4) != 1) return std::nullopt;
    return from_v4(v4);
  }
  if (inet_pton(AF_INET6, buffer, octets) != 1) return std::nullopt;
  return from_v6(octets);
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    std::uint8_t v4[4];
    std::memcpy(v4, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, 4);
    return from_v4(v4);
  }
  if (address.ss_family == AF_INET6) {
    std::uint8_t v6[16];
    std::memcpy(v6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, 16);
    return from_v6(v6);
  }
  return std::nullopt;
}

std::size_t IpAddress::format(char* out) const {
  const char* written = is_v4() ? inet_ntop(AF_INET, bytes.data() + 12, out, kMaxText)
                                : inet_ntop(AF_INET6, bytes.data(), out, kMaxText);
  return written == nullptr ? 0 : std::strlen(out);
}

IpAddress IpAddress::masked(unsigned bits) const {
  IpAddress a = *this;
  const unsigned keep = std::min(full_bits(*this, bits), 128u);
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned first_bit = i * 8;
    if (first_bit + 8 <= keep) continue;
    const unsigned kept_here = keep > first_bit ? keep - first_bit : 0;
    a.bytes[i] &= static_cast<std::uint8_t>(0xff00u >> kept_here);
  }
  return a;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text, std::string_view* why) {
  const std::size_t slash = text.find('/');
  const std::optional<IpAddress> address = IpAddress::parse(text.substr(0, slash));
  if (!address) {
    *why = "not an IPv4 or IPv6 address";
    return std::nullopt;
  }
  const unsigned family_bits = address->is_v4() ? 32 : 128;
  unsigned bits = family_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() ||
        bits > family_bits) {
      *why = address->is_v4() ? "prefix length must be 0 to 32" : "prefix length must be 0 to 128";
      return std::nullopt;
    }
  }
  IpPrefix prefix{address->masked(bits), static_cast<std::uint8_t>(bits)};
  if (!(prefix.address == *address)) {
    *why = "address has bits set after the prefix length";
    return std::nullopt;
  }
  return prefix;
}

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.is_v4() != address.is_v4()) return false;
  return a.masked(bits) == address;
}

}  // namespace veer::core
