#include "app/engine.hpp"

#include <liburing.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace veer::app {
namespace {

constexpr const char* kHandoffVariable = "VEER_ENGINE_NOTE";

std::string self_directory() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  const std::string exe(path, static_cast<std::size_t>(n));
  const auto slash = exe.rfind('/');
  return slash == std::string::npos ? "." : exe.substr(0, slash);
}

std::string sibling_path(const std::string& directory, std::string_view engine) {
  return directory + (engine == "io_uring" ? "/veer-io_uring" : "/veer");
}

bool executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

EngineProbe probe_io_uring() {
  io_uring ring{};
  // As large as the rings Asio creates (io_uring_service's ring_size), so that a kernel or
  // a locked-memory limit that refuses those refuses the probe too.
  constexpr unsigned kAsioRingEntries = 16384;
  const int rc = io_uring_queue_init(kAsioRingEntries, &ring, 0);
  if (rc < 0) return EngineProbe{false, std::string("io_uring_setup: ") + std::strerror(-rc)};
  EngineProbe result{true, ""};
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    result = EngineProbe{false, "the kernel cannot list its io_uring operations (too old)"};
  } else {
    // Every operation Asio's io_uring backend submits (boost/asio/detail/io_uring_*).
    const std::pair<int, const char*> needed[] = {
        {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
        {IORING_OP_TIMEOUT, "TIMEOUT"},   {IORING_OP_TIMEOUT_REMOVE, "TIMEOUT_REMOVE"},
        {IORING_OP_ACCEPT, "ACCEPT"},     {IORING_OP_CONNECT, "CONNECT"},
        {IORING_OP_RECVMSG, "RECVMSG"},   {IORING_OP_SENDMSG, "SENDMSG"},
        {IORING_OP_READV, "READV"},       {IORING_OP_WRITEV, "WRITEV"},
        {IORING_OP_NOP, "NOP"},
    };
    for (const auto& [op, name] : needed) {
      if (!io_uring_opcode_supported(probe, op)) {
        result = EngineProbe{false, std::string("the kernel lacks io_uring operation ") + name};
        break;
      }
    }
    io_uring_free_probe(probe);
  }
  io_uring_queue_exit(&ring);
  return result;
}

EngineHost this_host() {
  return EngineHost{self_directory(), probe_io_uring};
}

EngineChoice choose_engine(conf::IoEngine requested, std::string_view compiled,
                           const EngineHost& host) {
  EngineChoice choice;
  const std::string_view wanted = requested == conf::IoEngine::epoll ? "epoll" : "io_uring";
  if (wanted == "epoll") {
    if (compiled == "epoll") {
      choice.run_here = true;
      choice.note = "io engine: epoll (server.io_engine = \"epoll\")";
    } else {
      choice.exec_path = sibling_path(host.directory, "epoll");
      choice.note = "io engine: epoll (server.io_engine = \"epoll\")";
    }
    return choice;
  }
  const EngineProbe probe = host.probe();
  if (probe.usable) {
    choice.note = std::string("io engine: io_uring (server.io_engine = \"") +
                  conf::to_string(requested) + "\")";
    if (compiled == "io_uring") {
      choice.run_here = true;
    } else if (executable(sibling_path(host.directory, "io_uring"))) {
      choice.exec_path = sibling_path(host.directory, "io_uring");
    } else if (requested == conf::IoEngine::io_uring) {
      choice.error = "server.io_engine = \"io_uring\" but " +
                     sibling_path(host.directory, "io_uring") + " is not installed";
    } else {
      choice.run_here = compiled == "epoll";
      choice.note = "io engine: epoll (io_uring is available but " +
                    sibling_path(host.directory, "io_uring") + " is not installed)";
    }
    return choice;
  }
  if (requested == conf::IoEngine::io_uring) {
    choice.error = "server.io_engine = \"io_uring\" but the kernel refused it (" + probe.reason +
                   "); use \"auto\" to fall back to epoll";
    return choice;
  }
  choice.note = "io engine: epoll (io_uring refused by the kernel: " + probe.reason + ")";
  if (compiled == "epoll") {
    choice.run_here = true;
  } else {
    choice.exec_path = sibling_path(host.directory, "epoll");
  }
  return choice;
}

std::string exec_engine(const EngineChoice& choice, char** argv) {
  ::setenv(kHandoffVariable, choice.note.c_str(), 1);
  ::execv(choice.exec_path.c_str(), argv);
  return "cannot start " + choice.exec_path + ": " + std::strerror(errno);
}

std::string take_engine_note() {
  const char* note = std::getenv(kHandoffVariable);
  std::string result = note != nullptr ? note : "";
  ::unsetenv(kHandoffVariable);
  return result;
}

std::string engines_built_in(std::string_view compiled, const std::string& directory) {
  const std::string other = compiled == "epoll" ? "io_uring" : "epoll";
  const bool sibling = executable(sibling_path(directory, other));
  std::string list = "epoll, io_uring";
  if (!sibling)
    list += " (" + sibling_path(directory, other) + " missing: only " + std::string(compiled) +
            " usable)";
  return list;
}

}  // namespace veer::app
