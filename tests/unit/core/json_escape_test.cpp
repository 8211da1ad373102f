// JSON string escaping for the access log and the admin API, with invalid UTF-8 kept
// visible (core/json_escape.hpp).
#include "core/json_escape.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/buffer.hpp"

namespace veer::core {
namespace {

std::string escaped(std::string_view text) {
  core::Buffer out;
  core::append_json_escaped(out, text);
  return std::string(out.readable());
}

TEST(JsonEscape, AsciiAndJsonSpecials) {
  EXPECT_EQ(escaped("/a?b=1"), "/a?b=1");
  EXPECT_EQ(escaped("say \"hi\" \\o/"), "say \\\"hi\\\" \\\\o/");
  EXPECT_EQ(escaped(""), "");
}

TEST(JsonEscape, ControlCharactersAreEscaped) {
  using namespace std::string_literals;
  EXPECT_EQ(escaped("a\tb\nc\rd"), "a\\u0009b\\u000ac\\u000dd");
  EXPECT_EQ(escaped("\0\x1f\x7f"s), "\\u0000\\u001f\\u007f");
}

TEST(JsonEscape, ValidUtf8IsKept) {
  // 2, 3 and 4 byte sequences at the edges of their ranges (RFC 3629 section 4).
  for (const char* text : {"caf\xc3\xa9", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xe2\x82\xac",
                           "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
                           "\xf0\x9f\x9a\x80", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_EQ(escaped(text), text);
  }
}

TEST(JsonEscape, InvalidUtf8BytesBecomeBackslashX) {
  EXPECT_EQ(escaped("\xff"), "\\\\xff");
  EXPECT_EQ(escaped("a\x80z"), "a\\\\x80z") << "a lone continuation byte";
  EXPECT_EQ(escaped("\xc3"), "\\\\xc3") << "truncated at the end";
  EXPECT_EQ(escaped("\xc3("), "\\\\xc3(") << "a lead byte without its continuation";
  EXPECT_EQ(escaped("\xc0\xaf"), "\\\\xc0\\\\xaf") << "overlong '/'";
  EXPECT_EQ(escaped("\xe0\x80\xaf"), "\\\\xe0\\\\x80\\\\xaf") << "overlong, 3 bytes";
  EXPECT_EQ(escaped("\xed\xa0\x80"), "\\\\xed\\\\xa0\\\\x80") << "a UTF-16 surrogate";
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), "\\\\xf4\\\\x90\\\\x80\\\\x80") << "past U+10FFFF";
  EXPECT_EQ(escaped("\xf5\xbf"), "\\\\xf5\\\\xbf");
  // Valid sequences around an invalid byte survive.
  EXPECT_EQ(escaped("\xc3\xa9\xff\xe2\x82\xac"), "\xc3\xa9\\\\xff\xe2\x82\xac");
}

}  // namespace
}  // namespace veer::core
