#pragma once

// A worker's clock, read at most once per turn of its loop rather than on every request
// (nginx's ngx_time_update does the same). The first read after the worker woke up reads
// the steady clock and posts a handler that forgets the value; that handler runs after
// everything already queued in the turn and before the loop waits again, so a value
// never outlives the turn it was read in and never survives a wait. Deadlines and
// latency figures are thus exact to one turn (microseconds under load). The handler is
// allocated in the clock itself (at most one is ever pending), so reading the clock
// never allocates. Worker thread only.

#include <cstddef>
#include <memory>

#include "core/asio.hpp"
#include "proxy/deadline.hpp"

namespace veer::proxy {

class TurnClock {
 public:
  explicit TurnClock(asio::io_context& io) : io_(io) {}
  TurnClock(const TurnClock&) = delete;
  TurnClock& operator=(const TurnClock&) = delete;

  Clock::time_point now() {
    if (!valid_) {
      now_ = Clock::now();
      valid_ = true;
      asio::post(io_, Forget{this});
    }
    return now_;
  }

 private:
  // Room for Asio's operation wrapping the one pending Forget.
  struct Memory {
    alignas(std::max_align_t) unsigned char bytes[128];
    bool used = false;
  };

  template <typename T>
  struct InPlace {
    using value_type = T;
    Memory* memory;
    explicit InPlace(Memory* m) : memory(m) {}
    template <typename U>
    InPlace(const InPlace<U>& other) : memory(other.memory) {}
    T* allocate(std::size_t n) {
      if (!memory->used && sizeof(T) * n <= sizeof memory->bytes) {
        memory->used = true;
        return reinterpret_cast<T*>(memory->bytes);
      }
      return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) {
      if (reinterpret_cast<unsigned char*>(p) == memory->bytes) {
        memory->used = false;
        return;
      }
      std::allocator<T>().deallocate(p, n);
    }
    template <typename U>
    bool operator==(const InPlace<U>& other) const {
      return memory == other.memory;
    }
  };

  struct Forget {
    TurnClock* clock;
    using allocator_type = InPlace<void>;
    allocator_type get_allocator() const { return allocator_type(&clock->memory_); }
    void operator()() const { clock->valid_ = false; }
  };

  asio::io_context& io_;
  Memory memory_;
  Clock::time_point now_{};
  bool valid_ = false;
};

}  // namespace veer::proxy
