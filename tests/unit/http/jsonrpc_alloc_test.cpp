// The codec's promise of no allocation per request once the scratch vectors have grown:
// every operator new of this binary is counted, and a warmed-up parse, lookup and
// classification must not add to the count.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "http/jsonrpc.hpp"
#include "http/jsonrpc_methods.hpp"

namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
// The nothrow forms too (std::stable_sort's temporary buffer uses them): every new and
// delete of the binary must pair malloc with free, or ASan reports a mismatch.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void* operator new[](std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace veer::http::jsonrpc {
namespace {

TEST(JsonRpcAllocations, NoneOnceWarm) {
  const std::string call =
      R"({"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xab",{"blockNumber":"0x10"}]})";
  std::string batch = "[";
  for (int i = 0; i < 10; ++i)
    batch += (i ? "," : "") + call;
  batch += "]";
  const std::string answer =
      R"([{"jsonrpc":"2.0","id":1,"result":"0x1"},{"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"Header not found"}}])";
  Request request;
  Response response;
  const auto work = [&] {
    std::size_t seen = 0;
    parse_request(batch, 100, request);
    for (const Call& c : request.calls) {
      const MethodInfo& info = method_info(c.method);
      if (const auto block = param(c.params, static_cast<std::size_t>(info.block_param)))
        seen += parse_block_ref(*block).has_value();
      seen += glob_match("eth_get*", c.method);
    }
    parse_response(answer, response);
    for (const Reply& r : response.replies)
      seen += static_cast<std::size_t>(classify(r)) + already_delivered(r);
    return seen;
  };
  work();  // grows the scratch vectors
  const std::size_t before = allocations.load();
  std::size_t seen = 0;
  for (int i = 0; i < 100; ++i)
    seen += work();
  EXPECT_EQ(allocations.load() - before, 0u);
  EXPECT_EQ(seen, 100u * (10 * 2 + 2));
}

}  // namespace
}  // namespace veer::http::jsonrpc
