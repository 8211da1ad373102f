#include "conf/address.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace veer::conf {
namespace {

bool valid_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return true;
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text, std::string* why) {
  HostPort out;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *why = "expected \"[ipv6]:port\"";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr probe{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &probe) != 1) {
      *why = "not an IPv6 address inside the brackets";
      return std::nullopt;
    }
    out.host_is_ipv6_literal = true;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      *why = "expected \"host:port\"";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      *why = "IPv6 addresses need brackets, as in \"[::1]:8080\"";
      return std::nullopt;
    }
    if (!valid_dns_name(host)) {
      *why = "invalid host";
      return std::nullopt;
    }
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  const bool digits_only = !port.empty() && end == port.data() + port.size();
  if (!digits_only || (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
    *why = "the port is not a number";
    return std::nullopt;
  }
  // Digits past what `value` holds are a number too, only a larger one.
  if (ec == std::errc::result_out_of_range || value > 65535) {
    *why = "port " + std::string(port) + " is out of range (0-65535)";
    return std::nullopt;
  }
  out.host = std::string(host);
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

std::uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  std::string out;
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text,
              sizeof text);
    out.append(text);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
              sizeof text);
    out.append("[").append(text).append("]");
  } else {
    return "?";
  }
  return out.append(":").append(std::to_string(port()));
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
}

std::optional<SocketAddress> resolve(const HostPort& hp, std::string* why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  in6_addr probe6{};
  in_addr probe4{};
  if (inet_pton(AF_INET, hp.host.c_str(), &probe4) == 1 ||
      inet_pton(AF_INET6, hp.host.c_str(), &probe6) == 1) {
    hints.ai_flags |= AI_NUMERICHOST;
  }
  addrinfo* result = nullptr;
  const std::string service = std::to_string(hp.port);
  const int rc = getaddrinfo(hp.host.c_str(), service.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    *why = "cannot resolve host \"" + hp.host + "\": " + gai_strerror(rc);
    return std::nullopt;
  }
  SocketAddress out;
  std::memcpy(&out.storage, result->ai_addr, result->ai_addrlen);
  out.length = result->ai_addrlen;
  freeaddrinfo(result);
  return out;
}

}  // namespace veer::conf
