// The io_uring binary does not carry the demo backend (it would compile Beast twice):
// it hands the subcommand to its epoll sibling.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace veer {

int run_demo_backend(int argc, char** argv) {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  std::string exe = n > 0 ? std::string(path, static_cast<std::size_t>(n)) : "veer";
  const std::string sibling = exe.substr(0, exe.rfind('/') + 1) + "veer";
  std::vector<char*> args;
  std::string zero = sibling;
  std::string command = "demo-backend";
  args.push_back(zero.data());
  args.push_back(command.data());
  for (int i = 1; i < argc; ++i)
    args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(sibling.c_str(), args.data());
  std::cerr << "cannot run " << sibling << ": " << std::strerror(errno) << "\n";
  return 1;
}

}  // namespace veer
