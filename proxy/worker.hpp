#pragma once

// A worker: one thread, one io_context, its own listening sockets (SO_REUSEPORT), its
// own connection pools, buffers and timers. Nothing here is shared with other workers
// except the snapshot store and a few counters (DESIGN.md: threads and shared state).

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/asio.hpp"
#include "core/buffer.hpp"
#include "health/outlier.hpp"
#include "http/http_head.hpp"
#include "limits/client_counts.hpp"
#include "proxy/acceptor.hpp"
#include "proxy/access_log.hpp"
#include "proxy/connection.hpp"
#include "proxy/deadline.hpp"
#include "proxy/request_id.hpp"
#include "proxy/turn_clock.hpp"
#include "proxy/upstream_pool.hpp"
#if defined(VEER_NATIVE_URING)
#include "proxy/uring_ring.hpp"
#endif
#include "runtime/metrics.hpp"
#include "runtime/snapshot.hpp"
#include "runtime/worker_view.hpp"

namespace veer::proxy {

// What the workers share, owned by the Server.
struct WorkerShared {
  runtime::SnapshotStore snapshots;
  AccessLogSink access_log;
  std::atomic<std::uint64_t> client_connections{0};  // for limits.max_connections
  unsigned worker_count = 1;
  // Descriptors each worker's clients and backend connections may hold: its share of the
  // open file limit less a reserve (app/server.cpp). A worker with no room for another
  // client and its backend leaves new connections in the listen queue.
  std::uint64_t descriptor_budget = UINT64_MAX;
  health::EjectionListener* ejections = nullptr;  // the health thread; null in tests
  // Open connections per client address (max_connections_per_client); null: not counted.
  std::unique_ptr<limits::ClientCounts> client_counts;
};

class Worker final : public DeadlineQueue::Waker, public TimeoutHandler {
 public:
  Worker(unsigned index, WorkerShared& shared);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void join();

  // Thread-safe: each posts to the worker.
  void add_listener(std::string name, int fd, int family);
  void remove_listener(std::string name);
  void begin_drain(Clock::time_point deadline);
  // Backends removed from the configuration: idle connections to them close now;
  // tunnels and exchanges still using them close at `deadline` (drain).
  void drain_backends(std::vector<std::shared_ptr<core::BackendStats>> backends,
                      std::vector<conf::SocketAddress> addresses, Clock::time_point deadline);
  // Split targets whose weight went to 0: their WebSocket tunnels close at `deadline`
  // if the weight is still 0 then (splits.NAME.drain_tunnels_after).
  void drain_split_targets(std::vector<std::shared_ptr<const runtime::SplitTargetTag>> targets,
                           Clock::time_point deadline);

  // Worker thread only.
  unsigned index() const { return index_; }
  asio::io_context& io() { return io_; }
  core::BufferPool& buffers() { return buffers_; }
  DeadlineQueue& deadlines() { return deadlines_; }
  UpstreamPool& upstreams() { return upstreams_; }
  AccessLog& access_log() { return access_log_; }
  runtime::WorkerMetrics& metrics() { return metrics_; }
  RequestIds& request_ids() { return request_ids_; }
  limits::ClientCounts* client_counts() { return shared_.client_counts.get(); }
  ConnectionRegistry& connections() { return connections_; }
  http::RequestHead& request_scratch() { return *request_scratch_; }
  http::ResponseHead& response_scratch() { return *response_scratch_; }
  // Ciphertext on its way between a socket and a TLS session (proxy/stream.hpp): used
  // within one synchronous call, so one buffer serves every connection of the worker.
  std::span<char> tls_scratch() { return tls_scratch_; }
  bool draining() const { return draining_; }
  // The time, read at most once per turn of the loop (proxy/turn_clock.hpp).
  Clock::time_point now() override { return clock_.now(); }
  // The view of the newest snapshot (adopting it first if it moved).
  const core::Ref<runtime::WorkerView>& view();
  const conf::Config& config() { return view()->snapshot().config; }
  // Called by a connection when it closes.
  void connection_closed(Connection& c, bool client);
  // Reports how an exchange with a backend ended (passive health checks).
  void record_outcome(const runtime::PoolRuntime& pool, const runtime::BackendRuntime& backend,
                      health::Outcome outcome);
  // Rate-limited warnings for events that can come in floods (retries).
  bool may_log_now();

 private:
  void run();
  void set_up_ring();
  void adopt_snapshot();
  // A connection one of the acceptors took: admitted under limits.max_connections, it
  // becomes a ClientSession of `listener`.
  void accepted(const std::string& listener, core::UniqueFd connection,
                const sockaddr_storage& peer);
  void refused_over_max_connections(std::uint64_t max_connections);
  // Clients there is room for within descriptor_budget, each with the backend
  // connection it may open, counting idle pooled connections (they hold descriptors too).
  std::uint64_t descriptor_room() const;
  void wake_at(Clock::time_point when) override;
  void on_timeout(Deadline&) override;  // the memory trim
  void on_timer(const error_code& ec);
  void finish_if_drained();

  unsigned index_;
  WorkerShared& shared_;
  asio::io_context io_;  // first member: destroyed last
  TurnClock clock_;
  asio::steady_timer timer_;
  Clock::time_point timer_at_ = Clock::time_point::max();
  core::BufferPool buffers_;
  DeadlineQueue deadlines_;
  UpstreamPool upstreams_;
  AccessLog access_log_;
  RequestIds request_ids_;
  ConnectionRegistry connections_;
  runtime::WorkerMetrics metrics_;  // read by the scraper on the control thread
  std::unique_ptr<http::RequestHead> request_scratch_;
  std::unique_ptr<http::ResponseHead> response_scratch_;
  std::array<char, 16 * 1024 + 512> tls_scratch_{};  // one full TLS record
  core::Ref<runtime::WorkerView> view_;
  // Stopped ones stay until the worker goes: sessions of their listeners hold their names.
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::unique_ptr<asio::steady_timer> drain_timer_;
  // Timers of drain_backends and drain_split_targets.
  std::vector<std::unique_ptr<asio::steady_timer>> drain_timers_;
  void at(Clock::time_point deadline, std::function<void()> fn);
  Deadline trim_deadline_{*this, 0};
  std::int64_t log_second_ = 0;
  std::uint32_t logged_this_second_ = 0;
  std::uint64_t unlogged_ = 0;
  Clock::time_point next_max_connections_log_{};
  std::uint64_t max_connections_unlogged_ = 0;
  std::uint64_t clients_ = 0;               // this worker's share of shared_.client_connections
  struct WorkGuard* work_guard_ = nullptr;  // keeps run() going until drained
  bool draining_ = false;
  std::thread thread_;
};

}  // namespace veer::proxy
