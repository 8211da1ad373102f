#pragma once

// Runs the real veer binary as a child process for integration tests: writes the
// config to a temporary file, captures stderr line by line, and lets a test wait for
// a log line (with a deadline) instead of sleeping.
//
// Sanitizer builds (scripts/test --sanitize): each child logs ASan/UBSan reports to
// <its temporary dir>/san.<pid> (ASAN_OPTIONS/UBSAN_OPTIONS gain log_path, the caller's
// other options kept), and wait_exit or the destructor fails the current test with the
// report's text when one exists, or when its stderr holds one: gcc's libubsan ignores
// log_path when libasan is linked too (both export __sanitizer_set_report_path and
// libasan's wins), so UBSan reports arrive there. A normal build never writes one.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace veer::test {

using namespace std::chrono_literals;

struct VeerOptions {
  std::string binary;           // default: build/veer
  bool block_io_uring = false;  // seccomp filter refusing io_uring_setup, as Docker does
  std::vector<std::string> extra_env;
  // When above 0: the child's soft and hard RLIMIT_NOFILE, set before exec (veer raises
  // its soft limit to the hard one, so this is the most it can open).
  unsigned open_file_limit = 0;
  // A subcommand and its arguments instead of the config file ("demo-backend", ...);
  // its stdout is captured with stderr.
  std::vector<std::string> command;
  // A test of `auto` itself: VEER_TEST_ENGINE (which runs the suite on one engine) does
  // not apply to it.
  bool engine_as_written = false;
};

class VeerProcess {
 public:
  explicit VeerProcess(const std::string& config_toml, VeerOptions options = {});
  ~VeerProcess();
  VeerProcess(const VeerProcess&) = delete;
  VeerProcess& operator=(const VeerProcess&) = delete;

  // Waits for "veer ready" (or exit). False on timeout or early exit.
  bool wait_ready(std::chrono::milliseconds timeout = 10s);
  // The port a listener bound (from its "listener NAME on HOST:PORT" log line).
  std::uint16_t port(const std::string& listener = "public") const;

  // Waits for a log line containing `fragment`, among lines from index `from` on.
  bool wait_for_log(const std::string& fragment, std::chrono::milliseconds timeout,
                    std::size_t from = 0);
  // Waits for a log line that `matches`, among lines from index `from` on.
  bool wait_for_line(const std::function<bool(const std::string&)>& matches,
                     std::chrono::milliseconds timeout, std::size_t from = 0);
  std::size_t log_size() const;
  std::string log_text() const;

  void signal(int signo) const;
  // The exit status once the process has exited, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }
  // VmRSS and VmHWM (peak) of the process, in KiB, from /proc.
  long rss_kib() const;
  long peak_rss_kib() const;

  const std::string& config_path() const { return config_path_; }
  void rewrite_config(const std::string& config_toml) const;

 private:
  void read_stderr(int fd);
  long status_field(const char* name) const;
  // ADD_FAILURE with each sanitizer report the child wrote (once; after it is reaped).
  void check_sanitizer_reports();

  std::string binary_;
  bool engine_as_written_ = false;
  std::string dir_;
  std::string config_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  std::map<std::string, std::uint16_t> ports_;
  bool stderr_closed_ = false;
  bool sanitizer_checked_ = false;
};

// Where the built binaries are (set by CMake).
std::string veer_binary();
std::string veer_io_uring_binary();

// A fresh temporary directory for one test.
std::string make_temp_dir();
std::string write_file(const std::string& dir, const std::string& name, const std::string& text);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
// Runs a shell command to its end (the commands tests run are bounded themselves).
// Sanitizer reports of the processes it starts fail the current test, as above.
CommandResult run_command(const std::string& command);

// "NAME=<caller's NAME options>:log_path=PREFIX", for ASAN_OPTIONS and UBSAN_OPTIONS.
std::string sanitizer_env(const char* name, const std::string& log_prefix);
// The text of every sanitizer report PREFIX.* in `dir`, with its file name; "" if none.
std::string sanitizer_reports(const std::string& dir, const std::string& prefix = "san");
// Where the first sanitizer report starts in a process's output lines (UBSan's "runtime
// error:", an ASan or LSan "ERROR:"); lines.size() if none.
std::size_t sanitizer_report_start(const std::vector<std::string>& lines);
// That report and the lines after it (its stack); "" if none.
std::string sanitizer_lines(const std::vector<std::string>& lines);

// True in a sanitizer build: ASan makes veer two to four times slower and its memory
// larger (shadow, quarantine), so a test that bounds time or memory can scale with it.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
inline constexpr bool kSanitizerBuild = __has_feature(address_sanitizer);
#else
inline constexpr bool kSanitizerBuild = false;
#endif

}  // namespace veer::test
