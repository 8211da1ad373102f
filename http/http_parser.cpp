#include "http/http_parser.hpp"

#include <array>
#include <cstring>

#include "core/hex.hpp"

namespace veer::http {
namespace {

// RFC 9110 section 5.6.2: tchar.
constexpr std::array<bool, 256> make_tchar() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c)
    t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c)
    t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c)
    t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~"))
    t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto kTchar = make_tchar();

// field-content: VCHAR, SP, HTAB and obs-text. Excludes NUL, CR, LF and other CTLs.
constexpr std::array<bool, 256> make_value_char() {
  std::array<bool, 256> t{};
  t['\t'] = true;
  for (int c = 0x20; c <= 0x7e; ++c)
    t[c] = true;
  for (int c = 0x80; c <= 0xff; ++c)
    t[c] = true;
  return t;
}
constexpr auto kValueChar = make_value_char();

// request-target: any VCHAR or obs-text; no SP, no CTL.
constexpr std::array<bool, 256> make_target_char() {
  std::array<bool, 256> t{};
  for (int c = 0x21; c <= 0x7e; ++c)
    t[c] = true;
  for (int c = 0x80; c <= 0xff; ++c)
    t[c] = true;
  return t;
}
constexpr auto kTargetChar = make_target_char();

constexpr ParseError bad(std::string_view reason) {
  return ParseError{400, reason};
}
constexpr ParseError kOk{};

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool is_hex(char c) {
  return core::hex_value(c) >= 0;
}

// uri-host [ ":" port ] (RFC 9112 section 3.2, RFC 3986 section 3.2.2).
bool valid_authority(std::string_view a) {
  std::size_t i = 0;
  if (!a.empty() && a.front() == '[') {
    const std::size_t close = a.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (std::size_t k = 1; k < close; ++k) {
      const char c = a[k];
      if (!is_hex(c) && c != ':' && c != '.') return false;
    }
    i = close + 1;
  } else {
    for (; i < a.size() && a[i] != ':'; ++i) {
      const char c = a[i];
      const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                              c == '~';
      const bool sub_delim = std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
      if (c == '%') {
        if (i + 2 >= a.size() || !is_hex(a[i + 1]) || !is_hex(a[i + 2])) return false;
        i += 2;
      } else if (!unreserved && !sub_delim) {
        return false;
      }
    }
  }
  if (i == a.size()) return true;
  if (a[i] != ':') return false;
  const std::string_view port = a.substr(i + 1);
  if (port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// 1*DIGIT, optionally repeated as a list of identical values ("5, 5"), which
// RFC 9110 section 8.6 allows a recipient to accept. Differing values are refused.
bool parse_content_length(std::string_view value, std::uint64_t& out, bool& seen) {
  return for_each_token(value,
                        [&](std::string_view token) {
                          std::uint64_t n = 0;
                          for (char c : token) {
                            if (c < '0' || c > '9') return false;
                            if (n > (UINT64_MAX - 9) / 10)
                              return false;  // overflow: certainly not a real length
                            n = n * 10 + static_cast<std::uint64_t>(c - '0');
                          }
                          if (seen && n != out) return false;
                          out = n;
                          seen = true;
                          return true;
                        }) &&
         seen;
}

// State shared by the request and response field loops.
struct FieldScan {
  bool content_length_seen = false;
  bool content_length_bad = false;
  unsigned chunked_count = 0;  // "chunked" must appear once at most (RFC 9112 section 6.1)
  bool chunked_last = false;   // the final coding is "chunked"
  bool transfer_encoding_seen = false;
  bool upgrade_websocket = false;
  unsigned host_count = 0;
  std::string_view host;
};

// Reads one "name: value CRLF" line starting at `pos`. Returns the position after
// it, or npos with `err` set.
std::size_t parse_field_line(std::string_view head, std::size_t pos, HeaderField& field,
                             ParseError& err, ParseError invalid) {
  const char* p = head.data();
  const std::size_t end = head.size();
  if (p[pos] == ' ' || p[pos] == '\t') {
    err = ParseError{invalid.status, "obsolete line folding is not accepted"};
    return std::string_view::npos;
  }
  const std::size_t name_start = pos;
  while (pos < end && kTchar[static_cast<unsigned char>(p[pos])])
    ++pos;
  if (pos == name_start || pos >= end || p[pos] != ':') {
    err = ParseError{invalid.status, (pos < end && (p[pos] == ' ' || p[pos] == '\t'))
                                         ? "whitespace before a header colon"
                                         : "invalid header name"};
    return std::string_view::npos;
  }
  field.name = head.substr(name_start, pos - name_start);
  ++pos;  // ':'
  while (pos < end && (p[pos] == ' ' || p[pos] == '\t'))
    ++pos;
  const std::size_t value_start = pos;
  while (pos < end && kValueChar[static_cast<unsigned char>(p[pos])])
    ++pos;
  if (pos + 1 >= end || p[pos] != '\r' || p[pos + 1] != '\n') {
    err = ParseError{invalid.status, (pos < end && p[pos] == '\0') ? "NUL byte in a header"
                                     : (pos < end && p[pos] == '\n')
                                         ? "bare LF in a header"
                                         : "invalid character in a header value"};
    return std::string_view::npos;
  }
  std::size_t value_end = pos;
  while (value_end > value_start && (p[value_end - 1] == ' ' || p[value_end - 1] == '\t')) {
    --value_end;
  }
  field.value = head.substr(value_start, value_end - value_start);
  field.id = classify_header(field.name);
  return pos + 2;
}

// Applies the framing and connection semantics of one field.
bool note_field(const HeaderField& f, MessageHead& out, FieldScan& scan, ParseError& err,
                std::uint16_t invalid_status) {
  switch (f.id) {
    case HeaderId::content_length:
      if (!parse_content_length(f.value, out.content_length, scan.content_length_seen)) {
        scan.content_length_bad = true;
      }
      break;
    case HeaderId::transfer_encoding:
      scan.transfer_encoding_seen = true;
      for_each_token(f.value, [&](std::string_view coding) {
        scan.chunked_last = iequals(coding, "chunked");
        if (scan.chunked_last) ++scan.chunked_count;
        return true;
      });
      break;
    case HeaderId::connection: {
      const bool ok = for_each_token(f.value, [&](std::string_view token) {
        for (char c : token) {
          if (!kTchar[static_cast<unsigned char>(c)]) return false;
        }
        if (iequals(token, "close")) {
          out.connection_close = true;
        } else if (iequals(token, "keep-alive")) {
          out.connection_keep_alive = true;
        } else if (iequals(token, "upgrade")) {
          out.connection_upgrade = true;
        } else {
          if (out.connection_token_count == kMaxConnectionTokens) return false;
          out.connection_tokens[out.connection_token_count++] = token;
        }
        return true;
      });
      if (!ok) {
        err = ParseError{invalid_status, "invalid Connection header"};
        return false;
      }
      break;
    }
    case HeaderId::upgrade:
      for_each_token(f.value, [&](std::string_view token) {
        // "websocket" or "websocket/13"-style protocol/version.
        if (iequals(token.substr(0, token.find('/')), "websocket")) scan.upgrade_websocket = true;
        return true;
      });
      break;
    case HeaderId::host:
      ++scan.host_count;
      scan.host = f.value;
      break;
    default:
      break;
  }
  return true;
}

// Reads every field line up to the empty line that ends the head.
ParseError parse_fields(std::string_view head, std::size_t pos, MessageHead& out, FieldScan& scan,
                        std::uint16_t invalid_status) {
  const ParseError invalid{invalid_status, "invalid header"};
  while (true) {
    if (pos + 1 < head.size() && head[pos] == '\r' && head[pos + 1] == '\n') {
      out.head_length = pos + 2;
      return kOk;
    }
    if (pos >= head.size()) return ParseError{invalid_status, "truncated head"};
    if (out.field_count == kMaxHeaderFields) {
      return ParseError{431, "too many header fields"};
    }
    HeaderField& field = out.fields[out.field_count];
    ParseError err;
    pos = parse_field_line(head, pos, field, err, invalid);
    if (err) return err;
    ++out.field_count;
    if (!note_field(field, out, scan, err, invalid_status)) return err;
  }
}

// Finds "HTTP/1.x" at `pos`; sets version_minor. Returns false when not HTTP/1.
bool parse_version(std::string_view text, std::uint8_t& minor, bool& other_version) {
  other_version = false;
  if (text.size() != 8 || text.substr(0, 5) != "HTTP/" || text[6] != '.') return false;
  if (text[5] < '0' || text[5] > '9' || text[7] < '0' || text[7] > '9') return false;
  if (text[5] != '1') {
    other_version = true;
    return false;
  }
  minor = static_cast<std::uint8_t>(text[7] - '0');
  return true;
}

// Request targets (RFC 9112 section 3.2): origin-form, absolute-form or asterisk-form.
ParseError classify_target(RequestHead& out) {
  const std::string_view t = out.target;
  // A fragment is the client's business alone (RFC 9112 section 3.2 leaves it out of
  // every form): a backend may cut the path at '#' or keep it, so neither is guessed.
  if (t.find('#') != std::string_view::npos) return bad("'#' in the request target");
  if (t.front() == '/') {
    out.path = t;
    return kOk;
  }
  if (t == "*") {
    if (!iequals(out.method, "OPTIONS")) return bad("\"*\" target is only valid for OPTIONS");
    out.path = t;
    return kOk;
  }
  for (std::string_view scheme : {"http://", "https://"}) {
    if (t.size() > scheme.size() && iequals(t.substr(0, scheme.size()), scheme)) {
      const std::string_view rest = t.substr(scheme.size());
      const std::size_t end = rest.find_first_of("/?");
      out.authority = rest.substr(0, end);
      // "http://node:8545" names the root (RFC 9110 section 4.2.3: an empty path is
      // "/"), which is also what the routes compare.
      out.path = end == std::string_view::npos ? std::string_view("/") : rest.substr(end);
      if (out.authority.empty() || !valid_authority(out.authority)) {
        return bad("invalid authority in the request target");
      }
      out.host_from_target = true;
      return kOk;
    }
  }
  return bad("invalid request target");
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

HeaderId classify_header(std::string_view n) {
  // Dispatch on length first: one comparison per call for almost every header.
  switch (n.size()) {
    case 2:
      if (iequals(n, "te")) return HeaderId::te;
      break;
    case 4:
      if (iequals(n, "host")) return HeaderId::host;
      break;
    case 6:
      if (iequals(n, "expect")) return HeaderId::expect;
      break;
    case 7:
      if (iequals(n, "trailer")) return HeaderId::trailer;
      if (iequals(n, "upgrade")) return HeaderId::upgrade;
      break;
    case 10:
      if (iequals(n, "connection")) return HeaderId::connection;
      if (iequals(n, "keep-alive")) return HeaderId::keep_alive;
      if (iequals(n, "user-agent")) return HeaderId::user_agent;
      break;
    case 9:
      if (iequals(n, "x-real-ip")) return HeaderId::x_real_ip;
      if (iequals(n, "forwarded")) return HeaderId::forwarded;
      break;
    case 12:
      if (iequals(n, "x-request-id")) return HeaderId::x_request_id;
      break;
    case 14:
      if (iequals(n, "content-length")) return HeaderId::content_length;
      if (iequals(n, "http2-settings")) return HeaderId::http2_settings;
      break;
    case 15:
      if (iequals(n, "x-forwarded-for")) return HeaderId::x_forwarded_for;
      break;
    case 16:
      if (iequals(n, "x-forwarded-host")) return HeaderId::x_forwarded_host;
      if (iequals(n, "x-forwarded-port")) return HeaderId::x_forwarded_port;
      break;
    case 17:
      if (iequals(n, "transfer-encoding")) return HeaderId::transfer_encoding;
      if (iequals(n, "x-forwarded-proto")) return HeaderId::x_forwarded_proto;
      break;
    default:
      break;
  }
  if (n.size() > 6 && iequals(n.substr(0, 6), "proxy-")) return HeaderId::proxy_prefixed;
  return HeaderId::other;
}

bool MessageHead::connection_lists(std::string_view name) const {
  for (std::size_t i = 0; i < connection_token_count; ++i) {
    if (iequals(connection_tokens[i], name)) return true;
  }
  return false;
}

std::size_t find_head_end(std::string_view buffer, std::size_t& scan_from) {
  const char* data = buffer.data();
  std::size_t i = scan_from;
  while (i < buffer.size()) {
    const void* lf = std::memchr(data + i, '\n', buffer.size() - i);
    if (lf == nullptr) break;
    i = static_cast<std::size_t>(static_cast<const char*>(lf) - data);
    const bool empty_line =
        (i >= 1 && data[i - 1] == '\n') || (i >= 2 && data[i - 1] == '\r' && data[i - 2] == '\n');
    // A bare LF anywhere ends the scan too: the parser will refuse it, and waiting
    // for a CRLF CRLF that may never come would only hold the connection open.
    const bool bare_lf = i == 0 || data[i - 1] != '\r';
    if (empty_line || bare_lf) {
      scan_from = i + 1;
      return i + 1;
    }
    ++i;
  }
  // Step back so that a terminator split across reads is still seen.
  scan_from = buffer.size() >= 3 ? buffer.size() - 3 : 0;
  return 0;
}

// One function on purpose: a byte-level scan of the request line followed by the
// message checks in the order RFC 9112 gives them. The order decides which status a
// bad head gets (a request with two Hosts and a bad version is refused for its
// version), so it stays readable top to bottom in one place.
ParseError parse_request_head(std::string_view head, RequestHead& out) {
  out.reset();
  const char* p = head.data();
  const std::size_t end = head.size();
  std::size_t pos = 0;

  while (pos < end && kTchar[static_cast<unsigned char>(p[pos])])
    ++pos;
  if (pos == 0 || pos >= end || p[pos] != ' ') return bad("invalid request line");
  out.method = head.substr(0, pos);
  const std::size_t target_start = ++pos;
  while (pos < end && kTargetChar[static_cast<unsigned char>(p[pos])])
    ++pos;
  if (pos == target_start || pos >= end || p[pos] != ' ') return bad("invalid request line");
  out.target = head.substr(target_start, pos - target_start);
  const std::size_t version_start = ++pos;
  while (pos < end && p[pos] != '\r' && p[pos] != '\n')
    ++pos;
  if (pos + 1 >= end || p[pos] != '\r' || p[pos + 1] != '\n') {
    return bad("request line must end with CRLF");
  }
  bool other_version = false;
  if (!parse_version(head.substr(version_start, pos - version_start), out.version_minor,
                     other_version)) {
    if (other_version) return ParseError{505, "only HTTP/1.0 and HTTP/1.1 are supported"};
    return bad("invalid HTTP version");
  }
  if (out.version_minor > 1) out.version_minor = 1;  // HTTP/1.2+ is treated as 1.1
  pos += 2;

  FieldScan scan;
  if (ParseError err = parse_fields(head, pos, out, scan, 400)) return err;

  if (iequals(out.method, "CONNECT")) return ParseError{501, "CONNECT is not supported"};
  if (ParseError err = classify_target(out)) return err;

  if (scan.host_count > 1) return bad("more than one Host header");
  if (scan.host_count == 0 && out.version_minor >= 1) return bad("missing Host header");
  if (scan.host_count == 1 && !scan.host.empty() && !valid_authority(scan.host)) {
    return bad("invalid Host header");
  }
  if (!out.host_from_target) out.authority = scan.host;
  out.host_missing = scan.host_count == 0 && !out.host_from_target;

  if (scan.content_length_bad) return bad("invalid or conflicting Content-Length");
  out.content_length_present = scan.content_length_seen;
  if (scan.transfer_encoding_seen) {
    if (scan.content_length_seen) return bad("both Content-Length and Transfer-Encoding");
    if (out.version_minor == 0) return bad("Transfer-Encoding in an HTTP/1.0 request");
    if (scan.chunked_count != 1 || !scan.chunked_last) {
      return bad("Transfer-Encoding other than a final \"chunked\"");
    }
    out.framing = BodyFraming::chunked;
  } else if (scan.content_length_seen && out.content_length > 0) {
    out.framing = BodyFraming::content_length;
  }

  out.method_is_head = out.method == "HEAD";
  out.websocket_upgrade = scan.upgrade_websocket && out.connection_upgrade &&
                          out.version_minor == 1 && out.method == "GET";
  for (const HeaderField& f : out.headers()) {
    if (f.id != HeaderId::x_request_id) continue;
    // Kept only when it is a plain token of sane size; anything else is replaced.
    bool ok = !f.value.empty() && f.value.size() <= 128;
    for (char c : f.value)
      ok = ok && c > 0x20 && c < 0x7f && c != '"' && c != '\\';
    if (ok) out.request_id = f.value;
  }
  return kOk;
}

ParseError parse_response_head(std::string_view head, bool request_method_is_head,
                               ResponseHead& out) {
  out.reset();
  const ParseError invalid{502, "invalid response head from the backend"};
  const char* p = head.data();
  const std::size_t end = head.size();
  if (end < 12) return invalid;
  bool other_version = false;
  if (!parse_version(head.substr(0, 8), out.version_minor, other_version) || p[8] != ' ') {
    return invalid;
  }
  for (int k = 9; k < 12; ++k) {
    if (p[k] < '0' || p[k] > '9') return invalid;
  }
  out.status = static_cast<std::uint16_t>((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
  if (out.status < 100) return invalid;
  std::size_t pos = 12;
  // The reason phrase is optional, and some servers omit even the space before it;
  // a fourth digit, though, is not a status code.
  if (p[pos] != ' ' && p[pos] != '\r') return invalid;
  if (p[pos] == ' ') ++pos;
  const std::size_t reason_start = pos;
  while (pos < end && kValueChar[static_cast<unsigned char>(p[pos])])
    ++pos;
  if (pos + 1 >= end || p[pos] != '\r' || p[pos + 1] != '\n') return invalid;
  out.reason = head.substr(reason_start, pos - reason_start);
  pos += 2;

  FieldScan scan;
  if (ParseError err = parse_fields(head, pos, out, scan, 502)) {
    return ParseError{502, err.reason};
  }
  if (scan.content_length_bad) return ParseError{502, "invalid Content-Length from the backend"};
  out.content_length_present = scan.content_length_seen;
  out.upgrade_websocket = out.status == 101 && scan.upgrade_websocket;

  const bool bodiless =
      request_method_is_head || out.status < 200 || out.status == 204 || out.status == 304;
  if (bodiless) {
    out.framing = BodyFraming::none;
  } else if (scan.transfer_encoding_seen) {
    if (scan.content_length_seen) {
      return ParseError{502, "backend sent both Content-Length and Transfer-Encoding"};
    }
    if (scan.chunked_count > 1) return ParseError{502, "backend applied chunked twice"};
    out.framing = scan.chunked_last ? BodyFraming::chunked : BodyFraming::until_close;
  } else if (scan.content_length_seen) {
    out.framing = out.content_length > 0 ? BodyFraming::content_length : BodyFraming::none;
  } else {
    out.framing = BodyFraming::until_close;
  }
  return kOk;
}

bool is_idempotent_method(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    if (method == m) return true;  // methods are case-sensitive (RFC 9110 section 9.1)
  }
  return false;
}

}  // namespace veer::http
