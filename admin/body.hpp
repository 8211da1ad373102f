#pragma once

// A JSON request body checked the way the config file is: an unknown field or a value of
// the wrong type is an error that names the field, never a library's message.

#include <boost/json/object.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace veer::admin {

// A caller's mistake: the API answers 400 with this message. Thrown only inside the
// API's handlers, which Api::handle wraps.
class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class BodyFields {
 public:
  // An empty body has no fields. Throws BadRequest when `text` is not a JSON object or
  // holds a field not in `allowed`.
  BodyFields(std::string_view text, std::initializer_list<std::string_view> allowed);

  std::optional<std::uint64_t> integer(std::string_view field, std::uint64_t max) const;
  std::optional<bool> boolean(std::string_view field) const;
  std::optional<std::string> text(std::string_view field) const;
  const boost::json::object* object(std::string_view field) const;
  bool empty() const { return fields_.empty(); }

  // Reads `value` (named `name` in errors) as an integer from 0 to `max`.
  static std::uint64_t integer_value(const boost::json::value& value, const std::string& name,
                                     std::uint64_t max);

 private:
  boost::json::object fields_;
};

}  // namespace veer::admin
