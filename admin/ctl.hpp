#pragma once

// `veer ctl`: the admin API's common calls for operators (list pools and why backends
// are out, add, drain or remove a backend, set split weights, reload, show or drop the
// runtime changes), as one command each. The admin address and token come from flags,
// the environment or the config file (admin/ctl_endpoint.hpp).

namespace veer::admin {

// argv[0] is "ctl". Returns the process exit code: 0 when the API accepted the call (or
// for --help, printed on stdout), 1 when it refused it (its error is printed), 2 for a
// usage, configuration or connection error (usage on stderr).
int run_ctl(int argc, char** argv);

}  // namespace veer::admin
