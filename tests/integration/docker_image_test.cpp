// The container image without a container runtime: docker/Dockerfile's runtime stage
// installs a package for every shared library the two binaries load (ldd, then
// `dpkg -S`), and the image runs veer the way a supervisor expects (non-root user,
// healthcheck, SIGTERM, exec-form entrypoint).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/veer_process.hpp"

namespace veer::test {
namespace {

const std::string kDockerfile = std::string(VEER_SOURCE_DIR) + "/docker/Dockerfile";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The Dockerfile as instructions: continuation lines joined, comments dropped.
std::vector<std::string> instructions(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string pending;
  for (std::string line; std::getline(lines, line);) {
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const bool continues = !line.empty() && line.back() == '\\';
    pending += continues ? line.substr(0, line.size() - 1) : line;
    if (!continues) {
      out.push_back(pending);
      pending.clear();
    }
  }
  if (!pending.empty()) out.push_back(pending);
  return out;
}

// The instructions of the last stage (the image that ships).
std::vector<std::string> runtime_stage(const std::vector<std::string>& all) {
  std::size_t from = 0;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (all[i].starts_with("FROM ")) from = i;
  return {all.begin() + static_cast<std::ptrdiff_t>(from), all.end()};
}

// Every package named by an `apt-get install` of the stage (the words after `apt-get
// ... install` up to the next `&&`, options left out; coreutils' `install -d` is not one).
std::set<std::string> installed_packages(const std::vector<std::string>& stage) {
  std::set<std::string> packages;
  for (const std::string& instruction : stage) {
    if (!instruction.starts_with("RUN ")) continue;
    std::istringstream words(instruction);
    bool apt = false, in_install = false;
    for (std::string word; words >> word;) {
      if (word == "&&" || word == ";" || word == "||")
        apt = in_install = false;
      else if (word == "apt-get")
        apt = true;
      else if (apt && word == "install")
        in_install = true;
      else if (in_install && !word.starts_with("-"))
        packages.insert(word);
    }
  }
  return packages;
}

// The libraries `ldd` resolves for `binary`, as absolute paths (vDSO left out).
std::vector<std::string> shared_libraries(const std::string& binary) {
  const CommandResult ldd = run_command("ldd '" + binary + "'");
  EXPECT_EQ(ldd.exit_code, 0) << ldd.output;
  std::vector<std::string> out;
  static const std::regex resolved(R"(=>\s+(/\S+))"), loader(R"(^\s*(/\S+)\s+\()");
  std::istringstream lines(ldd.output);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.find("not found"), std::string::npos) << binary << ": " << line;
    std::smatch m;
    if (std::regex_search(line, m, resolved) || std::regex_search(line, m, loader))
      out.push_back(m[1]);
  }
  return out;
}

// The package that owns `path`, by `dpkg -S`. Debian 12 merges /lib into /usr/lib and
// ldd prints symlink names, so the path as printed, its /usr twin and the file it
// resolves to are tried in turn.
std::string owning_package(const std::string& path) {
  std::vector<std::string> candidates{path};
  if (path.starts_with("/usr/"))
    candidates.push_back(path.substr(4));
  else
    candidates.push_back("/usr" + path);
  const std::string real = std::filesystem::canonical(path).string();
  candidates.push_back(real);
  if (real.starts_with("/usr/")) candidates.push_back(real.substr(4));
  for (const std::string& candidate : candidates) {
    const CommandResult owner = run_command("dpkg -S '" + candidate + "' 2>/dev/null");
    if (owner.exit_code != 0) continue;
    // "libssl3:amd64: /usr/lib/x86_64-linux-gnu/libssl.so.3": the name before ':'.
    return owner.output.substr(0, owner.output.find(':'));
  }
  return "";
}

TEST(DockerImage, RuntimeStageInstallsThePackageOfEveryLibraryTheBinariesLoad) {
  if (run_command("command -v dpkg").exit_code != 0) GTEST_SKIP() << "no dpkg: not Debian";
#ifdef VEER_SANITIZER_BUILD
  GTEST_SKIP() << "a sanitizer build links libasan, libubsan and more than the Release build "
                  "the image ships; the normal build (scripts/test) checks the libraries";
#endif
  const std::set<std::string> packages =
      installed_packages(runtime_stage(instructions(read_text(kDockerfile))));
  // libc6, libstdc++6 and libgcc-s1 come with debian:bookworm-slim, but the Dockerfile
  // names them too, so the list is complete on its own: no exception is made for them.
  ASSERT_TRUE(packages.contains("libc6")) << "parsed no package list from " << kDockerfile;
  std::vector<std::string> binaries{veer_binary()};
  if (std::filesystem::exists(veer_io_uring_binary())) binaries.push_back(veer_io_uring_binary());
  ASSERT_EQ(binaries.size(), 2u) << "build veer-io_uring too: the image ships both";
  std::set<std::string> needed;
  std::map<std::string, std::string> owners;  // library -> package: the binaries share most
  for (const std::string& binary : binaries) {
    const std::vector<std::string> libraries = shared_libraries(binary);
    EXPECT_GE(libraries.size(), 5u) << binary << " (libc, libstdc++, boost, ssl, uring at least)";
    for (const std::string& library : libraries) {
      if (!owners.contains(library)) owners[library] = owning_package(library);
      const std::string& package = owners[library];
      ASSERT_FALSE(package.empty()) << library << " (of " << binary << ") belongs to no package";
      needed.insert(package);
      EXPECT_TRUE(packages.contains(package))
          << binary << " loads " << library << " from " << package
          << ", which the runtime stage of docker/Dockerfile does not install";
    }
  }
  // And nothing beyond: every package of the list is a library the binaries load, or the
  // one named exception (the system CA store for pools with TLS to their backends).
  for (const std::string& package : packages)
    EXPECT_TRUE(needed.contains(package) || package == "ca-certificates")
        << package << " is installed but no binary loads a library of it";
}

TEST(DockerImage, RunsAsNonRootWithHealthcheckStopSignalAndExecEntrypoint) {
  const std::vector<std::string> stage = runtime_stage(instructions(read_text(kDockerfile)));
  ASSERT_FALSE(stage.empty());
  EXPECT_TRUE(stage.front().starts_with("FROM debian:bookworm-slim")) << stage.front();
  const auto find = [&stage](const std::string& keyword) {
    std::vector<std::string> found;
    for (const std::string& instruction : stage)
      if (instruction.starts_with(keyword + " ")) found.push_back(instruction);
    return found;
  };
  // Numeric, so that Kubernetes' runAsNonRoot can verify it, and the id useradd gives veer.
  const std::vector<std::string> users = find("USER");
  ASSERT_EQ(users.size(), 1u);
  std::smatch user;
  ASSERT_TRUE(std::regex_match(users[0], user, std::regex(R"(USER (\d+):(\d+))"))) << users[0];
  EXPECT_NE(user[1], "0");
  bool created = false;
  for (const std::string& run : find("RUN"))
    created =
        created ||
        std::regex_search(run, std::regex("useradd .*--uid " + user[1].str() + R"( .*\bveer\b)"));
  EXPECT_TRUE(created) << "a RUN useradd --uid " << user[1] << " ... veer";
  const std::vector<std::string> healthchecks = find("HEALTHCHECK");
  ASSERT_EQ(healthchecks.size(), 1u);
  EXPECT_TRUE(std::regex_search(healthchecks[0], std::regex(R"(CMD \[.*"/healthz"\])")))
      << healthchecks[0];
  EXPECT_EQ(find("STOPSIGNAL"), std::vector<std::string>{"STOPSIGNAL SIGTERM"});
  const std::vector<std::string> entrypoints = find("ENTRYPOINT");
  ASSERT_EQ(entrypoints.size(), 1u);
  // Exec form (a JSON array): veer is PID 1 and gets the signals, no shell in between.
  EXPECT_TRUE(std::regex_match(entrypoints[0],
                               std::regex(R"(ENTRYPOINT \[\s*"[^"]+"(\s*,\s*"[^"]*")*\s*\])")))
      << entrypoints[0];
  for (const std::string& cmd : find("CMD"))
    EXPECT_TRUE(cmd.starts_with("CMD [")) << cmd;
  // Both binaries, side by side.
  bool both = false;
  for (const std::string& copy : find("COPY"))
    both = both || (copy.find("/veer ") != std::string::npos &&
                    copy.find("/veer-io_uring ") != std::string::npos);
  EXPECT_TRUE(both) << "one COPY puts veer and veer-io_uring in the same directory";
}

// The healthcheck's own command, against a real veer: 0 while it serves.
TEST(DockerImage, HealthcheckCommandPassesAgainstARunningVeer) {
  const std::string toml =
      "[admin]\naddress = \"127.0.0.1:0\"\n"
      "[listeners.public]\naddress = \"127.0.0.1:0\"\n"
      "  [[listeners.public.routes]]\n  target = \"p\"\n"
      "[pools.p]\nbackends = [\"127.0.0.1:9\"]\n";
  VeerProcess veer(toml);
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  const std::string log = veer.log_text();
  const std::size_t at = log.find("admin API on 127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string port = std::to_string(std::stoi(log.substr(at + 23)));
  // The Dockerfile's HEALTHCHECK CMD, with its VEER_ADMIN pointing at this veer.
  std::smatch m;
  const std::string dockerfile = read_text(kDockerfile);
  ASSERT_TRUE(std::regex_search(
      dockerfile, m, std::regex(R"(CMD \["/usr/local/bin/veer", "ctl", "get", "/healthz"\])")));
  const CommandResult ok =
      run_command("VEER_ADMIN=127.0.0.1:" + port + " '" + veer_binary() + "' ctl get /healthz");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  const CommandResult refused =
      run_command("VEER_ADMIN=127.0.0.1:9 '" + veer_binary() + "' ctl get /healthz");
  EXPECT_NE(refused.exit_code, 0) << "nothing listens on port 9: the check must fail";
}

}  // namespace
}  // namespace veer::test
