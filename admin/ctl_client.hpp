#pragma once

// The blocking HTTP/1.1 client of `veer ctl`: one request per connection (Connection:
// close), each wait bounded by a timeout, so a hung veer fails the command instead of
// hanging the operator's shell. Only what the admin API's answers need: a status line,
// a head, and a body that ends with the connection.

#include <chrono>
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

  CtlClient(conf::SocketAddress address, std::string token)
      : address_(address), token_(std::move(token)) {}

  // Sends `request` with the token and, for every method but GET and HEAD,
  // `Content-Type: application/json` (bodiless ones too: the API refuses a mutation
  // without it, 415, so that a browser cannot send one cross-site). nullopt with *why
  // when the connection or the answer failed.
  std::optional<CtlReply> call(const CtlRequest& request, std::string* why) const;

 private:
  conf::SocketAddress address_;
  std::string token_;
};

}  // namespace veer::admin
