#include "runtime/request_key.hpp"

#include "http/http_parser.hpp"

namespace veer::runtime {

std::string_view cookie_value(std::string_view cookies, std::string_view name) {
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
  return {};
}

std::string_view request_key(const HashKey& key, const http::RequestHead& head,
                             std::string_view client_ip) {
  if (key.kind == HashKey::Kind::client_ip) return client_ip;
  const std::string_view header =
      key.kind == HashKey::Kind::header ? std::string_view(key.name) : std::string_view("cookie");
  for (const http::HeaderField& field : head.headers()) {
    if (!http::iequals(field.name, header)) continue;
    const std::string_view value =
        key.kind == HashKey::Kind::header ? field.value : cookie_value(field.value, key.name);
    if (!value.empty()) return value;
  }
  return client_ip;
}

}  // namespace veer::runtime
