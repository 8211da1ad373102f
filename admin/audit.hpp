#pragma once

// The audit log ([admin].audit_log): one JSON line per change, from the admin API and
// from the rollouts' own decisions. An empty path means the process log.

#include <cstdint>
#include <string>

namespace veer::admin {

// {"time", "token", "method", "path", "old_version", "new_version", "summary"}.
std::string audit_line(const std::string& who, const std::string& method, const std::string& path,
                       std::uint64_t before, std::uint64_t after, const std::string& summary);
void append_audit(const std::string& audit_path, const std::string& line);

}  // namespace veer::admin
