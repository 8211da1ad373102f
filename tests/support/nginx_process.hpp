#pragma once

// Runs the real nginx (Debian's /usr/sbin/nginx) as a child process for integration
// tests that compare veer with it: `nginx -p DIR -e stderr -c DIR/nginx.conf -g
// 'daemon off; pid DIR/nginx.pid;'` in its own process group, stderr to DIR/stderr.log.
// The destructor stops it gracefully (SIGQUIT) and kills the group after a bound.
// Tests skip with VEER_SKIP_WITHOUT_NGINX() where nginx is not installed.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace veer::test {

using namespace std::chrono_literals;

class NginxProcess {
 public:
  static constexpr const char* kBinary = "/usr/sbin/nginx";
  static bool available();

  // Writes `config` (a complete nginx.conf) into a fresh temporary prefix and starts nginx.
  explicit NginxProcess(const std::string& config);
  ~NginxProcess();
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  // Waits until 127.0.0.1:port accepts a connection; false on timeout or when nginx
  // exited (a config it refused: see log_text()).
  bool wait_listening(std::uint16_t port, std::chrono::milliseconds timeout = 10s);
  // True while the master process runs.
  bool running();
  // What nginx wrote to stderr so far (its error log).
  std::string log_text() const;
  const std::string& dir() const { return dir_; }

 private:
  // Reaps the master if it exited; its status, or nullopt while it runs.
  std::optional<int> reap();

  std::string dir_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

}  // namespace veer::test

// In a TEST body: skips it, with the reason, where nginx is not installed.
#define VEER_SKIP_WITHOUT_NGINX()                                                 \
  do {                                                                            \
    if (!::veer::test::NginxProcess::available())                                 \
      GTEST_SKIP() << ::veer::test::NginxProcess::kBinary                         \
                   << " is not installed (apt-get install nginx-light or nginx)"; \
  } while (false)
