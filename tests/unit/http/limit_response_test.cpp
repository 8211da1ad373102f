#include "http/limit_response.hpp"

#include <gtest/gtest.h>

#include <string>

#include "http/http_parser.hpp"

namespace veer::http {
namespace {

LimitRefusal policy_refusal() {
  LimitRefusal r;
  r.detail = "rate limit exceeded";
  r.limited_by = "per_client";
  r.retry_after_seconds = 2;
  r.policy_field = R"("per_client";q=100;w=1)";
  r.request_id = "rid-7";
  return r;
}

// The response parsed as a client would: head, then exactly Content-Length bytes.
struct Parsed {
  std::string text;  // the head's views point here
  std::unique_ptr<ResponseHead> head = std::make_unique<ResponseHead>();
  std::string body;
  std::string field(std::string_view name) const {
    for (const HeaderField& f : head->headers()) {
      if (f.name == name) return std::string(f.value);
    }
    return "<none>";
  }
};

Parsed parse(const std::string& response, bool head_only = false) {
  Parsed p;
  p.text = response;
  const std::string& text = p.text;
  std::size_t scan = 0;
  const std::size_t end = find_head_end(text, scan);
  EXPECT_GT(end, 0u) << text;
  const ParseError error =
      parse_response_head(std::string_view(text).substr(0, end), head_only, *p.head);
  EXPECT_FALSE(error) << error.reason << "\n" << text;
  p.body = text.substr(end);
  if (!head_only) {
    EXPECT_EQ(p.body.size(), p.head->content_length) << text;
  }
  return p;
}

std::string write(const LimitRefusal& r, std::size_t* body_length = nullptr) {
  core::Buffer out;
  out.append("earlier bytes stay|");
  const std::size_t n = write_limit_response(r, out);
  if (body_length != nullptr) *body_length = n;
  const std::string all(out.readable());
  EXPECT_EQ(all.substr(0, 19), "earlier bytes stay|");
  return all.substr(19);
}

TEST(LimitResponse, PolicyRefusalHasRetryAfterAndRateLimitFields) {
  std::size_t body_length = 0;
  const Parsed p = parse(write(policy_refusal(), &body_length));
  EXPECT_EQ(p.head->status, 429);
  EXPECT_EQ(p.head->reason, "Too Many Requests");
  EXPECT_EQ(p.field("Retry-After"), "2");
  EXPECT_EQ(p.field("RateLimit-Policy"), R"("per_client";q=100;w=1)");
  EXPECT_EQ(p.field("RateLimit"), R"("per_client";r=0;t=2)");
  EXPECT_EQ(p.field("X-Request-Id"), "rid-7");
  EXPECT_EQ(p.field("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(p.field("Connection"), "<none>");
  EXPECT_TRUE(p.head->keep_alive());
  EXPECT_EQ(p.body, "rate limit exceeded (request id rid-7)\n");
  EXPECT_EQ(body_length, p.body.size());
}

TEST(LimitResponse, ConnectionCapsHaveNoRateLimitFields) {
  LimitRefusal r;
  r.status = 503;
  r.detail = "route max_in_flight reached";
  r.limited_by = "max_in_flight";
  r.close = true;
  const Parsed p = parse(write(r));
  EXPECT_EQ(p.head->status, 503);
  EXPECT_EQ(p.field("Retry-After"), "1");
  EXPECT_EQ(p.field("RateLimit"), "<none>");
  EXPECT_EQ(p.field("RateLimit-Policy"), "<none>");
  EXPECT_EQ(p.field("Connection"), "close");
  EXPECT_EQ(p.body, "route max_in_flight reached\n");
}

TEST(LimitResponse, HeadRequestsGetTheHeadOnly) {
  LimitRefusal r = policy_refusal();
  r.head_only = true;
  const std::string text = write(r);
  const Parsed p = parse(text, true);
  EXPECT_EQ(p.body, "");
  EXPECT_EQ(p.head->content_length, std::string("rate limit exceeded (request id rid-7)\n").size());
}

TEST(LimitResponse, JsonRpcSingleCarriesTheId) {
  const JsonRpcIds ids(R"({"jsonrpc":"2.0","method":"eth_call","id":"q-1"})");
  LimitRefusal r = policy_refusal();
  r.jsonrpc = &ids;
  const Parsed p = parse(write(r));
  EXPECT_EQ(p.field("Content-Type"), "application/json");
  EXPECT_EQ(p.body,
            R"({"jsonrpc":"2.0","id":"q-1","error":{"code":-32005,"message":"rate limit exceeded",)"
            R"("data":{"policy":"per_client","retry_after":2}}})");
  // The answer's own id reads back as the request's.
  const JsonRpcIds answer(p.body);
  JsonRpcIds::Iterator it = answer.begin();
  std::string_view id;
  ASSERT_TRUE(it.next(&id));
  EXPECT_EQ(id, R"("q-1")");
}

TEST(LimitResponse, JsonRpcBatchHasOneErrorPerItem) {
  const JsonRpcIds ids(R"([{"id":1,"method":"a"},{"method":"n"},{"id":"x"}])");
  LimitRefusal r = policy_refusal();
  r.jsonrpc = &ids;
  const Parsed p = parse(write(r));
  const JsonRpcIds answer(p.body);
  ASSERT_TRUE(answer.batch()) << p.body;
  ASSERT_EQ(answer.count(), 3u);
  JsonRpcIds::Iterator it = answer.begin();
  std::string_view id;
  for (const char* want : {"1", "null", R"("x")"}) {
    ASSERT_TRUE(it.next(&id));
    EXPECT_EQ(id, want);
  }
  EXPECT_EQ(p.body.find(R"("code":-32005)"), p.body.find(R"("code")"));
}

TEST(LimitResponse, PolicyNamesAreEscaped) {
  LimitRefusal r = policy_refusal();
  r.limited_by = "we\"ird\\";
  const Parsed p = parse(write(r));
  EXPECT_EQ(p.field("RateLimit"), R"("we\"ird\\";r=0;t=2)");
}

TEST(LimitResponse, RetryAfterRoundsUpToWholeSeconds) {
  EXPECT_EQ(retry_after_seconds(0), 1u);
  EXPECT_EQ(retry_after_seconds(1), 1u);
  EXPECT_EQ(retry_after_seconds(1'000'000'000), 1u);
  EXPECT_EQ(retry_after_seconds(1'000'000'001), 2u);
  EXPECT_EQ(retry_after_seconds(59'500'000'000), 60u);
  EXPECT_EQ(retry_after_seconds(-5), 1u);
}

TEST(LimitResponse, JsonRpcDetection) {
  EXPECT_TRUE(looks_like_jsonrpc("POST", "application/json", ""));
  EXPECT_TRUE(looks_like_jsonrpc("POST", "Application/JSON; charset=utf-8", ""));
  EXPECT_TRUE(looks_like_jsonrpc("POST", "", "  {\"id\":1}"));
  EXPECT_TRUE(looks_like_jsonrpc("POST", "text/plain", "[1]"));
  EXPECT_FALSE(looks_like_jsonrpc("POST", "text/plain", "hello"));
  EXPECT_FALSE(looks_like_jsonrpc("GET", "application/json", "{}"));
  EXPECT_FALSE(looks_like_jsonrpc("POST", "application/jsonx", ""));
}

}  // namespace
}  // namespace veer::http
