#include "veer_process.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string_view>

namespace veer::test {
namespace {

// Refuses io_uring_setup with EPERM, as Docker's default seccomp profile does.
void install_io_uring_block() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program);
}

// VEER_TEST_ENGINE=epoll (or io_uring) runs every veer whose test leaves the engine to
// `auto` on that engine: the whole suite on one engine. A test that names one keeps it.
std::string with_test_engine(std::string toml) {
  const char* engine = std::getenv("VEER_TEST_ENGINE");
  if (engine == nullptr || *engine == '\0') return toml;
  const std::string wanted = std::string("io_engine = \"") + engine + "\"";
  static constexpr std::string_view kAuto = "io_engine = \"auto\"";
  if (const auto at = toml.find(kAuto); at != std::string::npos)
    return toml.replace(at, kAuto.size(), wanted);
  if (toml.find("io_engine") != std::string::npos) return toml;  // the test named one
  static constexpr std::string_view kServer = "[server]\n";
  if (const auto at = toml.find(kServer); at != std::string::npos)
    return toml.insert(at + kServer.size(), wanted + "\n");
  if (toml.find("[server") != std::string::npos) return toml;  // a broken table: left as it is
  return std::string(kServer) + wanted + "\n" + toml;
}

}  // namespace

std::string veer_binary() {
  return VEER_TEST_BINARY_DIR "/veer";
}
std::string veer_io_uring_binary() {
  return VEER_TEST_BINARY_DIR "/veer-io_uring";
}

std::string make_temp_dir() {
  std::string pattern = "/tmp/veer-test-XXXXXX";
  const char* made = ::mkdtemp(pattern.data());
  return made != nullptr ? std::string(made) : std::string("/tmp");
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string sanitizer_env(const char* name, const std::string& log_prefix) {
  const char* caller = std::getenv(name);
  std::string value = caller != nullptr && *caller != '\0' ? std::string(caller) + ":" : "";
  // Last, so that it wins over a log_path the caller set.
  return std::string(name) + "=" + value + "log_path=" + log_prefix;
}

std::string sanitizer_reports(const std::string& dir, const std::string& prefix) {
  namespace fs = std::filesystem;
  std::string reports;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (entry.path().filename().string().rfind(prefix + ".", 0) != 0) continue;
    std::ostringstream text;
    text << std::ifstream(entry.path()).rdbuf();
    reports += "--- " + entry.path().string() + "\n" + text.str();
  }
  return reports;
}

std::size_t sanitizer_report_start(const std::vector<std::string>& lines) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.find(": runtime error: ") != std::string::npos ||
        line.find("ERROR: AddressSanitizer") != std::string::npos ||
        line.find("ERROR: LeakSanitizer") != std::string::npos)
      return i;
  }
  return lines.size();
}

std::string sanitizer_lines(const std::vector<std::string>& lines) {
  static constexpr std::size_t kReportLines = 60;  // a report with its stack trace
  const std::size_t start = sanitizer_report_start(lines);
  std::string report;
  for (std::size_t i = start; i < lines.size() && i < start + kReportLines; ++i)
    report += lines[i] + "\n";
  return report;
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  const std::string dir = make_temp_dir();
  // export, so that every process of a pipeline or list logs there too.
  const std::string prefix = "export '" + sanitizer_env("ASAN_OPTIONS", dir + "/san") + "' '" +
                             sanitizer_env("UBSAN_OPTIONS", dir + "/san") + "'; ";
  FILE* pipe = ::popen((prefix + "{ " + command + "; } 2>&1").c_str(), "r");
  if (pipe != nullptr) {
    char chunk[4096];
    std::size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0)
      result.output.append(chunk, n);
    const int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::vector<std::string> lines;
  std::istringstream output(result.output);
  for (std::string line; std::getline(output, line);)
    lines.push_back(line);
  const std::string reports = sanitizer_reports(dir) + sanitizer_lines(lines);
  if (!reports.empty()) ADD_FAILURE() << "sanitizer report from `" << command << "`:\n" << reports;
  std::filesystem::remove_all(dir);
  return result;
}

VeerProcess::VeerProcess(const std::string& config_toml, VeerOptions options) {
  dir_ = make_temp_dir();
  config_path_ = dir_ + "/veer.toml";
  engine_as_written_ = options.engine_as_written;
  rewrite_config(config_toml);
  binary_ = options.binary.empty() ? veer_binary() : options.binary;
  const std::string& binary = binary_;
  // Prepared before fork: the child only calls putenv. extra_env comes after, and so wins.
  std::string asan_env = sanitizer_env("ASAN_OPTIONS", dir_ + "/san");
  std::string ubsan_env = sanitizer_env("UBSAN_OPTIONS", dir_ + "/san");
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return;
  std::vector<std::string> args{binary};
  if (options.command.empty()) {
    args.push_back(config_path_);
  } else {
    args.insert(args.end(), options.command.begin(), options.command.end());
  }
  std::vector<char*> argv;
  for (std::string& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(options.command.empty() ? devnull : pipe_fds[1], STDOUT_FILENO);
    ::dup2(devnull, STDIN_FILENO);
    // Nothing of the test process (its backends' sockets) may leak into veer.
    ::close_range(3, ~0U, 0);
    ::putenv(asan_env.data());
    ::putenv(ubsan_env.data());
    for (const std::string& kv : options.extra_env)
      ::putenv(const_cast<char*>(kv.c_str()));
    if (options.block_io_uring) install_io_uring_block();
    if (options.open_file_limit > 0) {
      const rlimit limit{options.open_file_limit, options.open_file_limit};
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  reader_ = std::thread([this, fd = pipe_fds[0]] { read_stderr(fd); });
}

VeerProcess::~VeerProcess() {
  if (pid_ > 0 && !exit_status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (reader_.joinable()) reader_.join();
  check_sanitizer_reports();
  std::system(("rm -rf " + dir_).c_str());
}

void VeerProcess::check_sanitizer_reports() {
  if (sanitizer_checked_) return;
  sanitizer_checked_ = true;
  std::string reports = sanitizer_reports(dir_);
  std::string tail;
  {
    std::lock_guard lock(mutex_);
    reports += sanitizer_lines(lines_);
    if (reports.empty()) return;
    // The log lines just before the report tell which request or step caused it.
    const std::size_t end = sanitizer_report_start(lines_);
    const std::size_t first = end > 20 ? end - 20 : 0;
    for (std::size_t i = first; i < end; ++i)
      tail += lines_[i] + "\n";
  }
  ADD_FAILURE() << "sanitizer report from " << binary_ << " (pid " << pid_ << "):\n"
                << reports << "--- its log lines before the report:\n"
                << tail;
}

void VeerProcess::read_stderr(int fd) {
  static const std::regex listener_line(R"(listener (\S+) on \S*:(\d+)$)");
  std::string pending;
  char chunk[4096];
  while (true) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    pending.append(chunk, static_cast<std::size_t>(n));
    std::size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      std::smatch match;
      std::lock_guard lock(mutex_);
      if (std::regex_search(line, match, listener_line)) {
        ports_[match[1]] = static_cast<std::uint16_t>(std::stoi(match[2]));
      }
      lines_.push_back(std::move(line));
      changed_.notify_all();
    }
  }
  ::close(fd);
  std::lock_guard lock(mutex_);
  stderr_closed_ = true;
  changed_.notify_all();
}

bool VeerProcess::wait_ready(std::chrono::milliseconds timeout) {
  return wait_for_log("veer ready", timeout);
}

std::uint16_t VeerProcess::port(const std::string& listener) const {
  std::lock_guard lock(mutex_);
  const auto it = ports_.find(listener);
  return it == ports_.end() ? 0 : it->second;
}

bool VeerProcess::wait_for_log(const std::string& fragment, std::chrono::milliseconds timeout,
                               std::size_t from) {
  return wait_for_line(
      [&](const std::string& line) { return line.find(fragment) != std::string::npos; }, timeout,
      from);
}

bool VeerProcess::wait_for_line(const std::function<bool(const std::string&)>& matches,
                                std::chrono::milliseconds timeout, std::size_t from) {
  std::unique_lock lock(mutex_);
  bool found = false;
  changed_.wait_for(lock, timeout, [&] {
    for (std::size_t i = from; i < lines_.size() && !found; ++i)
      found = matches(lines_[i]);
    return found || stderr_closed_;
  });
  return found;
}

std::size_t VeerProcess::log_size() const {
  std::lock_guard lock(mutex_);
  return lines_.size();
}

std::string VeerProcess::log_text() const {
  std::lock_guard lock(mutex_);
  std::string text;
  for (const std::string& line : lines_)
    text += line + "\n";
  return text;
}

void VeerProcess::signal(int signo) const {
  if (pid_ > 0) ::kill(pid_, signo);
}

std::optional<int> VeerProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_status_) return exit_status_;
  {
    // veer's stderr closes only when the process exits: wait for that event.
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return stderr_closed_; })) return std::nullopt;
  }
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  check_sanitizer_reports();
  return exit_status_;
}

long VeerProcess::status_field(const char* name) const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(name, 0) == 0) return std::strtol(line.c_str() + std::strlen(name), nullptr, 10);
  }
  return -1;
}

long VeerProcess::rss_kib() const {
  return status_field("VmRSS:");
}
long VeerProcess::peak_rss_kib() const {
  return status_field("VmHWM:");
}

void VeerProcess::rewrite_config(const std::string& config_toml) const {
  // Write then rename, so veer never reads a half-written file.
  const std::string tmp = config_path_ + ".tmp";
  std::ofstream(tmp) << (engine_as_written_ ? config_toml : with_test_engine(config_toml));
  std::rename(tmp.c_str(), config_path_.c_str());
}

}  // namespace veer::test
