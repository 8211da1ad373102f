#pragma once

// JSON string escaping for text veer writes itself (access log lines, admin answers),
// byte-exact and allocation-free into a Buffer.

#include <string_view>

#include "core/buffer.hpp"

namespace veer::core {

// Appends `text` as the inside of a JSON string (quotes not included), so that the
// line is valid JSON (RFC 8259) whatever the bytes: valid UTF-8 is copied as is; '"',
// '\\' and control characters (and DEL) are escaped as JSON says; each byte that is not
// part of valid UTF-8 (RFC 3629: no overlong forms, surrogates or code points past
// U+10FFFF) becomes the five characters \\xNN, which decode to the text \xNN.
void append_json_escaped(Buffer& out, std::string_view text);

}  // namespace veer::core
