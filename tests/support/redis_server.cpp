#include "redis_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "backend_process.hpp"
#include "poll.hpp"

namespace veer::test {

std::string RedisServer::binary() {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream parts(path);
    for (std::string dir; std::getline(parts, dir, ':');)
      dirs.push_back(dir);
  }
  dirs.insert(dirs.end(), {"/usr/bin", "/usr/sbin"});
  for (const std::string& dir : dirs) {
    const std::string candidate = dir + "/redis-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

RedisServer::RedisServer() : port_(free_port()), dir_(make_temp_dir()) {}

RedisServer::~RedisServer() {
  if (process_) resume();  // a paused server dies of SIGKILL too, but say it plainly
  process_.reset();
  std::filesystem::remove_all(dir_);
}

bool RedisServer::start() {
  process_.reset();
  // No persistence (nothing written but the log), no protected mode surprises, loopback.
  process_ = std::make_unique<VeerProcess>(
      "", VeerOptions{.binary = binary(),
                      .command = {"--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir",
                                  dir_, "--save", "", "--appendonly", "no", "--daemonize", "no",
                                  "--loglevel", "warning"}});
  return poll_until([&] { return redis_command(port_, "PING") == "+PONG"; },
                    std::chrono::milliseconds(10'000));
}

void RedisServer::kill() {
  process_.reset();
}

void RedisServer::pause() const {
  if (process_) ::kill(process_->pid(), SIGSTOP);
}

void RedisServer::resume() const {
  if (process_) ::kill(process_->pid(), SIGCONT);
}

std::string redis_command(std::uint16_t port, const std::string& command) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string line;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string text = command + "\r\n";
    if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size())) {
      pollfd p{fd, POLLIN, 0};
      char buffer[512];
      while (line.find("\r\n") == std::string::npos && ::poll(&p, 1, 2000) == 1) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        line.append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  const std::size_t end = line.find("\r\n");
  return end == std::string::npos ? "" : line.substr(0, end);
}

}  // namespace veer::test
