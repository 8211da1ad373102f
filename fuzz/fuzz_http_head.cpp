// libFuzzer target: the request and response head parsers (http/http_parser.hpp).
// The first byte chooses how the head arrives (in pieces of 1-64 bytes, as a socket
// delivers it) and whether the response answers a HEAD request; the rest is the head.
//
// Invariants, each a __builtin_trap(): find_head_end finds the same end whether the
// bytes arrive at once or in pieces; a parsed head's method and fields point into the
// input; a refusal carries a 4xx/5xx status and a reason.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/http_parser.hpp"

namespace {

using namespace veer::http;

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_error(const ParseError& error) {
  if (error && (error.status < 400 || error.status > 599 || error.reason.empty())) __builtin_trap();
}

// The end of the head as a socket would find it: the buffer grows by `step` bytes.
std::size_t end_in_pieces(std::string_view input, std::size_t step) {
  std::size_t scan_from = 0;
  for (std::size_t have = std::min(step, input.size());;
       have = std::min(have + step, input.size())) {
    const std::size_t end = find_head_end(input.substr(0, have), scan_from);
    if (end != 0 || have == input.size()) return end;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = data[0] % 64 + 1;
  const bool head_request = (data[0] & 0x80) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  std::size_t scan_from = 0;
  const std::size_t end = find_head_end(input, scan_from);
  if (end_in_pieces(input, step) != end || end > input.size()) __builtin_trap();
  // The parsers' precondition: a head as find_head_end delimits it.
  if (end == 0) return 0;
  // A copy of exactly the head, so that ASan sees a read past its end.
  const std::vector<char> bytes(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(end));
  const std::string_view head(bytes.data(), bytes.size());

  // MessageHead holds 256 fields: static, off the stack and not rebuilt per input.
  static RequestHead request;
  request.reset();
  const ParseError request_error = parse_request_head(head, request);
  check_error(request_error);
  if (!request_error) {
    if (!inside(request.method, head) || !inside(request.target, head)) __builtin_trap();
    for (const HeaderField& field : request.headers()) {
      if (!inside(field.name, head) || !inside(field.value, head)) __builtin_trap();
    }
    (void)is_idempotent_method(request.method);
  }

  static ResponseHead response;
  response.reset();
  const ParseError response_error = parse_response_head(head, head_request, response);
  check_error(response_error);
  if (!response_error && (response.status < 100 || response.status > 999)) __builtin_trap();
  return 0;
}
