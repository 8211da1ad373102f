#pragma once

// Which target of a split a request goes to (CONFIG.md [splits.NAME]). Pure logic over
// a parsed request head, so unit tests cover it without sockets.

#include <cstdint>
#include <string_view>

#include "core/random.hpp"
#include "http/http_head.hpp"
#include "runtime/snapshot.hpp"

namespace veer::runtime {

struct SplitChoice {
  std::uint32_t target = 0;  // index into SplitRuntime::pools
  std::uint32_t bucket = 0;  // the request's bucket; failover keeps a key on one fallback
  bool overridden = false;   // chosen by the override header or cookie
};

// The override header or cookie when it names a target pool (any other value is
// ignored), else the owner of the request's bucket: the sticky key's bucket, the client
// address's when the request lacks the header or cookie, a random one for sticky
// "none".
SplitChoice choose_split_target(const SplitRuntime& split, const http::RequestHead& head,
                                std::string_view client_ip, core::Random& random);

}  // namespace veer::runtime
