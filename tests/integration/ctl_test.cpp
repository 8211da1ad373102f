// `veer ctl` end to end: the real binary against a real veer (finding it through the
// config file, with its token) and against a fake admin API built from TestBackend,
// which records exactly what ctl sends and answers what a newer or older veer would
// (endpoints this branch's veer lacks: /api/v1/overrides, the `reasons` of each backend).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "support/admin_client.hpp"
#include "support/config_builder.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;

struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string quoted(const std::string& word) {
  std::string out = "'";
  for (const char c : word)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `veer ctl ARGS` with only the variables of `env` set of ctl's own (the test
// runner's VEER_ADMIN* never leak in); stdout and stderr apart. Bounded: every wait
// of ctl times out after 10 s.
CtlRun ctl(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  static const std::string dir = make_temp_dir();
  static int calls = 0;
  const std::string err_path = dir + "/stderr-" + std::to_string(++calls);
  std::vector<std::string> words{"env", "-u", "VEER_ADMIN", "-u", "VEER_ADMIN_TOKEN"};
  for (const std::string& kv : env)
    words.push_back(quoted(kv));
  words.push_back(quoted(veer_binary()));
  words.push_back("ctl");
  for (const std::string& arg : args)
    words.push_back(quoted(arg));
  std::string command = "{";
  for (const std::string& word : words)
    command.append(" ").append(word);
  command.append(" 2>").append(quoted(err_path)).append("; }");
  const CommandResult result = run_command(command);
  CtlRun run{result.exit_code, result.output, read_all(err_path)};
  std::remove(err_path.c_str());
  return run;
}

std::string describe(const CtlRun& run) {
  return "exit " + std::to_string(run.exit_code) + "\nstdout:\n" + run.out + "stderr:\n" + run.err;
}

// A stand-in for veer's admin API: answers every request with `reply` and records it.
struct FakeAdmin {
  explicit FakeAdmin(BackendReply reply = BackendReply{.body = "{}"})
      : reply_(std::move(reply)), server("admin", [this](const BackendRequest&) {
          std::lock_guard lock(mutex_);
          return reply_;
        }) {
    server.record(true);
  }
  void answer(BackendReply reply) {
    std::lock_guard lock(mutex_);
    reply_ = std::move(reply);
  }
  std::string env() const { return "VEER_ADMIN=" + server.address(); }

 private:
  std::mutex mutex_;
  BackendReply reply_;

 public:
  TestBackend server;  // last: its thread calls the handler, which uses the above
};

BackendReply json_reply(std::string body, int status = 200) {
  return BackendReply{
      .status = status, .body = std::move(body), .headers = {{"Content-Type", "application/json"}}};
}

TEST(Ctl, HelpGoesToStdoutAndAMistakeToStderrWithExit2) {
  for (const char* flag : {"--help", "-h", "help"}) {
    const CtlRun help = ctl({flag});
    EXPECT_EQ(help.exit_code, 0) << describe(help);
    EXPECT_TRUE(help.err.empty()) << describe(help);
    EXPECT_EQ(help.out.rfind("usage: veer ctl [--config FILE]", 0), 0u) << describe(help);
    for (const char* command : {"pools", "overrides", "reset", "split", "reload", "remove"})
      EXPECT_NE(help.out.find("\n  " + std::string(command) + " "), std::string::npos) << command;
    EXPECT_NE(help.out.find("--admin, $VEER_ADMIN, [admin].address"), std::string::npos)
        << "the order of the address's sources is written down";
  }
  for (const std::vector<std::string>& wrong :
       {std::vector<std::string>{"frobnicate"}, std::vector<std::string>{},
        std::vector<std::string>{"drain", "main"}, std::vector<std::string>{"pools", "extra"},
        std::vector<std::string>{"add", "main", "127.0.0.1:9", "heavy"},
        std::vector<std::string>{"split", "rpc", "blue"}, std::vector<std::string>{"--admin"},
        std::vector<std::string>{"--frobnicate", "pools"},
        std::vector<std::string>{"--adm", "127.0.0.1:9", "pools"}}) {
    const CtlRun run = ctl(wrong);
    EXPECT_EQ(run.exit_code, 2) << describe(run);
    EXPECT_TRUE(run.out.empty()) << describe(run);
    EXPECT_NE(run.err.find("usage: veer ctl"), std::string::npos) << describe(run);
  }
  EXPECT_NE(ctl({"frobnicate"}).err.find("veer ctl: unknown command frobnicate"),
            std::string::npos);
  EXPECT_NE(ctl({"pools", "--frobnicate"}).err.find("veer ctl: unrecognised option '--frobnicate'"),
            std::string::npos)
      << "an option is refused wherever it stands";
}

TEST(Ctl, OptionsGoAnywhereTheLastOfEachWinsAndDashDashEndsThem) {
  FakeAdmin admin;
  // A wrapper script's default first, its caller's choice later, after the command too;
  // after `--`, a word that starts with a dash is an argument.
  const CtlRun run =
      ctl({"--admin", "127.0.0.1:9", "get", "--admin=" + admin.server.address(), "--", "-x"});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  ASSERT_EQ(admin.server.recorded().size(), 1u) << describe(run);
  EXPECT_EQ(admin.server.recorded()[0].target, "-x");
}

TEST(Ctl, EveryMutationSaysItsBodyIsJsonAndReadsDoNot) {
  FakeAdmin admin;
  struct Case {
    std::vector<std::string> args;
    std::string method, target, body;
  };
  const std::vector<Case> cases = {
      {{"add", "main", "127.0.0.1:9", "2"},
       "PUT",
       "/api/v1/pools/main/backends/127.0.0.1:9",
       R"({"weight":2})"},
      {{"add", "main", "[::1]:9"}, "PUT", "/api/v1/pools/main/backends/%5B::1%5D:9", "{}"},
      {{"drain", "main", "127.0.0.1:9"},
       "PATCH",
       "/api/v1/pools/main/backends/127.0.0.1:9",
       R"({"state":"drain"})"},
      {{"down", "main", "127.0.0.1:9"},
       "PATCH",
       "/api/v1/pools/main/backends/127.0.0.1:9",
       R"({"state":"down"})"},
      {{"up", "main", "127.0.0.1:9"},
       "PATCH",
       "/api/v1/pools/main/backends/127.0.0.1:9",
       R"({"state":"up"})"},
      {{"remove", "main", "127.0.0.1:9", "30s"},
       "DELETE",
       "/api/v1/pools/main/backends/127.0.0.1:9?drain=30s",
       ""},
      {{"split", "rpc", "blue=0", "green=100"},
       "PUT",
       "/api/v1/splits/rpc",
       R"({"targets":{"blue":0,"green":100}})"},
      {{"reload"}, "POST", "/api/v1/reload", ""},
      {{"reset"}, "DELETE", "/api/v1/overrides", ""},
      {{"pools"}, "GET", "/api/v1/pools", ""},
      {{"overrides"}, "GET", "/api/v1/overrides", ""},
      {{"get", "/metrics"}, "GET", "/metrics", ""},
      {{"rollout"}, "GET", "/api/v1/rollouts", ""},
      {{"rollout", "r1"}, "GET", "/api/v1/rollouts/r1", ""},
      {{"rollout", "r1", "pause"}, "POST", "/api/v1/rollouts/r1/pause", ""},
      {{"rollout", "r1", "promote"}, "POST", "/api/v1/rollouts/r1/promote", ""},
      {{"rollout", "r1", "delete"}, "DELETE", "/api/v1/rollouts/r1", ""},
      {{"rollout", "start", "r1", "rpc", "blue", "green", "1,5,25,50,100"},
       "POST",
       "/api/v1/rollouts",
       R"({"name":"r1","split":"rpc","stable":"blue","canary":"green","steps":[1,5,25,50,100]})"},
      {{"rollout", "start", R"({"name":"r2"})"}, "POST", "/api/v1/rollouts", R"({"name":"r2"})"},
  };
  for (const Case& c : cases) {
    const CtlRun run = ctl(c.args, {admin.env(), "VEER_ADMIN_TOKEN=" + kToken});
    EXPECT_EQ(run.exit_code, 0) << describe(run);
  }
  const std::vector<BackendRequest> seen = admin.server.recorded();
  ASSERT_EQ(seen.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    EXPECT_EQ(seen[i].method, c.method) << c.args[0];
    EXPECT_EQ(seen[i].target, c.target) << c.args[0];
    EXPECT_EQ(seen[i].body, c.body) << c.args[0];
    EXPECT_EQ(seen[i].header("Authorization"), "Bearer " + kToken) << c.args[0];
    const bool mutation = c.method != "GET";
    EXPECT_EQ(seen[i].header("Content-Type"), mutation ? "application/json" : "")
        << c.args[0] << ": the API answers a mutation without it 415";
    EXPECT_EQ(seen[i].header("Content-Length"), std::to_string(c.body.size())) << c.args[0];
  }
}

TEST(Ctl, OverridesArePrettyPrintedAndAVeerWithoutThemIsExplained) {
  FakeAdmin admin(
      json_reply(R"({"version":7,"pools":{"main":{"drained":["127.0.0.1:9"],"weights":{}}},)"
                 R"("splits":[],"share":0.0026})"));
  const CtlRun shown = ctl({"overrides"}, {admin.env()});
  EXPECT_EQ(shown.exit_code, 0) << describe(shown);
  EXPECT_EQ(shown.out,
            "{\n"
            "  \"version\": 7,\n"
            "  \"pools\": {\n"
            "    \"main\": {\n"
            "      \"drained\": [\n"
            "        \"127.0.0.1:9\"\n"
            "      ],\n"
            "      \"weights\": {}\n"
            "    }\n"
            "  },\n"
            "  \"splits\": [],\n"
            "  \"share\": 0.0026\n"
            "}\n");

  // An older veer (this branch's main) answers 404: the exit code says refused, and
  // the operator learns why instead of guessing at a typo.
  admin.answer(json_reply(R"({"error":"not found","detail":"/api/v1/overrides"})", 404));
  for (const char* command : {"overrides", "reset"}) {
    const CtlRun old = ctl({command}, {admin.env()});
    EXPECT_EQ(old.exit_code, 1) << describe(old);
    EXPECT_TRUE(old.out.empty()) << describe(old);
    EXPECT_NE(old.err.find("/api/v1/overrides: 404"), std::string::npos) << describe(old);
    EXPECT_NE(old.err.find("this veer has no /api/v1/overrides"), std::string::npos)
        << describe(old);
    EXPECT_NE(old.err.find("\"not found\""), std::string::npos) << "the API's own error too";
  }
  // A 404 of another command is not blamed on the version.
  const CtlRun other = ctl({"drain", "nosuch", "127.0.0.1:9"}, {admin.env()});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_EQ(other.err.find("older than"), std::string::npos) << describe(other);
}

// GET /api/v1/pools of a veer that lists reasons (the shape the lead wires in).
const char* kPoolsWithReasons = R"({"version": 4, "pools": [{"name": "main", "backends": [
  {"address": "127.0.0.1:9001", "state": "down", "weight": 1, "in_flight": 0,
   "active_connections": 0, "requests_per_second": 0.0, "latency_ewma_ms": null,
   "reasons": [
     {"reason": "down", "cause": "block lag 214 > 8", "since": "2026-12-06T12:00:00Z"},
     {"reason": "ejected", "cause": "2 consecutive timeouts; ejected for 30s",
      "since": "2026-12-06T11:59:50Z", "until": "2026-12-06T12:00:20Z"}]},
  {"address": "127.0.0.1:9002", "state": "up", "weight": 1, "in_flight": 2,
   "active_connections": 3, "requests_per_second": 41.5, "latency_ewma_ms": 1.25,
   "reasons": []},
  {"address": "127.0.0.1:9003", "state": "draining", "weight": 1, "in_flight": 0,
   "active_connections": 0, "requests_per_second": 0.0, "latency_ewma_ms": null}]}]})";

TEST(Ctl, PoolsShowsEveryReasonABackendIsOutWithItsCause) {
  FakeAdmin admin(json_reply(kPoolsWithReasons));
  const CtlRun run = ctl({"pools"}, {admin.env()});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  std::vector<std::string> lines;
  std::istringstream text(run.out);
  for (std::string line; std::getline(text, line);)
    lines.push_back(line);
  ASSERT_EQ(lines.size(), 7u) << run.out;
  EXPECT_EQ(lines[0].rfind("POOL", 0), 0u);
  EXPECT_EQ(lines[1].rfind("main             127.0.0.1:9001               down           1", 0), 0u)
      << lines[1];
  EXPECT_EQ(lines[2], "    down since 2026-12-06T12:00:00Z: block lag 214 > 8");
  EXPECT_EQ(lines[3],
            "    ejected since 2026-12-06T11:59:50Z until 2026-12-06T12:00:20Z: 2 consecutive "
            "timeouts; ejected for 30s");
  EXPECT_NE(lines[4].find("127.0.0.1:9002"), std::string::npos) << "routable: no reason lines";
  EXPECT_NE(lines[5].find("127.0.0.1:9003"), std::string::npos)
      << "a backend without `reasons` (an older veer) still gets its row";
  EXPECT_EQ(lines[6], "configuration version 4");
}

// The config veer runs from, with its admin listener's real port written in (veer was
// given port 0), so that ctl finds it as an operator's ctl finds a fixed one.
std::string pin_admin_port(const Admin& admin) {
  std::string toml = read_all(admin.veer->config_path());
  const std::string any = "address = \"127.0.0.1:0\"\ntokens";
  const std::size_t at = toml.rfind(any);
  EXPECT_NE(at, std::string::npos) << toml;
  if (at != std::string::npos)
    toml.replace(at, any.size(),
                 "address = \"127.0.0.1:" + std::to_string(admin.port) + "\"\ntokens");
  admin.veer->rewrite_config(toml);
  return toml;
}

// The table row of `address` in ctl's output, or "".
std::string row_of(const std::string& out, const std::string& address) {
  std::istringstream text(out);
  for (std::string line; std::getline(text, line);) {
    if (line.find(" " + address + " ") != std::string::npos) return line;
  }
  return "";
}

std::string state_of(Admin& admin, const std::string& address) {
  const auto r = admin.call("GET", "/api/v1/pools/main");
  if (!r || r->status != 200) return "";
  const json::value pool = json::parse(r->body);
  for (const json::value& b : pool.at("backends").as_array()) {
    if (b.at("address").as_string() == address) return std::string(b.at("state").as_string());
  }
  return "";
}

TEST(Ctl, FindsTheAdminAddressAndTokenInTheConfigFile) {
  TestBackend a("a"), b("b");
  Admin admin = start_with_admin(TestConfig{.backends = {a.address(), b.address()}});
  const std::string toml = pin_admin_port(admin);
  const std::string config = admin.veer->config_path();

  CtlRun run = ctl({"--config", config, "pools"});
  ASSERT_EQ(run.exit_code, 0) << "a 401 would mean the token was not found: " << describe(run);
  EXPECT_NE(row_of(run.out, b.address()).find(" up "), std::string::npos) << run.out;
  run = ctl({"--config", config, "down", "main", b.address()});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_EQ(state_of(admin, b.address()), "disabled");
  run = ctl({"--config", config, "up", "main", b.address()});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_EQ(state_of(admin, b.address()), "up");

  // The token from [admin].token_file when there are no [admin].tokens.
  const std::string dir = make_temp_dir();
  const std::string token_file = write_file(dir, "token", "\n  " + kToken + "  \n");
  std::string with_file = toml;
  const std::size_t tokens = with_file.rfind("tokens = [");
  with_file.replace(tokens, with_file.find('\n', tokens) - tokens,
                    "token_file = \"" + token_file + "\"");
  run = ctl({"--config", write_file(dir, "file.toml", with_file), "pools"});
  EXPECT_EQ(run.exit_code, 0) << with_file << describe(run);

  // Explicit beats discovered: the environment's token, then --token-file's.
  run = ctl({"--config", config, "pools"}, {"VEER_ADMIN_TOKEN=wrong-token-0123456789"});
  EXPECT_EQ(run.exit_code, 1) << describe(run);
  EXPECT_NE(run.err.find("401"), std::string::npos) << describe(run);
  run = ctl({"--config", config, "--token-file", write_file(dir, "good", kToken + "\n"), "pools"},
            {"VEER_ADMIN_TOKEN=wrong-token-0123456789"});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  // ... and $VEER_ADMIN's address, with the config's token.
  FakeAdmin fake(json_reply(kPoolsWithReasons));
  run = ctl({"--config", config, "pools"}, {fake.env()});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  ASSERT_EQ(fake.server.recorded().size(), 1u);
  EXPECT_EQ(fake.server.recorded()[0].header("Authorization"), "Bearer " + kToken);
}

TEST(Ctl, OverridesShowsWhatTheRuntimeAddsAndResetDropsIt) {
  TestBackend a("a"), b("b");
  Admin admin = start_with_admin(TestConfig{.backends = {a.address(), b.address()}});
  pin_admin_port(admin);
  const std::string config = admin.veer->config_path();
  ASSERT_EQ(ctl({"--config", config, "drain", "main", b.address()}).exit_code, 0);
  ASSERT_EQ(state_of(admin, b.address()), "draining");

  CtlRun run = ctl({"--config", config, "overrides"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_EQ(run.out.rfind("{\n  \"", 0), 0u) << "indented: " << run.out;
  EXPECT_NE(run.out.find(b.address()), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("drain"), std::string::npos) << run.out;

  run = ctl({"--config", config, "reset"});  // a bodiless DELETE: 415 without its header
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_EQ(state_of(admin, b.address()), "up") << "back to the file alone";
  run = ctl({"--config", config, "overrides"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_EQ(run.out.find(b.address()), std::string::npos) << run.out;
}

TEST(Ctl, AConfigFileThatNamesNoReachableAdminIsAnError) {
  FakeAdmin fake;
  TestBackend a("a");
  const std::string base = TestConfig{.backends = {a.address()}}.toml();
  const std::string tokens = "tokens = [ { name = \"ops\", token = \"" + kToken + "\" } ]\n";
  const std::string dir = make_temp_dir();
  struct Case {
    std::string toml;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {base, "has no [admin] table"},
      {base + "[admin]\naddress = \"127.0.0.1:0\"\n" + tokens, "takes any free port"},
      {base + "[admin]\naddres = \"127.0.0.1:1\"\n", "file.toml:"},  // FILE:LINE:COLUMN
  };
  for (const Case& c : cases) {
    const CtlRun run = ctl({"--config", write_file(dir, "file.toml", c.toml), "pools"});
    EXPECT_EQ(run.exit_code, 2) << describe(run);
    EXPECT_NE(run.err.find(c.expected), std::string::npos) << describe(run);
  }
  const CtlRun missing = ctl({"--config", dir + "/nothing.toml", "pools"});
  EXPECT_EQ(missing.exit_code, 2) << describe(missing);

  // A wildcard address is reached on loopback.
  const std::string wildcard =
      base + "[admin]\naddress = \"0.0.0.0:" + std::to_string(fake.server.port()) + "\"\n" + tokens;
  const CtlRun run = ctl({"--config", write_file(dir, "wild.toml", wildcard), "reload"});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  ASSERT_EQ(fake.server.recorded().size(), 1u);
  EXPECT_EQ(fake.server.recorded()[0].target, "/api/v1/reload");
  EXPECT_EQ(fake.server.recorded()[0].header("Authorization"), "Bearer " + kToken);
}

// Against this veer: the states always; the reasons with their causes once its
// GET /api/v1/pools lists them (health::reasons_of, wired in admin/api.cpp).
TEST(Ctl, PoolsShowsWhyARealBackendIsOut) {
  TestBackend a("a"), gone("gone"), b("b");
  TestConfig config{.backends = {a.address(), gone.address(), b.address()}};
  config.extra =
      "health = { path = \"/health\", interval = \"100ms\", timeout = \"500ms\", rise = 1, "
      "fall = 1 }\n";
  Admin admin = start_with_admin(config);
  pin_admin_port(admin);
  const std::string config_path = admin.veer->config_path();
  gone.stop();
  ASSERT_TRUE(
      admin.veer->wait_for_log("backend " + gone.address() + " of pool main: up -> down", 5s))
      << admin.veer->log_text();
  ASSERT_EQ(ctl({"--config", config_path, "down", "main", b.address()}).exit_code, 0);

  const CtlRun run = ctl({"--config", config_path, "pools"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_NE(row_of(run.out, gone.address()).find(" down "), std::string::npos) << run.out;
  EXPECT_NE(row_of(run.out, b.address()).find(" disabled "), std::string::npos) << run.out;
  const auto pools = admin.call("GET", "/api/v1/pools");
  ASSERT_TRUE(pools && pools->status == 200);
  EXPECT_NE(pools->body.find("\"reasons\""), std::string::npos) << pools->body;
  EXPECT_NE(run.out.find("    down since "), std::string::npos) << run.out;
  // The killed backend's cause is what its last check met (refused, reset or no answer,
  // as the machine's timing has it); the 503 below pins the cause exactly.
  const std::size_t down_at = run.out.find("    down since ");
  const std::size_t cause_at = run.out.find(": ", down_at + 15);
  EXPECT_TRUE(down_at != std::string::npos && cause_at != std::string::npos &&
              run.out.find_first_not_of(" \n", cause_at + 2) < run.out.find('\n', down_at))
      << "the down reason names a cause: " << run.out;
  EXPECT_NE(run.out.find("    disabled since "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(": set down through the admin API\n"), std::string::npos) << run.out;

  // Back on its port but answering 503: still down, and the cause follows the last
  // failed check while since stays the time it went down. No log line marks that (the
  // state does not change), so ctl itself is asked until it shows it, within 5 s.
  const std::string down_line = run.out.substr(run.out.find("    down since "));
  const std::string since = down_line.substr(0, down_line.find(": "));
  TestBackend sick(
      "sick", [](const BackendRequest&) { return BackendReply{.status = 503}; }, gone.port());
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  CtlRun later;
  do {
    later = ctl({"--config", config_path, "pools"});
  } while (later.out.find("status 503") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_NE(later.out.find(since + ": status 503, expected 200-299\n"), std::string::npos)
      << later.out;
  EXPECT_NE(row_of(later.out, gone.address()).find(" down "), std::string::npos) << later.out;
}

}  // namespace
}  // namespace veer::test
