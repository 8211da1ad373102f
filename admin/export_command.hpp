#pragma once

// `veer export nginx FILE [--strict] [--nginx-version V]`: the configuration in FILE as
// an nginx configuration on stdout, the gaps (what did not carry over) on stderr.

namespace veer::admin {

// argv[0] is "export". Exit code: 0 written (gaps only listed), 1 when FILE does not
// load or, with --strict, when anything did not carry over, 2 for a usage error.
int run_export(int argc, char** argv);

}  // namespace veer::admin
