#include "proxy/tunnel.hpp"

#include "proxy/worker.hpp"

namespace veer::proxy {

Tunnel::Tunnel(Worker& worker, Stream client, std::unique_ptr<UpstreamConnection> backend,
               core::Buffer client_pending, std::shared_ptr<core::BackendStats> stats,
               conf::Duration idle_timeout)
    : worker_(worker),
      client_(std::move(client)),
      backend_(std::move(backend)),
      stats_(std::move(stats)),
      idle_timeout_(idle_timeout),
      upward_{client_, backend_->stream, std::move(client_pending)},
      downward_{backend_->stream, client_, core::Buffer{}} {}

Tunnel::~Tunnel() {
  worker_.buffers().release(upward_.buffer);
  worker_.buffers().release(downward_.buffer);
  worker_.buffers().release(backend_->buffer);
}

void Tunnel::start() {
  worker_.connections().add(*this);
  worker_.metrics().tunnels_opened.add();
  // The backend connection's read buffer is empty here (the 101 and anything after it
  // went to the client): an idle tunnel holds no buffer at all.
  worker_.buffers().release(backend_->buffer);
  error_code ignored;
  backend_->stream.socket().non_blocking(true, ignored);
  touch();
  pump(upward_);
  pump(downward_);
}

void Tunnel::touch() {
  worker_.deadlines().arm(idle_deadline_, idle_timeout_);
}

void Tunnel::pump(Direction& d) {
  if (d.buffer.empty()) {
    wait_readable(d);
    return;
  }
  d.to.async_write(
      asio::buffer(d.buffer.read_ptr(), d.buffer.size()),
      [self = self(), &d](const error_code& ec, std::size_t) { self->on_written(d, ec); });
}

void Tunnel::wait_readable(Direction& d) {
  worker_.buffers().release(d.buffer);  // idle: hold no memory
  d.from.async_wait_readable(
      [self = self(), &d](const error_code& ec) { self->on_readable(d, ec); });
}

void Tunnel::on_readable(Direction& d, const error_code& ec) {
  if (closed_) return;
  if (ec) {
    close();
    return;
  }
  if (lingering_) {
    if (&d == &upward_) discard_from_client();
    return;
  }
  if (!d.buffer.allocated()) d.buffer = worker_.buffers().acquire();
  if (!read_available(d)) return;
  touch();
  pump(d);
}

void Tunnel::on_written(Direction& d, const error_code& ec) {
  if (closed_) return;
  if (ec) {
    close();
    return;
  }
  d.buffer.clear();
  if (lingering_) {
    if (&d == &upward_) discard_from_client();
    return;
  }
  touch();
  // Bulk transfers usually have more bytes waiting: read them now instead of paying
  // for a readiness notification first.
  if (read_available(d)) pump(d);
}

bool Tunnel::read_available(Direction& d) {
  error_code read_error;
  const std::size_t n =
      d.from.read_some(asio::buffer(d.buffer.write_ptr(), d.buffer.writable_size()), read_error);
  if (read_error == asio::error::would_block) {
    wait_readable(d);
    return false;
  }
  if (read_error == asio::error::eof && &d == &downward_ && client_.tls() != nullptr) {
    linger_with_client();
    return false;
  }
  if (read_error) {
    close();  // one side closed or reset: close the other promptly
    return false;
  }
  d.buffer.commit(n);
  return true;
}

// The backend ended a wss tunnel. The client gets our close_notify and a FIN at once,
// and up to kLinger to send its own close_notify (a TLS client answers one): closing
// before that arrives would answer it with a reset, which TLS clients report as an
// error although the WebSocket closed cleanly. nginx's lingering close does the same.
void Tunnel::linger_with_client() {
  constexpr auto kLinger = std::chrono::seconds(2);
  lingering_ = true;
  client_.close_notify();
  error_code ignored;
  client_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  core::interrupt_socket(backend_->stream.socket());
  worker_.deadlines().arm(idle_deadline_, kLinger);
  // The upward direction is waiting for the client or writing to the backend; either
  // way it ends in discard_from_client() or close().
}

void Tunnel::discard_from_client() {
  char sink[4096];
  error_code read_error;
  while (true) {
    client_.read_some(asio::buffer(sink), read_error);
    if (read_error == asio::error::would_block) {
      upward_.from.async_wait_readable(
          [self = self()](const error_code& ec) { self->on_readable(self->upward_, ec); });
      return;
    }
    if (read_error) break;  // the client's close_notify (eof), FIN or a reset: done
  }
  close();
}

void Tunnel::close() {
  if (closed_) return;
  closed_ = true;
  idle_deadline_.disarm();
  // A wss client learns that the end was meant (not a truncation attack) before the
  // connection goes.
  client_.close_notify();
  core::close_socket(client_.socket());
  core::close_socket(backend_->stream.socket());
  stats_->active_connections.fetch_sub(1, std::memory_order_relaxed);
  worker_.metrics().tunnels_closed.add();
  client_slot_.release();
  worker_.connection_closed(*this, true);
}

}  // namespace veer::proxy
