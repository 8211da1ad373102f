#include "http/websocket_frame.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace veer::http::ws {
namespace {

constexpr std::uint32_t kKey = 0x37fa213d;

// Reads every event out of `wire` fed in pieces of `step` bytes, as a socket would.
std::vector<std::pair<Event::Kind, std::string>> read_all(FrameReader& reader, std::string wire,
                                                          std::size_t step,
                                                          std::uint16_t* last_code = nullptr) {
  std::vector<std::pair<Event::Kind, std::string>> events;
  std::string input;
  std::size_t fed = 0;
  while (true) {
    std::size_t consumed = 0;
    const Event e = reader.next(std::span<char>(input.data(), input.size()), consumed);
    const std::string payload(e.payload);  // before input changes
    input.erase(0, consumed);
    if (e.kind == Event::Kind::need_more) {
      if (consumed > 0) continue;
      if (fed == wire.size()) break;
      const std::size_t n = std::min(step, wire.size() - fed);
      input.append(wire, fed, n);
      fed += n;
      continue;
    }
    if (last_code != nullptr) *last_code = e.close_code;
    events.emplace_back(e.kind, payload);
    if (e.kind == Event::Kind::error) break;
  }
  return events;
}

TEST(WebSocketFrame, ClientTextFrameRoundTripsAtEverySplit) {
  std::string wire;
  append_frame(wire, Opcode::text, R"({"jsonrpc":"2.0","id":1})", Sender::client, kKey);
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    FrameReader reader(Sender::client, 1 << 20);
    const auto events = read_all(reader, wire, step);
    ASSERT_EQ(events.size(), 1u) << step;
    EXPECT_EQ(events[0].first, Event::Kind::message);
    EXPECT_EQ(events[0].second, R"({"jsonrpc":"2.0","id":1})");
  }
}

TEST(WebSocketFrame, LengthFormsRoundTrip) {
  for (const std::size_t size : {0u, 125u, 126u, 65535u, 65536u, 200000u}) {
    for (const Sender sender : {Sender::client, Sender::server}) {
      const std::string payload(size, 'x');
      std::string wire;
      append_frame(wire, Opcode::binary, payload, sender, kKey);
      const std::size_t header = size < 126 ? 2 : size <= 0xFFFF ? 4 : 10;
      EXPECT_EQ(wire.size(), header + (sender == Sender::client ? 4 : 0) + size);
      FrameReader reader(sender, 1 << 20);
      const auto events = read_all(reader, wire, 4096);
      ASSERT_EQ(events.size(), 1u);
      EXPECT_EQ(events[0].second, payload);
    }
  }
}

TEST(WebSocketFrame, MaskingIsRequiredOfClientsAndRefusedFromServers) {
  std::string unmasked;
  append_frame(unmasked, Opcode::text, "hi", Sender::server);
  std::uint16_t code = 0;
  FrameReader server_side(Sender::client, 1024);
  auto events = read_all(server_side, unmasked, 64, &code);
  ASSERT_EQ(events.back().first, Event::Kind::error);
  EXPECT_EQ(code, kCloseProtocolError);

  std::string masked;
  append_frame(masked, Opcode::text, "hi", Sender::client, kKey);
  FrameReader client_side(Sender::server, 1024);
  events = read_all(client_side, masked, 64, &code);
  ASSERT_EQ(events.back().first, Event::Kind::error);
  EXPECT_EQ(code, kCloseProtocolError);
}

TEST(WebSocketFrame, FragmentsReassembleAroundControlFrames) {
  std::string wire;
  char header[kMaxFrameHeader];
  wire.append(header, write_frame_header(header, Opcode::text, false, 3, Sender::server, 0));
  wire += "abc";
  append_frame(wire, Opcode::ping, "p", Sender::server);
  wire.append(header,
              write_frame_header(header, Opcode::continuation, false, 2, Sender::server, 0));
  wire += "de";
  wire.append(header, write_frame_header(header, Opcode::continuation, true, 1, Sender::server, 0));
  wire += "f";
  append_frame(wire, Opcode::text, "next", Sender::server);
  FrameReader reader(Sender::server, 1024);
  const auto events = read_all(reader, wire, 3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], std::make_pair(Event::Kind::ping, std::string("p")));
  EXPECT_EQ(events[1], std::make_pair(Event::Kind::message, std::string("abcdef")));
  EXPECT_EQ(events[2], std::make_pair(Event::Kind::message, std::string("next")));
}

TEST(WebSocketFrame, MessageSizeIsBoundedAcrossFragments) {
  std::string wire;
  char header[kMaxFrameHeader];
  wire.append(header, write_frame_header(header, Opcode::text, false, 6, Sender::server, 0));
  wire += "123456";
  wire.append(header, write_frame_header(header, Opcode::continuation, true, 6, Sender::server, 0));
  wire += "789012";
  FrameReader reader(Sender::server, 10);
  std::uint16_t code = 0;
  const auto events = read_all(reader, wire, 100, &code);
  ASSERT_EQ(events.back().first, Event::Kind::error);
  EXPECT_EQ(code, kCloseTooBig);
}

TEST(WebSocketFrame, ProtocolViolationsAreRefused) {
  const auto refused = [](std::string wire, std::uint16_t expected) {
    FrameReader reader(Sender::server, 1024);
    std::uint16_t code = 0;
    const auto events = read_all(reader, std::move(wire), 100, &code);
    return !events.empty() && events.back().first == Event::Kind::error && code == expected;
  };
  EXPECT_TRUE(refused(std::string("\xC1\x00", 2), kCloseProtocolError));  // RSV1
  EXPECT_TRUE(refused(std::string("\x83\x00", 2), kCloseProtocolError));  // opcode 3
  EXPECT_TRUE(refused(std::string("\x8B\x00", 2), kCloseProtocolError));  // opcode 0xB
  EXPECT_TRUE(refused(std::string("\x09\x00", 2), kCloseProtocolError));  // fragmented ping
  EXPECT_TRUE(refused(std::string("\x89\x7E\x00\x7E", 4) + std::string(126, 'x'),
                      kCloseProtocolError));                              // ping > 125
  EXPECT_TRUE(refused(std::string("\x80\x00", 2), kCloseProtocolError));  // lone continuation
  EXPECT_TRUE(refused(std::string("\x81\x7E\x00\x05hello", 9), kCloseProtocolError));  // long form
  EXPECT_TRUE(refused(std::string("\x01\x01"
                                  "a\x81\x01"
                                  "b",
                                  6),
                      kCloseProtocolError));
  EXPECT_TRUE(refused(std::string("\x81\x02\xC3\x28", 4), kCloseInvalidData));    // bad UTF-8
  EXPECT_TRUE(refused(std::string("\x88\x01\x03", 3), kCloseProtocolError));      // 1-byte close
  EXPECT_TRUE(refused(std::string("\x88\x02\x03\xED", 4), kCloseProtocolError));  // code 1005
  EXPECT_TRUE(refused(std::string("\x81\x7F\x80\x00\x00\x00\x00\x00\x00\x00", 10),
                      kCloseProtocolError));  // top bit of a 64-bit length
}

TEST(WebSocketFrame, CloseFramesCarryCodeAndReason) {
  std::string wire;
  append_close(wire, kCloseServiceRestart, "backend gone", Sender::client, kKey);
  FrameReader reader(Sender::client, 1024);
  std::uint16_t code = 0;
  const auto events = read_all(reader, wire, 100, &code);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first, Event::Kind::close);
  EXPECT_EQ(events[0].second, "backend gone");
  EXPECT_EQ(code, kCloseServiceRestart);

  std::string empty;
  append_frame(empty, Opcode::close, "", Sender::server);
  FrameReader other(Sender::server, 1024);
  read_all(other, empty, 100, &code);
  EXPECT_EQ(code, 1005);
}

TEST(WebSocketFrame, CloseReasonsAreCutToFitWithoutSplittingCharacters) {
  std::string reason;
  for (int i = 0; i < 100; ++i)
    reason += "\xC3\xA9";  // 200 bytes of "é"
  std::string wire;
  append_close(wire, kCloseNormal, reason, Sender::server);
  FrameReader reader(Sender::server, 1024);
  const auto events = read_all(reader, wire, 1000);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first, Event::Kind::close);
  EXPECT_LE(events[0].second.size(), 123u);
  EXPECT_TRUE(valid_utf8(events[0].second));
}

TEST(WebSocketFrame, Utf8Validation) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xE2\x82"));          // truncated
}

// A model test: random messages, fragmented at random and interleaved with pings, in
// random read sizes, come out whole and in order.
TEST(WebSocketFrame, RandomFragmentationModel) {
  std::mt19937 rng(16);
  for (int round = 0; round < 200; ++round) {
    const Sender sender = round % 2 == 0 ? Sender::client : Sender::server;
    std::vector<std::pair<Event::Kind, std::string>> expected;
    std::string wire;
    const int messages = 1 + static_cast<int>(rng() % 8);
    for (int m = 0; m < messages; ++m) {
      std::string text(rng() % 300, 'a');
      for (char& c : text)
        c = static_cast<char>('a' + rng() % 26);
      std::size_t at = 0;
      bool first = true;
      do {
        const std::size_t n = std::min<std::size_t>(text.size() - at, rng() % 100);
        const bool fin = at + n == text.size();
        char header[kMaxFrameHeader];
        const std::uint32_t key = static_cast<std::uint32_t>(rng());
        wire.append(header, write_frame_header(header, first ? Opcode::text : Opcode::continuation,
                                               fin, n, sender, key));
        const std::size_t payload_at = wire.size();
        wire.append(text, at, n);
        if (sender == Sender::client) apply_mask(wire.data() + payload_at, n, key);
        at += n;
        first = false;
        if (fin) expected.emplace_back(Event::Kind::message, text);
        if (rng() % 4 == 0) {
          append_frame(wire, Opcode::ping, "x", sender, key);
          expected.emplace_back(Event::Kind::ping, "x");
        }
        if (fin) break;
      } while (true);
    }
    FrameReader reader(sender, 1 << 16);
    EXPECT_EQ(read_all(reader, wire, 1 + rng() % 64), expected) << round;
  }
}

}  // namespace
}  // namespace veer::http::ws
