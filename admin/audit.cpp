#include "admin/audit.hpp"

#include <chrono>
#include <fstream>

#include <boost/json.hpp>

#include "admin/json_text.hpp"
#include "core/log.hpp"
#include "health/reasons.hpp"

namespace veer::admin {

std::string audit_line(const std::string& who, const std::string& method, const std::string& path,
                       std::uint64_t before, std::uint64_t after, const std::string& summary) {
  return to_json_text(
      boost::json::object{{"time", health::utc_text(std::chrono::system_clock::now())},
                          {"token", who},
                          {"method", method},
                          {"path", path},
                          {"old_version", before},
                          {"new_version", after},
                          {"summary", summary}});
}

void append_audit(const std::string& audit_path, const std::string& line) {
  if (audit_path.empty()) {
    core::log::info("audit ", line);
    return;
  }
  std::ofstream out(audit_path, std::ios::app);
  out << line << '\n';
  if (!out) core::log::error("audit log ", audit_path, ": cannot append; the line was: ", line);
}

}  // namespace veer::admin
