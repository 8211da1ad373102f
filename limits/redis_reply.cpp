#include "limits/redis_reply.hpp"

#include <hiredis/hiredis.h>

namespace veer::limits {

std::optional<LeaseGrant> lease_reply(const redisReply& reply, std::uint64_t asked) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3 || reply.element == nullptr) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < 3; ++i) {
    if (reply.element[i] == nullptr || reply.element[i]->type != REDIS_REPLY_INTEGER) {
      return std::nullopt;
    }
  }
  return lease_grant_of(reply.element[0]->integer, reply.element[1]->integer,
                        reply.element[2]->integer, asked);
}

std::optional<std::uint64_t> heartbeat_reply(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_INTEGER || reply.integer <= 0) return std::nullopt;
  return static_cast<std::uint64_t>(reply.integer);
}

}  // namespace veer::limits
