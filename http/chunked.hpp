#pragma once

#include <cstdint>
#include <string_view>

namespace veer::http {

// Streaming validator and decoder for the chunked transfer coding (RFC 9112 section 7.1).
// The proxy forwards chunked bodies byte for byte, so this class decides exactly
// where a body ends and refuses every ambiguous form (bare LF, sizes with signs or
// spaces inside, overflow, malformed trailers) before a byte of it is forwarded.
// State survives between calls: input may be split anywhere.
class ChunkedDecoder {
 public:
  enum class Status { more, done, error };
  struct Result {
    Status status = Status::more;
    std::size_t consumed = 0;  // bytes of the input used, chunk data included
  };

  // `max_line_bytes` bounds a chunk-size line with extensions and the trailer section.
  explicit ChunkedDecoder(std::size_t max_line_bytes = 16384) : max_line_bytes_(max_line_bytes) {}

  // Advances through `in` and stops at the end of the input, the end of the message,
  // an error, or after a piece of chunk data, which it returns in *data (a view into
  // `in`; empty when none). Loop until all input is consumed or the status is final.
  Result next(std::string_view in, std::string_view* data);

  std::uint64_t data_bytes() const { return data_bytes_; }
  std::string_view error() const { return error_; }
  bool done() const { return state_ == State::done; }

 private:
  enum class State {
    size,
    size_ws,
    extension,
    size_lf,
    data,
    data_cr,
    data_lf,
    trailer_start,
    trailer_name,
    trailer_value,
    trailer_lf,
    final_lf,
    done,
    failed,
  };
  Result fail(std::string_view why, std::size_t consumed);

  State state_ = State::size;
  std::uint64_t chunk_remaining_ = 0;
  std::uint64_t data_bytes_ = 0;
  std::size_t line_bytes_ = 0;
  std::size_t size_digits_ = 0;
  std::size_t max_line_bytes_;
  std::string_view error_;
};

}  // namespace veer::http
