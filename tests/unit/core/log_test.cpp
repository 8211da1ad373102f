#include "core/log.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace veer::core::log {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// Each test logs to a file of its own and leaves the process log on stderr.
class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/veer-log-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/veer.log";
  }
  void TearDown() override {
    std::string why;
    EXPECT_TRUE(open_file("stderr", &why)) << why;
    set_min_level(Level::info);
  }
  std::string dir_;
  std::string path_;
};

TEST(LogLevel, ParsesTheFourNames) {
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_EQ(parse_level("info"), Level::info);
  EXPECT_EQ(parse_level("warn"), Level::warn);
  EXPECT_EQ(parse_level("error"), Level::error);
  EXPECT_EQ(parse_level("warning"), std::nullopt);
  EXPECT_EQ(parse_level("DEBUG"), std::nullopt);
  EXPECT_EQ(parse_level(""), std::nullopt);
}

TEST_F(LogFileTest, LinesGoToTheFileCreatedWithoutAccessForOthers) {
  std::string why;
  ASSERT_TRUE(open_file(path_, &why)) << why;
  set_min_level(Level::warn);
  info("hidden below the minimum level");
  warn("disk ", 90, "% full");
  const std::vector<std::string> lines = lines_of(read_all(path_));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("Z warn disk 90% full"), std::string::npos) << lines[0];
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u) << std::oct << st.st_mode;  // 0640 less the umask
  EXPECT_EQ(st.st_mode & 0600, 0600u) << std::oct << st.st_mode;
}

TEST_F(LogFileTest, ReopenAfterARenameWritesANewFileAtTheOldPath) {
  std::string why;
  ASSERT_TRUE(open_file(path_, &why)) << why;
  info("before rotation");
  ASSERT_EQ(std::rename(path_.c_str(), (path_ + ".1").c_str()), 0);
  info("after the rename, still in the old file");
  ASSERT_TRUE(reopen_file(&why)) << why;
  info("after reopen");
  const std::vector<std::string> rotated = lines_of(read_all(path_ + ".1"));
  ASSERT_EQ(rotated.size(), 2u);
  EXPECT_NE(rotated[0].find("info before rotation"), std::string::npos);
  EXPECT_NE(rotated[1].find("info after the rename"), std::string::npos);
  const std::vector<std::string> fresh = lines_of(read_all(path_));
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_NE(fresh[0].find("info after reopen"), std::string::npos);
}

TEST_F(LogFileTest, AFailedReopenKeepsTheOldFile) {
  const std::string sub = dir_ + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  std::string why;
  ASSERT_TRUE(open_file(sub + "/veer.log", &why)) << why;
  ASSERT_EQ(std::rename(sub.c_str(), (dir_ + "/moved").c_str()), 0);
  EXPECT_FALSE(reopen_file(&why));
  EXPECT_NE(why.find("cannot open log file " + sub + "/veer.log: No such file or directory"),
            std::string::npos)
      << why;
  error("still logged");
  EXPECT_NE(read_all(dir_ + "/moved/veer.log").find("error still logged"), std::string::npos);
}

TEST_F(LogFileTest, ReopenOnStderrDoesNothing) {
  std::string why;
  EXPECT_TRUE(reopen_file(&why));
  EXPECT_TRUE(why.empty());
}

// Threads log while another rotates: every line lands whole in one of the files.
TEST_F(LogFileTest, ConcurrentLinesSurviveReopens) {
  std::string why;
  ASSERT_TRUE(open_file(path_, &why)) << why;
  constexpr int kThreads = 4;
  constexpr int kLinesEach = 500;
  constexpr int kRotations = 20;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([t] {
      for (int i = 0; i < kLinesEach; ++i)
        info("writer ", t, " line ", i, " end");
    });
  }
  for (int r = 0; r < kRotations; ++r) {
    const std::string rotated = path_ + "." + std::to_string(r);
    ASSERT_EQ(std::rename(path_.c_str(), rotated.c_str()), 0);
    ASSERT_TRUE(reopen_file(&why)) << why;
  }
  for (auto& w : writers)
    w.join();
  std::size_t total = 0;
  for (int r = 0; r <= kRotations; ++r) {
    const std::string file = r < kRotations ? path_ + "." + std::to_string(r) : path_;
    for (const std::string& line : lines_of(read_all(file))) {
      EXPECT_NE(line.find(" info writer "), std::string::npos) << line;
      EXPECT_TRUE(line.ends_with(" end")) << line;
      ++total;
    }
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kThreads * kLinesEach));
}

}  // namespace
}  // namespace veer::core::log
