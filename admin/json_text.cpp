#include "admin/json_text.hpp"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>

#include "core/json_escape.hpp"

namespace veer::admin {
namespace json = boost::json;
namespace {

// The shortest fixed-point text that reads back as the same double; very small or
// very large values are rounded to nine decimals instead of printing hundreds of
// digits. JSON has no NaN or infinity: those become null.
void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char text[64];
  std::to_chars_result r = std::to_chars(text, text + sizeof text, d, std::chars_format::fixed);
  if (r.ec != std::errc{}) {
    r = std::to_chars(text, text + sizeof text, d, std::chars_format::fixed, 9);
    if (r.ec != std::errc{}) {
      out += "null";  // beyond 10^54: no figure veer reports comes near
      return;
    }
  }
  out.append(text, r.ptr);
}

// Paths, addresses and config text in errors are the caller's bytes: the answer stays
// valid JSON whatever they are (the access log's escaping: \xNN for a byte that is not
// UTF-8).
void append_string(std::string& out, std::string_view text) {
  core::Buffer escaped;
  core::append_json_escaped(escaped, text);
  out += '"';
  out += escaped.readable();
  out += '"';
}

void append(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      append_double(out, v.get_double());
      return;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const json::value& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append(out, item);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.get_object()) {
        if (!first) out += ',';
        first = false;
        append_string(out, key);
        out += ':';
        append(out, item);
      }
      out += '}';
      return;
    }
    case json::kind::string:
      append_string(out, v.get_string());
      return;
    default:
      out += json::serialize(v);
  }
}

}  // namespace

std::string to_json_text(const json::value& value) {
  std::string out;
  append(out, value);
  return out;
}

}  // namespace veer::admin
