#include "proxy/acceptor.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.hpp"

namespace veer::proxy {
namespace {

// Connections accepted per readiness event before other work gets a turn: keeps a
// connection storm from starving established connections.
constexpr int kAcceptBatch = 64;

}  // namespace

Acceptor::Acceptor(asio::io_context& io, std::string name, std::string owner, Room room,
                   OnAccept on_accept)
    : name_(std::move(name)),
      owner_(std::move(owner)),
      socket_(io),
      backoff_(io),
      room_(std::move(room)),
      on_accept_(std::move(on_accept)) {}

error_code Acceptor::assign(int fd, int family) {
  error_code ec;
  socket_.assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) ::close(fd);
  return ec;
}

void Acceptor::start() {
  wait();
}

void Acceptor::stop() {
  open_ = false;
  backoff_.cancel();
  if (waiting_) {
    core::close_socket(socket_);
  } else {
    error_code ignored;
    socket_.close(ignored);
  }
}

void Acceptor::wait() {
  waiting_ = true;
  socket_.async_wait(tcp::acceptor::wait_read, [this](const error_code& ec) {
    waiting_ = false;
    if (!open_) {
      // Removed or draining: nothing is pending on it any more, so it can close.
      error_code ignored;
      socket_.close(ignored);
      return;
    }
    if (!ec) {
      accept_ready();
      return;
    }
    // An open listener must never stop accepting: log and try again shortly.
    core::log::warn(owner_, ": waiting for connections on ", name_, ": ", ec.message(),
                    "; retrying in 100ms");
    retry_later();
  });
}

void Acceptor::accept_ready() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    if (room_() == 0) {
      pause_for_room();
      return;
    }
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    core::UniqueFd fd(::accept4(socket_.native_handle(), reinterpret_cast<sockaddr*>(&peer),
                                &length, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      core::log::warn(owner_, ": accept on ", name_, ": ", std::strerror(errno),
                      "; pausing accepts for 100ms");
      retry_later();
      return;
    }
    on_accept_(name_, std::move(fd), peer);
  }
  wait();
}

}  // namespace veer::proxy
