#include "nginx_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "poll.hpp"
#include "veer_process.hpp"

namespace veer::test {
namespace {

bool accepts_connection(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const bool connected =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

}  // namespace

bool NginxProcess::available() {
  return ::access(kBinary, X_OK) == 0;
}

NginxProcess::NginxProcess(const std::string& config) {
  dir_ = make_temp_dir();
  const std::string config_path = write_file(dir_, "nginx.conf", config);
  const std::string log_path = dir_ + "/stderr.log";
  // Debian's build writes its pid to /run/nginx.pid: each test nginx keeps its own.
  std::vector<std::string> args{kBinary,     "-p",     dir_ + "/",
                                "-e",        "stderr", "-c",
                                config_path, "-g",     "daemon off; pid " + dir_ + "/nginx.pid;"};
  std::vector<char*> argv;
  for (std::string& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    // Its own process group: the workers can be killed with the master.
    ::setpgid(0, 0);
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(log, STDERR_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDIN_FILENO);
    ::close_range(3, ~0U, 0);
    ::execv(kBinary, argv.data());
    ::_exit(127);
  }
  if (pid_ > 0) ::setpgid(pid_, pid_);  // also from here: whichever runs first
}

NginxProcess::~NginxProcess() {
  if (pid_ > 0 && !reap()) {
    ::kill(pid_, SIGQUIT);  // graceful: the workers finish and exit, then the master
    if (!poll_until([&] { return reap().has_value(); }, 5s)) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  // Workers left behind by a master that exited on its own.
  if (pid_ > 0) ::kill(-pid_, SIGKILL);
  std::filesystem::remove_all(dir_);
}

std::optional<int> NginxProcess::reap() {
  if (exit_status_ || pid_ <= 0) return exit_status_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return exit_status_;
}

bool NginxProcess::running() {
  return pid_ > 0 && !reap();
}

bool NginxProcess::wait_listening(std::uint16_t port, std::chrono::milliseconds timeout) {
  bool up = false;
  poll_until([&] { return !running() || (up = accepts_connection(port)); }, timeout);
  return up;
}

std::string NginxProcess::log_text() const {
  std::ostringstream text;
  text << std::ifstream(dir_ + "/stderr.log").rdbuf();
  return text.str();
}

}  // namespace veer::test
