// libFuzzer target: admin::Api::handle, the whole admin router, fed up to four requests
// whose method, target, headers, body and body-limit flag all come from the input,
// against a FakeRuntime holding a real snapshot (2 pools, a split, 5 backends).
//
// Input layout (FuzzedDataProvider; fuzz/seed_admin.py writes seeds in it): from the
// end, one byte "tokens configured" and one byte "apply/reload fail"; then per request
// from the front the eight header strings and the body (backslash-terminated), and one
// byte from the end for body_too_large.
//
// Invariants, each a __builtin_trap(): the status is 100-599; a reply after which the
// runtime's state changed is 2xx; a JSON reply's body parses as JSON.
#include <fuzzer/FuzzedDataProvider.h>

#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "admin/api.hpp"
#include "core/log.hpp"
#include "fake_runtime.hpp"

namespace {

using veer::admin::AdminReply;
using veer::admin::AdminRequest;

constexpr std::size_t kMaxField = 256;
constexpr std::size_t kMaxBody = 4096;
constexpr int kMaxRequests = 4;

// The token the seeds send: 16 characters, the configured minimum.
constexpr const char* kToken = "fuzz-token-0123456789";

AdminRequest next_request(FuzzedDataProvider& in) {
  AdminRequest r;
  r.method = in.ConsumeRandomLengthString(kMaxField);
  r.target = in.ConsumeRandomLengthString(kMaxField);
  r.authorization = in.ConsumeRandomLengthString(kMaxField);
  r.if_match = in.ConsumeRandomLengthString(kMaxField);
  r.content_type = in.ConsumeRandomLengthString(kMaxField);
  r.host = in.ConsumeRandomLengthString(kMaxField);
  r.origin = in.ConsumeRandomLengthString(kMaxField);
  r.sec_fetch_site = in.ConsumeRandomLengthString(kMaxField);
  r.body = in.ConsumeRandomLengthString(kMaxBody);
  r.body_too_large = in.ConsumeBool();
  return r;
}

void check(const AdminReply& reply, bool state_changed) {
  if (reply.status < 100 || reply.status > 599) __builtin_trap();
  if (state_changed && (reply.status < 200 || reply.status > 299)) __builtin_trap();
  if (reply.content_type.rfind("application/json", 0) == 0) {
    // Strict: JSON is UTF-8 (RFC 8259 section 8.1), whatever bytes the request held.
    boost::system::error_code ec;
    boost::json::parse(reply.body, ec);
    if (ec) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Audit lines would fill the fuzzer's output: only errors are worth reading.
  veer::core::log::set_min_level(veer::core::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  veer::conf::AdminConfig admin;
  if (in.ConsumeBool()) admin.tokens.push_back({"fuzzer", kToken});
  veer::fuzz::FakeRuntime runtime(in.ConsumeBool());
  veer::admin::Api api(runtime, admin);
  // VEER_FUZZ_PRINT=1 build-fuzz/fuzz/fuzz_admin_router FILE shows what a crash replied.
  static const bool print = std::getenv("VEER_FUZZ_PRINT") != nullptr;
  for (int i = 0; i < kMaxRequests && in.remaining_bytes() > 0; ++i) {
    const AdminRequest request = next_request(in);
    const AdminReply reply = api.handle(request);
    if (print) {
      std::fprintf(stderr, "%s %s -> %u %s\n%s\n", request.method.c_str(), request.target.c_str(),
                   reply.status, reply.content_type.c_str(), reply.body.c_str());
    }
    check(reply, runtime.take_changed());
  }
  return 0;
}
