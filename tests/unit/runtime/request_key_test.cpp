#include "runtime/request_key.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "http/http_parser.hpp"

namespace veer::runtime {
namespace {

TEST(CookieValue, FindsANamedCookieAmongOthers) {
  EXPECT_EQ(runtime::cookie_value("theme=dark; session=abc123; x=1", "session"), "abc123");
  EXPECT_EQ(runtime::cookie_value("session=first", "session"), "first");
  EXPECT_EQ(runtime::cookie_value("sessionid=no; session=yes", "session"), "yes");
  EXPECT_EQ(runtime::cookie_value("theme=dark", "session"), "");
  EXPECT_EQ(runtime::cookie_value("", "session"), "");
}

struct Parsed {
  std::string text;
  std::unique_ptr<http::RequestHead> head = std::make_unique<http::RequestHead>();
  explicit Parsed(std::string t) : text(std::move(t)) {
    std::size_t scan = 0;
    const std::size_t end = http::find_head_end(text, scan);
    EXPECT_FALSE(http::parse_request_head(std::string_view(text).substr(0, end), *head));
  }
};

TEST(RequestKey, HeaderCookieAndClientAddress) {
  const Parsed p("GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key: k1\r\nCookie: a=1; session=s9\r\n\r\n");
  EXPECT_EQ(runtime::request_key(runtime::HashKey{runtime::HashKey::Kind::header, "x-api-key"},
                                 *p.head, "10.0.0.1"),
            "k1");
  EXPECT_EQ(runtime::request_key(runtime::HashKey{runtime::HashKey::Kind::cookie, "session"},
                                 *p.head, "10.0.0.1"),
            "s9");
  EXPECT_EQ(runtime::request_key(runtime::HashKey{}, *p.head, "10.0.0.1"), "10.0.0.1");
  // Without the header or cookie, the client address keeps the request sticky.
  EXPECT_EQ(runtime::request_key(runtime::HashKey{runtime::HashKey::Kind::header, "x-other"},
                                 *p.head, "10.0.0.1"),
            "10.0.0.1");
  EXPECT_EQ(runtime::request_key(runtime::HashKey{runtime::HashKey::Kind::cookie, "missing"},
                                 *p.head, "10.0.0.1"),
            "10.0.0.1");
}

// As nginx 1.22 reads the key in the export ($http_NAME: the first header of that name;
// $http_cookie: the Cookie headers joined, the first pair of that name): the first
// occurrence decides, and an empty one means the client address.
TEST(RequestKey, TheFirstOccurrenceDecidesAsInNginx) {
  const runtime::HashKey user{runtime::HashKey::Kind::header, "x-user"};
  const runtime::HashKey session{runtime::HashKey::Kind::cookie, "session"};
  const Parsed repeated(
      "GET / HTTP/1.1\r\nHost: a\r\nX-User: first\r\nX-User: second\r\n"
      "Cookie: a=1\r\nCookie: session=s1; session=s2\r\n"
      "Cookie: session=s3\r\n\r\n");
  EXPECT_EQ(runtime::request_key(user, *repeated.head, "10.0.0.1"), "first");
  EXPECT_EQ(runtime::request_key(session, *repeated.head, "10.0.0.1"), "s1");
  const Parsed empty_first(
      "GET / HTTP/1.1\r\nHost: a\r\nX-User: \r\nX-User: second\r\n"
      "Cookie: session=; a=1\r\nCookie: session=s3\r\n\r\n");
  EXPECT_EQ(runtime::request_key(user, *empty_first.head, "10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(runtime::request_key(session, *empty_first.head, "10.0.0.1"), "10.0.0.1");
}

}  // namespace
}  // namespace veer::runtime
