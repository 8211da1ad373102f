#pragma once

#include <string>

#include "conf/config.hpp"

namespace veer::app {

// Runs veer until SIGTERM/SIGINT and a graceful drain. Binds every listener, starts
// the workers, reloads on SIGHUP. Returns the process exit code. `engine_note` says
// which I/O engine runs and why (logged at start).
int run_server(const std::string& config_path, conf::Config config, const std::string& engine_note);

}  // namespace veer::app
