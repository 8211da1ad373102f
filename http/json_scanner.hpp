#pragma once

// The strict JSON scanner behind http/jsonrpc_ids.hpp and http/jsonrpc.hpp: one pass
// over a JSON text that validates it (RFC 8259 grammar, UTF-8 per RFC 3629, paired
// surrogates per I-JSON, nesting bounded) and hands out members and items as views of
// the text, never decoded or copied. Allocation-free. Every function returns false at
// the first byte that breaks the grammar; the position is then meaningless.

#include <cstddef>
#include <string_view>

#include "core/hex.hpp"
#include "http/ascii.hpp"

namespace veer::http {

class JsonScanner {
 public:
  // Deeper nesting is refused: bounds the recursion. The top-level value is depth 1.
  static constexpr unsigned kMaxDepth = 64;

  explicit JsonScanner(std::string_view text, std::size_t from = 0) : text_(text), pos_(from) {}

  std::string_view text() const { return text_; }
  std::size_t pos() const { return pos_; }
  bool at_end() const { return pos_ == text_.size(); }
  bool peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool take(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  std::string_view since(std::size_t start) const { return text_.substr(start, pos_ - start); }

  void skip_ws() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  // Any value at nesting level `depth`.
  bool value(unsigned depth) {
    if (depth > kMaxDepth || pos_ >= text_.size()) return false;
    switch (text_[pos_]) {
      case '{':
        return object(depth, [](std::string_view, std::string_view) { return true; });
      case '[':
        return array(depth, [](std::string_view) { return true; });
      case '"':
        return string(nullptr);
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  // An object at `depth` (the scanner on its '{'): `on_member(key, value)` is called
  // with each member's name (between the quotes, escapes as written) and raw value,
  // after the value was validated; returning false stops the scan (a failure).
  template <class OnMember>
  bool object(unsigned depth, OnMember&& on_member) {
    if (depth > kMaxDepth || !take('{')) return false;
    skip_ws();
    if (take('}')) return true;
    while (true) {
      std::string_view key;
      if (!string(&key)) return false;
      skip_ws();
      if (!take(':')) return false;
      skip_ws();
      const std::size_t value_start = pos_;
      if (!value(depth + 1)) return false;
      if (!on_member(key, since(value_start))) return false;
      skip_ws();
      if (take('}')) return true;
      if (!take(',')) return false;
      skip_ws();
    }
  }

  // An array at `depth` (the scanner on its '['): `on_item(raw)` for each item.
  template <class OnItem>
  bool array(unsigned depth, OnItem&& on_item) {
    if (depth > kMaxDepth || !take('[')) return false;
    skip_ws();
    if (take(']')) return true;
    while (true) {
      const std::size_t item_start = pos_;
      if (!value(depth + 1)) return false;
      if (!on_item(since(item_start))) return false;
      skip_ws();
      if (take(']')) return true;
      if (!take(',')) return false;
      skip_ws();
    }
  }

  // Sets *inner to the text between the quotes, escapes as written.
  bool string(std::string_view* inner) {
    if (!take('"')) return false;
    const std::size_t start = pos_;
    while (pos_ < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        if (inner != nullptr) *inner = text_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (c == '\\') {
        if (!escape()) return false;
      } else if (c >= 0x80) {
        if (!utf8_sequence()) return false;
      } else {
        ++pos_;
      }
    }
    return false;
  }

  // Whether a string's inner text (escapes as written, already validated) decodes to
  // the ASCII `name`: "\u0069d" names the same member as "id" to every JSON parser.
  static bool decodes_to(std::string_view inner, std::string_view name) {
    if (inner == name) return true;
    std::size_t n = 0;
    for (std::size_t i = 0; i < inner.size(); ++n) {
      if (n == name.size()) return false;
      char decoded = inner[i];
      if (decoded != '\\') {
        ++i;
      } else if (inner[i + 1] == 'u') {
        unsigned code = 0;
        for (std::size_t k = 2; k < 6; ++k)
          code = code * 16 + static_cast<unsigned>(core::hex_value(inner[i + k]));
        if (code > 0x7F) return false;
        decoded = static_cast<char>(code);
        i += 6;
      } else {
        decoded = simple_escape(inner[i + 1]);
        i += 2;
      }
      if (decoded != name[n]) return false;
    }
    return n == name.size();
  }

 private:
  // The character a two-character escape stands for ("\n" -> newline).
  static char simple_escape(char c) {
    switch (c) {
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      default:
        return c;  // '"', '\\', '/'
    }
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() {
    take('-');
    if (take('0')) {
      // no leading zeros
    } else if (!digits()) {
      return false;
    }
    if (take('.') && !digits()) return false;
    if (peek('e') || peek('E')) {
      ++pos_;
      if (!take('+')) take('-');
      if (!digits()) return false;
    }
    return true;
  }

  bool digits() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && is_digit(text_[pos_]))
      ++pos_;
    return pos_ > start;
  }

  bool escape() {
    ++pos_;  // the backslash
    if (pos_ >= text_.size()) return false;
    const char c = text_[pos_++];
    switch (c) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        return true;
      case 'u': {
        // A surrogate must come in a pair (I-JSON, RFC 7493 section 2.1): parsers
        // disagree on what a lone one means.
        const int unit = code_unit();
        if (unit >= 0xDC00 && unit <= 0xDFFF) return false;
        if (unit < 0xD800 || unit > 0xDBFF) return unit >= 0;
        if (!take('\\') || !take('u')) return false;
        const int low = code_unit();
        return low >= 0xDC00 && low <= 0xDFFF;
      }
      default:
        return false;
    }
  }

  // The four hex digits of a \u escape; -1 when they are not.
  int code_unit() {
    if (text_.size() - pos_ < 4) return -1;
    int unit = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = core::hex_value(text_[pos_++]);
      if (digit < 0) return -1;
      unit = unit * 16 + digit;
    }
    return unit;
  }

  // One multi-byte UTF-8 sequence (RFC 3629 section 4): no overlong forms, no
  // surrogates, nothing past U+10FFFF.
  bool utf8_sequence() {
    const auto lead = static_cast<unsigned char>(text_[pos_]);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // bounds of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (text_.size() - pos_ < length) return false;
    for (std::size_t i = 1; i < length; ++i) {
      const auto c = static_cast<unsigned char>(text_[pos_ + i]);
      if (c < (i == 1 ? low : 0x80) || c > (i == 1 ? high : 0xBF)) return false;
    }
    pos_ += length;
    return true;
  }

  std::string_view text_;
  std::size_t pos_;
};

}  // namespace veer::http
