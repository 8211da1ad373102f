#pragma once

// The native io_uring engine's ring: one per worker, an Asio service of the worker's
// io_context (so a socket finds it from its executor). The worker thread's Asio loop
// stays the outer loop (posts, timers, the deadline lists); the ring is one event
// source of it. A turn is one io_uring_enter that submits everything prepared since the
// last and runs the completions' pending task work, then runs their
// handlers. While turns find work they follow one another as posted handlers; an idle
// worker waits in Asio's reactor on an eventfd the kernel signals (see watch()).
//
// Flags, tried in this order (docs/ARCHITECTURE.md, "The native io_uring engine"):
//   SINGLE_ISSUER | COOP_TASKRUN | TASKRUN_FLAG   no interrupt of the worker when a
//                                  completion's task work is queued (it runs at the
//                                  worker's next system call), a flag that says some is
//                                  pending, no locking for other submitters; 6.0+
//   COOP_TASKRUN | TASKRUN_FLAG    5.19
//   none
// DEFER_TASKRUN is not used: its completions run only inside io_uring_enter, and they do
// not signal the registered eventfd, so a worker that sleeps in Asio's reactor would not
// hear of them (measured: 3.5k requests/s, woken only by its timers).
// The ring is created disabled (R_DISABLED) on the thread that builds the worker, so
// errors reach the start-up, and enabled by the worker's own thread (start_on_this_thread),
// which SINGLE_ISSUER makes its only submitter; its fd is registered for that thread.
//
// Provided buffers: one buffer ring (group 0) of `buffers` x `buffer_size` bytes,
// mapped once. Receives pick a buffer only when bytes arrive; the socket copies them
// out and gives the buffer back at once (recycle), so an idle connection holds none.

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/posix/stream_descriptor.hpp>

#include "core/asio.hpp"
#include "core/unique_fd.hpp"

namespace veer::proxy::uring {

// Whatever submits an operation puts a pointer to one of these in the entry's user_data
// and keeps it alive until its last completion (one without IORING_CQE_F_MORE).
class Operation {
 public:
  virtual void on_completion(int result, std::uint32_t flags) = 0;

 protected:
  ~Operation() = default;
};

// Something that waits for provided buffers to come back (a receive the kernel ended
// with ENOBUFS). Intrusive: waiting costs no allocation.
class BufferWaiter {
 public:
  virtual void buffers_available() = 0;
  bool waiting() const { return waiting_; }

 protected:
  ~BufferWaiter() = default;

 private:
  friend class Ring;
  BufferWaiter* next_waiter_ = nullptr;
  bool waiting_ = false;
};

// Something that outlives its owner while the kernel still holds operations of it (a
// closed socket's state). The ring keeps a list of them, so that those still waiting when
// the ring goes (a worker stopped past its grace period) are freed, not leaked.
class Orphan {
 public:
  // Frees the object now.
  virtual void abandon() = 0;

 protected:
  ~Orphan() = default;

 private:
  friend class Ring;
  Orphan* previous_orphan_ = nullptr;
  Orphan* next_orphan_ = nullptr;
};

struct RingOptions {
  unsigned entries = 4096;      // submission queue entries (the completion queue is 2x)
  unsigned buffers = 1024;      // provided receive buffers, a power of two
  unsigned buffer_size = 4096;  // bytes each
};

class Ring final : public asio::execution_context::service {
 public:
  using key_type = Ring;
  static asio::execution_context::id id;

  explicit Ring(asio::execution_context& context);
  ~Ring() override;

  // The ring of the worker that owns `io` (made by setup()).
  static Ring& of(asio::io_context& io) { return asio::use_service<Ring>(io); }

  // Creates the ring (disabled) and its buffers. Empty on success, else why not.
  std::string setup(const RingOptions& options);
  // On the worker's thread, before its loop runs: enables the ring, registers its fd.
  void start_on_this_thread();
  // Which flags the kernel took, for the log ("SINGLE_ISSUER|COOP_TASKRUN|TASKRUN_FLAG").
  const std::string& description() const { return description_; }
  // Stops watching for completions once no operation is left in the kernel, so that the
  // worker's io_context runs out of work (a drained worker ends).
  void stop_when_idle();

  // An entry to fill, with user_data already set to `op` (null: a completion to ignore).
  // Never null: when the queue is full it is submitted first.
  io_uring_sqe* prepare(Operation* op);
  // Operations in the kernel (every op passed to prepare until its last completion).
  std::size_t operations() const { return operations_; }

  // Provided buffers.
  std::uint16_t buffer_group() const { return 0; }
  const char* buffer(std::uint16_t id) const {
    return buffer_memory_ + static_cast<std::size_t>(id) * buffer_size_;
  }
  unsigned buffer_size() const { return buffer_size_; }
  void recycle(std::uint16_t id);
  // Calls waiter.buffers_available() once buffers were given back.
  void wait_for_buffers(BufferWaiter& waiter);
  // Takes a waiter off the list (its socket closed).
  void forget(BufferWaiter& waiter);
  // Orphans: kept from adopt() until release() (their destructor calls it).
  void adopt(Orphan& orphan);
  void release(Orphan& orphan);
  unsigned buffers_in_use() const { return buffers_in_use_; }
  void took_buffer() { ++buffers_in_use_; }

 private:
  void shutdown() override;
  void watch();
  void post_busy_turn();
  void busy_turn();
  void schedule_flush();
  std::size_t run_turn();
  std::size_t reap();
  void wake_buffer_waiters();
  void stop_if_idle();

  asio::io_context& io_;
  io_uring ring_{};
  bool created_ = false;
  bool started_ = false;
  bool in_turn_ = false;
  bool flush_posted_ = false;
  bool busy_posted_ = false;
  bool stopping_ = false;
  bool taskrun_flag_ = false;  // the kernel flags pending work (IORING_SQ_TASKRUN)
  std::size_t operations_ = 0;
  std::string description_;
  core::UniqueFd event_fd_;
  std::unique_ptr<asio::posix::stream_descriptor> event_;
  std::unique_ptr<asio::steady_timer> stop_timer_;
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::size_t buffer_ring_bytes_ = 0;
  char* buffer_memory_ = nullptr;
  std::size_t buffer_memory_bytes_ = 0;
  unsigned buffer_count_ = 0;
  unsigned buffer_size_ = 0;
  unsigned buffers_in_use_ = 0;
  unsigned recycled_since_wake_ = 0;
  Orphan* orphans_ = nullptr;
  bool tearing_down_ = false;
  io_uring_sqe scratch_sqe_{};  // what prepare() hands out once the ring is going
  BufferWaiter* waiters_head_ = nullptr;
  BufferWaiter* waiters_tail_ = nullptr;
};

}  // namespace veer::proxy::uring
