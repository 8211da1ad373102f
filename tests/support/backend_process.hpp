#pragma once

// A real backend process (`veer demo-backend`) that a test can kill (SIGKILL, as a
// crash) and start again on the same port. It answers GET with JSON naming itself
// (and an X-Backend header), JSON-RPC POSTs, and GET /health with "ok". In a sanitizer
// build its reports fail the test, as VeerProcess's do (kill() and restart() check them).

#include <cstdint>
#include <memory>
#include <string>

#include "veer_process.hpp"

namespace veer::test {

class BackendProcess {
 public:
  // Starts on a free port of 127.0.0.1.
  explicit BackendProcess(std::string name);

  bool running() const { return process_ != nullptr; }
  void kill() { process_.reset(); }
  // Starts again on the same port; false when it did not come up.
  bool restart();

  const std::string& name() const { return name_; }
  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string name_;
  std::uint16_t port_ = 0;
  std::unique_ptr<VeerProcess> process_;
};

// A port of 127.0.0.1 that nothing listens on now.
std::uint16_t free_port();

}  // namespace veer::test
