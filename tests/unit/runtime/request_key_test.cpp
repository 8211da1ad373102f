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

}  // namespace
}  // namespace veer::runtime
