#pragma once

// Parsed HTTP/1.1 message heads. Every string_view points into the connection's
// input buffer, which must stay untouched while the head is in use: parsing copies
// nothing and allocates nothing.

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace veer::http {

// Header names the proxy acts on; everything else is `other` and forwarded as is.
enum class HeaderId : std::uint8_t {
  other,
  host,
  content_length,
  transfer_encoding,
  connection,
  keep_alive,
  te,
  trailer,
  upgrade,
  http2_settings,
  proxy_prefixed,  // Proxy-Connection, Proxy-Authorization, ...: never forwarded
  expect,
  x_forwarded_for,
  x_forwarded_proto,
  x_forwarded_host,
  x_forwarded_port,
  x_real_ip,
  forwarded,  // RFC 7239
  x_request_id,
  user_agent,  // forwarded as is; located for the access log
};

HeaderId classify_header(std::string_view name);

struct HeaderField {
  std::string_view name;
  std::string_view value;  // without surrounding whitespace
  HeaderId id = HeaderId::other;
};

enum class BodyFraming : std::uint8_t {
  none,            // no body
  content_length,  // exactly content_length bytes
  chunked,         // Transfer-Encoding: chunked
  until_close,     // responses only: the body ends when the backend closes
};

// Upper bounds that keep a head in fixed storage. 256 fields is far above what real
// clients send (browsers about 20, JSON-RPC clients fewer than 10) and above the
// defaults of Envoy (100) and HAProxy (101); more is answered with 431.
inline constexpr std::size_t kMaxHeaderFields = 256;
// Tokens of the Connection header that name further hop-by-hop headers.
inline constexpr std::size_t kMaxConnectionTokens = 16;

struct MessageHead {
  std::array<HeaderField, kMaxHeaderFields> fields;
  std::uint16_t field_count = 0;
  std::array<std::string_view, kMaxConnectionTokens> connection_tokens;
  std::uint8_t connection_token_count = 0;
  std::uint8_t version_minor = 1;  // HTTP/1.x
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_upgrade = false;
  bool content_length_present = false;
  BodyFraming framing = BodyFraming::none;
  std::uint64_t content_length = 0;
  std::size_t head_length = 0;  // bytes of the head including the final empty line

  std::span<const HeaderField> headers() const { return {fields.data(), field_count}; }
  // Clears what a parse sets; the 256-entry arrays are left as they are (field_count
  // and connection_token_count say how much of them is valid), so resetting costs a few
  // stores instead of a 10 KB copy per request.
  void reset_scalars() {
    field_count = 0;
    connection_token_count = 0;
    version_minor = 1;
    connection_close = connection_keep_alive = connection_upgrade = false;
    content_length_present = false;
    framing = BodyFraming::none;
    content_length = 0;
    head_length = 0;
  }
  // True when the Connection header lists `name` (case-insensitive).
  bool connection_lists(std::string_view name) const;
  // Whether the connection persists after this message (RFC 9112 section 9.3).
  bool keep_alive() const {
    return version_minor >= 1 ? !connection_close : connection_keep_alive && !connection_close;
  }
};

struct RequestHead : MessageHead {
  std::string_view method;
  std::string_view target;        // as received
  std::string_view path;          // origin-form path+query forwarded upstream
  std::string_view authority;     // from Host, or from an absolute-form target
  std::string_view request_id;    // incoming X-Request-Id, when valid
  bool host_from_target = false;  // absolute-form: Host is replaced by the target's authority
  bool host_missing = false;      // HTTP/1.0 without Host: veer adds one (header_rewrite.hpp)
  bool websocket_upgrade = false;
  bool method_is_head = false;

  void reset() {
    reset_scalars();
    method = target = path = authority = request_id = {};
    host_from_target = host_missing = websocket_upgrade = method_is_head = false;
  }
};

struct ResponseHead : MessageHead {
  std::uint16_t status = 0;
  std::string_view reason;  // may be empty ("HTTP/1.1 200 ")
  bool upgrade_websocket = false;

  void reset() {
    reset_scalars();
    status = 0;
    reason = {};
    upgrade_websocket = false;
  }
};

}  // namespace veer::http
