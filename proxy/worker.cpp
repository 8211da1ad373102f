#include "proxy/worker.hpp"

#include <malloc.h>
#include <pthread.h>
#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>

#include <stdexcept>

#include "core/log.hpp"
#include "proxy/client_session.hpp"

namespace veer::proxy {
namespace {

// Delay before returning freed memory to the system after a burst: batches the
// trims of a storm into one, so a trim (which walks the heap) runs at most once a second.
constexpr auto kTrimDelay = std::chrono::seconds(1);
// Warnings that can come in floods (one per retried request during an outage): at
// most this many lines per worker per second, then a count of the rest.
constexpr std::uint32_t kWarningsPerSecond = 5;
// Connections refused over limits.max_connections: at most one line per worker this often.
constexpr auto kMaxConnectionsLogEvery = std::chrono::seconds(1);

}  // namespace

struct WorkGuard {
  explicit WorkGuard(asio::io_context& io) : guard(asio::make_work_guard(io)) {}
  asio::executor_work_guard<asio::io_context::executor_type> guard;
};

Worker::Worker(unsigned index, WorkerShared& shared)
    : index_(index),
      shared_(shared),
      // One thread runs this io_context: no locking of descriptor state is needed
      // (posting from other threads stays safe).
      io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
      clock_(io_),
      timer_(io_),
      deadlines_(*this),
      upstreams_(io_, deadlines_, buffers_),
      access_log_(shared.access_log, deadlines_),
      request_ids_((0x5eed0000ULL + index * 0x9e3779b97f4a7c15ULL) ^
                   static_cast<std::uint64_t>(Clock::now().time_since_epoch().count())),
      request_scratch_(std::make_unique<http::RequestHead>()),
      response_scratch_(std::make_unique<http::ResponseHead>()) {
  if constexpr (core::kIoUring) set_up_ring();
  buffers_.on_excess([this] {
    if (!trim_deadline_.armed()) deadlines_.arm(trim_deadline_, kTrimDelay);
  });
  adopt_snapshot();
}

// The native io_uring engine's ring, made here so that a refusal stops the start with
// its reason; the worker's thread enables it (SINGLE_ISSUER: its only submitter).
void Worker::set_up_ring() {
#if defined(VEER_NATIVE_URING)
  uring::RingOptions options;
  options.buffers = shared_.snapshots.current()->config.server.io_uring_buffers;
  const std::string error = uring::Ring::of(io_).setup(options);
  if (!error.empty()) throw std::runtime_error("worker " + std::to_string(index_) + ": " + error);
  if (index_ == 0) {
    core::log::info("io_uring ring: ", uring::Ring::of(io_).description(), ", ", options.buffers,
                    " x ", options.buffer_size / 1024, " KiB receive buffers per worker");
  }
#endif
}

void Worker::on_timeout(Deadline&) {
  // glibc keeps freed memory in its arenas; after thousands of buffers were parked
  // at once, give the whole free pages back so idle connections cost what they hold.
  ::malloc_trim(0);
}

Worker::~Worker() {
  join();
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  const std::string name = "veer-w" + std::to_string(index_);
  pthread_setname_np(pthread_self(), name.c_str());
#if defined(VEER_NATIVE_URING)
  uring::Ring::of(io_).start_on_this_thread();
#endif
  WorkGuard guard(io_);
  work_guard_ = &guard;
  // Asio handlers report failures through error codes; what still throws is a bug or
  // an allocation failure. Log it and keep serving rather than take every connection
  // of this worker down.
  for (int failures = 0; failures < 100; ++failures) {
    try {
      io_.run();
      break;
    } catch (const std::exception& e) {
      core::log::error("worker ", index_, ": unexpected exception in a handler: ", e.what());
    }
  }
  work_guard_ = nullptr;
  access_log_.flush();
}

void Worker::adopt_snapshot() {
  std::shared_ptr<const runtime::Snapshot> snapshot = shared_.snapshots.current();
  view_ = core::make_ref<runtime::WorkerView>(
      snapshot, index_, shared_.worker_count, view_.get(),
      [this](const conf::SocketAddress& address) { return upstreams_.slot_id(address); });
  const conf::AdminConfig& admin = snapshot->config.admin;
  if (admin.enabled && admin.metrics)
    view_->set_metrics(std::make_unique<runtime::MetricsView>(*snapshot, metrics_));
  metrics_.forget_unused();
  upstreams_.configure(snapshot->config.timeouts.upstream_idle,
                       snapshot->config.limits.max_idle_upstream);
}

const core::Ref<runtime::WorkerView>& Worker::view() {
  if (shared_.snapshots.version() != view_->version()) adopt_snapshot();
  return view_;
}

void Worker::add_listener(std::string name, int fd, int family) {
  asio::post(io_, [this, name = std::move(name), fd, family]() mutable {
    auto acceptor = std::make_unique<Acceptor>(
        io_, std::move(name), "worker " + std::to_string(index_),
        [this] { return descriptor_room(); },
        [this](const std::string& listener, core::UniqueFd connection,
               const sockaddr_storage& peer) { accepted(listener, std::move(connection), peer); });
    if (const error_code ec = acceptor->assign(fd, family)) {
      core::log::error("worker ", index_, ": cannot use the socket of listener ", acceptor->name(),
                       ": ", ec.message());
      return;
    }
    if (draining_) return;  // closes it
    acceptor->start();
    acceptors_.push_back(std::move(acceptor));
  });
}

void Worker::remove_listener(std::string name) {
  asio::post(io_, [this, name = std::move(name)] {
    for (auto& acceptor : acceptors_) {
      if (acceptor->name() == name && acceptor->open()) acceptor->stop();
    }
  });
}

void Worker::accepted(const std::string& listener, core::UniqueFd connection,
                      const sockaddr_storage& peer) {
  const std::uint64_t max_connections = config().limits.max_connections;
  if (shared_.client_connections.fetch_add(1, std::memory_order_relaxed) >= max_connections) {
    shared_.client_connections.fetch_sub(1, std::memory_order_relaxed);
    refused_over_max_connections(max_connections);
    return;  // over limits.max_connections: refuse (close) rather than degrade everyone
  }
  Socket socket(io_);
  error_code ec;
  socket.assign(peer.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), connection.get(), ec);
  if (ec) {
    shared_.client_connections.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  connection.release();  // the socket owns it now
  ++clients_;
  metrics_.connections_accepted.add();
  core::make_ref<ClientSession>(*this, std::move(socket), listener, peer)->start();
}

std::uint64_t Worker::descriptor_room() const {
  const std::uint64_t held = 2 * clients_ + upstreams_.idle_count();
  return held >= shared_.descriptor_budget ? 0 : (shared_.descriptor_budget - held) / 2;
}

// A storm of refusals is one line a second per worker, with the count of the others.
void Worker::refused_over_max_connections(std::uint64_t max_connections) {
  metrics_.refusals.max_connections.add();
  const Clock::time_point now = Clock::now();
  if (now < next_max_connections_log_) {
    ++max_connections_unlogged_;
    return;
  }
  next_max_connections_log_ = now + kMaxConnectionsLogEvery;
  if (max_connections_unlogged_ == 0) {
    core::log::warn("worker ", index_, ": limits.max_connections (", max_connections,
                    ") reached: closing new connections at once");
  } else {
    core::log::warn("worker ", index_, ": limits.max_connections (", max_connections,
                    ") reached: closing new connections at once (", max_connections_unlogged_,
                    " more closed since the last line)");
  }
  max_connections_unlogged_ = 0;
}

void Worker::wake_at(Clock::time_point when) {
  if (when >= timer_at_) return;
  timer_at_ = when;
  timer_.expires_at(when);
  timer_.async_wait([this](const error_code& ec) { on_timer(ec); });
}

void Worker::on_timer(const error_code& ec) {
  if (ec == asio::error::operation_aborted) return;  // superseded by an earlier wake-up
  timer_at_ = Clock::time_point::max();
  const Clock::time_point next = deadlines_.expire(Clock::now());
  if (next != Clock::time_point::max()) wake_at(next);
}

void Worker::begin_drain(Clock::time_point deadline) {
  asio::post(io_, [this, deadline] {
    draining_ = true;
    for (auto& acceptor : acceptors_) {
      if (acceptor->open()) acceptor->stop();
    }
    upstreams_.close_all_idle();
    // The deadline is armed before connections are drained: idle ones close at once,
    // and when the last of them does, finish_if_drained() must find the timer to cancel.
    drain_timer_ = std::make_unique<asio::steady_timer>(io_, deadline);
    drain_timer_->async_wait([this](const error_code& ec) {
      if (ec) return;
      if (connections_.size() > 0) {
        core::log::warn("worker ", index_, ": drain deadline reached, closing ",
                        connections_.size(), " connections");
      }
      connections_.for_each([](Connection& c) { c.abort(); });
    });
    connections_.for_each([](Connection& c) { c.drain(); });
    finish_if_drained();
  });
}

void Worker::drain_backends(std::vector<std::shared_ptr<core::BackendStats>> backends,
                            std::vector<conf::SocketAddress> addresses,
                            Clock::time_point deadline) {
  asio::post(io_, [this, backends = std::move(backends), addresses = std::move(addresses),
                   deadline]() mutable {
    for (const conf::SocketAddress& address : addresses) {
      upstreams_.close_idle(upstreams_.slot(upstreams_.slot_id(address)));
    }
    at(deadline, [this, backends = std::move(backends)] {
      for (const auto& backend : backends) {
        // Added back by a later reload: it stays.
        if (!backend->has(core::Reason::draining)) continue;
        connections_.for_each([&](Connection& c) { c.abort_if_using(*backend); });
      }
    });
  });
}

void Worker::drain_split_targets(
    std::vector<std::shared_ptr<const runtime::SplitTargetTag>> targets,
    Clock::time_point deadline) {
  asio::post(io_, [this, targets = std::move(targets), deadline]() mutable {
    at(deadline, [this, targets = std::move(targets)] {
      const std::shared_ptr<const runtime::Snapshot> now = shared_.snapshots.current();
      for (const auto& target : targets) {
        // A later change gave the target weight again: its tunnels stay.
        const runtime::SplitRuntime* split = now->find_split(target->split);
        if (split == nullptr) continue;
        for (std::size_t i = 0; i < split->tags.size(); ++i) {
          if (split->tags[i] != target || split->weights[i] != 0) continue;
          const std::size_t before = connections_.size();
          connections_.for_each([&](Connection& c) { c.abort_if_routed_via(*target); });
          if (before > connections_.size()) {
            core::log::info("split ", target->split, ": closed ", before - connections_.size(),
                            " WebSocket tunnels to pool ", target->pool,
                            " (weight 0, drain_tunnels_after passed)");
          }
        }
      }
    });
  });
}

// Runs `fn` on this worker at `deadline`, unless the worker stops first.
void Worker::at(Clock::time_point deadline, std::function<void()> fn) {
  auto timer = std::make_unique<asio::steady_timer>(io_, deadline);
  asio::steady_timer* handle = timer.get();
  drain_timers_.push_back(std::move(timer));
  handle->async_wait([this, handle, fn = std::move(fn)](const error_code& ec) {
    std::erase_if(drain_timers_, [handle](const auto& t) { return t.get() == handle; });
    if (!ec) fn();
  });
}

void Worker::record_outcome(const runtime::PoolRuntime& pool,
                            const runtime::BackendRuntime& backend, health::Outcome outcome) {
  const conf::OutlierConfig* outlier = pool.config->outlier ? &*pool.config->outlier : nullptr;
  // A success needs the clock only to close a failure-ratio window on time.
  if (outcome == health::Outcome::success &&
      (outlier == nullptr || outlier->failure_percent == 0)) {
    health::record_success(*backend.stats);
    return;
  }
  const bool ejected =
      health::record_outcome(outcome, *backend.stats, *pool.stats, outlier, pool.backends.size(),
                             {pool.name, backend.address}, now());
  if (ejected && shared_.ejections != nullptr) shared_.ejections->backend_ejected();
}

bool Worker::may_log_now() {
  const std::int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
  if (second != log_second_) {
    if (unlogged_ > 0) {
      core::log::warn("worker ", index_, ": ", unlogged_, " more retry warnings not shown");
    }
    log_second_ = second;
    logged_this_second_ = 0;
    unlogged_ = 0;
  }
  if (logged_this_second_ < kWarningsPerSecond) {
    ++logged_this_second_;
    return true;
  }
  ++unlogged_;
  return false;
}

void Worker::connection_closed(Connection& c, bool client) {
  connections_.remove(c);
  if (client) {
    shared_.client_connections.fetch_sub(1, std::memory_order_relaxed);
    --clients_;
  }
  finish_if_drained();
}

void Worker::finish_if_drained() {
  if (!draining_ || connections_.size() > 0 || work_guard_ == nullptr) return;
  upstreams_.close_all_idle();
  access_log_.flush();
  timer_.cancel();
  timer_at_ = Clock::time_point::max();
  if (drain_timer_) drain_timer_->cancel();
  for (auto& timer : drain_timers_)
    timer->cancel();
  // Without the guard, run() returns as soon as the last pending handler has run, so
  // no handler is left to outlive the worker; the ring stops watching once nothing of
  // it is left in the kernel.
  work_guard_->guard.reset();
#if defined(VEER_NATIVE_URING)
  uring::Ring::of(io_).stop_when_idle();
#endif
  work_guard_ = nullptr;
}

}  // namespace veer::proxy
