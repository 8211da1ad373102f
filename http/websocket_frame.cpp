#include "http/websocket_frame.hpp"

#include <cstring>

namespace veer::http::ws {

bool close_code_valid(std::uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;  // registered and private use
  switch (code) {
    case 1000:
    case 1001:
    case 1002:
    case 1003:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
    case 1011:
    case 1012:
    case 1013:
    case 1014:
      return true;
    default:
      return false;
  }
}

bool valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t lowest = 0;
    std::uint32_t value = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2, lowest = 0x80, value = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, lowest = 0x800, value = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, lowest = 0x10000, value = c & 0x07;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) < length) return false;
    for (std::size_t i = 1; i < length; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      value = (value << 6) | (p[i] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    if (value < lowest || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return false;
    p += length;
  }
  return true;
}

void apply_mask(char* data, std::size_t length, std::uint32_t mask_key, std::size_t offset) {
  unsigned char key[4];
  std::memcpy(key, &mask_key, 4);  // the key's bytes in wire order
  for (std::size_t i = 0; i < length; ++i)
    data[i] = static_cast<char>(static_cast<unsigned char>(data[i]) ^ key[(offset + i) & 3]);
}

Event FrameReader::fail(std::uint16_t code, std::string_view why) {
  failed_ = true;
  assembly_.clear();
  Event e;
  e.kind = Event::Kind::error;
  e.close_code = code;
  e.payload = why;
  return e;
}

Event FrameReader::next(std::span<char> input, std::size_t& consumed) {
  consumed = 0;
  if (!in_message_) assembly_.clear();  // the message handed out last time is done with
  if (failed_) return fail(kCloseProtocolError, "the connection already failed");
  if (input.size() < 2) return {};
  const auto b0 = static_cast<unsigned char>(input[0]);
  const auto b1 = static_cast<unsigned char>(input[1]);
  const bool fin = (b0 & 0x80) != 0;
  if ((b0 & 0x70) != 0) return fail(kCloseProtocolError, "reserved bits set");
  const auto opcode = static_cast<Opcode>(b0 & 0x0F);
  const bool control = (b0 & 0x08) != 0;
  switch (opcode) {
    case Opcode::continuation:
    case Opcode::text:
    case Opcode::binary:
    case Opcode::close:
    case Opcode::ping:
    case Opcode::pong:
      break;
    default:
      return fail(kCloseProtocolError, "reserved opcode");
  }
  const bool masked = (b1 & 0x80) != 0;
  if (masked != (sender_ == Sender::client))
    return fail(kCloseProtocolError,
                masked ? "a server frame is masked" : "a client frame is not masked");
  std::uint64_t length = b1 & 0x7F;
  std::size_t header = 2;
  if (length == 126) {
    if (input.size() < 4) return {};
    length = (std::uint64_t{static_cast<unsigned char>(input[2])} << 8) |
             static_cast<unsigned char>(input[3]);
    if (length < 126) return fail(kCloseProtocolError, "a length not in its shortest form");
    header = 4;
  } else if (length == 127) {
    if (input.size() < 10) return {};
    length = 0;
    for (int i = 2; i < 10; ++i)
      length = (length << 8) | static_cast<unsigned char>(input[static_cast<std::size_t>(i)]);
    if (length >> 63) return fail(kCloseProtocolError, "the length's top bit is set");
    if (length <= 0xFFFF) return fail(kCloseProtocolError, "a length not in its shortest form");
    header = 10;
  }
  if (control && (!fin || length > 125))
    return fail(kCloseProtocolError, "a control frame fragmented or over 125 bytes");
  if (!control && length > max_message_ - assembly_.size())
    return fail(kCloseTooBig, "message too big");
  std::uint32_t mask_key = 0;
  if (masked) {
    if (input.size() < header + 4) return {};
    std::memcpy(&mask_key, input.data() + header, 4);
    header += 4;
  }
  if (input.size() - header < length) return {};
  char* payload = input.data() + header;
  const auto size = static_cast<std::size_t>(length);
  if (masked) apply_mask(payload, size, mask_key);
  consumed = header + size;
  const std::string_view view(payload, size);
  return control ? control_frame(opcode, view) : data_frame(opcode, fin, view);
}

Event FrameReader::data_frame(Opcode opcode, bool fin, std::string_view payload) {
  if (opcode == Opcode::continuation && !in_message_)
    return fail(kCloseProtocolError, "a continuation frame without a message");
  if (opcode != Opcode::continuation && in_message_)
    return fail(kCloseProtocolError, "a new message inside a fragmented one");
  Event e;
  if (opcode != Opcode::continuation && fin) {  // the common case: no copy
    e.payload = payload;
    e.opcode = opcode;
  } else {
    if (opcode != Opcode::continuation) {
      in_message_ = true;
      message_opcode_ = opcode;
    }
    assembly_.append(payload);
    if (!fin) return {};  // need_more, with the frame consumed
    in_message_ = false;
    e.payload = assembly_;
    e.opcode = message_opcode_;
  }
  if (e.opcode == Opcode::text && !valid_utf8(e.payload))
    return fail(kCloseInvalidData, "text that is not UTF-8");
  e.kind = Event::Kind::message;
  return e;
}

Event FrameReader::control_frame(Opcode opcode, std::string_view payload) {
  Event e;
  e.payload = payload;
  if (opcode == Opcode::ping) {
    e.kind = Event::Kind::ping;
  } else if (opcode == Opcode::pong) {
    e.kind = Event::Kind::pong;
  } else {
    e.kind = Event::Kind::close;
    if (payload.empty()) {
      e.close_code = 1005;  // "no status", as RFC 6455 reports it
      return e;
    }
    if (payload.size() == 1) return fail(kCloseProtocolError, "a close frame of one byte");
    e.close_code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                              static_cast<unsigned char>(payload[1]));
    if (!close_code_valid(e.close_code))
      return fail(kCloseProtocolError, "a close code that may not be sent");
    e.payload = payload.substr(2);
    if (!valid_utf8(e.payload)) return fail(kCloseInvalidData, "a close reason that is not UTF-8");
  }
  return e;
}

std::size_t write_frame_header(char* out, Opcode opcode, bool fin, std::uint64_t payload_length,
                               Sender sender, std::uint32_t mask_key) {
  const bool masked = sender == Sender::client;
  out[0] = static_cast<char>((fin ? 0x80 : 0) | static_cast<unsigned>(opcode));
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  std::size_t n = 2;
  if (payload_length < 126) {
    out[1] = static_cast<char>(mask_bit | static_cast<char>(payload_length));
  } else if (payload_length <= 0xFFFF) {
    out[1] = static_cast<char>(mask_bit | 126);
    out[2] = static_cast<char>(payload_length >> 8);
    out[3] = static_cast<char>(payload_length);
    n = 4;
  } else {
    out[1] = static_cast<char>(mask_bit | 127);
    for (int i = 0; i < 8; ++i)
      out[2 + i] = static_cast<char>(payload_length >> (56 - 8 * i));
    n = 10;
  }
  if (masked) {
    std::memcpy(out + n, &mask_key, 4);
    n += 4;
  }
  return n;
}

void append_frame(std::string& out, Opcode opcode, std::string_view payload, Sender sender,
                  std::uint32_t mask_key) {
  char header[kMaxFrameHeader];
  const std::size_t n = write_frame_header(header, opcode, true, payload.size(), sender, mask_key);
  out.append(header, n);
  const std::size_t at = out.size();
  out.append(payload);
  if (sender == Sender::client) apply_mask(out.data() + at, payload.size(), mask_key);
}

void append_close(std::string& out, std::uint16_t code, std::string_view reason, Sender sender,
                  std::uint32_t mask_key) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  reason = reason.substr(0, 123);
  // Never cut a UTF-8 sequence in two.
  while (!reason.empty() && !valid_utf8(reason))
    reason.remove_suffix(1);
  payload.append(reason);
  append_frame(out, Opcode::close, payload, sender, mask_key);
}

}  // namespace veer::http::ws
