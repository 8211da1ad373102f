// libFuzzer target: the chunked transfer-coding decoder (http/chunked.hpp). The first
// byte chooses the piece size (1-64 bytes) and the line limit; the rest is the body.
//
// Invariants, each a __builtin_trap(): the input may be split anywhere, so decoding in
// pieces gives the same status, end and data as decoding at once; every call makes
// progress or stops; data views lie inside the input; data_bytes() counts the data.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/chunked.hpp"

namespace {

using veer::http::ChunkedDecoder;

struct Decoded {
  ChunkedDecoder::Status status = ChunkedDecoder::Status::more;
  std::size_t end = 0;  // bytes consumed in all
  std::string data;
};

Decoded decode(std::string_view body, std::size_t step, std::size_t max_line) {
  ChunkedDecoder decoder(max_line);
  Decoded out;
  for (std::size_t offset = 0; offset < body.size(); offset += step) {
    const std::string_view piece = body.substr(offset, step);
    std::size_t used = 0;
    while (used < piece.size()) {
      std::string_view data;
      const ChunkedDecoder::Result r = decoder.next(piece.substr(used), &data);
      if (r.consumed > piece.size() - used) __builtin_trap();
      if (!data.empty() && (data.data() < piece.data() + used ||
                            data.data() + data.size() > piece.data() + used + r.consumed))
        __builtin_trap();
      if (r.status == ChunkedDecoder::Status::more && r.consumed == 0) __builtin_trap();
      used += r.consumed;
      out.data += data;
      out.status = r.status;
      if (r.status != ChunkedDecoder::Status::more) {
        out.end = offset + used;
        if (r.status == ChunkedDecoder::Status::done && decoder.data_bytes() != out.data.size())
          __builtin_trap();
        if (r.status == ChunkedDecoder::Status::error && decoder.error().empty()) __builtin_trap();
        return out;
      }
    }
  }
  out.end = body.size();
  if (decoder.data_bytes() != out.data.size()) __builtin_trap();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = data[0] % 64 + 1;
  // Small line limits reach the "line too long" paths with short inputs.
  const std::size_t max_line = (data[0] & 0x80) != 0 ? 16 : 16384;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const Decoded whole = decode(body, body.size() + 1, max_line);
  const Decoded pieces = decode(body, step, max_line);
  if (whole.status != pieces.status || whole.end != pieces.end) __builtin_trap();
  if (whole.status != ChunkedDecoder::Status::error && whole.data != pieces.data) __builtin_trap();
  return 0;
}
