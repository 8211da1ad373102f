// The scan that finds non-ASCII characters where toml++ would misread them, before it
// runs (conf/ascii_scan.hpp).
#include "conf/ascii_scan.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace veer::conf {
namespace {

using Where = MisplacedNonAscii::Where;

TEST(AsciiScan, FollowsStringsEscapesAndBrackets) {
  EXPECT_EQ(find_misplaced_non_ascii(""), std::nullopt);
  EXPECT_EQ(find_misplaced_non_ascii("a = \"\\\"ö\" # ö\n"), std::nullopt);
  EXPECT_EQ(find_misplaced_non_ascii("a = 'ö\\'\nb = 1"), std::nullopt);
  EXPECT_EQ(find_misplaced_non_ascii("a = \"\"\"\"\"\"\nb = 'ö'"), std::nullopt);
  // An unterminated string ends at its line: the next line is still scanned.
  auto found = find_misplaced_non_ascii("a = \"open\nö = 1\n");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->line, 2u);
  EXPECT_EQ(found->column, 1u);
  // In an inline table, a key follows '{' and ','; in an array every element is a value.
  found = find_misplaced_non_ascii("t = { a = 1, ü = 2 }");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->where, Where::key);
  EXPECT_EQ(found->column, 14u);
  found = find_misplaced_non_ascii("t = [\n  1,\n  ü,\n]");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->where, Where::bare_value);
  EXPECT_EQ(found->line, 3u);
  found = find_misplaced_non_ascii("[[a.b]]\nc = [[1], [2]]\nä = 1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->where, Where::key);
  EXPECT_EQ(found->line, 3u);
  // toml++ reads a quote inside a bare value as part of it, up to a separator.
  for (const char* text : {"n = 197'x ö'", "d = 1979-05-27 'ö'", "a = [1, 2\"ö\"]"}) {
    found = find_misplaced_non_ascii(text);
    ASSERT_TRUE(found.has_value()) << text;
    EXPECT_EQ(found->where, Where::bare_value) << text;
  }
  EXPECT_EQ(find_misplaced_non_ascii("a = [ # c\n 'ö', \"ü\",\n\"é\" ]\nb = {c='ö'}"),
            std::nullopt);
  // A byte order mark is not part of the text (toml++ skips it too).
  EXPECT_EQ(find_misplaced_non_ascii("\xEF\xBB\xBF"
                                     "a = 1"),
            std::nullopt);
}

// toml++ asks whether the character after a backslash in a multi-line basic string is
// whitespace, and after a line-ending backslash asks it of each character up to the
// first that is not: with a non-ASCII character there it reaches the same bug.
TEST(AsciiScan, BackslashesInBasicStrings) {
  auto found = find_misplaced_non_ascii("a = \"\"\"\\ö\"\"\"");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->where, Where::after_backslash);
  EXPECT_EQ(found->column, 9u);
  found = find_misplaced_non_ascii("a = \"\\ö\"");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->where, Where::after_backslash);
  // Legal TOML, refused: the first character of a continued line.
  found = find_misplaced_non_ascii("a = \"\"\"x \\\n\n    über\"\"\"");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->where, Where::after_continuation);
  EXPECT_EQ(found->line, 3u);
  EXPECT_EQ(found->column, 5u);
  // Anywhere else in the string it is fine, escaped quotes and \u escapes included.
  EXPECT_EQ(find_misplaced_non_ascii("a = \"\"\"x \\\n  uber ö \\\"ö \\u00fc ö\"\"\""),
            std::nullopt);
  // Found by the differential fuzz run (see conf/ascii_scan.hpp).
  for (const char* text : {" \"\"\"\"\\\xC3\xB6$#= \n", "a =0:=1:rrrr['''\xC3\xB6ls]"}) {
    EXPECT_TRUE(find_misplaced_non_ascii(text).has_value()) << text;
  }
}

// The byte that a 1-based line and column (in characters) name, or npos.
std::size_t offset_of(std::string_view text, std::uint32_t line, std::uint32_t column) {
  std::uint32_t at_line = 1, at_column = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool continuation = (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
    if (!continuation && at_line == line && at_column == column) return i;
    if (text[i] == '\n') {
      ++at_line;
      at_column = 1;
    } else if (!continuation) {
      ++at_column;
    }
  }
  return std::string_view::npos;
}

// Seeded random texts from TOML's structural characters and a two-byte "é": the scanner
// never reads out of bounds, names a non-ASCII byte when it reports one, and finds one
// whenever the text has no string or comment to hide it.
TEST(AsciiScan, PropertiesOnRandomTexts) {
  constexpr std::array<std::string_view, 14> kPieces{"a",  "=", "[",  "]", "{",  "}", ",",
                                                     "\"", "'", "\\", "#", "\n", " ", "\xC3\xA9"};
  std::mt19937 random(20261206);
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int length = static_cast<int>(random() % 40);
    for (int i = 0; i < length; ++i)
      text += kPieces[random() % kPieces.size()];
    const auto found = find_misplaced_non_ascii(text);
    if (found) {
      const std::size_t at = offset_of(text, found->line, found->column);
      ASSERT_NE(at, std::string_view::npos) << text;
      EXPECT_EQ(text.compare(at, 2, "\xC3\xA9"), 0) << text;
    } else if (text.find_first_of("\"'#") == std::string::npos) {
      EXPECT_EQ(text.find('\xC3'), std::string::npos) << text;
    }
  }
}

}  // namespace
}  // namespace veer::conf
