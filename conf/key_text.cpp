#include "conf/key_text.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

namespace veer::conf {
namespace {

constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";
// A closing multi-line delimiter may follow up to two quotes of content: """a""""" is a"".
constexpr std::size_t kMaxClosingQuotes = 5;

bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// One pass over the text that tells strings and comments from the rest, and keys from
// values (for the wording of the error only). Positions count lines by '\n' and columns
// by code point, as toml++'s reader does, so errors point where toml++'s would.
class AsciiScanner {
 public:
  explicit AsciiScanner(std::string_view text) : text_(text) {
    if (text_.starts_with(kUtf8ByteOrderMark)) text_.remove_prefix(kUtf8ByteOrderMark.size());
  }

  std::optional<NonAsciiOutsideStrings> run() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (static_cast<unsigned char>(c) >= 0x80) {
        return NonAsciiOutsideStrings{line_, column_, in_key_};
      }
      if (c == '#') {
        skip_comment();
      } else if (c == '"' || c == '\'') {
        if (quote_run(c) >= 3) {
          skip_multiline_string(c);
        } else {
          skip_string(c);
        }
      } else {
        on_structure(c);
        advance(1);
      }
    }
    return std::nullopt;
  }

 private:
  enum class Bracket { table_header, array, inline_table };

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
    while (pos_ < text_.size() && text_[pos_] != '\n') {
      const char c = text_[pos_];
      if (quote == '"' && c == '\\') {
        advance(1);
        if (pos_ < text_.size() && text_[pos_] != '\n') advance(1);
      } else {
        advance(1);
        if (c == quote) return;
      }
    }
  }

  void skip_multiline_string(char quote) {
    advance(3);
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (quote == '"' && c == '\\') {
        advance(2);  // the escaped byte, a quote or a line ending included
      } else if (c == quote) {
        const std::size_t run = quote_run(quote);
        advance(std::min(run, kMaxClosingQuotes));
        if (run >= 3) return;
      } else {
        advance(1);
      }
    }
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
  std::vector<Bracket> open_;
};

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return out;
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
// two neighbours ("strategyy", "wokrers") each cost 1. Three rows of the usual table.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> two_back(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  std::iota(previous.begin(), previous.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], two_back[j - 2] + 1);
      }
    }
    std::swap(two_back, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace

std::string NonAsciiOutsideStrings::message() const {
  return in_key ? "non-ASCII character in a key"
                : "non-ASCII character outside a string (text values need quotes)";
}

std::optional<NonAsciiOutsideStrings> find_non_ascii_outside_strings(std::string_view toml_text) {
  return AsciiScanner(toml_text).run();
}

std::optional<std::string_view> closest_key(std::string_view unknown,
                                            std::span<const std::string_view> known) {
  const std::size_t limit = unknown.size() <= 4 ? 1 : 2;
  const std::string wanted = ascii_lower(unknown);
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  bool tied = false;
  for (const std::string_view candidate : known) {
    // The distance is at least the difference in length: skip the table when it is too far.
    const std::size_t length_gap = candidate.size() > unknown.size()
                                       ? candidate.size() - unknown.size()
                                       : unknown.size() - candidate.size();
    if (length_gap > limit || (best && candidate == *best)) continue;
    const std::size_t distance = edit_distance(wanted, ascii_lower(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
      tied = false;
    } else if (best && distance == best_distance) {
      tied = true;
    }
  }
  if (tied) return std::nullopt;
  return best;
}

}  // namespace veer::conf
