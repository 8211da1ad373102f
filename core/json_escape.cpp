#include "core/json_escape.hpp"

#include <cstddef>

#include "core/hex.hpp"

namespace veer::core {
namespace {

// Length of the valid UTF-8 sequence that starts at text[i], or 0 when the bytes there
// are not one (RFC 3629 section 4, the table of well-formed sequences).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char second_min = 0x80, second_max = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) second_min = 0xa0;  // overlong
    if (lead == 0xed) second_max = 0x9f;  // UTF-16 surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) second_min = 0x90;  // overlong
    if (lead == 0xf4) second_max = 0x8f;  // past U+10FFFF
  } else {
    return 0;  // a continuation byte, C0, C1 or F5..FF
  }
  if (text.size() - i < length) return 0;
  if (byte(i + 1) < second_min || byte(i + 1) > second_max) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return length;
}

}  // namespace

void append_json_escaped(Buffer& out, std::string_view text) {
  out.reserve_writable(text.size() + 8);
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      if (const std::size_t n = utf8_sequence_length(text, i)) {
        out.append(text.substr(i, n));
        i += n;
      } else {
        // Not UTF-8: kept readable and distinct from U+FFFD. A literal backslash is
        // itself escaped, so "\\x" in a decoded value marks the original byte.
        const char escaped[5] = {'\\', '\\', 'x', kHexDigits[u >> 4], kHexDigits[u & 0xf]};
        out.append(std::string_view(escaped, sizeof escaped));
        ++i;
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      out.append('\\');
      out.append(c);
    } else if (u < 0x20 || u == 0x7f) {
      const char escaped[6] = {'\\', 'u', '0', '0', kHexDigits[u >> 4], kHexDigits[u & 0xf]};
      out.append(std::string_view(escaped, sizeof escaped));
    } else {
      out.append(c);
    }
    ++i;
  }
}

}  // namespace veer::core
