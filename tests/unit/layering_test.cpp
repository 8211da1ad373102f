#include "support/layering.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace veer::test::layering {
namespace {
namespace fs = std::filesystem;

std::string listed(const std::vector<Violation>& violations) {
  std::string text;
  for (const Violation& v : violations)
    text += "  " + to_string(v) + "\n";
  return text;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names)
    text += (text.empty() ? "" : ", ") + name + "/";
  return text;
}

// The real tree: the test suite fails on the first include that breaks the layering.
TEST(Layering, EveryIncludeIsAllowed) {
  const fs::path root = VEER_SOURCE_DIR;
  Report report = check_tree(root);
  // Guards against passing on an empty or wrong root.
  EXPECT_TRUE(report.missing_folders.empty())
      << "source folders missing under " << root.string() << ": " << joined(report.missing_folders);
  EXPECT_GT(report.files, 50u) << "scanned only " << report.files << " files under "
                               << root.string();
  EXPECT_TRUE(report.violations.empty())
      << report.violations.size() << " includes in the " << report.files
      << " files scanned break the layering (table in tests/support/layering.cpp):\n"
      << listed(report.violations);
}

// A new top-level folder of C++ must be placed in the table, or it escapes the check.
TEST(Layering, EverySourceFolderHasARule) {
  std::vector<std::string> unlisted = unlisted_source_folders(VEER_SOURCE_DIR);
  EXPECT_TRUE(unlisted.empty()) << "folders with C++ but no row in the layering table: "
                                << joined(unlisted);
}

TEST(QuotedIncludes, CommentsAreSkippedAndLiteralsKept) {
  std::vector<Include> found = quoted_includes(
      "#include \"core/a.hpp\"\n"
      "// #include \"proxy/commented.hpp\"\n"
      "  #  include   \"core/b.hpp\"  // why\n"
      "#include <vector>\n"
      "/* #include \"proxy/in_block.hpp\"\n"
      "#include \"proxy/still_in_block.hpp\" */ int after_block;\n"
      "const char* accept = \"*/*\"; /* a comment that does end */\n"
      "auto raw = R\"x(\n"
      "#include \"proxy/in_raw_string.hpp\"\n"
      "/* )x\"; int big = 1'000; /*\n"
      "#include \"proxy/in_block_after_raw.hpp\" */\r\n"
      "#include \"core/c.hpp\"\r\n");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].line, 1);
  EXPECT_EQ(found[0].header, "core/a.hpp");
  EXPECT_EQ(found[1].line, 3);
  EXPECT_EQ(found[1].header, "core/b.hpp");
  EXPECT_EQ(found[2].line, 12);
  EXPECT_EQ(found[2].header, "core/c.hpp");
}

// Each test writes a small source tree of its own under the temp directory.
class LayeringCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "veer-layering-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  void write(const std::string& file, const std::string& text) {
    fs::create_directories((root_ / file).parent_path());
    std::ofstream(root_ / file) << text;
  }
  std::vector<Violation> violations() { return check_tree(root_).violations; }
  fs::path root_;
};

TEST_F(LayeringCheckerTest, ABackIncludeIsReportedWithItsFileAndLine) {
  write("core/a.hpp", "#pragma once\n\n#include \"core/c.hpp\"\n#include \"proxy/b.hpp\"\n");
  write("core/c.hpp", "#pragma once\n");
  write("proxy/b.hpp", "#pragma once\n#include \"core/a.hpp\"\n");
  std::vector<Violation> found = violations();
  ASSERT_EQ(found.size(), 1u) << listed(found);
  EXPECT_EQ(found[0].file, "core/a.hpp");
  EXPECT_EQ(found[0].line, 4);
  EXPECT_EQ(found[0].header, "proxy/b.hpp");
  EXPECT_EQ(to_string(found[0]),
            "core/a.hpp:4: includes \"proxy/b.hpp\" but core/ may include only core/");
}

TEST_F(LayeringCheckerTest, ConfMayIncludeOnlyTheStrategyNameTable) {
  write("conf/load.cpp",
        "#include \"strategies/strategy.hpp\"\n#include \"core/log.hpp\"\n"
        "#include \"strategies/weighted.hpp\"\n");
  std::vector<Violation> found = violations();
  ASSERT_EQ(found.size(), 1u) << listed(found);
  EXPECT_EQ(found[0].file, "conf/load.cpp");
  EXPECT_EQ(found[0].line, 3);
  EXPECT_EQ(found[0].header, "strategies/weighted.hpp");
  EXPECT_EQ(found[0].rule, "conf/ may include only conf/, core/, strategies/strategy.hpp");
}

TEST_F(LayeringCheckerTest, AppMayIncludeEverything) {
  std::string text;
  for (const Rule& rule : rules())
    text += "#include \"" + rule.folder + "/x.hpp\"\n";
  write("app/main.cpp", text);
  write("app/sub/more.cpp", text);
  EXPECT_EQ(listed(violations()), "");
  EXPECT_EQ(check_tree(root_).files, 2u);
}

TEST_F(LayeringCheckerTest, CommentedOutIncludesAreIgnored) {
  write("core/a.cpp",
        "// #include \"proxy/b.hpp\"\n  //#include \"app/c.hpp\"\n"
        "/*\n#include \"admin/d.hpp\"\n*/\n#include \"core/a.hpp\"  // not \"proxy/e.hpp\"\n");
  EXPECT_EQ(listed(violations()), "");
}

TEST_F(LayeringCheckerTest, HealthMayNotIncludeAdmin) {
  write("health/checker.cpp", "#include \"runtime/x.hpp\"\n#include \"admin/api.hpp\"\n");
  std::vector<Violation> found = violations();
  ASSERT_EQ(found.size(), 1u) << listed(found);
  EXPECT_EQ(found[0].file, "health/checker.cpp");
  EXPECT_EQ(found[0].line, 2);
  EXPECT_EQ(found[0].header, "admin/api.hpp");
}

TEST_F(LayeringCheckerTest, ProxyMayNotIncludeAdminOrApp) {
  write("proxy/server.cpp",
        "#include \"health/checker.hpp\"\n#include \"admin/http_server.hpp\"\n"
        "#include \"runtime/worker.hpp\"\n#include \"app/main.hpp\"\n");
  std::vector<Violation> found = violations();
  ASSERT_EQ(found.size(), 2u) << listed(found);
  EXPECT_EQ(found[0].line, 2);
  EXPECT_EQ(found[0].header, "admin/http_server.hpp");
  EXPECT_EQ(found[1].line, 4);
  EXPECT_EQ(found[1].header, "app/main.hpp");
}

TEST_F(LayeringCheckerTest, IncludesAreJudgedWhereTheyLand) {
  write("http/parser.cpp",
        "#include \"parser.hpp\"\n"             // same folder, no prefix
        "#include \"detail/table.hpp\"\n"       // http/detail/, found next to the file
        "#include \"toml++/toml.hpp\"\n"        // not a source folder
        "#include \"../health/probe.hpp\"\n");  // relative, lands in health/
  write("http/parser.hpp", "#pragma once\n");
  write("http/detail/table.hpp", "#pragma once\n");
  write("tests/unit/t.cpp", "#include \"app/main.hpp\"\n");  // tests/ is not checked
  std::vector<Violation> found = violations();
  ASSERT_EQ(found.size(), 1u) << listed(found);
  EXPECT_EQ(found[0].line, 4);
  EXPECT_EQ(found[0].header, "../health/probe.hpp");
  EXPECT_EQ(found[0].rule, "http/ may include only http/, core/");
}

TEST_F(LayeringCheckerTest, MissingAndUnlistedFoldersAreReported) {
  write("core/a.hpp", "#pragma once\n");
  write("util/b.hpp", "#pragma once\n");
  write("bench/c.cpp", "");
  write("docs/README.md", "");
  write("build/CMakeCache.txt", "");
  write("build/CMakeFiles/id.cpp", "");
  Report report = check_tree(root_);
  EXPECT_EQ(report.files, 1u);
  EXPECT_EQ(report.missing_folders.size(), rules().size() - 1);
  EXPECT_EQ(unlisted_source_folders(root_), std::vector<std::string>{"util"});
}

}  // namespace
}  // namespace veer::test::layering
