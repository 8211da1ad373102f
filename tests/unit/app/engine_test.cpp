// The choice of the I/O engine at start: what the kernel says of io_uring (the probe,
// injected here) and which binaries are installed (a directory of this test's own).
#include "app/engine.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace veer {
namespace {

// What `auto` logs when it runs the native io_uring engine: the choice and its reason.
const std::string kAutoOnIoUring =
    "io engine: io_uring (server.io_engine = \"auto\"): the native io_uring engine costs less "
    "CPU per request than epoll (bench/RESULTS.md)";

namespace fs = std::filesystem;
using conf::IoEngine;

class EngineChoiceTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "veer-engine-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }

  // Puts an executable file named `name` in the directory.
  void install(const std::string& name, bool executable = true) {
    const fs::path path = fs::path(directory_) / name;
    std::ofstream(path) << "#!/bin/sh\n";
    fs::permissions(
        path, executable ? fs::perms::owner_all : fs::perms::owner_read | fs::perms::owner_write);
  }

  // A host whose kernel allows io_uring (or refuses it with `refusal`); counts the probes.
  app::EngineHost host(bool usable, std::string refusal = "") {
    return app::EngineHost{directory_, [this, usable, refusal] {
                             ++probes_;
                             return app::EngineProbe{usable, refusal};
                           }};
  }

  std::string path(const std::string& name) const { return directory_ + "/" + name; }

  std::string directory_;
  int probes_ = 0;
};

constexpr const char* kSeccomp = "io_uring_setup: Operation not permitted";

TEST_F(EngineChoiceTest, AutoRunsIoUringWhenTheProbePassesAndTheBinaryIsInstalled) {
  install("veer-io_uring");
  const app::EngineChoice from_epoll = app::choose_engine(IoEngine::automatic, "epoll", host(true));
  EXPECT_FALSE(from_epoll.run_here);
  EXPECT_EQ(from_epoll.exec_path, path("veer-io_uring"));
  EXPECT_EQ(from_epoll.note, kAutoOnIoUring);
  EXPECT_TRUE(from_epoll.error.empty());

  const app::EngineChoice here = app::choose_engine(IoEngine::automatic, "io_uring", host(true));
  EXPECT_TRUE(here.run_here);
  EXPECT_TRUE(here.exec_path.empty());
  EXPECT_EQ(here.note, kAutoOnIoUring);
  EXPECT_EQ(probes_, 2);
}

TEST_F(EngineChoiceTest, AutoFallsBackToEpollWithTheKernelsReason) {
  install("veer-io_uring");
  const app::EngineChoice here =
      app::choose_engine(IoEngine::automatic, "epoll", host(false, kSeccomp));
  EXPECT_TRUE(here.run_here);
  EXPECT_TRUE(here.error.empty());
  EXPECT_EQ(here.note,
            "io engine: epoll (io_uring refused by the kernel: io_uring_setup: Operation not "
            "permitted)");

  // The io_uring binary started on such a kernel hands over to its epoll sibling.
  const app::EngineChoice from_io_uring =
      app::choose_engine(IoEngine::automatic, "io_uring", host(false, kSeccomp));
  EXPECT_FALSE(from_io_uring.run_here);
  EXPECT_EQ(from_io_uring.exec_path, path("veer"));
  EXPECT_EQ(from_io_uring.note, here.note);
}

TEST_F(EngineChoiceTest, AutoStaysOnEpollWhenTheIoUringBinaryIsMissing) {
  install("veer-io_uring", /*executable=*/false);  // present but not executable: missing
  const app::EngineChoice choice = app::choose_engine(IoEngine::automatic, "epoll", host(true));
  EXPECT_TRUE(choice.run_here);
  EXPECT_TRUE(choice.error.empty());
  EXPECT_EQ(choice.note, "io engine: epoll (io_uring is available but " + path("veer-io_uring") +
                             " is not installed)");
}

TEST_F(EngineChoiceTest, EpollIsTakenAsAskedWithoutProbing) {
  const app::EngineChoice here = app::choose_engine(IoEngine::epoll, "epoll", host(true));
  EXPECT_TRUE(here.run_here);
  EXPECT_EQ(here.note, "io engine: epoll (server.io_engine = \"epoll\")");

  const app::EngineChoice from_io_uring =
      app::choose_engine(IoEngine::epoll, "io_uring", host(true));
  EXPECT_FALSE(from_io_uring.run_here);
  EXPECT_EQ(from_io_uring.exec_path, path("veer"));
  EXPECT_EQ(from_io_uring.note, here.note);
  EXPECT_EQ(probes_, 0) << "no ring is set up when epoll is asked for";
}

TEST_F(EngineChoiceTest, IoUringRunsWhereTheProbePasses) {
  install("veer-io_uring");
  const app::EngineChoice here = app::choose_engine(IoEngine::io_uring, "io_uring", host(true));
  EXPECT_TRUE(here.run_here);
  EXPECT_EQ(here.note, "io engine: io_uring (server.io_engine = \"io_uring\")");

  const app::EngineChoice from_epoll = app::choose_engine(IoEngine::io_uring, "epoll", host(true));
  EXPECT_FALSE(from_epoll.run_here);
  EXPECT_EQ(from_epoll.exec_path, path("veer-io_uring"));
  EXPECT_TRUE(from_epoll.error.empty());
}

TEST_F(EngineChoiceTest, IoUringIsAnErrorWhenRefusedOrNotInstalled) {
  const app::EngineChoice missing = app::choose_engine(IoEngine::io_uring, "epoll", host(true));
  EXPECT_FALSE(missing.run_here);
  EXPECT_EQ(missing.error,
            "server.io_engine = \"io_uring\" but " + path("veer-io_uring") + " is not installed");

  for (const char* compiled : {"epoll", "io_uring"}) {
    const app::EngineChoice refused =
        app::choose_engine(IoEngine::io_uring, compiled, host(false, kSeccomp));
    EXPECT_FALSE(refused.run_here) << compiled;
    EXPECT_TRUE(refused.exec_path.empty()) << compiled;
    EXPECT_EQ(refused.error,
              "server.io_engine = \"io_uring\" but the kernel refused it (io_uring_setup: "
              "Operation not permitted); use \"auto\" to fall back to epoll")
        << compiled;
  }
}

TEST_F(EngineChoiceTest, EnginesBuiltInNamesBothAndSaysWhenTheSiblingIsMissing) {
  EXPECT_EQ(app::engines_built_in("epoll", directory_),
            "epoll, io_uring (" + path("veer-io_uring") + " missing: only epoll usable)");
  EXPECT_EQ(app::engines_built_in("io_uring", directory_),
            "epoll, io_uring (" + path("veer") + " missing: only io_uring usable)");
  install("veer-io_uring");
  EXPECT_EQ(app::engines_built_in("epoll", directory_), "epoll, io_uring");
  install("veer");
  EXPECT_EQ(app::engines_built_in("io_uring", directory_), "epoll, io_uring");
}

TEST(EngineHost, ThisHostIsTheDirectoryOfThisExecutable) {
  const app::EngineHost host = app::this_host();
  EXPECT_EQ(fs::path(host.directory), fs::read_symlink("/proc/self/exe").parent_path());
  EXPECT_TRUE(static_cast<bool>(host.probe));
}

}  // namespace
}  // namespace veer
