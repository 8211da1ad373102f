// Request keys as nginx variables: the same value runtime/request_key.cpp computes (a
// header or cookie, the client address when it is absent or empty), through maps.

#include <cctype>

#include "admin/nginx_export_detail.hpp"

namespace veer::admin::nginx {

std::string Context::unique_variable(std::string_view base) {
  std::string name;
  for (const char c : base)
    name += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  std::string candidate = name;
  for (int n = 2; used_names_.count(candidate) != 0; ++n)
    candidate = name + "_" + std::to_string(n);
  used_names_[candidate] = std::string(base);
  return candidate;
}

std::string Context::header_variable(std::string_view name, const std::string& where, Writer& out) {
  std::string variable = "$http_";
  for (const char c : name) {
    if (c == '.') {
      out.gap(where,
              "header " + std::string(name) + ": nginx has no variable for a header name with '.'");
      return "";
    }
    if (c == '_') underscores_in_headers = true;
    variable += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return variable;
}

// $cookie_NAME stops at a '-' or '.', so every cookie is read with a regex on the Cookie
// header: the first pair of that name, as runtime::cookie_value finds it.
std::string Context::cookie_variable(std::string_view name) {
  const std::string spec = "cookie-value:" + std::string(name);
  if (const auto found = key_variables_.find(spec); found != key_variables_.end())
    return found->second;
  const std::string variable = new_variable("veer_cookie_" + std::string(name));
  const std::string capture = capture_name();
  maps.comment("The value of cookie " + std::string(name) + ".");
  maps.open("map $http_cookie " + variable);
  maps.directive(quoted("~(?:^|;)[ \t]*" + regex_escape(name) + "=(?<" + capture + ">[^;]*)") +
                 " $" + capture);
  maps.directive("default \"\"");
  maps.close();
  key_variables_[spec] = variable;
  return variable;
}

std::string Context::key_variable(std::string_view spec, const std::string& where, Writer& out) {
  if (spec == "client_ip") return "$remote_addr";
  if (const auto found = key_variables_.find(std::string(spec)); found != key_variables_.end())
    return found->second;
  const bool header = spec.starts_with("header:");
  const std::string_view name = spec.substr(spec.find(':') + 1);
  const std::string source = header ? header_variable(name, where, out) : cookie_variable(name);
  if (source.empty()) return "";
  const std::string variable =
      new_variable(std::string("veer_key_") + (header ? "header_" : "cookie_") + std::string(name));
  maps.comment("Key " + std::string(spec) + ", the client address when absent or empty.");
  maps.open("map " + source + " " + variable);
  maps.directive("\"\" $remote_addr");
  maps.directive("default " + source);
  maps.close();
  key_variables_[std::string(spec)] = variable;
  return variable;
}

}  // namespace veer::admin::nginx
