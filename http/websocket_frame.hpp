#pragma once

// A strict RFC 6455 frame codec, for the JSON-RPC subscription relay
// (proxy/jsonrpc_ws_relay.cpp), which reads both the client's frames (masked) and the
// backend's (unmasked). Parsing is incremental and allocation-free: a frame is
// recognised in the caller's bytes, its payload unmasked in place and handed out as a
// view; only a fragmented data message is copied, into the reader's own bounded buffer.
//
// Refused (the event carries the close code to send): an unmasked client frame or a
// masked server frame, reserved bits (no extension is negotiated), reserved opcodes,
// control frames over 125 bytes or fragmented, a continuation without a message or a
// new data frame inside one, messages over the maximum size (1009), text that is not
// UTF-8 (1007), close frames with a 1-byte payload or a code that may not be sent.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace veer::http::ws {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Who sent the frames being read (or who writes them): clients mask, servers do not.
enum class Sender : std::uint8_t { client, server };

// Close codes veer sends (RFC 6455 section 7.4.1).
inline constexpr std::uint16_t kCloseNormal = 1000;
inline constexpr std::uint16_t kCloseGoingAway = 1001;
inline constexpr std::uint16_t kCloseProtocolError = 1002;
inline constexpr std::uint16_t kCloseInvalidData = 1007;
inline constexpr std::uint16_t kClosePolicy = 1008;
inline constexpr std::uint16_t kCloseTooBig = 1009;
inline constexpr std::uint16_t kCloseInternalError = 1011;
inline constexpr std::uint16_t kCloseServiceRestart = 1012;
inline constexpr std::uint16_t kCloseTryAgainLater = 1013;

// Whether a peer may put `code` in a close frame (1005, 1006 and 1015 are never sent).
bool close_code_valid(std::uint16_t code);
bool valid_utf8(std::string_view text);

struct Event {
  enum class Kind : std::uint8_t {
    need_more,  // the bytes end inside a frame: read more and call again
    message,    // a whole data message: `opcode` (text or binary) and `payload`
    ping,       // `payload`: to be echoed in a pong
    pong,
    close,  // `close_code` (1005 when the frame had none) and `payload` (the reason)
    error,  // a protocol violation: close with `close_code`, `payload` says why
  };
  Kind kind = Kind::need_more;
  Opcode opcode = Opcode::text;
  std::string_view payload;  // in the caller's bytes or the reader's buffer
  std::uint16_t close_code = 0;
};

class FrameReader {
 public:
  FrameReader(Sender sender, std::size_t max_message)
      : sender_(sender), max_message_(max_message) {}

  // The next event in `input`; `consumed` is set to the bytes of `input` that were used
  // (the caller drops them before the next call). Payload views stay valid until the
  // caller changes `input` or calls again. Masked payloads are unmasked in place. After
  // an error the reader refuses everything.
  Event next(std::span<char> input, std::size_t& consumed);

  // Bytes of a fragmented message gathered so far (0 between messages).
  std::size_t assembling() const { return assembly_.size(); }

 private:
  Event fail(std::uint16_t code, std::string_view why);
  Event data_frame(Opcode opcode, bool fin, std::string_view payload);
  Event control_frame(Opcode opcode, std::string_view payload);

  Sender sender_;
  std::size_t max_message_;
  bool in_message_ = false;  // a fragmented message is open
  Opcode message_opcode_ = Opcode::text;
  bool failed_ = false;
  std::string assembly_;
};

// The header of one frame: at most 14 bytes. `mask_key` is used when `sender` is a
// client. Returns the header's length.
inline constexpr std::size_t kMaxFrameHeader = 14;
std::size_t write_frame_header(char* out, Opcode opcode, bool fin, std::uint64_t payload_length,
                               Sender sender, std::uint32_t mask_key);

// Appends a whole (FIN) frame to `out`; a client's payload is masked with `mask_key`.
void append_frame(std::string& out, Opcode opcode, std::string_view payload, Sender sender,
                  std::uint32_t mask_key = 0);
// A close frame with `code` and `reason` (cut to fit 125 bytes).
void append_close(std::string& out, std::uint16_t code, std::string_view reason, Sender sender,
                  std::uint32_t mask_key = 0);

// XORs `data` with the 4-byte key, starting at key position `offset % 4`.
void apply_mask(char* data, std::size_t length, std::uint32_t mask_key, std::size_t offset = 0);

}  // namespace veer::http::ws
