// The native io_uring engine's acceptor (proxy/acceptor.hpp; acceptor.cpp is epoll's).
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/log.hpp"
#include "proxy/acceptor.hpp"

namespace veer::proxy {

Acceptor::Acceptor(asio::io_context& io, std::string name, std::string owner, Room room,
                   OnAccept on_accept)
    : ring_(uring::Ring::of(io)),
      name_(std::move(name)),
      owner_(std::move(owner)),
      backoff_(io),
      room_(std::move(room)),
      on_accept_(std::move(on_accept)) {}

error_code Acceptor::assign(int fd, int) {
  listen_fd_ = core::UniqueFd(fd);
  return {};
}

void Acceptor::start() {
  wait();
}

// One multishot ACCEPT: each completion is a new connection (blocking, close-on-exec:
// the engine never needs O_NONBLOCK, its synchronous calls say MSG_DONTWAIT). When it
// fires the kernel takes every connection in the listen queue at once, so it is used only
// while the owner has room for a full queue; closer to its limit, one ACCEPT at a time.
void Acceptor::wait() {
  io_uring_sqe* sqe = ring_.prepare(&accept_op_);
  multishot_ = room_() > listen_queue_limit();
  if (multishot_) {
    io_uring_prep_multishot_accept(sqe, listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  } else {
    io_uring_prep_accept(sqe, listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  }
  armed_ = true;
  waiting_ = true;
}

void Acceptor::stop() {
  open_ = false;
  backoff_.cancel();
  if (armed_) {
    cancel_accept();
    return;  // the socket closes with the accept's last completion
  }
  listen_fd_.reset();
}

void Acceptor::cancel_accept() {
  if (cancelled_) return;
  cancelled_ = true;
  io_uring_sqe* sqe = ring_.prepare(nullptr);
  io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(&accept_op_), 0);
}

void Acceptor::on_accept(int result, std::uint32_t flags) {
  if ((flags & IORING_CQE_F_MORE) == 0) {
    armed_ = false;
    waiting_ = false;
    cancelled_ = false;
  }
  if (result >= 0) {
    core::UniqueFd connection(result);
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    if (open_ && ::getpeername(connection.get(), reinterpret_cast<sockaddr*>(&peer), &length) == 0)
      on_accept_(name_, std::move(connection), peer);
  }
  if (!open_) {
    if (!armed_) listen_fd_.reset();
    return;
  }
  const std::uint64_t room = room_();
  if (armed_) {
    // Too close to the limit for a whole listen queue: one at a time from the next arm
    // on (this one's last completion, ECANCELED, arms it).
    if (multishot_ && room <= listen_queue_limit()) cancel_accept();
    return;
  }
  if (room == 0) {
    pause_for_room();
    return;
  }
  if (result >= 0 || result == -ECANCELED || result == -ECONNABORTED || result == -EINTR) {
    wait();  // the kernel ended the multishot (it may): arm it again
    return;
  }
  core::log::warn(owner_, ": accept on ", name_, ": ", std::strerror(-result),
                  "; pausing accepts for 100ms");
  retry_later();
}

}  // namespace veer::proxy
