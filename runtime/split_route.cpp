#include "runtime/split_route.hpp"

#include "http/http_parser.hpp"
#include "runtime/request_key.hpp"
#include "strategies/split_buckets.hpp"

namespace veer::runtime {
namespace {

std::string_view override_of(const conf::SplitConfig& config, const http::RequestHead& head) {
  const bool by_header = !config.override_header.empty();
  const bool by_cookie = !config.override_cookie.empty();
  if (!by_header && !by_cookie) return {};
  std::string_view from_cookie;
  for (const http::HeaderField& field : head.headers()) {
    if (by_header && http::iequals(field.name, config.override_header)) return field.value;
    if (by_cookie && from_cookie.empty() && http::iequals(field.name, "cookie")) {
      from_cookie = cookie_value(field.value, config.override_cookie);
    }
  }
  return from_cookie;
}

}  // namespace

SplitChoice choose_split_target(const SplitRuntime& split, const http::RequestHead& head,
                                std::string_view client_ip, core::Random& random) {
  SplitChoice choice;
  const std::uint32_t hash =
      split.per_request ? static_cast<std::uint32_t>(random.next() >> 32)
                        : strategies::split_hash(request_key(split.sticky, head, client_ip));
  choice.bucket = strategies::split_bucket_of(hash);
  const std::string_view forced = override_of(*split.config, head);
  if (!forced.empty()) {
    for (std::uint32_t i = 0; i < split.config->targets.size(); ++i) {
      if (split.config->targets[i].pool == forced) {
        choice.target = i;
        choice.overridden = true;
        return choice;
      }
    }
  }
  choice.target = strategies::split_target_of_hash(split.hash_ends, hash);
  return choice;
}

}  // namespace veer::runtime
