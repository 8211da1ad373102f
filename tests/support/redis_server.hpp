#pragma once

// A real redis-server for the cluster tests, on a free port of 127.0.0.1 with a temporary
// directory and no persistence, that a test can kill (SIGKILL, as a crash), pause
// (SIGSTOP: a Redis that stops answering) and start again on the same port.
// Tests skip, saying why, when the binary is absent (scripts/setup installs it).

#include <cstdint>
#include <memory>
#include <string>

#include "veer_process.hpp"

namespace veer::test {

class RedisServer {
 public:
  // The redis-server binary on PATH (or /usr/bin, /usr/sbin), "" when none.
  static std::string binary();

  RedisServer();
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts (again) on the same port; false when it did not answer PING within 10 s.
  bool start();
  void kill();
  void pause() const;
  void resume() const;
  bool running() const { return process_ != nullptr; }

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::uint16_t port_;
  std::string dir_;
  std::unique_ptr<VeerProcess> process_;
};

// Sends one command in the inline protocol ("PING", "SCRIPT FLUSH") over a new
// connection and returns the first line of the reply ("" when no answer within 2 s).
std::string redis_command(std::uint16_t port, const std::string& command);

}  // namespace veer::test

// In a TEST body: skips with the reason when redis-server is not installed.
#define VEER_REQUIRE_REDIS()                                                        \
  do {                                                                              \
    if (::veer::test::RedisServer::binary().empty()) {                              \
      GTEST_SKIP() << "redis-server not found: install it (scripts/setup installs " \
                      "redis-server) to run the cluster tests";                     \
    }                                                                               \
  } while (0)
