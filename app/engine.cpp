#include "app/engine.hpp"

#include <liburing.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace veer::app {
namespace {

constexpr const char* kHandoffVariable = "VEER_ENGINE_NOTE";
// Why `auto` prefers the native io_uring engine where the kernel allows it
// (bench/RESULTS.md, "End to end": less CPU per request than epoll, keep-alive and with
// a new connection per request, and more requests per second with 2 workers).
constexpr const char* kWhyAutoPicksIoUring =
    ": the native io_uring engine costs less CPU per request than epoll (bench/RESULTS.md)";

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

namespace {

// Receives one byte through a multishot RECV with a provided buffer on a socket pair, as
// the engine does on every connection: kernels before 6.0 refuse it. Empty when it works.
std::string try_multishot_receive(io_uring& ring) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return std::string("socketpair: ") + std::strerror(errno);
  char buffers[2][256];
  constexpr unsigned kEntries = 2;
  void* ring_memory =
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  std::string why;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(ring_memory);
  reg.ring_entries = kEntries;
  reg.bgid = 7;
  if (ring_memory == MAP_FAILED) {
    why = "cannot map a buffer ring";
  } else if (const int rc = io_uring_register_buf_ring(&ring, &reg, 0); rc != 0) {
    why = std::string("provided buffer rings: ") + std::strerror(-rc);
  } else {
    auto* br = static_cast<io_uring_buf_ring*>(ring_memory);
    io_uring_buf_ring_init(br);
    for (unsigned i = 0; i < kEntries; ++i)
      io_uring_buf_ring_add(br, buffers[i], sizeof buffers[i], static_cast<unsigned short>(i),
                            io_uring_buf_ring_mask(kEntries), static_cast<int>(i));
    io_uring_buf_ring_advance(br, kEntries);
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_recv_multishot(sqe, pair[0], nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 7;
    (void)::write(pair[1], "x", 1);
    io_uring_submit(&ring);
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec wait{1, 0};
    if (io_uring_wait_cqe_timeout(&ring, &cqe, &wait) != 0) {
      why = "a multishot receive gave no completion";
    } else if (cqe->res != 1 || (cqe->flags & IORING_CQE_F_MORE) == 0) {
      why = cqe->res < 0 ? std::string("multishot receive: ") + std::strerror(-cqe->res)
                         : "multishot receive ended after one completion";
      io_uring_cqe_seen(&ring, cqe);
    } else {
      io_uring_cqe_seen(&ring, cqe);
    }
    io_uring_unregister_buf_ring(&ring, 7);
  }
  ::close(pair[0]);
  ::close(pair[1]);
  if (ring_memory != MAP_FAILED) ::munmap(ring_memory, 4096);
  return why;
}

}  // namespace

EngineProbe probe_io_uring() {
  io_uring ring{};
  constexpr unsigned kEntries = 64;
  const int rc = io_uring_queue_init(kEntries, &ring, 0);
  if (rc < 0) return EngineProbe{false, std::string("io_uring_setup: ") + std::strerror(-rc)};
  EngineProbe result{true, ""};
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    result = EngineProbe{false, "the kernel cannot list its io_uring operations (too old)"};
  } else {
    // Every operation the native engine submits (proxy/uring_*.cpp).
    const std::pair<int, const char*> needed[] = {
        {IORING_OP_ACCEPT, "ACCEPT"},   {IORING_OP_RECV, "RECV"},
        {IORING_OP_SENDMSG, "SENDMSG"}, {IORING_OP_POLL_ADD, "POLL_ADD"},
        {IORING_OP_CONNECT, "CONNECT"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    };
    for (const auto& [op, name] : needed) {
      if (!io_uring_opcode_supported(probe, op)) {
        result = EngineProbe{false, std::string("the kernel lacks io_uring operation ") + name};
        break;
      }
    }
    io_uring_free_probe(probe);
  }
  if (result.usable) {
    if (std::string why = try_multishot_receive(ring); !why.empty())
      result = EngineProbe{false, why + " (the io_uring engine needs Linux 6.0 or later)"};
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
    if (requested == conf::IoEngine::automatic) choice.note += kWhyAutoPicksIoUring;
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
