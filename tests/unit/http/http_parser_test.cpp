#include "http/http_parser.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace veer::http {
namespace {

// MessageHead holds fixed storage for 256 fields: keep it off the test stack.
struct Parsed {
  std::unique_ptr<std::string> text;  // the head's views point into it
  std::unique_ptr<http::RequestHead> head = std::make_unique<http::RequestHead>();
  http::ParseError error;
};

Parsed parse(const std::string& input) {
  Parsed p;
  p.text = std::make_unique<std::string>(input);
  const std::string& text = *p.text;
  std::size_t scan = 0;
  const std::size_t end = http::find_head_end(text, scan);
  if (end == 0) {
    p.error = http::ParseError{999, "incomplete"};
    return p;
  }
  p.error = http::parse_request_head(std::string_view(text).substr(0, end), *p.head);
  return p;
}

std::uint16_t status_of(const std::string& text) {
  return parse(text).error.status;
}

TEST(HttpParser, ParsesASimpleRequest) {
  const auto p = parse("GET /a/b?c=1 HTTP/1.1\r\nHost: rpc.example.com:8545\r\nX-A: 1\r\n\r\n");
  ASSERT_FALSE(p.error) << p.error.reason;
  EXPECT_EQ(p.head->method, "GET");
  EXPECT_EQ(p.head->path, "/a/b?c=1");
  EXPECT_EQ(p.head->authority, "rpc.example.com:8545");
  EXPECT_EQ(p.head->version_minor, 1);
  EXPECT_EQ(p.head->framing, http::BodyFraming::none);
  EXPECT_TRUE(p.head->keep_alive());
  ASSERT_EQ(p.head->field_count, 2);
  EXPECT_EQ(p.head->fields[1].name, "X-A");
  EXPECT_EQ(p.head->fields[1].value, "1");
}

TEST(HttpParser, FindsHeadEndIncrementally) {
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
  std::size_t scan = 0;
  for (std::size_t n = 1; n < 27; ++n) {
    EXPECT_EQ(http::find_head_end(std::string_view(text).substr(0, n), scan), 0u) << n;
  }
  EXPECT_EQ(http::find_head_end(std::string_view(text).substr(0, 27), scan), 27u);
}

TEST(HttpParser, ContentLengthAndChunkedFraming) {
  auto p = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.head->framing, http::BodyFraming::content_length);
  EXPECT_EQ(p.head->content_length, 42u);
  p = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.head->framing, http::BodyFraming::chunked);
  p = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n");
  ASSERT_FALSE(p.error) << "a final chunked after another coding is valid";
  EXPECT_EQ(p.head->framing, http::BodyFraming::chunked);
  p = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n");
  ASSERT_FALSE(p.error) << "identical repeated lengths are allowed (RFC 9110 8.6)";
  EXPECT_EQ(p.head->content_length, 7u);
}

TEST(HttpParser, RefusesAmbiguousFraming) {
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                      "Content-Length: 5\r\n\r\n"),
            400);
  EXPECT_EQ(
      status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
      400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"), 400);
  EXPECT_EQ(
      status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
      400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

TEST(HttpParser, RefusesBadHost) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX: y\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: [zz]\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), 0);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n"), 0);
  EXPECT_EQ(status_of("GET / HTTP/1.0\r\n\r\n"), 0) << "HTTP/1.0 may omit Host";
}

TEST(HttpParser, RefusesBadBytesInHeaders) {
  using namespace std::string_literals;
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s), 400) << "NUL";
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"), 400) << "bare CR";
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"), 400) << "obs-fold";
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n"), 400) << "obs-fold";
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX : a\r\n\r\n"), 400) << "space before colon";
  EXPECT_EQ(status_of("GET / HTTP/1.1\nHost: a\n\n"), 400) << "bare LF";
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), 400) << "bare LF in fields";
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n"), 400) << "bad name";
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n"), 400) << "CTL";
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n"), 0) << "obs-text";
}

TEST(HttpParser, RequestLineRules) {
  EXPECT_EQ(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET foo HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTX/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
  EXPECT_EQ(status_of("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
  EXPECT_EQ(status_of("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(HttpParser, AbsoluteFormTargetsUseTheirAuthority) {
  const auto p = parse("GET http://Node.Example:8545/rpc?x HTTP/1.1\r\nHost: other\r\n\r\n");
  ASSERT_FALSE(p.error) << p.error.reason;
  EXPECT_EQ(p.head->authority, "Node.Example:8545");
  EXPECT_EQ(p.head->path, "/rpc?x");
  EXPECT_TRUE(p.head->host_from_target);
}

TEST(HttpParser, AbsoluteFormWithoutPathTargetsTheRoot) {
  auto p = parse("GET http://node:8545 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_FALSE(p.error) << p.error.reason;
  EXPECT_EQ(p.head->authority, "node:8545");
  EXPECT_EQ(p.head->path, "/");
  p = parse("GET http://node:8545?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_FALSE(p.error) << p.error.reason;
  EXPECT_EQ(p.head->path, "?q=1") << "written upstream as /?q=1 (header_rewrite_test)";
}

TEST(HttpParser, FragmentInTargetIsRefused) {
  // RFC 9112 section 3.2: no form of request-target has a fragment.
  EXPECT_EQ(status_of("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /# HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /a?x=1#top HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET http://node:8545#x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET http://node/p#x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(parse("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n").error.reason,
            "'#' in the request target");
  EXPECT_EQ(status_of("GET /a%23b HTTP/1.1\r\nHost: a\r\n\r\n"), 0) << "encoded # is data";
}

TEST(HttpParser, NotesAMissingHost) {
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\n\r\n").head->host_missing);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\nHost: a\r\n\r\n").head->host_missing);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\nHost:\r\n\r\n").head->host_missing)
      << "an empty Host is the client's own choice (RFC 9112 section 3.2)";
  EXPECT_FALSE(parse("GET http://n/ HTTP/1.0\r\n\r\n").head->host_missing)
      << "the target's authority becomes Host";
}

TEST(HttpParser, ClassifiesUserAgent) {
  EXPECT_EQ(http::classify_header("User-Agent"), http::HeaderId::user_agent);
  EXPECT_EQ(http::classify_header("user-agent"), http::HeaderId::user_agent);
  EXPECT_EQ(http::classify_header("User-Agents"), http::HeaderId::other);
}

TEST(HttpParser, ConnectionTokensAreCaseInsensitiveLists) {
  const auto p =
      parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive ,  X-Secret,CLOSE\r\n\r\n");
  ASSERT_FALSE(p.error);
  EXPECT_TRUE(p.head->connection_close);
  EXPECT_TRUE(p.head->connection_keep_alive);
  EXPECT_FALSE(p.head->keep_alive());
  EXPECT_TRUE(p.head->connection_lists("x-secret"));
  EXPECT_FALSE(p.head->connection_lists("x-other"));
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nConnection: a b\r\n\r\n"), 400);
}

TEST(HttpParser, KeepAliveDefaults) {
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").head->keep_alive());
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head->keep_alive());
  EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").head->keep_alive());
}

TEST(HttpParser, WebSocketUpgrade) {
  auto p = parse(
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
      "Sec-WebSocket-Key: x\r\n\r\n");
  ASSERT_FALSE(p.error);
  EXPECT_TRUE(p.head->websocket_upgrade);
  p = parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n");
  EXPECT_FALSE(p.head->websocket_upgrade);
  p = parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_FALSE(p.head->websocket_upgrade) << "Upgrade without Connection: upgrade";
}

TEST(HttpParser, TooManyFieldsIs431) {
  std::string text = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (std::size_t i = 0; i < http::kMaxHeaderFields; ++i)
    text += "X: y\r\n";
  text += "\r\n";
  EXPECT_EQ(status_of(text), 431);
}

TEST(HttpParser, RequestIdIsKeptOnlyWhenSane) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc-123\r\n\r\n").head->request_id,
            "abc-123");
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: a b\r\n\r\n").head->request_id, "");
}

struct ParsedResponse {
  std::unique_ptr<std::string> text;
  std::unique_ptr<http::ResponseHead> head = std::make_unique<http::ResponseHead>();
  http::ParseError error;
};

ParsedResponse parse_response(const std::string& input, bool head_request = false) {
  ParsedResponse p;
  p.text = std::make_unique<std::string>(input);
  const std::string& text = *p.text;
  std::size_t scan = 0;
  const std::size_t end = http::find_head_end(text, scan);
  EXPECT_NE(end, 0u);
  p.error = http::parse_response_head(std::string_view(text).substr(0, end), head_request, *p.head);
  return p;
}

TEST(HttpResponseParser, AcceptsBackendQuirks) {
  auto p = parse_response("HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\n");
  ASSERT_FALSE(p.error) << "empty reason phrase";
  EXPECT_EQ(p.head->status, 200);
  EXPECT_EQ(p.head->reason, "");
  p = parse_response("HTTP/1.1 204\r\n\r\n");
  ASSERT_FALSE(p.error) << "no space after the status code";
  EXPECT_EQ(p.head->framing, http::BodyFraming::none);
  p = parse_response("HTTP/1.0 200 OK\r\n\r\n");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.head->framing, http::BodyFraming::until_close);
  p = parse_response("HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.head->framing, http::BodyFraming::none);
}

TEST(HttpResponseParser, FramingRules) {
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true).head->framing,
            http::BodyFraming::none);
  EXPECT_EQ(parse_response("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n").head->framing,
            http::BodyFraming::none);
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").head->framing,
            http::BodyFraming::chunked);
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").head->framing,
            http::BodyFraming::until_close);
  EXPECT_EQ(
      parse_response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
          .error.status,
      502);
  EXPECT_EQ(parse_response("HTTP/1.1 2x0 OK\r\n\r\n").error.status, 502);
  EXPECT_EQ(parse_response("HTTP/1.1 2000 OK\r\n\r\n").error.status, 502);
  EXPECT_EQ(parse_response("HTTP/1.1 200OK\r\n\r\n").error.status, 502);
  EXPECT_EQ(parse_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\n\r\n")
                .head->upgrade_websocket,
            true);
}

}  // namespace
}  // namespace veer::http

namespace veer::http {
namespace {

TEST(Methods, OnlyIdempotentMethodsMayBeRetriedAfterTheyWereSent) {
  for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    EXPECT_TRUE(http::is_idempotent_method(m)) << m;
  }
  for (const char* m : {"POST", "PATCH", "CONNECT", "LOCK", "get", ""}) {
    EXPECT_FALSE(http::is_idempotent_method(m)) << m;
  }
}

}  // namespace
}  // namespace veer::http
