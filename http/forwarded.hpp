#pragma once

// The client of a request that came through proxies veer trusts: read from
// X-Forwarded-For or RFC 7239 Forwarded, walking the hops right to left from the peer
// (nginx's realip with real_ip_recursive on). Allocation-free and bounded: at most
// kMaxForwardedHops hops are examined, whatever the header says.

#include <cstddef>
#include <span>
#include <string_view>

#include "core/ip_address.hpp"
#include "http/http_head.hpp"

namespace veer::http {

// The hops examined, counted from the peer's side; a chain longer than this is cut
// there (the client is then the last hop reached, a trusted proxy).
inline constexpr std::size_t kMaxForwardedHops = 32;

// Whether an address is one of the trusted proxies.
bool is_trusted(std::span<const core::IpPrefix> trusted, const core::IpAddress& address);

// One element of an X-Forwarded-For list: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
// "[2001:db8::1]", "[2001:db8::1]:4711". nullopt for "unknown", names and garbage.
std::optional<core::IpAddress> parse_forwarded_for_element(std::string_view element);

// The node of a Forwarded `for=` parameter, quotes already removed: "192.0.2.1",
// "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:4711" (RFC 7239 section 6). nullopt
// for "unknown", obfuscated identifiers ("_hidden") and anything else.
std::optional<core::IpAddress> parse_forwarded_node(std::string_view node);

enum class ForwardedSource : std::uint8_t {
  peer,             // the peer is not trusted, or no header names another hop
  x_forwarded_for,  // the client came from X-Forwarded-For
  forwarded,        // ... from Forwarded
};

struct ForwardedClient {
  core::IpAddress address;
  ForwardedSource source = ForwardedSource::peer;
};

// The request's client. `peer` is the address the request came from (the TCP peer, or
// the PROXY protocol source). When `peer` is not trusted, it is the client. Else the
// hops of X-Forwarded-For (every field, in order) are walked right to left while they
// are trusted; the first untrusted one is the client. If all are trusted, the left-most
// is. An element that is not an address ("unknown", an obfuscated name, garbage) ends
// the walk: the client is the trusted hop that reported it. Forwarded is read the same
// way, but only when the request has no X-Forwarded-For field: the de facto header wins
// because that is the one CDNs and load balancers maintain (docs/OPERATIONS.md).
ForwardedClient derive_client(std::span<const HeaderField> fields, const core::IpAddress& peer,
                              std::span<const core::IpPrefix> trusted);

}  // namespace veer::http
