#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace veer::core {

// A contiguous byte buffer with a readable region [begin, end) and free space after
// it. Move-only. Buffers come from a worker's BufferPool and go back to it, so the
// request path does not call malloc in the steady state.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t capacity)
      : data_(std::make_unique_for_overwrite<char[]>(capacity)), capacity_(capacity) {}
  Buffer(Buffer&& other) noexcept { *this = std::move(other); }
  Buffer& operator=(Buffer&& other) noexcept {
    data_ = std::move(other.data_);
    capacity_ = std::exchange(other.capacity_, 0);
    begin_ = std::exchange(other.begin_, 0);
    end_ = std::exchange(other.end_, 0);
    return *this;
  }

  bool allocated() const { return data_ != nullptr; }
  std::size_t capacity() const { return capacity_; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return end_ == begin_; }

  std::string_view readable() const { return {data_.get() + begin_, end_ - begin_}; }
  const char* read_ptr() const { return data_.get() + begin_; }
  char* mutable_read_ptr() { return data_.get() + begin_; }
  char* write_ptr() { return data_.get() + end_; }
  std::size_t writable_size() const { return capacity_ - end_; }

  void commit(std::size_t n) { end_ += n; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }
  // Keeps only the first n readable bytes.
  void truncate(std::size_t n) { end_ = begin_ + n; }
  // Moves the readable bytes to the front so that all free space is contiguous.
  void compact() {
    if (begin_ == 0) return;
    std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  // Grows (reallocating) so that at least `n` bytes can be written.
  void reserve_writable(std::size_t n) {
    if (writable_size() >= n) return;
    compact();
    if (writable_size() >= n) return;
    std::size_t grown = capacity_ == 0 ? 4096 : capacity_ * 2;
    while (grown - end_ < n)
      grown *= 2;
    auto bigger = std::make_unique_for_overwrite<char[]>(grown);
    if (end_ > 0) std::memcpy(bigger.get(), data_.get(), end_);
    data_ = std::move(bigger);
    capacity_ = grown;
  }
  void append(std::string_view s) {
    // An empty view may carry a null pointer, and memcpy from null is undefined even
    // for zero bytes (C11 7.24.1p2); an unallocated buffer's write_ptr() is null too.
    if (s.empty()) return;
    reserve_writable(s.size());
    std::memcpy(write_ptr(), s.data(), s.size());
    end_ += s.size();
  }
  void append(char c) {
    reserve_writable(1);
    data_[end_++] = c;
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// A per-worker free list of standard-size buffers. Not thread-safe by design: each
// worker owns one. Oversized buffers (a huge header) are freed rather than cached.
// Past the cache, buffers go back to malloc; after a burst (a reconnect storm parks
// thousands of buffers at once) the owner is told once so it can hand the memory back
// to the system (see Worker::trim_memory).
// Appends `n` in decimal, without allocating (heads and log lines are written this way).
inline void append_decimal(Buffer& out, std::uint64_t n) {
  char digits[24];
  const auto written = std::to_chars(digits, digits + sizeof digits, n);
  out.append(std::string_view(digits, static_cast<std::size_t>(written.ptr - digits)));
}

class BufferPool {
 public:
  // 16 KiB: holds a typical request or response head with its body in one read,
  // and matches the TCP segment batching of loopback and LAN links.
  static constexpr std::size_t kBlockSize = 16 * 1024;
  // 256 cached blocks = 4 MiB per worker: enough for the buffers in flight at a few
  // thousand requests per millisecond, small next to the connections it serves.
  static constexpr std::size_t kDefaultCached = 256;
  // Freed bytes after which the owner is told to trim.
  static constexpr std::size_t kTrimThreshold = 4 << 20;

  explicit BufferPool(std::size_t max_cached = kDefaultCached) : max_cached_(max_cached) {}

  // Called once each time freed memory crosses kTrimThreshold.
  void on_excess(std::function<void()> callback) { on_excess_ = std::move(callback); }

  Buffer acquire() {
    if (free_.empty()) return Buffer(kBlockSize);
    Buffer b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void release(Buffer& b) {
    if (!b.allocated()) return;
    if (b.capacity() == kBlockSize && free_.size() < max_cached_) {
      b.clear();
      free_.push_back(std::move(b));
      return;
    }
    freed_ += b.capacity();
    b = Buffer{};
    if (freed_ >= kTrimThreshold) {
      freed_ = 0;
      if (on_excess_) on_excess_();
    }
  }
  std::size_t cached() const { return free_.size(); }

 private:
  std::vector<Buffer> free_;
  std::size_t max_cached_;
  std::size_t freed_ = 0;
  std::function<void()> on_excess_;
};

}  // namespace veer::core
