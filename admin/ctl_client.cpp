#include "admin/ctl_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace veer::admin {
namespace {

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events`; false with errno set (ETIMEDOUT after the timeout).
bool wait(int fd, short events) {
  pollfd p{fd, events, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(CtlClient::kWaitTimeout.count()));
  if (ready == 0) errno = ETIMEDOUT;
  return ready > 0;
}

int socket_error(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  return error;
}

std::nullopt_t fail(std::string* why, const std::string& what, int error) {
  *why = what + std::strerror(error);
  return std::nullopt;
}

std::string request_bytes(const CtlRequest& request, const std::string& token) {
  std::string bytes = request.method + " " + request.target + " HTTP/1.1\r\nHost: veer\r\n";
  if (!token.empty()) bytes += "Authorization: Bearer " + token + "\r\n";
  if (request.method != "GET" && request.method != "HEAD")
    bytes += "Content-Type: application/json\r\n";
  bytes += "Content-Length: " + std::to_string(request.body.size()) +
           "\r\nConnection: close\r\n\r\n" + request.body;
  return bytes;
}

bool send_all(int fd, const std::string& bytes) {
  for (std::size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EAGAIN && wait(fd, POLLOUT)) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

// Until the server closes (the request asked it to).
bool receive_all(int fd, std::string& response) {
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      response.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return true;
    } else if (errno != EAGAIN || !wait(fd, POLLIN)) {
      return false;
    }
  }
}

std::optional<CtlReply> parse(const std::string& response, std::string* why) {
  const std::size_t head_end = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.1 ") || head_end == std::string::npos) {
    *why = "not an HTTP response";
    return std::nullopt;
  }
  return CtlReply{std::atoi(response.c_str() + 9), response.substr(head_end + 4)};
}

}  // namespace

std::optional<CtlReply> CtlClient::call(const CtlRequest& request, std::string* why) const {
  const Socket socket(::socket(address_.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (socket.fd() < 0) return fail(why, "socket: ", errno);
  if (::connect(socket.fd(), address_.data(), address_.length) != 0) {
    const int error = errno != EINPROGRESS          ? errno
                      : !wait(socket.fd(), POLLOUT) ? errno
                                                    : socket_error(socket.fd());
    if (error != 0) return fail(why, "cannot connect to " + address_.to_string() + ": ", error);
  }
  if (!send_all(socket.fd(), request_bytes(request, token_))) return fail(why, "send: ", errno);
  std::string response;
  if (!receive_all(socket.fd(), response)) return fail(why, "receive: ", errno);
  return parse(response, why);
}

}  // namespace veer::admin
