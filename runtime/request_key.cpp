#include "runtime/request_key.hpp"

#include <optional>

#include "http/http_parser.hpp"

namespace veer::runtime {

namespace {

// The value of the first pair named `name` in a Cookie header value, empty or not;
// nullopt when no pair has that name.
std::optional<std::string_view> find_cookie(std::string_view cookies, std::string_view name) {
  while (!cookies.empty()) {
    const std::size_t end = cookies.find(';');
    std::string_view pair = cookies.substr(0, end);
    cookies = end == std::string_view::npos ? std::string_view{} : cookies.substr(end + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t'))
      pair.remove_prefix(1);
    const std::size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name) {
      return pair.substr(equals + 1);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view cookie_value(std::string_view cookies, std::string_view name) {
  return find_cookie(cookies, name).value_or(std::string_view{});
}

// The first occurrence decides, as nginx 1.22's $http_NAME (the first header of that
// name) and the export's map over $http_cookie (the Cookie headers joined with "; ", the
// first pair of that name) do; an empty one means the client address there too.
std::string_view request_key(const HashKey& key, const http::RequestHead& head,
                             std::string_view client_ip) {
  if (key.kind == HashKey::Kind::client_ip) return client_ip;
  const bool by_header = key.kind == HashKey::Kind::header;
  const std::string_view header = by_header ? std::string_view(key.name) : "cookie";
  for (const http::HeaderField& field : head.headers()) {
    if (!http::iequals(field.name, header)) continue;
    const std::optional<std::string_view> value =
        by_header ? std::optional(field.value) : find_cookie(field.value, key.name);
    if (!value) continue;
    return value->empty() ? client_ip : *value;
  }
  return client_ip;
}

}  // namespace veer::runtime
