#include "admin/body.hpp"

#include <boost/json/parse.hpp>

namespace veer::admin {
namespace json = boost::json;

BodyFields::BodyFields(std::string_view text, std::initializer_list<std::string_view> allowed) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) throw BadRequest("the body is not valid JSON (" + ec.message() + ")");
  if (!value.is_object()) throw BadRequest("the body must be a JSON object");
  fields_ = std::move(value.as_object());
  for (const auto& [key, ignored] : fields_) {
    bool known = false;
    std::string names;
    for (std::string_view name : allowed) {
      known = known || key == name;
      names += names.empty() ? "" : ", ";
      names += name;
    }
    if (known) continue;
    throw BadRequest(std::string(key) + ": unknown field" +
                     (names.empty() ? " (this call takes no body)" : " (expected " + names + ")"));
  }
}

std::uint64_t BodyFields::integer_value(const json::value& value, const std::string& name,
                                        std::uint64_t max) {
  std::optional<std::uint64_t> n;
  if (value.is_uint64()) n = value.as_uint64();
  if (value.is_int64() && value.as_int64() >= 0) n = static_cast<std::uint64_t>(value.as_int64());
  if (!n || *n > max)
    throw BadRequest(name + ": expected an integer from 0 to " + std::to_string(max));
  return *n;
}

std::optional<std::uint64_t> BodyFields::integer(std::string_view field, std::uint64_t max) const {
  const json::value* v = fields_.if_contains(field);
  if (v == nullptr) return std::nullopt;
  return integer_value(*v, std::string(field), max);
}

std::optional<bool> BodyFields::boolean(std::string_view field) const {
  const json::value* v = fields_.if_contains(field);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) throw BadRequest(std::string(field) + ": expected a boolean");
  return v->as_bool();
}

std::optional<std::string> BodyFields::text(std::string_view field) const {
  const json::value* v = fields_.if_contains(field);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) throw BadRequest(std::string(field) + ": expected a string");
  return std::string(v->as_string());
}

const json::object* BodyFields::object(std::string_view field) const {
  const json::value* v = fields_.if_contains(field);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) throw BadRequest(std::string(field) + ": expected an object");
  return &v->as_object();
}

}  // namespace veer::admin
