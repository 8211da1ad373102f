#pragma once

// The replies of the two scripts (limits/lease_script.hpp) as hiredis parsed them,
// checked: Redis is outside input like any peer. No I/O (fuzz/fuzz_redis_reply.cpp feeds
// it raw bytes through hiredis's reader).

#include <cstdint>
#include <optional>

#include "limits/lease_script.hpp"

struct redisReply;  // <hiredis/hiredis.h>

namespace veer::limits {

// {granted, wait_ms, reset_ms}: an array of three integers with granted <= asked.
std::optional<LeaseGrant> lease_reply(const redisReply& reply, std::uint64_t asked);
// The live instances: a positive integer.
std::optional<std::uint64_t> heartbeat_reply(const redisReply& reply);

}  // namespace veer::limits
