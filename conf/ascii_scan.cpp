#include "conf/ascii_scan.hpp"

#include <algorithm>
#include <vector>

namespace veer::conf {
namespace {

using Where = MisplacedNonAscii::Where;

constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";
// What ends a value that is not a string, array or table: toml++'s is_value_terminator.
constexpr std::string_view kValueSeparators = " \t\r\n,]}#";
// Characters that do not start such a value where a value is expected.
constexpr std::string_view kValueSyntax = " \t\r\n,[]{}#=\"'";
// What a line-ending backslash skips in a multi-line basic string.
constexpr std::string_view kBlanks = " \t\r\n";
// A closing multi-line delimiter may follow up to two quotes of content: """a""""" is a"".
constexpr std::size_t kMaxClosingQuotes = 5;

bool is_non_ascii(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}
bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// One pass that tells strings and comments from the rest the way toml++ does: a quote
// opens a string where a key or a value starts, but not inside a bare value, which
// toml++ reads whole. Positions count lines by '\n' and columns by code point, as
// toml++'s reader does, so errors point where toml++'s would.
class AsciiScanner {
 public:
  explicit AsciiScanner(std::string_view text) : text_(text) {
    if (text_.starts_with(kUtf8ByteOrderMark)) text_.remove_prefix(kUtf8ByteOrderMark.size());
  }

  std::optional<MisplacedNonAscii> run() {
    while (pos_ < text_.size() && !found_) {
      const char c = text_[pos_];
      if (is_non_ascii(c)) {
        report(in_key_ ? Where::key : Where::bare_value);
      } else if (in_bare_value_ && !ends_bare_value()) {
        advance(1);
      } else {
        in_bare_value_ = false;
        scan_token(c);
      }
    }
    return found_;
  }

 private:
  enum class Bracket { table_header, array, inline_table };

  void scan_token(char c) {
    if (c == '#') {
      skip_comment();
    } else if (c == '"' || c == '\'') {
      if (quote_run(c) >= 3) {
        skip_multiline_string(c);
      } else {
        skip_string(c);
      }
    } else if (!in_key_ && kValueSyntax.find(c) == std::string_view::npos) {
      in_bare_value_ = true;  // a number, a date, true, inf... or a typo
      advance(1);
    } else {
      on_structure(c);
      advance(1);
    }
  }

  void report(Where where) { found_ = MisplacedNonAscii{line_, column_, where}; }

  // Moves over n bytes (fewer at the end). column_ is the column of the next character.
  void advance(std::size_t n) {
    for (; n > 0 && pos_ < text_.size(); --n, ++pos_) {
      if (text_[pos_] == '\n') {
        ++line_;
        column_ = 1;
      } else if (!is_continuation_byte(text_[pos_])) {
        ++column_;
      }
    }
  }

  bool at(std::string_view set) const {
    return pos_ < text_.size() && set.find(text_[pos_]) != std::string_view::npos;
  }

  // toml++ reads a value that is not a string, array or table (a number, a date,
  // true...) up to a separator, whatever it holds: quotes, '=' and non-ASCII bytes
  // included (`n = 1'ö'` reaches the bug). A space ends it only before another
  // separator, because toml++ reads on past one to find the time of a date.
  bool ends_bare_value() const {
    if (text_[pos_] != ' ') return at(kValueSeparators);
    return pos_ + 1 == text_.size() ||
           kValueSeparators.find(text_[pos_ + 1]) != std::string_view::npos;
  }

  std::size_t quote_run(char quote) const {
    std::size_t end = pos_;
    while (end < text_.size() && text_[end] == quote)
      ++end;
    return end - pos_;
  }

  // Up to the newline, which the main loop then sees.
  void skip_comment() {
    while (pos_ < text_.size() && text_[pos_] != '\n')
      advance(1);
  }

  // A single-line string ends at its quote, or (unterminated, toml++ reports it) at the
  // newline, so one bad line cannot hide the rest of the file from the scan.
  void skip_string(char quote) {
    advance(1);
    while (pos_ < text_.size() && text_[pos_] != '\n' && !found_) {
      const char c = text_[pos_];
      advance(1);
      if (quote == '"' && c == '\\') {
        if (pos_ < text_.size() && is_non_ascii(text_[pos_])) report(Where::after_backslash);
        if (!at("\n")) advance(1);
      } else if (c == quote) {
        return;
      }
    }
  }

  void skip_multiline_string(char quote) {
    advance(3);
    while (pos_ < text_.size() && !found_) {
      const char c = text_[pos_];
      if (quote == '"' && c == '\\') {
        advance(1);
        skip_escape_in_multiline();
      } else if (c == quote) {
        const std::size_t run = quote_run(quote);
        advance(std::min(run, kMaxClosingQuotes));
        if (run >= 3) return;
      } else {
        advance(1);
      }
    }
  }

  // After a backslash toml++ asks whether the next character is whitespace, and after a
  // line-ending backslash it asks the same of each character up to the first that is
  // not: those characters must be ASCII.
  void skip_escape_in_multiline() {
    if (pos_ >= text_.size()) return;
    if (is_non_ascii(text_[pos_])) return report(Where::after_backslash);
    if (!at(kBlanks)) return advance(1);  // \" \\ \n \uXXXX...: its first character
    while (at(kBlanks))
      advance(1);
    if (pos_ < text_.size() && is_non_ascii(text_[pos_])) report(Where::after_continuation);
  }

  // Brackets, '=', ',' and line ends decide whether what follows is a key or a value.
  void on_structure(char c) {
    const bool top_level = open_.empty();
    switch (c) {
      case '\n':
        if (!top_level && open_.back() == Bracket::table_header) open_.pop_back();
        if (open_.empty()) in_key_ = true;
        break;
      case '=':
        in_key_ = false;
        break;
      case '[':
        if (in_key_ && top_level) {
          open_.push_back(Bracket::table_header);  // [table] or the first [ of [[array]]
        } else if (top_level || open_.back() != Bracket::table_header) {
          open_.push_back(Bracket::array);
          in_key_ = false;
        }
        break;
      case ']':
        if (!top_level && open_.back() != Bracket::inline_table) {
          in_key_ = open_.back() == Bracket::table_header;
          open_.pop_back();
        }
        break;
      case '{':
        open_.push_back(Bracket::inline_table);
        in_key_ = true;
        break;
      case '}':
        if (!top_level && open_.back() == Bracket::inline_table) {
          open_.pop_back();
          in_key_ = false;
        }
        break;
      case ',':
        if (!top_level && open_.back() == Bracket::inline_table) in_key_ = true;
        break;
      default:
        break;
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::uint32_t line_ = 1;
  std::uint32_t column_ = 1;
  bool in_key_ = true;
  bool in_bare_value_ = false;
  std::vector<Bracket> open_;
  std::optional<MisplacedNonAscii> found_;
};

}  // namespace

std::string MisplacedNonAscii::message() const {
  switch (where) {
    case Where::key:
      return "non-ASCII character in a key";
    case Where::bare_value:
      return "non-ASCII character outside a string (text values need quotes)";
    case Where::after_backslash:
      return "non-ASCII character after a backslash (not an escape sequence)";
    case Where::after_continuation:
      return "non-ASCII character first after a line-ending backslash: the TOML parser "
             "cannot read it there; write it as \\uXXXX or move it";
  }
  return "non-ASCII character";
}

std::optional<MisplacedNonAscii> find_misplaced_non_ascii(std::string_view toml_text) {
  return AsciiScanner(toml_text).run();
}

}  // namespace veer::conf
