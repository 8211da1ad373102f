#pragma once

// `veer ctl`: the admin API's common calls for operators (list pools, add, drain or
// remove a backend, set split weights, reload), as one command each.

namespace veer::admin {

// argv[0] is "ctl". Returns the process exit code: 0 when the API accepted the call,
// 1 when it refused it (its error is printed), 2 for a usage or connection error.
int run_ctl(int argc, char** argv);

}  // namespace veer::admin
