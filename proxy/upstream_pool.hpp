#pragma once

// Each worker's keep-alive connections to backends (DESIGN.md: per-worker pools, no
// lock). Connections are reused most-recently-parked first, so a quiet period lets the
// least used ones reach upstream_idle and close while the hot ones stay warm.

#include <cstdint>
#include <map>
#include <memory>

#include "conf/address.hpp"
#include "core/asio.hpp"
#include "core/buffer.hpp"
#include "proxy/deadline.hpp"
#include "proxy/socket.hpp"

namespace veer::proxy {

class UpstreamPool;
struct UpstreamSlot;

class UpstreamConnection final : public TimeoutHandler {
 public:
  UpstreamConnection(asio::io_context& io, UpstreamSlot& slot);

  Stream stream;        // TLS when the pool has tls
  core::Buffer buffer;  // response bytes; returned to the BufferPool while parked
  UpstreamSlot& slot;
  bool reused = false;  // served a request before (stale-connection retries)
  Clock::time_point parked_at{};
  std::uint64_t requests = 0;
  // Operations started and not yet completed. A connection is parked or freed only at
  // zero: with io_uring even a cancelled read may still write into `buffer`.
  std::uint32_t pending_ops = 0;
  const void* tls = nullptr;  // the ClientTls it speaks TLS with (kept alive by the stream)

 private:
  friend class UpstreamPool;
  void on_timeout(Deadline&) override;
  Deadline idle_deadline_{*this, 0};
  UpstreamConnection* prev_ = nullptr;  // idle list links while parked
  UpstreamConnection* next_ = nullptr;
};

struct UpstreamSlot {
  conf::SocketAddress endpoint;
  UpstreamPool* pool = nullptr;
  UpstreamConnection* newest = nullptr;  // idle list, newest first; owned by the slot
  UpstreamConnection* oldest = nullptr;
  std::size_t idle = 0;
};

class UpstreamPool {
 public:
  UpstreamPool(asio::io_context& io, DeadlineQueue& deadlines, core::BufferPool& buffers)
      : io_(io), deadlines_(deadlines), buffers_(buffers) {}
  ~UpstreamPool();

  void configure(Clock::duration idle_timeout, std::size_t max_idle_per_backend) {
    idle_timeout_ = idle_timeout;
    max_idle_ = max_idle_per_backend;
  }

  // The number of the slot for a backend address (made on first use); slots live as
  // long as the pool, so a number stays valid across snapshots.
  std::uint32_t slot_id(const conf::SocketAddress& endpoint);
  UpstreamSlot& slot(std::uint32_t id) { return *slots_[id]; }

  // A new, unconnected connection for `slot`.
  std::unique_ptr<UpstreamConnection> create(UpstreamSlot& slot);

  // The most recently parked connection made with `tls` (a pool's ClientTls, null for
  // plain), or null. Two pools may name one address with different TLS settings (or a
  // reload may turn TLS on): a connection is reused only under the settings it was made
  // with, so verification and client certificates never leak between pools. A
  // connection idle for at least
  // `probe_after` is first checked with one non-blocking recv, and discarded when the
  // backend has closed it (or sent unsolicited bytes): for requests that could not be
  // sent again if the connection turned out closed.
  std::unique_ptr<UpstreamConnection> take(UpstreamSlot& slot, const void* tls,
                                           Clock::duration probe_after, Clock::time_point now);

  // Returns a connection whose exchange completed cleanly. Closes it instead when the
  // slot is full.
  void park(std::unique_ptr<UpstreamConnection> connection);

  // Closes every idle connection of `slot` (after one turned out stale, its siblings
  // usually are too: the backend restarted).
  void close_idle(UpstreamSlot& slot);
  void close_all_idle();
  // Idle connections over every slot: descriptors the pool holds.
  std::size_t idle_count() const { return idle_count_; }

 private:
  friend class UpstreamConnection;
  void unlink(UpstreamConnection& c);
  void expire(UpstreamConnection& c);

  asio::io_context& io_;
  DeadlineQueue& deadlines_;
  core::BufferPool& buffers_;
  Clock::duration idle_timeout_ = std::chrono::seconds(60);
  std::size_t max_idle_ = 1024;
  std::size_t idle_count_ = 0;
  std::vector<std::unique_ptr<UpstreamSlot>> slots_;
  std::map<std::string, std::uint32_t, std::less<>> slot_ids_;  // by address bytes
};

}  // namespace veer::proxy
