#pragma once

// The admin listener: HTTP/1.1 on its own thread and io_context (Boost.Beast lives in
// the .cpp only). Each request is handed to `dispatch`, which answers through the
// callback it is given, from any thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "admin/api.hpp"
#include "conf/address.hpp"

namespace veer::admin {

class HttpServer {
 public:
  using Respond = std::function<void(AdminReply)>;
  using Dispatch = std::function<void(AdminRequest, Respond)>;

  explicit HttpServer(Dispatch dispatch);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `address` now, so a taken port fails the start. False with *why.
  bool bind(const conf::HostPort& address, std::string* why);
  std::string local_address() const;
  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace veer::admin
