#include "runtime/limits_runtime.hpp"

#include <stdexcept>

#include "core/hash.hpp"
#include "http/http_parser.hpp"
#include "limits/local_limiter.hpp"
#include "runtime/request_key.hpp"

namespace veer::runtime {
namespace {

// Each part is hashed with a tag of what it holds, so that a header value can never
// stand for an address (a client cannot name another client's address in its header
// and spend that client's allowance), nor the parts of one key run into another's.
enum Tag : std::uint64_t { kAddress = 0x61, kValue = 0x76, kRoute = 0x72 };

// The first 8 and last 8 bytes of an address, little-endian, so a key is the same on
// every machine (cluster scope shares keys between instances).
std::uint64_t word(const core::IpAddress& a, std::size_t from) {
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < 8; ++i)
    w |= std::uint64_t{a.bytes[from + i]} << (8 * i);
  return w;
}

std::uint64_t add_address(std::uint64_t h, const core::IpAddress& a) {
  h = core::mix64(h ^ kAddress ^ word(a, 0));
  return core::mix64(h ^ word(a, 8));
}

std::uint64_t add_value(std::uint64_t h, std::string_view value) {
  return core::hash_bytes(value, core::mix64(h ^ kValue));
}

std::uint64_t add_route(std::uint64_t h, std::uint64_t route_id) {
  return core::mix64(core::mix64(h ^ kRoute) ^ route_id);
}

constexpr std::uint64_t kSeed = 0x7665657220c1a55eULL;

core::IpAddress grouped(const conf::RateLimitPolicyConfig& config, const core::IpAddress& client) {
  return client.masked(client.is_v4() ? config.ipv4_prefix : config.ipv6_prefix);
}

// The value of a header or cookie part in `head`, or "" when the request lacks it.
std::string_view part_value(const LimitKeyPart& part, const http::RequestHead& head) {
  const std::string_view header =
      part.kind == LimitKeyPart::Kind::header ? std::string_view(part.name) : "cookie";
  for (const http::HeaderField& field : head.headers()) {
    if (!http::iequals(field.name, header)) continue;
    const std::string_view value = part.kind == LimitKeyPart::Kind::header
                                       ? field.value
                                       : cookie_value(field.value, part.name);
    if (!value.empty()) return value;
  }
  return {};
}

bool same_cluster(const conf::ClusterConfig& a, const conf::ClusterConfig& b) {
  return a.redis == b.redis && a.instances == b.instances && a.lease == b.lease &&
         a.timeout == b.timeout && a.key_prefix == b.key_prefix;
}

}  // namespace

std::vector<LimitKeyPart> parse_limit_key(const std::vector<std::string>& parts) {
  std::vector<LimitKeyPart> out;
  for (const std::string& text : parts) {
    LimitKeyPart part;
    if (text == "route") {
      part.kind = LimitKeyPart::Kind::route;
    } else if (text.starts_with("header:")) {
      part.kind = LimitKeyPart::Kind::header;
      part.name = text.substr(7);
    } else if (text.starts_with("cookie:")) {
      part.kind = LimitKeyPart::Kind::cookie;
      part.name = text.substr(7);
    }
    out.push_back(std::move(part));
  }
  return out;
}

std::uint64_t route_id(std::string_view listener, std::string_view host,
                       std::string_view path_prefix) {
  // Over the route's label (as /metrics shows it), which is also how an operator names
  // the route in a key's text (limit_key_from_text).
  std::uint64_t h = core::hash_bytes(listener, kSeed);
  h = core::hash_bytes(host.empty() ? "*" : host, h);
  return core::hash_bytes(path_prefix.empty() ? "/" : path_prefix, h);
}

std::uint64_t limit_key(const PolicyRuntime& policy, const http::RequestHead& head,
                        const core::IpAddress& client, std::uint64_t route_id) {
  std::uint64_t h = kSeed;
  for (const LimitKeyPart& part : policy.key) {
    switch (part.kind) {
      case LimitKeyPart::Kind::client_ip:
        h = add_address(h, grouped(*policy.config, client));
        break;
      case LimitKeyPart::Kind::route:
        h = add_route(h, route_id);
        break;
      case LimitKeyPart::Kind::header:
      case LimitKeyPart::Kind::cookie: {
        const std::string_view value = part_value(part, head);
        h = value.empty() ? add_address(h, grouped(*policy.config, client)) : add_value(h, value);
        break;
      }
    }
  }
  return h;
}

std::optional<std::uint64_t> limit_key_from_text(const PolicyRuntime& policy, std::string_view text,
                                                 std::string* why) {
  std::uint64_t h = kSeed;
  std::string_view rest = text;
  for (std::size_t i = 0; i < policy.key.size(); ++i) {
    const bool last = i + 1 == policy.key.size();
    const std::size_t bar = last ? std::string_view::npos : rest.find('|');
    if (!last && bar == std::string_view::npos) {
      *why = "the key of policy " + policy.name + " has " + std::to_string(policy.key.size()) +
             " parts (" + key_parts_text(policy) + "), joined by '|'";
      return std::nullopt;
    }
    const std::string_view value = rest.substr(0, bar);
    rest = last ? std::string_view{} : rest.substr(bar + 1);
    const LimitKeyPart& part = policy.key[i];
    const std::string where = "part " + std::to_string(i + 1) + " (" + policy.config->key[i] + ")";
    if (part.kind == LimitKeyPart::Kind::route) {
      // "LISTENER:ROUTE", the route as /metrics labels it: "public:*/".
      const std::size_t colon = value.find(':');
      if (colon == std::string_view::npos || colon == 0 || colon + 1 == value.size()) {
        *why = where +
               ": a route is LISTENER:ROUTE, such as public:*/ (GET /api/v1/limits "
               "lists them)";
        return std::nullopt;
      }
      const std::string_view label = value.substr(colon + 1);
      const std::size_t slash = label.find('/');
      if (slash == std::string_view::npos) {
        *why = where + ": the route is HOST/PATH_PREFIX or */PATH_PREFIX, such as public:*/";
        return std::nullopt;
      }
      const std::string_view host = label.substr(0, slash);
      h = add_route(h,
                    route_id(value.substr(0, colon), host == "*" ? "" : host, label.substr(slash)));
      continue;
    }
    const bool address_in_brackets = value.starts_with('[') && value.ends_with(']');
    if (part.kind == LimitKeyPart::Kind::client_ip || address_in_brackets) {
      // A header or cookie part in brackets, "[203.0.113.7]", names the requests that
      // lacked it: they are keyed by their client address.
      const std::optional<core::IpAddress> address = core::IpAddress::parse(value);
      if (!address) {
        *why = where + ": \"" + std::string(value) + "\" is not an IPv4 or IPv6 address";
        return std::nullopt;
      }
      h = add_address(h, grouped(*policy.config, *address));
      continue;
    }
    if (value.empty()) {
      *why = where + ": empty (a request without it is keyed by its address: write [ADDRESS])";
      return std::nullopt;
    }
    h = add_value(h, value);
  }
  return h;
}

std::string key_parts_text(const PolicyRuntime& policy) {
  std::string text;
  for (const std::string& part : policy.config->key) {
    if (!text.empty()) text += '|';
    text += part;
  }
  return text;
}

std::string policy_field(const conf::RateLimitPolicyConfig& policy) {
  // draft-ietf-httpapi-ratelimit-headers: a List member, the policy's name as an
  // sf-string (names hold no '"' or '\', conf/ checks), q the quota, w the window in
  // seconds.
  std::string field;
  field.push_back('"');
  field.append(policy.name);
  field.append("\";q=");
  field.append(std::to_string(policy.rate));
  field.append(";w=");
  field.append(
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(policy.per).count()));
  return field;
}

LimiterSet LimiterSet::build(const conf::Config& config, const LimiterSet* previous,
                             const ClusterLimiterFactory& cluster) {
  LimiterSet set;
  for (const conf::RateLimitPolicyConfig& policy : config.limits.policies) {
    const bool clustered = policy.scope == conf::RateLimitPolicyConfig::Scope::cluster;
    Entry entry{policy.scope, policy.max_keys, nullptr,
                clustered ? config.cluster : conf::ClusterConfig{}};
    if (previous != nullptr) {
      const auto kept = previous->entries_.find(policy.name);
      if (kept != previous->entries_.end() && kept->second.scope == policy.scope &&
          kept->second.max_keys == policy.max_keys &&
          (!clustered || same_cluster(kept->second.cluster, config.cluster)))
        entry.limiter = kept->second.limiter;
    }
    if (entry.limiter == nullptr && !clustered) {
      entry.limiter = std::make_shared<limits::LocalLimiter>(policy.max_keys);
    } else if (entry.limiter == nullptr) {
      // The server refuses scope = "cluster" when it has no engine for it; only a test
      // can get here without one, and it must not pass for a working limit.
      if (!cluster)
        throw std::logic_error("policy " + policy.name +
                               ": scope = \"cluster\" without a cluster limiter factory");
      entry.limiter = cluster(policy, config.cluster);
      if (entry.limiter == nullptr)
        throw std::logic_error("policy " + policy.name + ": the cluster factory made no limiter");
    }
    set.entries_.emplace(policy.name, std::move(entry));
  }
  return set;
}

std::shared_ptr<limits::Limiter> LimiterSet::find(std::string_view policy) const {
  const auto it = entries_.find(policy);
  return it == entries_.end() ? nullptr : it->second.limiter;
}

std::int64_t limiter_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace veer::runtime
