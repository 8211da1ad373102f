// The native io_uring engine's acceptor (proxy/acceptor.hpp; acceptor.cpp is epoll's).
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/log.hpp"
#include "proxy/acceptor.hpp"

namespace veer::proxy {
namespace {

// Backoff when the process is out of file descriptors: retrying at once would spin.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

}  // namespace

Acceptor::Acceptor(asio::io_context& io, std::string name, std::string owner, OnAccept on_accept)
    : ring_(uring::Ring::of(io)),
      name_(std::move(name)),
      owner_(std::move(owner)),
      backoff_(io),
      on_accept_(std::move(on_accept)) {}

error_code Acceptor::assign(int fd, int) {
  listen_fd_ = core::UniqueFd(fd);
  return {};
}

void Acceptor::start() {
  wait();
}

// One multishot ACCEPT: each completion is a new connection (blocking, close-on-exec:
// the engine never needs O_NONBLOCK, its synchronous calls say MSG_DONTWAIT).
void Acceptor::wait() {
  io_uring_sqe* sqe = ring_.prepare(&accept_op_);
  io_uring_prep_multishot_accept(sqe, listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  armed_ = true;
  waiting_ = true;
}

void Acceptor::stop() {
  open_ = false;
  backoff_.cancel();
  if (armed_) {
    if (cancelled_) return;
    cancelled_ = true;
    io_uring_sqe* sqe = ring_.prepare(nullptr);
    io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(&accept_op_), 0);
    return;  // the socket closes with the accept's last completion
  }
  listen_fd_.reset();
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
  if (armed_) return;
  if (result >= 0 || result == -ECANCELED || result == -ECONNABORTED || result == -EINTR) {
    wait();  // the kernel ended the multishot (it may): arm it again
    return;
  }
  core::log::warn(owner_, ": accept on ", name_, ": ", std::strerror(-result),
                  "; pausing accepts for 100ms");
  retry_later();
}

void Acceptor::retry_later() {
  backoff_.expires_after(kAcceptBackoff);
  backoff_.async_wait([this](const error_code& ec) {
    if (!ec && open_) wait();
  });
}

}  // namespace veer::proxy
