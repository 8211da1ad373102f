#pragma once

// The blocking HTTP/1.1 client of `veer ctl`: one request per connection (Connection:
// close), each wait bounded by a timeout, so a hung veer fails the command instead of
// hanging the operator's shell. Beast writes the request and reads the answer, whatever
// its framing (Content-Length, chunked, or until the server closes); the client returns
// as soon as the answer is complete, without waiting for the close.
//
// Compiled into each engine binary (not veer_admin): it uses Asio, whose types differ
// between the epoll and io_uring builds (CMakeLists.txt).

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "conf/address.hpp"

namespace veer::admin {

struct CtlReply {
  int status = 0;
  std::string body;
};

struct CtlRequest {
  std::string method;
  std::string target;
  std::string body;
};

class CtlClient {
 public:
  // 10 s: far above any admin call (a reload validates and swaps a file in milliseconds),
  // short enough that a script waiting on a hung veer learns of it.
  static constexpr std::chrono::milliseconds kWaitTimeout{10'000};
  // 64 MiB: far above the largest answer (/metrics of a big configuration is a few MiB),
  // so that a wrong peer streaming without end cannot fill the operator's memory.
  static constexpr std::size_t kMaxBody = std::size_t{64} << 20;

  // `wait_timeout` bounds each phase of a call: connecting, sending the request, and
  // receiving the whole answer. Tests pass a short one.
  CtlClient(conf::SocketAddress address, std::string token,
            std::chrono::milliseconds wait_timeout = kWaitTimeout)
      : address_(address), token_(std::move(token)), wait_timeout_(wait_timeout) {}

  // Sends `request` with the token and, for every method but GET and HEAD,
  // `Content-Type: application/json` (bodiless ones too: the API refuses a mutation
  // without it, 415, so that a browser cannot send one cross-site). nullopt with *why
  // when the connection or the answer failed. Throws nothing.
  std::optional<CtlReply> call(const CtlRequest& request, std::string* why) const;

 private:
  conf::SocketAddress address_;
  std::string token_;
  std::chrono::milliseconds wait_timeout_;
};

}  // namespace veer::admin
