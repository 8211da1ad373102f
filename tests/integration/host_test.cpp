// veer on a host: the shipped systemd unit passes `systemd-analyze verify` (pointed at
// the built binary and a config that exists), `cmake --install` and scripts/install put
// every file where the unit and logrotate expect it (staged with DESTDIR, never in the
// real /etc), and veer(1) renders and names every command `veer --help` lists.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/config_builder.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

const std::string kSource = VEER_SOURCE_DIR;
const std::string kBuild = VEER_TEST_BINARY_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Every value of KEY= in a unit file, in order.
std::vector<std::string> values(const std::string& unit, const std::string& key) {
  std::vector<std::string> out;
  std::istringstream lines(unit);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(key + "=", 0) == 0) out.push_back(line.substr(key.size() + 1));
  }
  return out;
}

std::string value(const std::string& unit, const std::string& key) {
  const std::vector<std::string> all = values(unit, key);
  return all.empty() ? "" : all.back();
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
  return text;
}

// Seconds of a systemd time span such as "45s", "2min" or "1min 30s".
long seconds(const std::string& span) {
  long total = 0;
  const std::regex part(R"((\d+)\s*(min|s))");
  for (std::sregex_iterator it(span.begin(), span.end(), part), end; it != end; ++it)
    total += std::stol((*it)[1]) * ((*it)[2] == "min" ? 60 : 1);
  return total;
}

const std::string kUnitPath = kSource + "/scripts/systemd/veer.service";

TEST(SystemdUnit, PassesSystemdAnalyzeVerify) {
  if (!executable("/usr/bin/systemd-analyze")) GTEST_SKIP() << "no /usr/bin/systemd-analyze";
  if (run_command("/usr/bin/systemd-analyze --version").exit_code != 0)
    GTEST_SKIP() << "systemd-analyze cannot run here";
  // A temporary copy naming the built binary and a config that exists; its man page
  // where `man` finds it (Documentation=man:veer(1) is checked).
  const std::string dir = make_temp_dir();
  const std::string config =
      write_file(dir, "veer.toml", TestConfig{.backends = {"127.0.0.1:9"}}.toml());
  std::string unit = read_file(kUnitPath);
  ASSERT_FALSE(unit.empty());
  unit = replace_all(unit, "/usr/local/bin/veer", veer_binary());
  unit = replace_all(unit, "/etc/veer/veer.toml", config);
  write_file(dir, "veer.service", unit);
  ASSERT_EQ(::mkdir((dir + "/man").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir + "/man/man1").c_str(), 0755), 0);
  write_file(dir + "/man/man1", "veer.1", read_file(kSource + "/docs/veer.1"));
  const CommandResult verify = run_command(
      "MANPATH=" + dir + "/man /usr/bin/systemd-analyze verify " + dir + "/veer.service");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_EQ(verify.output.find("veer.service"), std::string::npos) << verify.output;

  // The check ExecReload runs first passes on a valid file and fails on a broken one.
  EXPECT_EQ(run_command(veer_binary() + " check " + config).exit_code, 0);
  const std::string broken = write_file(dir, "broken.toml", "[server\n");
  EXPECT_EQ(run_command(veer_binary() + " check " + broken).exit_code, 1);
}

TEST(SystemdUnit, SaysWhatTheHostReliesOn) {
  const std::string unit = read_file(kUnitPath);
  ASSERT_FALSE(unit.empty());
  EXPECT_EQ(value(unit, "Type"), "notify");
  EXPECT_EQ(value(unit, "ExecStart"), "/usr/local/bin/veer run /etc/veer/veer.toml");
  const std::vector<std::string> reload = values(unit, "ExecReload");
  ASSERT_EQ(reload.size(), 2u);
  EXPECT_EQ(reload[0], "/usr/local/bin/veer check /etc/veer/veer.toml");
  EXPECT_EQ(reload[1], "/bin/kill -HUP $MAINPID");
  EXPECT_EQ(value(unit, "KillSignal"), "SIGTERM");
  // Longer than the default drain (docs/CONFIG.md: timeouts.drain = "30s").
  EXPECT_GT(seconds(value(unit, "TimeoutStopSec")), 30);
  EXPECT_GE(std::stol(value(unit, "LimitNOFILE")), 65536);
  EXPECT_EQ(value(unit, "User"), "veer");
  EXPECT_EQ(value(unit, "NoNewPrivileges"), "yes");
  EXPECT_EQ(value(unit, "ProtectSystem"), "strict");
  EXPECT_EQ(value(unit, "CapabilityBoundingSet"), "CAP_NET_BIND_SERVICE");
  EXPECT_EQ(value(unit, "AmbientCapabilities"), "CAP_NET_BIND_SERVICE");
  EXPECT_EQ(value(unit, "StateDirectory"), "veer");
  EXPECT_EQ(value(unit, "LogsDirectory"), "veer");
  // The host example config writes where the unit lets it (ProtectSystem=strict).
  const std::string config = read_file(kSource + "/scripts/systemd/veer.toml");
  EXPECT_NE(config.find("\"/var/log/veer/"), std::string::npos);
  EXPECT_NE(config.find("\"/var/lib/veer/"), std::string::npos);
  EXPECT_EQ(
      run_command(veer_binary() + " check " + kSource + "/scripts/systemd/veer.toml").exit_code, 0);
  // logrotate: SIGUSR1 to veer's main process reopens both logs.
  const std::string logrotate = read_file(kSource + "/scripts/logrotate/veer");
  EXPECT_NE(logrotate.find("/var/log/veer/*.log"), std::string::npos);
  EXPECT_NE(logrotate.find("systemctl kill --kill-who=main --signal=SIGUSR1 veer.service"),
            std::string::npos);
}

// The io_uring engine under the unit's seccomp filter: its system calls are in the set.
TEST(SystemdUnit, TheSystemCallFilterAllowsIoUring) {
  if (run_command("/usr/bin/systemd-analyze --version").exit_code != 0)
    GTEST_SKIP() << "systemd-analyze cannot run here";
  const std::string unit = read_file(kUnitPath);
  EXPECT_EQ(values(unit, "SystemCallFilter"),
            (std::vector<std::string>{"@system-service", "~@privileged"}));
  EXPECT_EQ(value(unit, "SystemCallErrorNumber"), "EPERM");
  const std::string allowed =
      run_command("/usr/bin/systemd-analyze syscall-filter @system-service").output;
  const std::string aio = run_command("/usr/bin/systemd-analyze syscall-filter @aio").output;
  const std::string privileged =
      run_command("/usr/bin/systemd-analyze syscall-filter @privileged").output;
  EXPECT_NE(allowed.find("    @aio\n"), std::string::npos) << allowed;
  for (const char* call : {"io_uring_setup", "io_uring_enter", "io_uring_register"}) {
    EXPECT_NE(aio.find(std::string("    ") + call + "\n"), std::string::npos) << aio;
    EXPECT_EQ(privileged.find(call), std::string::npos) << privileged;
  }
}

struct Staged {
  std::string root;
  CommandResult result;
};

Staged install_staged(const std::string& command) {
  Staged staged{make_temp_dir() + "/root", {}};
  staged.result = run_command(replace_all(command, "{root}", staged.root));
  return staged;
}

void expect_host_files(const std::string& root, const std::string& prefix) {
  const std::string bin = root + prefix + "/bin/";
  EXPECT_TRUE(executable(bin + "veer"));
  EXPECT_TRUE(executable(bin + "veer-io_uring")) << "veer's engine choice looks beside itself";
  EXPECT_TRUE(exists(root + prefix + "/share/man/man1/veer.1"));
  EXPECT_TRUE(exists(root + "/etc/logrotate.d/veer"));
  EXPECT_TRUE(exists(root + "/etc/veer/veer.toml.example"));
  const std::string unit = read_file(root + prefix + "/lib/systemd/system/veer.service");
  ASSERT_FALSE(unit.empty());
  // The unit names the binary and the configuration where they were installed.
  EXPECT_EQ(value(unit, "ExecStart"), prefix + "/bin/veer run /etc/veer/veer.toml");
  EXPECT_EQ(values(unit, "ExecReload").front(), prefix + "/bin/veer check /etc/veer/veer.toml");
  const std::string config = root + "/etc/veer/veer.toml";
  ASSERT_TRUE(exists(config));
  const CommandResult check = run_command(bin + "veer check " + config);
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST(Install, CmakeInstallPutsEveryFileWhereTheUnitExpectsIt) {
  const Staged staged =
      install_staged("DESTDIR={root} cmake --install " + kBuild + " --prefix /usr/local");
  ASSERT_EQ(staged.result.exit_code, 0) << staged.result.output;
  expect_host_files(staged.root, "/usr/local");
}

TEST(Install, ScriptIsIdempotentAndKeepsAnEditedConfig) {
  const std::string script = kSource + "/scripts/install --no-build --build-dir " + kBuild +
                             " --destdir {root} --prefix /opt/veer";
  const Staged first = install_staged(script);
  ASSERT_EQ(first.result.exit_code, 0) << first.result.output;
  expect_host_files(first.root, "/opt/veer");
  const std::string config = first.root + "/etc/veer/veer.toml";
  const std::string edited = read_file(config) + "# edited by the operator\n";
  write_file(first.root + "/etc/veer", "veer.toml", edited);
  const CommandResult again = run_command(replace_all(script, "{root}", first.root));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(read_file(config), edited);
  EXPECT_NE(again.output.find("Keeping: " + config), std::string::npos) << again.output;
  expect_host_files(first.root, "/opt/veer");
}

TEST(ManPage, RendersWithoutWarningsAndNamesEveryCommand) {
  if (!executable("/usr/bin/groff")) GTEST_SKIP() << "no groff to render veer(1)";
  const std::string page = kSource + "/docs/veer.1";
  const CommandResult warnings = run_command("/usr/bin/groff -man -Tutf8 -ww -z " + page);
  EXPECT_EQ(warnings.exit_code, 0) << warnings.output;
  EXPECT_EQ(warnings.output, "");
  const std::string rendered =
      run_command("MANWIDTH=200 /usr/bin/groff -man -Tascii -P-cbou " + page).output;
  const std::string usage = run_command(veer_binary() + " --help").output;
  // Each command and option of the usage ("  veer NAME ...", "  veer --version"), as the
  // page writes it.
  const std::regex command(R"(\n  veer (-{0,2}[a-z][a-z-]*))");
  int seen = 0;
  for (std::sregex_iterator it(usage.begin(), usage.end(), command), end; it != end; ++it) {
    const std::string name = (*it)[1];
    if (name == "FILE") continue;
    ++seen;
    EXPECT_NE(rendered.find("veer " + name), std::string::npos) << name << " is not in veer(1)";
  }
  EXPECT_GE(seen, 5) << usage;  // check, ctl, demo-backend, --version, --help
  for (const char* signal : {"SIGHUP", "SIGUSR1", "SIGTERM", "READY=1", "VEER_LOG"})
    EXPECT_NE(rendered.find(signal), std::string::npos) << signal;
}

}  // namespace
}  // namespace veer::test
