// veer's entry point: parses arguments and wires the modules together. Nothing else.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "admin/ctl.hpp"
#include "conf/load.hpp"
#include "proxy/engine.hpp"
#include "proxy/log.hpp"
#include "proxy/server.hpp"

#ifndef VEER_ENGINE_NAME
#error "VEER_ENGINE_NAME must name the engine this binary is compiled for"
#endif
#ifndef VEER_VERSION
#define VEER_VERSION "0.0.0"
#endif

namespace veer {
int run_demo_backend(int argc, char** argv);
}

namespace {

constexpr const char* kUsage = R"(usage:
  veer FILE | veer run FILE    start with the configuration in FILE
  veer check FILE              validate FILE; print every error as FILE:LINE:COLUMN: message
  veer ctl COMMAND ...         steer a running veer through its admin API (veer ctl --help)
  veer demo-backend --listen HOST:PORT [--name NAME]
                               a small HTTP, JSON-RPC and WebSocket backend for trying veer
  veer --version               version and the I/O engines built in
Signals: SIGHUP reloads FILE, SIGTERM or SIGINT drains and exits.
Environment: VEER_LOG=debug for debug logging.
)";

void print_diagnostics(const veer::conf::LoadResult& result) {
  for (const auto& w : result.warnings)
    std::cerr << w.to_string() << " (warning)\n";
  for (const auto& e : result.errors)
    std::cerr << e.to_string() << "\n";
}

int check(const std::string& path) {
  const veer::conf::LoadResult result = veer::conf::load_config_file(path);
  print_diagnostics(result);
  if (!result.ok()) {
    std::cerr << path << ": " << result.errors.size() << " error"
              << (result.errors.size() == 1 ? "" : "s") << "\n";
    return 1;
  }
  std::cout << path << ": configuration is valid\n";
  return 0;
}

int run(const std::string& path, char** argv) {
  veer::conf::LoadResult result = veer::conf::load_config_file(path);
  print_diagnostics(result);
  if (!result.ok()) return 1;
  std::string note = veer::proxy::take_engine_note();
  if (note.empty()) {
    const veer::proxy::EngineChoice choice =
        veer::proxy::choose_engine(result.config->server.io_engine, VEER_ENGINE_NAME);
    if (!choice.error.empty()) {
      veer::log::error(choice.error);
      return 1;
    }
    if (!choice.run_here) {
      veer::log::error(veer::proxy::exec_engine(choice, argv));
      return 1;
    }
    note = choice.note;
  }
  return veer::proxy::run_server(path, std::move(*result.config), note);
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* level = std::getenv("VEER_LOG");
      level != nullptr && std::strcmp(level, "debug") == 0) {
    veer::log::set_min_level(veer::log::Level::debug);
  }
  const std::string_view command = argc > 1 ? argv[1] : "";
  if (command == "--version" || command == "-V" || command == "version") {
    std::cout << "veer " << VEER_VERSION
              << "\nengines: " << veer::proxy::engines_built_in(VEER_ENGINE_NAME)
              << "\nthis binary: " << VEER_ENGINE_NAME << "\n";
    return 0;
  }
  if (command == "check" && argc == 3) return check(argv[2]);
  if (command == "run" && argc == 3) return run(argv[2], argv);
  if (command == "ctl") return veer::admin::run_ctl(argc - 1, argv + 1);
  if (command == "demo-backend") return veer::run_demo_backend(argc - 1, argv + 1);
  if (argc == 2 && !command.empty() && command.front() != '-' && command != "help") {
    return run(argv[1], argv);
  }
  std::cerr << kUsage;
  return command == "--help" || command == "-h" || command == "help" ? 0 : 2;
}
