#pragma once

// The text side of the nginx export: indented blocks, quoted values and the gaps (what
// did not carry over), each written as a comment where it applies and collected for
// the summary table. Internal to admin/nginx_export*.cpp.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "admin/nginx_export.hpp"

namespace veer::admin::nginx {

// `text` as one nginx token: bare when that is unambiguous, else double-quoted with
// `"` and `\` escaped. "" becomes "".
std::string quote(std::string_view text);
// `text` double-quoted whatever it holds (regexes, which end in '$' and hold '\').
std::string quoted(std::string_view text);

// `text` with the characters a PCRE pattern gives meaning to escaped.
std::string regex_escape(std::string_view text);

// "5s", "250ms", "1h": nginx's time syntax, the largest unit that is exact.
std::string duration(std::chrono::nanoseconds d);

class Writer {
 public:
  explicit Writer(int depth = 0) : depth_(depth) {}
  // One directive or line, at the current depth; ";" is not added.
  void line(std::string_view text);
  void directive(std::string_view text) { line(std::string(text) + ";"); }
  // "# text", wrapped into several lines at newlines.
  void comment(std::string_view text);
  void blank() { text_ += '\n'; }
  void open(std::string_view head);  // "head {"
  void close();                      // "}"
  // Records a gap and writes it as a comment here ("# GAP: what").
  void gap(std::string where, std::string what);

  const std::string& text() const { return text_; }
  const std::vector<NginxExportGap>& gaps() const { return gaps_; }

 private:
  std::string text_;
  int depth_ = 0;
  std::vector<NginxExportGap> gaps_;
};

}  // namespace veer::admin::nginx
