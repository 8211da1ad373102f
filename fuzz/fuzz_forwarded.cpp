// libFuzzer target: the client behind trusted proxies (http/forwarded.hpp). The first
// byte chooses the peer (trusted or not) and which header each line becomes; the rest
// is split at '\n' into field values, X-Forwarded-For or Forwarded.
//
// Invariants, each a __builtin_trap(): an untrusted peer is always the client; the
// answer does not depend on anything but the fields (derived twice, the same); an
// address parsed from an element prints as text that parses back to it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/forwarded.hpp"

namespace {

using namespace veer;

core::IpAddress address(std::string_view text) {
  return core::IpAddress::parse(text).value_or(core::IpAddress{});
}

core::IpPrefix prefix(std::string_view text) {
  std::string_view why;
  return core::IpPrefix::parse(text, &why).value_or(core::IpPrefix{});
}

void check_round_trip(const std::optional<core::IpAddress>& parsed) {
  if (!parsed) return;
  char text[core::IpAddress::kMaxText];
  const std::size_t length = parsed->format(text);
  const auto again = http::parse_forwarded_for_element({text, length});
  if (!again || !(*again == *parsed)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const std::array<core::IpPrefix, 3> trusted = {prefix("10.0.0.0/8"), prefix("::1"),
                                                        prefix("2001:db8:ffff::/48")};
  const std::uint8_t control = data[0];
  const core::IpAddress peer = address((control & 1) != 0 ? "10.0.0.1" : "198.51.100.1");
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<http::HeaderField> fields;
  std::size_t line = 0;
  for (std::size_t at = 0; at <= input.size() && fields.size() < http::kMaxHeaderFields;) {
    std::size_t end = input.find('\n', at);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view value = input.substr(at, end - at);
    const bool forwarded = ((control >> (1 + line++ % 7)) & 1) != 0;
    fields.push_back({forwarded ? "Forwarded" : "X-Forwarded-For", value,
                      forwarded ? http::HeaderId::forwarded : http::HeaderId::x_forwarded_for});
    check_round_trip(http::parse_forwarded_for_element(value));
    check_round_trip(http::parse_forwarded_node(value));
    at = end + 1;
  }
  const http::ForwardedClient first = http::derive_client(fields, peer, trusted);
  const http::ForwardedClient second = http::derive_client(fields, peer, trusted);
  if (!(first.address == second.address) || first.source != second.source) __builtin_trap();
  if (!http::is_trusted(trusted, peer) &&
      (!(first.address == peer) || first.source != http::ForwardedSource::peer))
    __builtin_trap();
  return 0;
}
