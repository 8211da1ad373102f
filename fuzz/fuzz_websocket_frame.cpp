// libFuzzer target: the WebSocket frame reader (http/websocket_frame.hpp). The first
// byte chooses the sender (bit 7: client frames, masked) and the read size (1-64
// bytes); the rest is the wire.
//
// Invariants, each a __builtin_trap(): reading in pieces gives the same events as
// reading the whole input at once; a call consumes no more than it was given and either
// makes progress or asks for more; payload views lie in the input or are a whole
// reassembled message within the size limit; text messages and close reasons are UTF-8;
// every error carries a sendable close code; a frame re-encoded with the writer reads
// back the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "http/websocket_frame.hpp"

namespace {

using namespace veer::http::ws;

constexpr std::size_t kMaxMessage = 4096;

struct Seen {
  Event::Kind kind;
  Opcode opcode;
  std::uint16_t code;
  std::string payload;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> read(Sender sender, const std::string& wire, std::size_t step) {
  FrameReader reader(sender, kMaxMessage);
  std::vector<Seen> events;
  std::string input;
  std::size_t fed = 0;
  while (true) {
    std::size_t consumed = 0;
    const Event e = reader.next(std::span<char>(input.data(), input.size()), consumed);
    if (consumed > input.size()) __builtin_trap();
    if (e.kind == Event::Kind::need_more) {
      if (consumed > 0) {
        input.erase(0, consumed);
        continue;
      }
      if (fed == wire.size()) break;
      const std::size_t n = std::min(step, wire.size() - fed);
      input.append(wire, fed, n);
      fed += n;
      continue;
    }
    const bool in_input = e.payload.data() >= input.data() &&
                          e.payload.data() + e.payload.size() <= input.data() + consumed;
    if (e.kind != Event::Kind::error && !in_input && e.payload.size() > kMaxMessage)
      __builtin_trap();
    if (e.kind == Event::Kind::message && e.opcode == Opcode::text && !valid_utf8(e.payload))
      __builtin_trap();
    if (e.kind == Event::Kind::close && e.close_code != 1005 && !close_code_valid(e.close_code))
      __builtin_trap();
    if (e.kind == Event::Kind::error && !close_code_valid(e.close_code)) __builtin_trap();
    events.push_back({e.kind, e.opcode, e.close_code, std::string(e.payload)});
    input.erase(0, consumed);
    if (e.kind == Event::Kind::error) break;
  }
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const Sender sender = (data[0] & 0x80) != 0 ? Sender::client : Sender::server;
  const std::size_t step = 1 + (data[0] & 0x3F);
  const std::string wire(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<Seen> whole = read(sender, wire, wire.size() + 1);
  if (read(sender, wire, step) != whole) __builtin_trap();
  // Every message read re-encodes to frames that read back the same.
  std::string again;
  std::vector<Seen> expected;
  for (const Seen& s : whole) {
    if (s.kind == Event::Kind::message) {
      append_frame(again, s.opcode, s.payload, sender, 0x12345678);
      expected.push_back(s);
    } else if (s.kind == Event::Kind::ping) {
      append_frame(again, Opcode::ping, s.payload, sender, 0x9abcdef0);
      expected.push_back(s);
    }
  }
  if (read(sender, again, 7) != expected) __builtin_trap();
  return 0;
}
