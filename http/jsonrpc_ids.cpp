#include "http/jsonrpc_ids.hpp"

#include "http/ascii.hpp"

namespace veer::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// What a request's "id" member held, as far as the answer cares.
struct IdCapture {
  std::string_view raw = JsonRpcIds::kNull;
  unsigned members = 0;  // "id" members seen: two or more is ambiguous
};

// One pass over a JSON text. Every function returns false at the first byte that breaks
// RFC 8259; the position is then meaningless.
class Scanner {
 public:
  explicit Scanner(std::string_view text, std::size_t from = 0) : text_(text), pos_(from) {}

  std::size_t pos() const { return pos_; }
  bool at_end() const { return pos_ == text_.size(); }
  bool peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool take(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }

  void skip_ws() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  // A JSON-RPC request: an object whose "id" is captured, or any other value (no id).
  bool request(IdCapture* id) {
    if (peek('{')) return object(1, id);
    return value(1);
  }

  bool value(unsigned depth) {
    if (depth > JsonRpcIds::kMaxDepth || pos_ >= text_.size()) return false;
    switch (text_[pos_]) {
      case '{':
        return object(depth, nullptr);
      case '[':
        return array(depth);
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

 private:
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
      const int digit = hex_value(text_[pos_++]);
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

  bool object(unsigned depth, IdCapture* id) {
    if (depth > JsonRpcIds::kMaxDepth) return false;
    ++pos_;  // '{'
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
      if (id != nullptr && key_is_id(key)) {
        ++id->members;
        id->raw = usable_id(text_.substr(value_start, pos_ - value_start));
      }
      skip_ws();
      if (take('}')) return true;
      if (!take(',')) return false;
      skip_ws();
    }
  }

  bool array(unsigned depth) {
    ++pos_;  // '['
    skip_ws();
    if (take(']')) return true;
    while (true) {
      if (!value(depth + 1)) return false;
      skip_ws();
      if (take(']')) return true;
      if (!take(',')) return false;
      skip_ws();
    }
  }

  // JSON-RPC 2.0 section 4: an id is a string, a number or null. Anything else cannot
  // be echoed as an id.
  static std::string_view usable_id(std::string_view raw) {
    const char first = raw.front();
    if (first == '"' || first == '-' || is_digit(first)) return raw;
    return JsonRpcIds::kNull;
  }

  // Whether a member name (between the quotes, escapes as written) decodes to "id":
  // "\u0069d" names the same member as "id" to every JSON parser.
  static bool key_is_id(std::string_view inner) {
    if (inner == "id") return true;
    char decoded[2];
    std::size_t n = 0;
    for (std::size_t i = 0; i < inner.size(); ++n) {
      if (n == 2) return false;
      if (inner[i] != '\\') {
        decoded[n] = inner[i++];
        continue;
      }
      if (inner[i + 1] != 'u') return false;  // no other escape makes 'i' or 'd'
      unsigned code = 0;
      for (std::size_t k = 2; k < 6; ++k)
        code = code * 16 + static_cast<unsigned>(hex_value(inner[i + k]));
      if (code > 0x7F) return false;
      decoded[n] = static_cast<char>(code);
      i += 6;
    }
    return n == 2 && decoded[0] == 'i' && decoded[1] == 'd';
  }

  std::string_view text_;
  std::size_t pos_;
};

// The id a request answers with: the captured one when exactly one "id" member held it.
std::string_view answer_id(const IdCapture& id) {
  return id.members == 1 ? id.raw : JsonRpcIds::kNull;
}

}  // namespace

JsonRpcIds::JsonRpcIds(std::string_view body) : body_(body) {
  if (body.size() > kScanLimit) return;
  Scanner scan(body);
  scan.skip_ws();
  if (scan.peek('[')) {
    scan.take('[');
    const std::size_t start = scan.pos();
    scan.skip_ws();
    if (scan.take(']')) return;  // an empty batch is an invalid request: one error, id null
    std::size_t items = 0;
    while (true) {
      IdCapture ignored;
      if (!scan.request(&ignored)) return;
      ++items;
      scan.skip_ws();
      if (scan.take(']')) break;
      if (!scan.take(',')) return;
      scan.skip_ws();
    }
    scan.skip_ws();
    if (!scan.at_end()) return;
    batch_ = true;
    batch_start_ = start;
    count_ = items;
    return;
  }
  IdCapture id;
  if (!scan.peek('{') || !scan.request(&id)) return;
  scan.skip_ws();
  if (scan.at_end()) single_id_ = answer_id(id);
}

JsonRpcIds::Iterator JsonRpcIds::begin() const {
  Iterator it;
  it.ids_ = this;
  it.offset_ = batch_start_;
  it.left_ = count_;
  return it;
}

bool JsonRpcIds::Iterator::next(std::string_view* id) {
  if (left_ == 0) return false;
  --left_;
  if (!ids_->batch_) {
    *id = ids_->single_id_;
    return true;
  }
  // The constructor validated the whole batch: this pass cannot fail.
  Scanner scan(ids_->body_, offset_);
  scan.skip_ws();
  IdCapture capture;
  scan.request(&capture);
  scan.skip_ws();
  scan.take(',');
  offset_ = scan.pos();
  *id = answer_id(capture);
  return true;
}

}  // namespace veer::http
