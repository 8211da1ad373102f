#include "admin/nginx_writer.hpp"

#include <chrono>

namespace veer::admin::nginx {

std::string quote(std::string_view text) {
  bool bare = !text.empty();
  for (const char c : text) {
    const bool special = c == ' ' || c == '\t' || c == '"' || c == '\'' || c == ';' || c == '{' ||
                         c == '}' || c == '\\' || c == '#' || c == '\n' || c == '\r';
    if (special) bare = false;
  }
  return bare ? std::string(text) : quoted(text);
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string regex_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (std::string_view(".^$|()[]{}*+?\\/-").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string duration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(d).count();
  if (ms == 0) return "0s";
  struct Unit {
    long long ms;
    const char* suffix;
  };
  for (const Unit u :
       {Unit{86'400'000, "d"}, Unit{3'600'000, "h"}, Unit{60'000, "m"}, Unit{1000, "s"}}) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  }
  return std::to_string(ms) + "ms";
}

void Writer::line(std::string_view text) {
  text_.append(static_cast<std::size_t>(depth_) * 4, ' ');
  text_ += text;
  text_ += '\n';
}

void Writer::comment(std::string_view text) {
  while (true) {
    const std::size_t end = text.find('\n');
    const std::string_view part = text.substr(0, end);
    line(part.empty() ? std::string("#") : "# " + std::string(part));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

void Writer::open(std::string_view head) {
  line(std::string(head) + " {");
  ++depth_;
}

void Writer::close() {
  --depth_;
  line("}");
}

void Writer::gap(std::string where, std::string what) {
  comment("GAP: " + what);
  gaps_.push_back(NginxExportGap{std::move(where), std::move(what)});
}

}  // namespace veer::admin::nginx
