// veer's entry point: parses arguments and wires the modules together. Nothing else.
#include <array>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "admin/ctl.hpp"
#include "admin/export_command.hpp"
#include "admin/state_file.hpp"
#include "admin/tls_check.hpp"
#include "app/engine.hpp"
#include "app/server.hpp"
#include "conf/load.hpp"
#include "core/log.hpp"

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

// Exit status of a command line that names no valid command (as getopt tools do).
constexpr int kUsageError = 2;

void print_diagnostics(const std::vector<veer::conf::ConfigError>& errors,
                       const std::vector<veer::conf::ConfigError>& warnings) {
  for (const auto& w : warnings)
    std::cerr << w.to_string() << " (warning)\n";
  for (const auto& e : errors)
    std::cerr << e.to_string() << "\n";
}

void print_diagnostics(const veer::conf::LoadResult& result) {
  print_diagnostics(result.errors, result.warnings);
}

void print_error_count(const std::string& path, std::size_t errors) {
  std::cerr << path << ": " << errors << " error" << (errors == 1 ? "" : "s") << "\n";
}

// The state file `config` names, by the rule a start applies: each change it would drop
// is a warning; a state file that cannot be read is an error.
bool check_state_file(const std::string& path, const veer::conf::Config& config) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::vector<std::string> dropped;
  std::string error;
  const std::string& state_file = config.server.state_file;
  if (!veer::admin::check_state_file(text.str(), config, &dropped, &error)) {
    std::cerr << error << "\n";  // it names the file
    return false;
  }
  for (const std::string& line : dropped)
    std::cerr << state_file << ": runtime change " << line << " at start (warning)\n";
  return true;
}

int check(const std::string& path) {
  const veer::conf::LoadResult result = veer::conf::load_config_file(path);
  print_diagnostics(result);
  if (!result.ok()) {
    print_error_count(path, result.errors.size());
    return 1;
  }
  const bool state_ok = check_state_file(path, *result.config);
  // Certificates and keys as `veer run` would load them, checked against the clock now.
  const veer::admin::TlsCheck tls = veer::admin::check_tls(*result.config, std::time(nullptr));
  print_diagnostics(tls.errors, tls.warnings);
  if (!tls.errors.empty()) print_error_count(path, tls.errors.size());
  if (!state_ok || !tls.errors.empty()) return 1;
  std::cout << path << ": configuration is valid\n";
  return 0;
}

// Moves the process log to server.log (a file) before the server starts, so that even
// its start-up errors land there; the terminal is told where the rest goes.
bool open_process_log(const std::string& destination) {
  if (destination != "stderr") veer::core::log::info("process log continues in ", destination);
  std::string why;
  if (veer::core::log::open_file(destination, &why)) return true;
  veer::core::log::error(why);
  return false;
}

int run(const std::string& path, char** argv) {
  veer::conf::LoadResult result = veer::conf::load_config_file(path);
  print_diagnostics(result);
  if (!result.ok()) return 1;
  std::string note = veer::app::take_engine_note();
  if (note.empty()) {
    const veer::app::EngineChoice choice =
        veer::app::choose_engine(result.config->server.io_engine, VEER_ENGINE_NAME);
    if (!choice.error.empty()) {
      veer::core::log::error(choice.error);
      return 1;
    }
    if (!choice.run_here) {
      veer::core::log::error(veer::app::exec_engine(choice, argv));
      return 1;
    }
    note = choice.note;
  }
  if (!open_process_log(result.config->server.log)) return 1;
  // After the engine choice, so that it is logged once when a binary execs the other, and
  // after opening the log, so that every start is marked in its file.
  veer::core::log::info("veer ", VEER_VERSION, " (", VEER_ENGINE_NAME, ") starting with ", path);
  try {
    return veer::app::run_server(path, std::move(*result.config), note);
  } catch (const std::exception& e) {
    // Asio throws when it cannot set up an event loop, e.g. an io_uring ring refused for
    // locked memory (RLIMIT_MEMLOCK) after the small probe ring was allowed.
    veer::core::log::error("cannot start: ", e.what(), " (", VEER_ENGINE_NAME,
                           " engine; io_engine = \"epoll\" avoids io_uring's limits)");
    return 1;
  }
}

// One row per command; the usage text is generated from the rows. `arguments` counts
// what follows the command's name; kAnyArguments leaves the checking to the command.
using Handler = int (*)(int argc, char** argv);  // the whole command line
constexpr int kAnyArguments = -1;

struct Command {
  std::array<std::string_view, 3> names;  // "" for unused aliases
  std::string_view synopsis;
  std::string_view help;
  int arguments;
  Handler handler;
};

int print_usage(std::ostream& out);

int show_version(int, char**) {
  std::cout << "veer " << VEER_VERSION
            << "\nengines: " << veer::app::engines_built_in(VEER_ENGINE_NAME)
            << "\nthis binary: " << VEER_ENGINE_NAME << "\n";
  return 0;
}

int show_help(int, char**) {
  return print_usage(std::cout);
}

constexpr std::array<Command, 7> kCommands{{
    {{"run"},
     "veer FILE | veer run FILE",
     "start with the configuration in FILE",
     1,
     [](int, char** argv) { return run(argv[2], argv); }},
    {{"check"},
     "veer check FILE",
     "validate FILE and its TLS files; errors as FILE:LINE:COLUMN: message",
     1,
     [](int, char** argv) { return check(argv[2]); }},
    {{"ctl"},
     "veer ctl COMMAND ...",
     "steer a running veer through its admin API (veer ctl --help)",
     kAnyArguments,
     [](int argc, char** argv) { return veer::admin::run_ctl(argc - 1, argv + 1); }},
    {{"export"},
     "veer export nginx FILE [--strict] [--nginx-version V]",
     "FILE as an nginx configuration; what does not carry over on stderr",
     kAnyArguments,
     [](int argc, char** argv) { return veer::admin::run_export(argc - 1, argv + 1); }},
    {{"demo-backend"},
     "veer demo-backend --listen HOST:PORT [--name NAME]",
     "a small HTTP, JSON-RPC and WebSocket backend for trying veer",
     kAnyArguments,
     [](int argc, char** argv) { return veer::run_demo_backend(argc - 1, argv + 1); }},
    {{"--version", "-V", "version"},
     "veer --version",
     "version and the I/O engines built in",
     0,
     show_version},
    {{"--help", "-h", "help"}, "veer --help", "this text", 0, show_help},
}};

constexpr std::string_view kSignalsAndEnvironment =
    "Signals: SIGHUP reloads FILE and reopens logs; SIGUSR1 reopens the access log and the\n"
    "  log file; SIGTERM, SIGINT or SIGQUIT drain and exit.\n"
    "Environment: VEER_LOG=debug|info|warn|error, the least severe level logged (info).\n";

int print_usage(std::ostream& out) {
  // Where the help text starts; a longer synopsis puts it on the next line.
  constexpr std::size_t kHelpColumn = 31;
  out << "usage:\n";
  for (const Command& command : kCommands) {
    std::string line = "  " + std::string(command.synopsis);
    if (line.size() >= kHelpColumn) {
      line += "\n" + std::string(kHelpColumn, ' ');
    } else {
      line.resize(kHelpColumn, ' ');
    }
    out << line << command.help << "\n";
  }
  out << kSignalsAndEnvironment;
  return 0;
}

int usage_error(std::string_view problem) {
  std::cerr << "veer: " << problem << "\n";
  print_usage(std::cerr);
  return kUsageError;
}

const Command* find_command(std::string_view name) {
  for (const Command& command : kCommands) {
    for (const std::string_view alias : command.names) {
      if (!alias.empty() && alias == name) return &command;
    }
  }
  return nullptr;
}

void apply_log_level_from_environment() {
  const char* value = std::getenv("VEER_LOG");
  if (value == nullptr || *value == '\0') return;
  if (const auto level = veer::core::log::parse_level(value)) {
    veer::core::log::set_min_level(*level);
  } else {
    veer::core::log::warn("VEER_LOG=\"", value,
                          "\" is not one of debug, info, warn, error; logging at info and above");
  }
}

}  // namespace

int main(int argc, char** argv) {
  apply_log_level_from_environment();
  if (argc < 2) return usage_error("no FILE or command given");
  const std::string_view name = argv[1];
  if (const Command* command = find_command(name)) {
    const int given = argc - 2;
    if (command->arguments != kAnyArguments && given != command->arguments) {
      return usage_error(
          std::string(name) +
          (given < command->arguments ? ": missing argument" : ": too many arguments") + " (" +
          std::string(command->synopsis) + ")");
    }
    return command->handler(argc, argv);
  }
  if (name.starts_with('-')) return usage_error("unknown option " + std::string(name));
  if (argc > 2) return usage_error("too many arguments: veer FILE takes one FILE");
  return run(argv[1], argv);
}
