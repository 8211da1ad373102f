#include "core/buffer.hpp"

#include <gtest/gtest.h>

namespace veer::core {
namespace {

TEST(Buffer, ReadWriteCompactAndGrow) {
  core::Buffer b(8);
  b.append("abcdef");
  b.consume(4);
  EXPECT_EQ(b.readable(), "ef");
  EXPECT_EQ(b.writable_size(), 2u);
  b.compact();
  EXPECT_EQ(b.writable_size(), 6u);
  b.append(std::string(20, 'x'));  // grows
  EXPECT_GE(b.capacity(), 22u);
  EXPECT_EQ(b.readable().substr(0, 3), "efx");
  b.truncate(2);
  EXPECT_EQ(b.readable(), "ef");
  b.consume(2);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.writable_size(), b.capacity()) << "emptied buffers restart at the front";
}

TEST(Buffer, AppendingNothingTouchesNothing) {
  // An empty string_view may hold a null pointer: memcpy must not see it (UBSan aborts on
  // memcpy(dst, nullptr, 0)), and an unallocated buffer must stay unallocated.
  core::Buffer empty;
  empty.append(std::string_view{});
  EXPECT_FALSE(empty.allocated());
  EXPECT_TRUE(empty.empty());
  core::Buffer b(8);
  b.append("ab");
  b.append(std::string_view{});
  EXPECT_EQ(b.readable(), "ab");
}

TEST(BufferPool, ReusesBlocksAndReportsBursts) {
  core::BufferPool pool(2);
  int excess = 0;
  pool.on_excess([&] { ++excess; });
  core::Buffer a = pool.acquire();
  const char* block = a.read_ptr();
  pool.release(a);
  EXPECT_FALSE(a.allocated());
  EXPECT_EQ(pool.cached(), 1u);
  core::Buffer again = pool.acquire();
  EXPECT_EQ(again.read_ptr(), block) << "the cached block comes back";
  pool.release(again);
  // Past the cache, blocks go back to malloc and a burst is reported once per 4 MiB.
  std::vector<core::Buffer> many;
  for (std::size_t i = 0; i < 2 + core::BufferPool::kTrimThreshold / core::BufferPool::kBlockSize;
       ++i) {
    many.push_back(pool.acquire());
  }
  for (core::Buffer& b : many)
    pool.release(b);
  EXPECT_EQ(pool.cached(), 2u);
  EXPECT_EQ(excess, 1);
}

}  // namespace
}  // namespace veer::core
