#include "proxy/uring_ring.hpp"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/log.hpp"

namespace veer::proxy::uring {
namespace {

// Completions handled per reap before the rest of the loop (posted handlers, timers)
// gets a turn; the remainder waits in the completion queue, signalled again.
constexpr unsigned kReapBatch = 256;
// Turns one wake-up may run back to back while completions keep coming, before going
// back to Asio's loop (fairness with posted handlers and timers).
constexpr int kTurnsPerWake = 4;
// How long a drained worker waits for the kernel to finish its cancelled operations.
constexpr auto kStopGrace = std::chrono::seconds(2);

struct FlagSet {
  unsigned flags;
  const char* name;
};

// Newest first; each kernel takes the first it accepts (EINVAL means "unknown flag").
constexpr FlagSet kFlagSets[] = {
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
     "SINGLE_ISSUER|COOP_TASKRUN|TASKRUN_FLAG"},
    {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "COOP_TASKRUN|TASKRUN_FLAG"},
    {0, "no task-run flags"},
};

void* map_anonymous(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

asio::execution_context::id Ring::id;

Ring::Ring(asio::execution_context& context)
    : asio::execution_context::service(context), io_(static_cast<asio::io_context&>(context)) {}

Ring::~Ring() {
  event_.reset();
  // Closed sockets still waiting for the kernel (a worker stopped past its grace period,
  // or torn down by its owner): freed now. Their handlers may close more sockets, whose
  // cancellations then go nowhere (prepare() hands out a scratch entry).
  tearing_down_ = true;
  while (orphans_ != nullptr)
    orphans_->abandon();  // its destructor releases it from the list
  if (created_) io_uring_queue_exit(&ring_);
  if (buffer_ring_ != nullptr) ::munmap(buffer_ring_, buffer_ring_bytes_);
  if (buffer_memory_ != nullptr) ::munmap(buffer_memory_, buffer_memory_bytes_);
}

void Ring::shutdown() {
  event_.reset();
}

std::string Ring::setup(const RingOptions& options) {
  int rc = -EINVAL;
  for (const FlagSet& set : kFlagSets) {
    io_uring_params params{};
    params.flags = set.flags | IORING_SETUP_R_DISABLED | IORING_SETUP_CLAMP;
    params.cq_entries = options.entries * 2;
    params.flags |= IORING_SETUP_CQSIZE;
    rc = io_uring_queue_init_params(options.entries, &ring_, &params);
    if (rc == 0) {
      description_ = set.name;
      taskrun_flag_ = (set.flags & IORING_SETUP_TASKRUN_FLAG) != 0;
      break;
    }
    if (rc != -EINVAL) break;
  }
  if (rc != 0) return std::string("io_uring_setup: ") + std::strerror(-rc);
  created_ = true;

  buffer_count_ = options.buffers;
  buffer_size_ = options.buffer_size;
  buffer_ring_bytes_ = sizeof(io_uring_buf) * buffer_count_;
  buffer_memory_bytes_ = static_cast<std::size_t>(buffer_count_) * buffer_size_;
  buffer_ring_ = static_cast<io_uring_buf_ring*>(map_anonymous(buffer_ring_bytes_));
  buffer_memory_ = static_cast<char*>(map_anonymous(buffer_memory_bytes_));
  if (buffer_ring_ == nullptr || buffer_memory_ == nullptr) return "cannot map receive buffers";
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(buffer_ring_);
  reg.ring_entries = buffer_count_;
  reg.bgid = buffer_group();
  rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc != 0) return std::string("io_uring_register_buf_ring: ") + std::strerror(-rc);
  io_uring_buf_ring_init(buffer_ring_);
  const int mask = io_uring_buf_ring_mask(buffer_count_);
  for (unsigned i = 0; i < buffer_count_; ++i) {
    io_uring_buf_ring_add(buffer_ring_, buffer_memory_ + static_cast<std::size_t>(i) * buffer_size_,
                          buffer_size_, static_cast<unsigned short>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(buffer_count_));

  event_fd_ = core::UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (event_fd_.get() < 0) return std::string("eventfd: ") + std::strerror(errno);
  rc = io_uring_register_eventfd(&ring_, event_fd_.get());
  if (rc != 0) return std::string("io_uring_register_eventfd: ") + std::strerror(-rc);
  return {};
}

void Ring::start_on_this_thread() {
  // liburing 2.3 declares io_uring_enable_rings but its library does not export it.
  if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) !=
      0)
    core::log::error("io_uring: enabling the ring: ", std::strerror(errno));
  // io_uring_enter then names the ring by its registered index: no fd lookup per call.
  io_uring_register_ring_fd(&ring_);
  error_code ec;
  event_ = std::make_unique<asio::posix::stream_descriptor>(io_);
  event_->assign(::dup(event_fd_.get()), ec);
  if (ec) core::log::error("io_uring: watching the ring's eventfd: ", ec.message());
  started_ = true;
  watch();
}

// Waiting for completions: an eventfd the kernel signals when completions are posted, watched by
// Asio's reactor while the worker is idle. The wake-up reads it (its count must go back to zero, or
// the next wait would end at once) and runs turns back to back, each posted behind whatever else
// Asio has queued, for as long as they find work; only a turn that finds none arms the wait again.
// A busy worker therefore pays one io_uring_enter per turn, not a wake-up through epoll. With
// TASKRUN_FLAG the eventfd is switched off while busy, and a wait is armed only after
// checking that the kernel queued nothing in the meantime (IORING_SQ_TASKRUN).
void Ring::watch() {
  if (taskrun_flag_) {
    io_uring_cq_eventfd_toggle(&ring_, true);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0 ||
        io_uring_cq_ready(&ring_) > 0) {
      post_busy_turn();
      return;
    }
  }
  event_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const error_code& ec) {
    if (ec || !event_->is_open()) return;  // shut down
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(event_fd_.get(), &count, sizeof count);
    busy_turn();
  });
}

void Ring::post_busy_turn() {
  busy_posted_ = true;
  asio::post(io_, [this] { busy_turn(); });
}

void Ring::busy_turn() {
  busy_posted_ = false;
  if (!event_ || !event_->is_open()) return;
  if (taskrun_flag_) io_uring_cq_eventfd_toggle(&ring_, false);
  const std::size_t reaped = run_turn();
  if (reaped > 0 || io_uring_sq_ready(&ring_) > 0 || io_uring_cq_ready(&ring_) > 0)
    post_busy_turn();
  else
    watch();
}

io_uring_sqe* Ring::prepare(Operation* op) {
  if (tearing_down_ || !created_) {
    scratch_sqe_ = io_uring_sqe{};
    return &scratch_sqe_;
  }
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  io_uring_sqe_set_data(sqe, op);
  if (op != nullptr) ++operations_;
  schedule_flush();
  return sqe;
}

// Entries prepared outside a turn (a timer's handler, a posted completion) while the
// worker is idle go to the kernel in a turn of their own; a busy worker's next turn takes
// them anyway.
void Ring::schedule_flush() {
  if (in_turn_ || flush_posted_ || busy_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this] {
    flush_posted_ = false;
    run_turn();
    if (io_uring_sq_ready(&ring_) > 0) schedule_flush();
  });
}

// One io_uring_enter submits what this turn prepared and runs the completions' pending
// task work; their handlers prepare more, which the next round submits. Returns how many
// completions it handled.
std::size_t Ring::run_turn() {
  if (!started_) return 0;
  in_turn_ = true;
  std::size_t total = 0;
  for (int round = 0; round < kTurnsPerWake; ++round) {
    const bool had_work = io_uring_sq_ready(&ring_) > 0;
    io_uring_submit_and_get_events(&ring_);
    const std::size_t reaped = reap();
    total += reaped;
    if (reaped == 0 && (!had_work || io_uring_sq_ready(&ring_) == 0)) break;
  }
  in_turn_ = false;
  if (stopping_) stop_if_idle();
  return total;
}

void Ring::stop_when_idle() {
  stopping_ = true;
  stop_if_idle();
  if (!event_ || !event_->is_open()) return;
  // Every socket was closed, so their cancellations complete within a turn or two. Should
  // an operation never complete (a kernel or veer bug), the worker must still end.
  stop_timer_ = std::make_unique<asio::steady_timer>(io_, kStopGrace);
  stop_timer_->async_wait([this](const error_code& ec) {
    if (ec || !event_ || !event_->is_open()) return;
    core::log::warn("io_uring: ", operations_, " operations still in the kernel ",
                    std::chrono::duration_cast<std::chrono::milliseconds>(kStopGrace).count(),
                    " ms after the worker drained; stopping anyway");
    error_code ignored;
    event_->close(ignored);
  });
}

void Ring::stop_if_idle() {
  if (operations_ > 0 || io_uring_sq_ready(&ring_) > 0 || !event_) return;
  error_code ignored;
  event_->close(ignored);  // the pending wait completes aborted: no work left in Asio
  if (stop_timer_) stop_timer_->cancel();
}

std::size_t Ring::reap() {
  std::size_t handled = 0;
  io_uring_cqe* cqe = nullptr;
  while (handled < kReapBatch && io_uring_peek_cqe(&ring_, &cqe) == 0) {
    auto* op = static_cast<Operation*>(io_uring_cqe_get_data(cqe));
    const int result = cqe->res;
    const std::uint32_t flags = cqe->flags;
    io_uring_cqe_seen(&ring_, cqe);
    ++handled;
    if (op == nullptr) continue;
    if ((flags & IORING_CQE_F_MORE) == 0) --operations_;
    op->on_completion(result, flags);
  }
  if (recycled_since_wake_ > 0) wake_buffer_waiters();
  return handled;
}

void Ring::recycle(std::uint16_t id) {
  io_uring_buf_ring_add(buffer_ring_, const_cast<char*>(buffer(id)), buffer_size_, id,
                        io_uring_buf_ring_mask(buffer_count_), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
  --buffers_in_use_;
  ++recycled_since_wake_;
  if (waiters_head_ != nullptr && !in_turn_) schedule_flush();
}

void Ring::wait_for_buffers(BufferWaiter& waiter) {
  if (waiter.waiting_) return;
  waiter.waiting_ = true;
  waiter.next_waiter_ = nullptr;
  if (waiters_tail_ != nullptr)
    waiters_tail_->next_waiter_ = &waiter;
  else
    waiters_head_ = &waiter;
  waiters_tail_ = &waiter;
}

void Ring::adopt(Orphan& orphan) {
  orphan.previous_orphan_ = nullptr;
  orphan.next_orphan_ = orphans_;
  if (orphans_ != nullptr) orphans_->previous_orphan_ = &orphan;
  orphans_ = &orphan;
}

void Ring::release(Orphan& orphan) {
  if (orphan.previous_orphan_ != nullptr)
    orphan.previous_orphan_->next_orphan_ = orphan.next_orphan_;
  else if (orphans_ == &orphan)
    orphans_ = orphan.next_orphan_;
  if (orphan.next_orphan_ != nullptr)
    orphan.next_orphan_->previous_orphan_ = orphan.previous_orphan_;
  orphan.previous_orphan_ = orphan.next_orphan_ = nullptr;
}

void Ring::forget(BufferWaiter& waiter) {
  if (!waiter.waiting_) return;
  BufferWaiter* previous = nullptr;
  for (BufferWaiter* w = waiters_head_; w != nullptr; previous = w, w = w->next_waiter_) {
    if (w != &waiter) continue;
    (previous != nullptr ? previous->next_waiter_ : waiters_head_) = w->next_waiter_;
    if (waiters_tail_ == w) waiters_tail_ = previous;
    break;
  }
  waiter.waiting_ = false;
  waiter.next_waiter_ = nullptr;
}

// Receives the kernel ended for want of buffers start again once some came back, oldest
// first and one per returned buffer, so a flood of readers cannot starve each other.
void Ring::wake_buffer_waiters() {
  unsigned budget = recycled_since_wake_;
  recycled_since_wake_ = 0;
  while (waiters_head_ != nullptr && budget-- > 0) {
    BufferWaiter* waiter = waiters_head_;
    waiters_head_ = waiter->next_waiter_;
    if (waiters_head_ == nullptr) waiters_tail_ = nullptr;
    waiter->waiting_ = false;
    waiter->next_waiter_ = nullptr;
    waiter->buffers_available();
  }
}

}  // namespace veer::proxy::uring
