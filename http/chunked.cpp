#include "http/chunked.hpp"

#include <algorithm>

#include "core/hex.hpp"

namespace veer::http {
namespace {

bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_value_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

// 2^60 bytes: no real chunk comes close, and the bound keeps the sum from overflowing.
constexpr std::uint64_t kMaxChunk = std::uint64_t{1} << 60;

}  // namespace

ChunkedDecoder::Result ChunkedDecoder::fail(std::string_view why, std::size_t consumed) {
  state_ = State::failed;
  error_ = why;
  return Result{Status::error, consumed};
}

// One function on purpose: a byte-level state machine, one switch over the states per
// input byte. Each case is a few lines and reads against RFC 9112 section 7.1's grammar
// beside its neighbours; split into functions, every byte would pay a call and the
// state would travel through their arguments.
ChunkedDecoder::Result ChunkedDecoder::next(std::string_view in, std::string_view* data) {
  *data = {};
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    switch (state_) {
      case State::size: {
        const int h = core::hex_value(c);
        if (h >= 0) {
          if (chunk_remaining_ > (kMaxChunk >> 4)) return fail("chunk size too large", i);
          chunk_remaining_ = (chunk_remaining_ << 4) | static_cast<std::uint64_t>(h);
          ++size_digits_;
        } else if (size_digits_ == 0) {
          return fail("invalid chunk size", i);
        } else if (c == ';') {
          state_ = State::extension;
        } else if (c == ' ' || c == '\t') {
          state_ = State::size_ws;
        } else if (c == '\r') {
          state_ = State::size_lf;
        } else {
          return fail("invalid chunk size", i);
        }
        break;
      }
      case State::size_ws:
        if (c == ';') {
          state_ = State::extension;
        } else if (c == '\r') {
          state_ = State::size_lf;
        } else if (c != ' ' && c != '\t') {
          return fail("invalid chunk size line", i);
        }
        break;
      case State::extension:
        if (c == '\r') {
          state_ = State::size_lf;
        } else if (!is_value_char(c)) {
          return fail("invalid chunk extension", i);
        }
        break;
      case State::size_lf:
        if (c != '\n') return fail("chunk size line must end with CRLF", i);
        size_digits_ = 0;
        line_bytes_ = 0;
        state_ = chunk_remaining_ == 0 ? State::trailer_start : State::data;
        ++i;
        continue;
      case State::data: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk_remaining_, in.size() - i));
        *data = in.substr(i, take);
        chunk_remaining_ -= take;
        data_bytes_ += take;
        i += take;
        if (chunk_remaining_ == 0) state_ = State::data_cr;
        return Result{Status::more, i};
      }
      case State::data_cr:
        if (c != '\r') return fail("chunk data must end with CRLF", i);
        state_ = State::data_lf;
        break;
      case State::data_lf:
        if (c != '\n') return fail("chunk data must end with CRLF", i);
        state_ = State::size;
        ++i;
        continue;
      case State::trailer_start:
        if (c == '\r') {
          state_ = State::final_lf;
        } else if (is_tchar(c)) {
          state_ = State::trailer_name;
        } else {
          return fail("invalid trailer field", i);
        }
        break;
      case State::trailer_name:
        if (c == ':') {
          state_ = State::trailer_value;
        } else if (!is_tchar(c)) {
          return fail("invalid trailer field name", i);
        }
        break;
      case State::trailer_value:
        if (c == '\r') {
          state_ = State::trailer_lf;
        } else if (!is_value_char(c)) {
          return fail("invalid trailer field value", i);
        }
        break;
      case State::trailer_lf:
        if (c != '\n') return fail("trailer field must end with CRLF", i);
        state_ = State::trailer_start;
        break;
      case State::final_lf:
        if (c != '\n') return fail("chunked body must end with CRLF", i);
        state_ = State::done;
        return Result{Status::done, i + 1};
      case State::done:
        return Result{Status::done, i};
      case State::failed:
        return Result{Status::error, i};
    }
    // Bytes outside chunk data: size lines, extensions and trailers are bounded.
    if (++line_bytes_ > max_line_bytes_) return fail("chunk size line or trailers too long", i);
    ++i;
  }
  if (state_ == State::done) return Result{Status::done, i};
  if (state_ == State::failed) return Result{Status::error, i};
  return Result{Status::more, i};
}

}  // namespace veer::http
