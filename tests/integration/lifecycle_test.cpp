// The process as an operator sees it: `veer check`, `--version`, SIGHUP reloads,
// SIGTERM drains, the access log, and the choice of I/O engine.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;

// Polls `condition` until it holds or `timeout` passes; each round waits on a socket
// read with a short timeout rather than sleeping.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout, std::uint16_t port) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() >= deadline) return false;
    Client(port).wait_closed(10ms);
  }
  return true;
}

TEST(Check, ValidFileExitsZero) {
  const std::string dir = make_temp_dir();
  const std::string path =
      write_file(dir, "ok.toml", TestConfig{.backends = {"127.0.0.1:9"}}.toml());
  const CommandResult r = run_command(veer_binary() + " check " + path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("configuration is valid"), std::string::npos) << r.output;
}

TEST(Check, TheStateFileIsCheckedByTheRuleAStartApplies) {
  const std::string dir = make_temp_dir();
  std::string toml = TestConfig{.backends = {"127.0.0.1:9"}}.toml();
  toml.replace(toml.find("[server]\n"), 9, "[server]\nstate_file = \"" + dir + "/state.json\"\n");
  const std::string path = write_file(dir, "veer.toml", toml);
  // One change that still applies (127.0.0.1:9 drained) and two the rule drops: a pool
  // the file does not have, and an update made when the file said weight 4.
  write_file(dir, "state.json", R"({"format": 2, "backends": {
      "main": {"127.0.0.1:9": {"state": "drain"},
               "127.0.0.1:8": {"weight": 2, "file": {"weight": 4, "backup": false}}},
      "gone": {"127.0.0.1:7": {"state": "down"}}}, "splits": {}})");
  const CommandResult kept = run_command(veer_binary() + " check " + path);
  EXPECT_EQ(kept.exit_code, 0) << kept.output;
  EXPECT_NE(kept.output.find("the file no longer has pool gone"), std::string::npos) << kept.output;
  EXPECT_NE(kept.output.find("backend 127.0.0.1:8 weight 2"), std::string::npos) << kept.output;
  EXPECT_EQ(kept.output.find("127.0.0.1:9 drained"), std::string::npos)
      << "a change that applies is no warning: " << kept.output;

  write_file(dir, "state.json", R"({"format": 2, "backends": {"main": []}})");
  const CommandResult broken = run_command(veer_binary() + " check " + path);
  EXPECT_EQ(broken.exit_code, 1) << broken.output;
  EXPECT_NE(broken.output.find("backends.main: expected an object"), std::string::npos)
      << broken.output;
}

TEST(Check, EveryErrorIsPrintedWithItsPosition) {
  const std::string dir = make_temp_dir();
  const std::string path = write_file(dir, "bad.toml", R"([server]
wrokers = 2
[timeouts]
drain = "soon"
[listeners.public]
address = "127.0.0.1:99999"
  [[listeners.public.routes]]
  target = "nowhere"
[pools.rpc]
backends = ["127.0.0.1:19001", "127.0.0.1:19001", { address = "127.0.0.1:2", weight = -3 }]
)");
  const CommandResult r = run_command(veer_binary() + " check " + path);
  EXPECT_EQ(r.exit_code, 1);
  for (const std::string& expected :
       {path + ":2:1: server.wrokers: unknown key", path + ":4:9: timeouts.drain: bad duration",
        path + ":6:11: listeners.public.address: port 99999 is out of range",
        path + ":8:12: listeners.public.routes[0].target: no pool or split named \"nowhere\"",
        path + ":10:32: pools.rpc.backends[1]: duplicate address 127.0.0.1:19001",
        path + ":10:87: pools.rpc.backends[2].weight: must be >= 0"}) {
    EXPECT_NE(r.output.find(expected), std::string::npos) << "missing: " << expected << "\n"
                                                          << r.output;
  }
}

TEST(Version, NamesTheEnginesBuiltIn) {
  const CommandResult r = run_command(veer_binary() + " --version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("engines: epoll, io_uring"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("this binary: epoll"), std::string::npos) << r.output;
}

// Runs `veer ARGS` with one of its output streams discarded: what remains is the other.
CommandResult run_veer_stdout_only(const std::string& args) {
  return run_command("{ " + veer_binary() + " " + args + " 2>/dev/null; }");
}
CommandResult run_veer_stderr_only(const std::string& args) {
  return run_command("{ " + veer_binary() + " " + args + " 2>&1 >/dev/null; }");
}

TEST(Cli, HelpIsPrintedOnStdoutAndExitsZero) {
  for (const std::string flag : {"--help", "-h", "help"}) {
    const CommandResult r = run_veer_stdout_only(flag);
    EXPECT_EQ(r.exit_code, 0) << flag;
    EXPECT_TRUE(r.output.starts_with("usage:\n")) << r.output;
    EXPECT_NE(r.output.find("  veer check FILE              validate FILE"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("Signals: SIGHUP reloads FILE and reopens logs; SIGUSR1 reopens the "
                            "access log and the\n  log file; SIGTERM, SIGINT or SIGQUIT drain and "
                            "exit.\n"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("VEER_LOG=debug|info|warn|error"), std::string::npos) << r.output;
    EXPECT_TRUE(run_veer_stderr_only(flag).output.empty());
  }
}

// `veer check` once ran a file named "check": here one exists, and is a valid config, so
// that mistake would start a server (`timeout` bounds the test if it ever comes back).
TEST(Cli, ACommandWithoutItsFileIsAUsageError) {
  const std::string dir = make_temp_dir();
  const std::string config = TestConfig{.backends = {"127.0.0.1:9"}}.toml();
  write_file(dir, "check", config);
  write_file(dir, "run", config);
  for (const std::string command : {"check", "run"}) {
    const CommandResult r = run_command("cd " + dir + " && { timeout 10 " + veer_binary() + " " +
                                        command + " 2>&1 >/dev/null; }");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(r.output.starts_with("veer: " + command + ": missing argument")) << r.output;
    EXPECT_NE(r.output.find("usage:"), std::string::npos) << r.output;
    EXPECT_TRUE(run_veer_stdout_only(command).output.empty());
  }
}

TEST(Cli, ExtraOrUnknownArgumentsAreUsageErrors) {
  const std::string dir = make_temp_dir();
  const std::string path =
      write_file(dir, "ok.toml", TestConfig{.backends = {"127.0.0.1:9"}}.toml());
  const std::vector<std::string> command_lines{"",
                                               "check " + path + " " + path,
                                               "run " + path + " extra",
                                               path + " extra",
                                               "--version now",
                                               "help me",
                                               "--bogus"};
  for (const std::string& args : command_lines) {
    const CommandResult r = run_command("timeout 10 " + veer_binary() + " " + args);
    EXPECT_EQ(r.exit_code, 2) << "veer " << args << "\n" << r.output;
    EXPECT_TRUE(r.output.starts_with("veer: ")) << "veer " << args << "\n" << r.output;
  }
}

TEST(Cli, NonAsciiKeyIsReportedNotParsed) {
  const std::string dir = make_temp_dir();
  const std::string path = write_file(dir, "bad.toml", "[pööls]\n");
  const CommandResult r = run_command(veer_binary() + " check " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(path + ":1:3: non-ASCII character in a key"), std::string::npos)
      << r.output;
}

TEST(Cli, UnknownVeerLogValueIsNamedWithTheAcceptedOnes) {
  const std::string dir = make_temp_dir();
  const std::string path =
      write_file(dir, "ok.toml", TestConfig{.backends = {"127.0.0.1:9"}}.toml());
  const CommandResult r = run_command("VEER_LOG=loud " + veer_binary() + " check " + path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(" warn VEER_LOG=\"loud\" is not one of debug, info, warn, error"),
            std::string::npos)
      << r.output;
}

// A start that fails after an info line (starting), a warning (the descriptor limit,
// lowered by ulimit) and an error (an access log in a directory that does not exist).
CommandResult start_that_fails(const std::string& environment) {
  const std::string dir = make_temp_dir();
  TestConfig config{.backends = {"127.0.0.1:9"}, .io_engine = "epoll"};
  config.access_log = dir + "/missing/access.log";
  const std::string path = write_file(dir, "veer.toml", config.toml());
  return run_command("ulimit -n 1024 && " + environment + " timeout 10 " + veer_binary() + " run " +
                     path);
}

TEST(Cli, VeerLogSetsTheLeastSevereLevelLogged) {
  const CommandResult all = start_that_fails("");
  EXPECT_EQ(all.exit_code, 1) << all.output;
  EXPECT_NE(all.output.find(" info veer "), std::string::npos) << all.output;
  EXPECT_NE(all.output.find(" warn open file limit 1024"), std::string::npos) << all.output;
  EXPECT_NE(all.output.find(" error cannot open access log"), std::string::npos) << all.output;

  const CommandResult warn = start_that_fails("VEER_LOG=warn");
  EXPECT_EQ(warn.output.find(" info "), std::string::npos) << warn.output;
  EXPECT_NE(warn.output.find(" warn open file limit 1024"), std::string::npos) << warn.output;
  EXPECT_NE(warn.output.find(" error cannot open access log"), std::string::npos) << warn.output;

  const CommandResult error = start_that_fails("VEER_LOG=error");
  EXPECT_EQ(error.output.find(" info "), std::string::npos) << error.output;
  EXPECT_EQ(error.output.find(" warn "), std::string::npos) << error.output;
  EXPECT_NE(error.output.find(" error cannot open access log"), std::string::npos) << error.output;
}

TEST(Cli, VeerLogDebugShowsDebugLines) {
  VeerProcess veer(TestConfig{.backends = {"127.0.0.1:9"}}.toml(),
                   VeerOptions{.extra_env = {"VEER_LOG=debug"}});
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  const std::optional<Response> response = fetch(veer.port(), "GET", "/");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 502);
  EXPECT_TRUE(veer.wait_for_log(" debug request to 127.0.0.1:9 failed", 5s)) << veer.log_text();
}

TEST(ProcessLog, ServerLogSendsTheLogToAFile) {
  const std::string dir = make_temp_dir();
  TestConfig config{.backends = {"127.0.0.1:9"}, .io_engine = "epoll"};
  config.access_log = dir + "/missing/access.log";
  std::string toml = config.toml();
  toml.replace(toml.find("[server]\n"), 9, "[server]\nlog = \"" + dir + "/veer.log\"\n");
  const std::string path = write_file(dir, "veer.toml", toml);
  const CommandResult r = run_command("umask 022 && " + veer_binary() + " run " + path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(" info process log continues in " + dir + "/veer.log"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("cannot open access log"), std::string::npos) << r.output;
  std::ifstream in(dir + "/veer.log");
  const std::string logged((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(logged.find(" info veer "), std::string::npos) << logged;  // the start is marked
  EXPECT_NE(logged.find(" error cannot open access log " + dir + "/missing/access.log"),
            std::string::npos)
      << logged;
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/veer.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u) << std::oct << st.st_mode;
}

TEST(ProcessLog, AnUnopenableLogFileStopsTheStart) {
  const std::string dir = make_temp_dir();
  std::string toml = TestConfig{.backends = {"127.0.0.1:9"}, .io_engine = "epoll"}.toml();
  toml.replace(toml.find("[server]\n"), 9, "[server]\nlog = \"" + dir + "/no/veer.log\"\n");
  const std::string path = write_file(dir, "veer.toml", toml);
  const CommandResult r = run_command("timeout 10 " + veer_binary() + " run " + path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(" error cannot open log file " + dir +
                          "/no/veer.log: No such file or directory"),
            std::string::npos)
      << r.output;
}

TEST(Engine, AutoRunsOnIoUringWhereTheKernelAllows) {
  TestBackend backend("b");
  VeerProcess veer(TestConfig{.backends = {backend.address()}}.toml(),
                   VeerOptions{.engine_as_written = true});
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  EXPECT_TRUE(veer.wait_for_log(
      "io engine: io_uring (server.io_engine = \"auto\"): the native io_uring engine", 1s))
      << veer.log_text();
  EXPECT_EQ(fetch(veer.port(), "GET", "/")->body, "b");
}

TEST(Engine, RefusedIoUringFallsBackToEpollAndSaysSo) {
  TestBackend backend("b");
  VeerProcess veer(TestConfig{.backends = {backend.address()}}.toml(),
                   VeerOptions{.block_io_uring = true, .engine_as_written = true});
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  EXPECT_TRUE(
      veer.wait_for_log("io engine: epoll (io_uring refused by the kernel: io_uring_setup: "
                        "Operation not permitted)",
                        1s))
      << veer.log_text();
  EXPECT_EQ(fetch(veer.port(), "GET", "/")->body, "b");
}

TEST(Engine, ExplicitIoUringThatIsRefusedIsAClearError) {
  VeerProcess veer(TestConfig{.backends = {"127.0.0.1:9"}, .io_engine = "io_uring"}.toml(),
                   VeerOptions{.block_io_uring = true});
  EXPECT_EQ(veer.wait_exit(5s), 1);
  EXPECT_NE(veer.log_text().find("server.io_engine = \"io_uring\" but the kernel refused it"),
            std::string::npos)
      << veer.log_text();
}

TEST(Engine, ExplicitEpollRunsOnEpoll) {
  TestBackend backend("b");
  VeerProcess veer(TestConfig{.backends = {backend.address()}, .io_engine = "epoll"}.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  EXPECT_TRUE(veer.wait_for_log("io engine: epoll (server.io_engine = \"epoll\")", 1s));
}

TEST(Reload, ValidConfigIsSwappedInWithoutDroppingConnections) {
  TestBackend blue("blue"), green("green");
  VeerProcess veer(TestConfig{.backends = {blue.address()}}.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  Client kept(veer.port());
  ASSERT_EQ(kept.get("/")->body, "blue");

  veer.rewrite_config(TestConfig{.backends = {green.address()}}.toml());
  const std::size_t mark = veer.log_size();
  veer.signal(SIGHUP);
  ASSERT_TRUE(veer.wait_for_log("configuration version 2 applied", 5s, mark)) << veer.log_text();

  // The connection opened before the reload keeps working, now routed to green.
  const auto r = kept.get("/");
  ASSERT_TRUE(r) << "the reload dropped a keep-alive connection";
  EXPECT_EQ(r->body, "green");
  EXPECT_EQ(fetch(veer.port(), "GET", "/")->body, "green");
}

TEST(Reload, InvalidConfigIsRefusedAndTheOldOneStays) {
  TestBackend blue("blue");
  VeerProcess veer(TestConfig{.backends = {blue.address()}}.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  veer.rewrite_config(
      "[server]\nworkers = \"many\"\n[pools.x]\nbackends = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n");
  const std::size_t mark = veer.log_size();
  veer.signal(SIGHUP);
  ASSERT_TRUE(veer.wait_for_log("reload refused", 5s, mark)) << veer.log_text();
  EXPECT_TRUE(veer.wait_for_log("server.workers: expected an integer", 1s, mark))
      << veer.log_text();
  EXPECT_TRUE(veer.wait_for_log("duplicate address", 1s, mark)) << veer.log_text();
  EXPECT_TRUE(veer.wait_for_log("configuration version 1 stays in force", 1s, mark));
  EXPECT_EQ(fetch(veer.port(), "GET", "/")->body, "blue");
}

TEST(Reload, ListenerAddressChangesAreApplied) {
  TestBackend blue("blue");
  VeerProcess veer(TestConfig{.backends = {blue.address()}}.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  std::string toml = TestConfig{.backends = {blue.address()}}.toml();
  toml +=
      "[listeners.second]\naddress = \"127.0.0.1:0\"\n  [[listeners.second.routes]]\n  target = "
      "\"main\"\n";
  veer.rewrite_config(toml);
  veer.signal(SIGHUP);
  ASSERT_TRUE(veer.wait_for_log("configuration version 2 applied", 5s)) << veer.log_text();
  ASSERT_NE(veer.port("second"), 0);
  EXPECT_EQ(fetch(veer.port("second"), "GET", "/")->body, "blue");
}

TEST(Shutdown, SigtermLetsTheRequestInFlightFinish) {
  TestBackend slow("slow", [](const BackendRequest&) {
    return BackendReply{.body = "finished", .delay = 700ms};
  });
  VeerProcess veer(TestConfig{.backends = {slow.address()}}.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  const std::uint16_t port = veer.port();
  Client client(port);
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return slow.requests() == 1; }, 5s, port));
  veer.signal(SIGTERM);
  ASSERT_TRUE(veer.wait_for_log("no longer accepting", 5s)) << veer.log_text();
  // New connections are refused while the old request finishes.
  Client late(port, 1s);
  EXPECT_TRUE(!late.connected() || late.wait_closed(1s));
  const auto r = client.read_response();
  ASSERT_TRUE(r) << "the in-flight request was cut by shutdown";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "finished");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_EQ(veer.wait_exit(5s), 0) << veer.log_text();
}

TEST(Shutdown, SigintDrainsLikeSigterm) {
  TestBackend slow("slow", [](const BackendRequest&) {
    return BackendReply{.body = "finished", .delay = 300ms};
  });
  VeerProcess veer(TestConfig{.backends = {slow.address()}}.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  Client client(veer.port());
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return slow.requests() == 1; }, 5s, veer.port()));
  veer.signal(SIGINT);
  const auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "finished");
  EXPECT_EQ(veer.wait_exit(5s), 0) << veer.log_text();
  EXPECT_NE(veer.log_text().find("SIGINT: no longer accepting"), std::string::npos);
}

TEST(Shutdown, DrainDeadlineClosesWhatIsLeft) {
  TestBackend hung("hung", [](const BackendRequest&) { return BackendReply{.hang = true}; });
  TestConfig config{.backends = {hung.address()}};
  config.timeouts = "drain = \"300ms\"\n";
  VeerProcess veer(config.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  Client client(veer.port());
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return hung.requests() == 1; }, 5s, veer.port()));
  const auto start = Clock::now();
  veer.signal(SIGTERM);
  EXPECT_EQ(veer.wait_exit(5s), 0) << veer.log_text();
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(client.wait_closed(1s));
}

TEST(AccessLog, OneJsonLinePerRequestWithEveryField) {
  TestBackend backend("b");
  const std::string dir = make_temp_dir();
  const std::string log_path = dir + "/access.log";
  VeerProcess veer(TestConfig{.backends = {backend.address()}, .access_log = log_path}.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  Client client(veer.port());
  ASSERT_TRUE(client.request("GET", "/a?b=\"c\"", "", {"X-Request-Id: req-1"}));
  ASSERT_TRUE(client.request("POST", "/rpc", "{}"));
  ASSERT_TRUE(client.request("GET", "/nowhere", "", {"Host: x"}));  // second Host: 400
  std::vector<boost::json::object> entries;
  ASSERT_TRUE(eventually(
      [&] {
        entries.clear();
        std::ifstream in(log_path);
        for (std::string line; std::getline(in, line);) {
          boost::system::error_code ec;
          const boost::json::value v = boost::json::parse(line, ec);
          if (ec || !v.is_object()) return false;
          entries.push_back(v.as_object());
        }
        return entries.size() == 3;
      },
      5s, veer.port()));
  const auto& first = entries[0];
  for (const char* key : {"time", "client", "method", "path", "status", "bytes", "pool", "backend",
                          "upstream_ms", "attempts", "total_ms", "request_id"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
  EXPECT_EQ(first.at("method").as_string(), "GET");
  EXPECT_EQ(first.at("path").as_string(), "/a?b=\"c\"");
  EXPECT_EQ(first.at("status").to_number<int>(), 200);
  EXPECT_EQ(first.at("bytes").to_number<int>(), 1);
  EXPECT_EQ(first.at("client").as_string(), "127.0.0.1");
  EXPECT_EQ(first.at("pool").as_string(), "main");
  EXPECT_EQ(first.at("backend").as_string(), backend.address());
  EXPECT_EQ(first.at("request_id").as_string(), "req-1");
  EXPECT_GE(first.at("total_ms").to_number<double>(), first.at("upstream_ms").to_number<double>());
  EXPECT_EQ(entries[1].at("method").as_string(), "POST");
  EXPECT_EQ(entries[1].at("request_id").as_string().size(), 32u);
  EXPECT_EQ(first.at("attempts").to_number<int>(), 1);
  EXPECT_EQ(entries[2].at("status").to_number<int>(), 400);
  EXPECT_TRUE(entries[2].at("backend").is_null());
  EXPECT_TRUE(entries[2].at("pool").is_null());
  EXPECT_EQ(entries[2].at("attempts").to_number<int>(), 0);
}

TEST(Listeners, AnAddressInUseByAnotherProcessIsRefused) {
  TestBackend backend("b");
  VeerProcess first(TestConfig{.backends = {backend.address()}}.toml());
  ASSERT_TRUE(first.wait_ready()) << first.log_text();
  std::string toml = TestConfig{.backends = {backend.address()}}.toml();
  const std::string taken = "127.0.0.1:" + std::to_string(first.port());
  toml.replace(toml.find("127.0.0.1:0"), 11, taken);
  // SO_REUSEPORT would let a second process share the port silently; veer refuses.
  VeerProcess second(toml);
  // veer waits 3 s for the address (core/bind_retry.cpp); the rest is slack for a start
  // under a sanitizer on a loaded machine.
  EXPECT_EQ(second.wait_exit(15s), 1);
  EXPECT_NE(second.log_text().find("another process listens there"), std::string::npos)
      << second.log_text();
}

TEST(Limits, MaxConnectionsRefusesTheExtraConnection) {
  TestBackend backend("b");
  TestConfig config{.backends = {backend.address()}, .workers = 1};
  config.limits = "max_connections = 2\n";
  VeerProcess veer(config.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  Client one(veer.port()), two(veer.port());
  ASSERT_EQ(one.get("/")->status, 200);
  ASSERT_EQ(two.get("/")->status, 200);
  Client three(veer.port());
  EXPECT_TRUE(three.wait_closed(2s));
  EXPECT_EQ(one.get("/")->status, 200);
}

}  // namespace
}  // namespace veer::test
