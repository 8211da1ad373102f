#include "many_clients.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace veer::test {

namespace {

using Clock = std::chrono::steady_clock;
using State = ManyOutcome::State;

// One poll() waits at most this long, so the deadline is checked often enough.
constexpr int kPollSliceMs = 100;

bool active(State state, bool connect_only) {
  if (connect_only) return state == State::connecting;
  return state == State::connecting || state == State::sending || state == State::reading;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The value of header `name` (lower case) in `head`, lower-cased; "" if absent.
std::string header_value(const std::string& head, const std::string& name) {
  const std::string text = lower(head);
  const std::size_t at = text.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  std::size_t begin = at + name.size() + 3;
  const std::size_t end = text.find("\r\n", begin);
  while (begin < end && text[begin] == ' ')
    ++begin;
  return text.substr(begin, end - begin);
}

}  // namespace

std::uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

ManyClients::ManyClients(std::uint16_t port, std::size_t count) : conns_(count) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  for (Conn& c : conns_) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      finish(c, State::closed, errno);
      continue;
    }
    if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
        errno != EINPROGRESS) {
      finish(c, State::closed, errno);
    }
  }
}

ManyClients::~ManyClients() {
  for (Conn& c : conns_) {
    if (c.fd >= 0) ::close(c.fd);
  }
}

void ManyClients::set_request(std::size_t i, std::string bytes) {
  conns_[i].out = std::move(bytes);
}

bool ManyClients::connect_all(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (
      step(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()), true)) {
    if (Clock::now() >= deadline) return false;
  }
  return true;
}

bool ManyClients::run(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (
      step(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()), false)) {
    if (Clock::now() >= deadline) return false;
  }
  return true;
}

bool ManyClients::step(std::chrono::milliseconds timeout, bool connect_only) {
  std::vector<pollfd> fds;
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    const Conn& c = conns_[i];
    if (!active(c.outcome.state, connect_only)) continue;
    short events = POLLIN;
    if (c.outcome.state == State::connecting) events = POLLOUT;
    if (c.outcome.state == State::sending) events = POLLIN | POLLOUT;
    fds.push_back(pollfd{c.fd, events, 0});
    which.push_back(i);
  }
  if (fds.empty()) return false;
  const int wait = static_cast<int>(std::clamp<long long>(timeout.count(), 0, kPollSliceMs));
  if (::poll(fds.data(), fds.size(), wait) <= 0) return true;
  for (std::size_t k = 0; k < fds.size(); ++k) {
    if (fds[k].revents == 0) continue;
    Conn& c = conns_[which[k]];
    if (c.outcome.state == State::connecting) {
      on_connected(c);
      if (connect_only) continue;
    }
    if (c.outcome.state == State::sending && (fds[k].revents & (POLLOUT | POLLERR))) on_writable(c);
    if (active(c.outcome.state, false) && (fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
      on_readable(c);
  }
  return true;
}

void ManyClients::on_connected(Conn& c) {
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    finish(c, State::closed, error);
    return;
  }
  c.outcome.state = State::sending;
}

void ManyClients::on_writable(Conn& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      finish(c, State::closed, errno);
      return;
    }
    c.sent += static_cast<std::size_t>(n);
  }
  c.outcome.state = State::reading;
}

void ManyClients::on_readable(Conn& c) {
  char chunk[65536];
  while (true) {
    const ssize_t n = ::recv(c.fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      c.in.append(chunk, static_cast<std::size_t>(n));
      parse(c);
      if (c.outcome.state == State::answered || c.outcome.state == State::closed) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && c.head_end > 0 && c.length < 0) {
      // A close-delimited body ends here.
      c.outcome.body = c.in.substr(c.head_end);
      c.outcome.state = State::answered;
      c.peer_closed = true;
      return;
    }
    finish(c, State::closed, n == 0 ? 0 : errno);
    return;
  }
}

void ManyClients::parse(Conn& c) {
  if (c.head_end == 0) {
    const std::size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return;
    c.head_end = end + 4;
    const std::string head = c.in.substr(0, end + 2);
    c.outcome.status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
    const std::string length = header_value(head, "content-length");
    if (!length.empty()) c.length = std::atoll(length.c_str());
    if (!header_value(head, "transfer-encoding").empty()) {
      finish(c, State::closed, EPROTO);  // not used by the tests' backends
      return;
    }
  }
  if (c.length >= 0 && c.in.size() - c.head_end >= static_cast<std::size_t>(c.length)) {
    c.outcome.body = c.in.substr(c.head_end, static_cast<std::size_t>(c.length));
    c.outcome.state = State::answered;
    std::string().swap(c.in);
  }
}

void ManyClients::finish(Conn& c, State state, int error) {
  c.outcome.state = state;
  c.outcome.error = error;
  if (state == State::closed && c.fd >= 0) {
    ::close(c.fd);
    c.fd = -1;
    c.peer_closed = true;
  }
}

std::size_t ManyClients::wait_all_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::vector<pollfd> fds;
    std::vector<Conn*> which;
    for (Conn& c : conns_) {
      if (c.peer_closed || c.fd < 0) continue;
      fds.push_back(pollfd{c.fd, POLLIN, 0});
      which.push_back(&c);
    }
    if (fds.empty()) break;
    if (::poll(fds.data(), fds.size(), kPollSliceMs) <= 0) continue;
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      char sink[4096];
      const ssize_t n = ::recv(fds[k].fd, sink, sizeof sink, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) which[k]->peer_closed = true;
    }
  }
  return static_cast<std::size_t>(
      std::count_if(conns_.begin(), conns_.end(), [](const Conn& c) { return c.peer_closed; }));
}

std::size_t ManyClients::count(State state) const {
  return static_cast<std::size_t>(std::count_if(
      conns_.begin(), conns_.end(), [&](const Conn& c) { return c.outcome.state == state; }));
}

std::size_t ManyClients::answered_with(int status) const {
  return static_cast<std::size_t>(std::count_if(conns_.begin(), conns_.end(), [&](const Conn& c) {
    return c.outcome.state == State::answered && c.outcome.status == status;
  }));
}

}  // namespace veer::test
