#pragma once

// A WebSocket (or other upgraded) connection after the 101: bytes copied both ways,
// untouched (pings, close frames and 2 MB frames alike), until either side closes or
// tunnel_idle passes without a byte. When one side closes or resets, the other is
// closed at once. An idle tunnel holds no buffer: each direction waits for
// readability and borrows a pooled buffer only while bytes are moving.

#include <memory>

#include "conf/duration.hpp"
#include "core/asio.hpp"
#include "core/backend_stats.hpp"
#include "core/buffer.hpp"
#include "core/ref_counted.hpp"
#include "proxy/client_slot.hpp"
#include "proxy/connection.hpp"
#include "proxy/deadline.hpp"
#include "proxy/socket.hpp"
#include "proxy/upstream_pool.hpp"
#include "runtime/snapshot.hpp"

namespace veer::proxy {

class Worker;

class Tunnel final : public core::RefCounted<Tunnel>, public Connection, public TimeoutHandler {
 public:
  // `client_pending` holds bytes the client sent after its upgrade request.
  // The backend connection is already counted in `stats->active_connections`; the
  // tunnel releases that count when it closes.
  Tunnel(Worker& worker, Stream client, std::unique_ptr<UpstreamConnection> backend,
         core::Buffer client_pending, std::shared_ptr<core::BackendStats> stats,
         conf::Duration idle_timeout);
  ~Tunnel();

  // A tunnel opened through a split remembers its target (drain_tunnels_after).
  void set_route(std::shared_ptr<const runtime::SplitTargetTag> target) {
    route_ = std::move(target);
  }
  // The client connection's count in max_connections_per_client, kept while it is open.
  void keep_client_slot(ClientSlot slot) { client_slot_ = std::move(slot); }
  void start();
  void drain() override {}  // a tunnel has no request boundary: it runs to the drain deadline
  void abort() override { close(); }
  void abort_if_using(const core::BackendStats& backend) override {
    if (stats_.get() == &backend) close();
  }
  void abort_if_routed_via(const runtime::SplitTargetTag& target) override {
    if (route_.get() == &target) close();
  }
  void on_timeout(Deadline&) override { close(); }

 private:
  struct Direction {
    Stream& from;
    Stream& to;
    core::Buffer buffer;
  };

  void pump(Direction& d);
  void wait_readable(Direction& d);
  void on_readable(Direction& d, const error_code& ec);
  void on_written(Direction& d, const error_code& ec);
  // Reads what the socket has into d.buffer without waiting: true when bytes came;
  // otherwise it waits for readiness again or closes the tunnel.
  bool read_available(Direction& d);
  // The backend closed a wss tunnel: see tunnel.cpp.
  void linger_with_client();
  void discard_from_client();
  void touch();
  void close();
  core::Ref<Tunnel> self() { return core::Ref<Tunnel>(this); }

  Worker& worker_;
  Stream client_;  // TLS on a TLS listener (wss)
  std::unique_ptr<UpstreamConnection> backend_;
  std::shared_ptr<core::BackendStats> stats_;
  std::shared_ptr<const runtime::SplitTargetTag> route_;
  conf::Duration idle_timeout_;
  Deadline idle_deadline_{*this, 0};
  Direction upward_;    // client -> backend
  Direction downward_;  // backend -> client
  ClientSlot client_slot_;
  bool closed_ = false;
  bool lingering_ = false;  // the backend has gone; waiting for the client's end
};

}  // namespace veer::proxy
