// libFuzzer target: the PROXY protocol header parser (http/proxy_protocol.hpp). The
// first byte chooses the piece size (1-64 bytes, as a socket delivers them); the rest is
// what a connection starts with.
//
// Invariants, each a __builtin_trap(): the input may be split anywhere, so parsing in
// pieces gives the same status, the same bytes taken and the same header as parsing at
// once; a feed never takes more than it was given; a finished header is no longer than
// the version allows and its length is what was taken; an error carries a reason.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/proxy_protocol.hpp"

namespace {

using veer::http::ProxyHeader;
using veer::http::ProxyHeaderParser;
using Status = ProxyHeaderParser::Status;

struct Parsed {
  Status status = Status::need_more;
  std::size_t taken = 0;
  ProxyHeader header;
  std::size_t length = 0;
};

Parsed parse(std::string_view input, std::size_t step) {
  ProxyHeaderParser parser;
  Parsed out;
  for (std::size_t at = 0; at < input.size(); at += step) {
    const std::string_view piece = input.substr(at, step);
    const ProxyHeaderParser::Result r = parser.feed(piece);
    if (r.consumed > piece.size()) __builtin_trap();
    if (r.status == Status::need_more && r.consumed != piece.size()) __builtin_trap();
    out.taken += r.consumed;
    out.status = r.status;
    if (r.status != Status::need_more) break;
  }
  if (out.status == Status::error && parser.error().empty()) __builtin_trap();
  if (out.status != Status::need_more && parser.feed("more").consumed != 0) __builtin_trap();
  out.header = parser.header();
  out.length = parser.header_length();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = data[0] % 64 + 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const Parsed whole = parse(input, input.size() + 1);
  const Parsed pieces = parse(input, step);
  if (whole.status != pieces.status) __builtin_trap();
  if (whole.status == Status::done) {
    if (whole.taken != pieces.taken || whole.length != whole.taken) __builtin_trap();
    const ProxyHeader& a = whole.header;
    const ProxyHeader& b = pieces.header;
    if (a.has_address != b.has_address || a.version != b.version || !(a.source == b.source) ||
        a.source_port != b.source_port || !(a.destination == b.destination) ||
        a.destination_port != b.destination_port)
      __builtin_trap();
    const std::size_t limit =
        a.version == 1 ? ProxyHeaderParser::kMaxV1Length : 16 + ProxyHeaderParser::kMaxV2Payload;
    if (whole.length > limit) __builtin_trap();
  }
  return 0;
}
