#pragma once

// Choosing the I/O engine at start. The data plane's sockets are compiled for one engine,
// so veer ships two builds of the same sources: `veer` (Asio's epoll reactor) and
// `veer-io_uring` (veer's native io_uring engine), side by side. The binary that starts probes the
// kernel and, when the other engine should run, replaces itself with its sibling (execv, same
// arguments). A note travels in the environment so the final process logs why it runs where it
// runs. See docs/ARCHITECTURE.md, "I/O engines".

#include <functional>
#include <string>
#include <string_view>

#include "conf/config.hpp"

namespace veer::app {

struct EngineProbe {
  bool usable = false;
  std::string reason;  // why not, when not usable
};

// Sets up and tears down a small ring, checks every opcode the native engine submits and
// runs one multishot receive into a provided buffer (Linux 6.0+). Refusals by seccomp (container
// runtimes) or io_uring_disabled show up here.
EngineProbe probe_io_uring();

struct EngineChoice {
  bool run_here = false;
  std::string exec_path;  // when not run_here and no error: the sibling to exec
  std::string note;       // what to log about the choice
  std::string error;      // the requested engine cannot run at all
};

// What the choice looks at besides the request: where the two binaries are installed and
// what the kernel says of io_uring. Tests give their own; a running veer gives this_host().
struct EngineHost {
  std::string directory;               // holds veer and veer-io_uring
  std::function<EngineProbe()> probe;  // called only when io_uring is in question
};

// This executable's directory and probe_io_uring.
EngineHost this_host();

// `compiled` is "epoll" or "io_uring" (the engine of the calling binary).
EngineChoice choose_engine(conf::IoEngine requested, std::string_view compiled,
                           const EngineHost& host = this_host());

// Replaces the process with choice.exec_path, passing the note along. Returns only on
// failure, with the reason.
std::string exec_engine(const EngineChoice& choice, char** argv);

// The note a parent process passed along, if any (consumed: read once).
std::string take_engine_note();

// "epoll, io_uring" or "epoll (io_uring binary not installed)": for `veer --version`.
std::string engines_built_in(std::string_view compiled,
                             const std::string& directory = this_host().directory);

}  // namespace veer::app
