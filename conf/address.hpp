#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace veer::conf {

// "host:port" split into its parts; the host keeps no brackets ("[::1]:80" -> "::1").
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
  bool host_is_ipv6_literal = false;
};

// Syntax only: a host (IPv4, bracketed IPv6 or a DNS name) and a decimal port 0..65535.
// On failure returns nullopt and sets *why to a short reason.
std::optional<HostPort> parse_host_port(std::string_view text, std::string* why);

// A resolved socket address, kept as plain sockaddr bytes so that the configuration
// model stays free of Asio (which would otherwise be compiled into every file).
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* data() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  std::uint16_t port() const;
  std::string to_string() const;  // "127.0.0.1:8080" or "[::1]:8080"
  friend bool operator==(const SocketAddress& a, const SocketAddress& b);
};

// Resolves with getaddrinfo (blocking: call it at load time only, never on a worker).
// Numeric hosts never touch DNS. The first address returned wins.
std::optional<SocketAddress> resolve(const HostPort& hp, std::string* why);

}  // namespace veer::conf
