// Redis replies (RESP2 bytes, as a server could send them) through hiredis's reader,
// as the cluster thread reads them, then the checks of limits/redis_reply.hpp.
// Input: byte 0 = the units asked (0..255), the rest = the bytes from the server.
// Invariants: a lease reply accepted never grants more than asked nor has a negative
// time; an instance count accepted is positive.
// hiredis 0.14's reader allocates an array's element pointers as soon as it reads the
// header ("*999999993" asks for 8 GB; 1.x bounds it with maxelements): inputs declaring
// an array of more than a million elements are skipped. Redis is the operator's own
// server; veer's scripts return three integers.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "limits/redis_reply.hpp"

namespace {

bool declares_huge_array(const std::uint8_t* data, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] != '*') continue;
    std::size_t digits = 0;
    while (i + 1 + digits < size && data[i + 1 + digits] >= '0' && data[i + 1 + digits] <= '9')
      ++digits;
    if (digits > 6) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  if (declares_huge_array(data + 1, size - 1)) return 0;
  const std::uint64_t asked = data[0];
  redisReader* reader = redisReaderCreate();
  if (reader == nullptr) return 0;
  redisReaderFeed(reader, reinterpret_cast<const char*>(data + 1), size - 1);
  void* parsed = nullptr;
  while (redisReaderGetReply(reader, &parsed) == REDIS_OK && parsed != nullptr) {
    const auto& reply = *static_cast<const redisReply*>(parsed);
    if (const auto grant = veer::limits::lease_reply(reply, asked)) {
      if (grant->granted > asked || grant->wait_ns < 0 || grant->reset_ns < 0) std::abort();
    }
    if (const auto live = veer::limits::heartbeat_reply(reply)) {
      if (*live == 0) std::abort();
    }
    freeReplyObject(parsed);
    parsed = nullptr;
  }
  redisReaderFree(reader);
  return 0;
}
