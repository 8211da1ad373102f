#include "http/header_rewrite.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "http/http_parser.hpp"

namespace veer::http {
namespace {

std::string rewrite_with(const std::string& text, const http::ForwardContext& ctx) {
  auto head = std::make_unique<http::RequestHead>();
  std::size_t scan = 0;
  const std::size_t end = http::find_head_end(text, scan);
  const http::ParseError err =
      http::parse_request_head(std::string_view(text).substr(0, end), *head);
  EXPECT_FALSE(err) << err.reason;
  core::Buffer out;
  http::write_upstream_request(*head, ctx, out);
  return std::string(out.readable());
}

std::string rewrite_request(const std::string& text, std::string_view request_id = "rid-1") {
  return rewrite_with(text, http::ForwardContext{"192.0.2.7", "http", request_id});
}

// The values of every field called `name` in a written head, in order, joined by "|".
std::string fields_named(const std::string& head, std::string_view name) {
  std::string all;
  for (std::size_t at = head.find("\r\n"); at != std::string::npos;) {
    const std::size_t end = head.find("\r\n", at + 2);
    if (end == std::string::npos) break;
    const std::string line = head.substr(at + 2, end - at - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos && http::iequals(line.substr(0, colon), name)) {
      if (!all.empty()) all += '|';
      all += line.substr(colon + 2);
    }
    at = end;
  }
  return all;
}

TEST(HeaderRewrite, DropsHopByHopHeaders) {
  const std::string out = rewrite_request(
      "GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret, x-other\r\n"
      "Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\n"
      "HTTP2-Settings: AAA\r\nProxy-Authorization: Basic x\r\nProxy-Connection: close\r\n"
      "x-secret: 1\r\nX-OTHER: 2\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(out,
            "GET /x HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Forwarded-For: 192.0.2.7\r\n"
            "X-Real-IP: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n"
            "X-Request-Id: rid-1\r\n\r\n");
}

constexpr const char* kForwardingHead =
    "GET / HTTP/1.1\r\nHost: rpc.example.com\r\nX-Forwarded-For: 10.0.0.1\r\n"
    "x-forwarded-for: 10.0.0.2, 10.0.0.3\r\nForwarded: for=10.0.0.1;proto=https\r\n"
    "X-Real-IP: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 1\r\n"
    "X-Forwarded-Proto: https\r\nAccept: */*\r\n\r\n";

TEST(HeaderRewrite, AnUntrustedPeersForwardingFieldsAreReplaced) {
  const std::string out = rewrite_with(
      kForwardingHead,
      http::ForwardContext{
          .client_ip = "192.0.2.7", .proto = "http", .request_id = "rid", .listener_port = 8545});
  EXPECT_EQ(fields_named(out, "X-Forwarded-For"), "192.0.2.7") << out;
  EXPECT_EQ(fields_named(out, "X-Real-IP"), "192.0.2.7");
  EXPECT_EQ(fields_named(out, "Forwarded"), "");
  EXPECT_EQ(fields_named(out, "X-Forwarded-Host"), "rpc.example.com");
  EXPECT_EQ(fields_named(out, "X-Forwarded-Port"), "8545");
  EXPECT_EQ(fields_named(out, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(fields_named(out, "Accept"), "*/*");
  for (const char* forged : {"evil", "6.6.6.6", "10.0.0", "https"})
    EXPECT_EQ(out.find(forged), std::string::npos) << forged << " in\n" << out;
}

TEST(HeaderRewrite, ATrustedProxysChainIsKeptAndThePeerAppended) {
  const std::string out =
      rewrite_with(kForwardingHead, http::ForwardContext{.client_ip = "10.0.0.1",
                                                         .proto = "http",
                                                         .request_id = "rid",
                                                         .peer_ip = "10.9.9.9",
                                                         .trusted_peer = true,
                                                         .listener_port = 8545});
  EXPECT_EQ(fields_named(out, "X-Forwarded-For"), "10.0.0.1, 10.0.0.2, 10.0.0.3, 10.9.9.9") << out;
  EXPECT_EQ(fields_named(out, "X-Real-IP"), "10.0.0.1") << "always the derived client";
  EXPECT_EQ(fields_named(out, "Forwarded"), "for=10.0.0.1;proto=https");
  EXPECT_EQ(fields_named(out, "X-Forwarded-Host"), "evil.example") << "what the proxy said";
  EXPECT_EQ(fields_named(out, "X-Forwarded-Port"), "1");
  EXPECT_EQ(fields_named(out, "X-Forwarded-Proto"), "https");
}

TEST(HeaderRewrite, ATrustedProxyThatSentNoneGetsVeersOwn) {
  const std::string out = rewrite_with("GET / HTTP/1.1\r\nHost: a:81\r\n\r\n",
                                       http::ForwardContext{.client_ip = "10.0.0.1",
                                                            .proto = "https",
                                                            .request_id = "rid",
                                                            .peer_ip = "10.9.9.9",
                                                            .trusted_peer = true,
                                                            .listener_port = 443});
  EXPECT_EQ(fields_named(out, "X-Forwarded-For"), "10.9.9.9") << out;
  EXPECT_EQ(fields_named(out, "X-Real-IP"), "10.0.0.1");
  EXPECT_EQ(fields_named(out, "X-Forwarded-Host"), "a:81");
  EXPECT_EQ(fields_named(out, "X-Forwarded-Port"), "443");
  EXPECT_EQ(fields_named(out, "X-Forwarded-Proto"), "https");
}

TEST(HeaderRewrite, KeepsAnIncomingRequestIdWhenGiven) {
  const std::string out =
      rewrite_request("GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc\r\n\r\n", "abc");
  EXPECT_NE(out.find("X-Request-Id: abc\r\n"), std::string::npos);
  EXPECT_EQ(out.find("X-Request-Id", out.find("X-Request-Id") + 1), std::string::npos)
      << "exactly one X-Request-Id";
}

TEST(HeaderRewrite, WebSocketUpgradeIsRewrittenNotDropped) {
  const std::string out = rewrite_request(
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_NE(out.find("Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), std::string::npos);
  EXPECT_NE(out.find("Sec-WebSocket-Key: k\r\n"), std::string::npos);
}

TEST(HeaderRewrite, FramingHeadersAreNormalised) {
  std::string out = rewrite_request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n");
  EXPECT_NE(out.find("Content-Length: 3\r\n"), std::string::npos);
  EXPECT_EQ(out.find("3, 3"), std::string::npos);
  out = rewrite_request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(out.find("Content-Length: 0\r\n"), std::string::npos);
  out = rewrite_request("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
}

TEST(HeaderRewrite, AbsoluteFormBecomesOriginForm) {
  const std::string out = rewrite_request("GET http://node:8545 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(out.rfind("GET / HTTP/1.1\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Host: node:8545\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Host: x"), std::string::npos);
}

TEST(HeaderRewrite, AnEmptyPathIsWrittenAsTheRoot) {
  // A head whose path is empty (no parser produces one now) still gets "/": the
  // writer must not depend on the parser for a valid request line.
  auto head = std::make_unique<http::RequestHead>();
  head->method = "GET";
  head->authority = "node:8545";
  head->host_from_target = true;
  core::Buffer out;
  const http::WrittenRequest written =
      http::write_upstream_request(*head, http::ForwardContext{"192.0.2.7", "http", "rid"}, out);
  const std::string text(out.readable());
  EXPECT_EQ(text.rfind("GET / HTTP/1.1\r\n", 0), 0u) << text;
  EXPECT_EQ(text.substr(written.path_offset, written.path_length), "/");
  EXPECT_EQ(text.substr(written.host_offset, written.host_length), "node:8545");
}

TEST(HeaderRewrite, QueryOnlyAbsoluteFormGetsARootPath) {
  const std::string out = rewrite_request("GET http://node:8545?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(out.rfind("GET /?q=1 HTTP/1.1\r\n", 0), 0u) << out;
}

TEST(HeaderRewrite, Http10WithoutHostGetsTheHostVeerChooses) {
  const std::string text = "POST /rpc HTTP/1.0\r\nContent-Length: 2\r\nUser-Agent: curl/8\r\n\r\n";
  auto head = std::make_unique<http::RequestHead>();
  ASSERT_FALSE(http::parse_request_head(text, *head));
  core::Buffer out;
  const http::WrittenRequest written =
      http::write_upstream_request(*head, http::ForwardContext{"192.0.2.7", "http", "rid"}, out);
  ASSERT_TRUE(written.host_pending);
  EXPECT_EQ(written.host_length, 0u) << "the client sent none";
  const std::size_t room = out.writable_size();
  http::complete_with_host(written, "10.0.0.1:8545", out);
  std::string head_out(out.readable());
  EXPECT_TRUE(head_out.ends_with("\r\nHost: 10.0.0.1:8545\r\n\r\n")) << head_out;
  EXPECT_EQ(head_out.find("Host:"), head_out.rfind("Host:"));
  EXPECT_NE(head_out.find("Content-Length: 2\r\n"), std::string::npos);
  EXPECT_EQ(
      std::string(out.readable().substr(written.user_agent_offset, written.user_agent_length)),
      "curl/8");
  // A retry on another backend replaces it, in place.
  const char* before = out.read_ptr();
  http::complete_with_host(written, "node-b.internal:8545", out);
  head_out = std::string(out.readable());
  EXPECT_TRUE(head_out.ends_with("\r\nHost: node-b.internal:8545\r\n\r\n")) << head_out;
  EXPECT_EQ(head_out.find("10.0.0.1"), std::string::npos);
  EXPECT_EQ(out.read_ptr(), before) << "room was reserved: a retry does not move the head";
  EXPECT_GE(room, 269u) << "a DNS name and a port fit";
}

TEST(HeaderRewrite, LocatesHostAndUserAgentForTheLog) {
  const std::string text =
      "GET / HTTP/1.1\r\nUser-Agent: first\r\nHost: rpc.example.com\r\nUser-Agent: second\r\n\r\n";
  auto head = std::make_unique<http::RequestHead>();
  ASSERT_FALSE(http::parse_request_head(text, *head));
  core::Buffer out;
  const http::WrittenRequest w =
      http::write_upstream_request(*head, http::ForwardContext{"c", "http", "r"}, out);
  EXPECT_FALSE(w.host_pending);
  EXPECT_EQ(out.readable().substr(w.host_offset, w.host_length), "rpc.example.com");
  EXPECT_EQ(out.readable().substr(w.user_agent_offset, w.user_agent_length), "first");
  EXPECT_NE(out.readable().find("User-Agent: second\r\n"), std::string::npos);
}

std::string rewrite_response(const std::string& text, http::ResponseRewrite how) {
  auto head = std::make_unique<http::ResponseHead>();
  std::size_t scan = 0;
  const std::size_t end = http::find_head_end(text, scan);
  const http::ParseError err =
      http::parse_response_head(std::string_view(text).substr(0, end), false, *head);
  EXPECT_FALSE(err) << err.reason;
  core::Buffer out;
  http::write_client_response_head(*head, how, out);
  return std::string(out.readable());
}

TEST(HeaderRewrite, ResponseDropsHopByHopAndSetsClose) {
  const std::string out = rewrite_response(
      "HTTP/1.1 200 \r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\n"
      "Content-Length: 2\r\nContent-Type: application/json\r\n\r\n",
      http::ResponseRewrite{.close_client = true});
  EXPECT_EQ(out,
            "HTTP/1.1 200 \r\nContent-Length: 2\r\nContent-Type: application/json\r\n"
            "Connection: close\r\n\r\n");
}

TEST(HeaderRewrite, ResponseForHttp10ClientDecodesChunked) {
  const std::string out = rewrite_response(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      http::ResponseRewrite{.close_client = true, .client_http10 = true, .strip_chunked = true});
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
}

TEST(HeaderRewrite, ResponseCarriesTheRequestId) {
  const std::string out =
      rewrite_response("HTTP/1.1 200 OK\r\nX-Request-Id: backend-own\r\nContent-Length: 0\r\n\r\n",
                       http::ResponseRewrite{.request_id = "rid-7"});
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Request-Id: rid-7\r\n\r\n");
}

TEST(HeaderRewrite, LocalResponsesNameTheCause) {
  core::Buffer out;
  http::write_local_response(502, "upstream connect failed: connection refused", "rid-9", false,
                             false, out);
  const std::string text(out.readable());
  EXPECT_EQ(text.rfind("HTTP/1.1 502 Bad Gateway\r\n", 0), 0u);
  const std::string body = "upstream connect failed: connection refused (request id rid-9)\n";
  EXPECT_NE(text.find("Content-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  EXPECT_EQ(text.substr(text.size() - body.size()), body);
  EXPECT_NE(text.find("\r\nX-Request-Id: rid-9\r\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace veer::http
