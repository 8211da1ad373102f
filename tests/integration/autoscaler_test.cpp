// docker/autoscaler/autoscaler.py end to end, without containers: a real veer, the
// script, and its loopback scale command (docker/autoscaler/local-hook.sh), which starts
// and stops real `veer demo-backend` processes. Requests whose body is still arriving
// stay in flight at their backend for as long as the test holds them: that is the load.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/admin_client.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;

const std::string kDocker = std::string(VEER_SOURCE_DIR) + "/docker/autoscaler";
constexpr double kCooldownSeconds = 1.5;
constexpr int kMaxReplicas = 3;
constexpr int kHeldRequests = 12;  // 12 in flight on 1 backend > 2 per backend: scale up

std::string python() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

// The loopback replicas of one test; the destructor stops every one still running.
struct Replicas {
  std::string state = make_temp_dir() + "/hook";

  std::string command(const std::string& count) const {
    return "VEER='" + veer_binary() + "' HOOK_STATE='" + state + "' '" + kDocker +
           "/local-hook.sh' " + count;
  }
  std::vector<std::string> pids() const {
    std::vector<std::string> out;
    for (int i = 1; std::filesystem::exists(state + "/" + std::to_string(i) + ".pid"); ++i) {
      std::ifstream in(state + "/" + std::to_string(i) + ".pid");
      std::string pid;
      in >> pid;
      out.push_back(pid);
    }
    return out;
  }
  ~Replicas() {
    for (const std::string& pid : pids())
      ::kill(std::stoi(pid), SIGKILL);
  }
};

// One JSON line per event from the script's stdout.
std::vector<json::object> events(const VeerProcess& scaler, const std::string& name) {
  std::vector<json::object> out;
  std::istringstream lines(scaler.log_text());
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    const json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    if (v.as_object().contains("event") && v.at("event").as_string() == name)
      out.push_back(v.as_object());
  }
  return out;
}

std::vector<std::string> green_backends(Admin& admin, const std::string& state = "") {
  std::vector<std::string> out;
  const std::optional<Response> r = admin.call("GET", "/api/v1/pools/green");
  if (!r || r->status != 200) return out;
  const json::value pool = json::parse(r->body);
  for (const json::value& b : pool.at("backends").as_array()) {
    if (state.empty() || b.at("state").as_string() == state)
      out.emplace_back(b.at("address").as_string().c_str());
  }
  return out;
}

// A request whose head and first body byte reached veer: in flight until released.
std::unique_ptr<Client> held_request(std::uint16_t port) {
  auto client = std::make_unique<Client>(port, 10s);
  client->send(
      "POST / HTTP/1.1\r\nHost: green\r\nContent-Type: application/json\r\n"
      "Content-Length: 64\r\n\r\n{");
  return client;
}

TEST(Autoscaler, ScalesUpUnderLoadWithinCooldownAndMaxThenDrainsAndRemoves) {
  Replicas replicas;
  const CommandResult first = run_command(replicas.command("1"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string oldest = first.output.substr(0, first.output.find('\n'));

  Admin admin = start_admin_toml(
      "[server]\nworkers = 2\naccess_log = \"off\"\n"
      "[admin]\naddress = \"127.0.0.1:0\"\ntokens = [ { name = \"scaler\", token = \"" +
      kToken +
      "\" } ]\n"
      "[listeners.public]\naddress = \"127.0.0.1:0\"\n"
      "  [[listeners.public.routes]]\n  target = \"green\"\n"
      "[pools.green]\nstrategy = \"least_connections\"\nbackends = [\"" +
      oldest + "\"]\n");
  ASSERT_NE(admin.port, 0);
  const std::string token_file = write_file(make_temp_dir(), "token", kToken + "\n");

  VeerProcess scaler("", VeerOptions{.binary = python(),
                                     .command = {kDocker + "/autoscaler.py",
                                                 "--verbose",
                                                 "--admin",
                                                 "http://127.0.0.1:" + std::to_string(admin.port),
                                                 "--token-file",
                                                 token_file,
                                                 "--pool",
                                                 "green",
                                                 "--scale-command",
                                                 replicas.command("{replicas}"),
                                                 "--min",
                                                 "1",
                                                 "--max",
                                                 std::to_string(kMaxReplicas),
                                                 "--up-in-flight",
                                                 "2",
                                                 "--down-in-flight",
                                                 "0.5",
                                                 "--up-latency-ms",
                                                 "60000",
                                                 "--down-latency-ms",
                                                 "60000",
                                                 "--cooldown",
                                                 "1500ms",
                                                 "--interval",
                                                 "100ms",
                                                 "--drain",
                                                 "5s"}});
  ASSERT_TRUE(scaler.wait_for_log("\"started\"", 10s)) << scaler.log_text();

  // Load: 12 requests in flight on the one green backend.
  const std::uint16_t public_port = admin.veer->port("public");
  std::vector<std::unique_ptr<Client>> load;
  for (int i = 0; i < kHeldRequests; ++i)
    load.push_back(held_request(public_port));

  // Up to the maximum, one step per cooldown.
  ASSERT_TRUE(poll_until([&] { return green_backends(admin, "up").size() == kMaxReplicas; }, 20s))
      << scaler.log_text() << admin.veer->log_text();
  ASSERT_TRUE(scaler.wait_for_log("\"at_limit\"", 10s)) << scaler.log_text();
  const std::vector<json::object> ups = events(scaler, "scaled");
  ASSERT_EQ(ups.size(), kMaxReplicas - 1) << scaler.log_text();
  EXPECT_GE(ups[1].at("time").to_number<double>() - ups[0].at("time").to_number<double>(),
            kCooldownSeconds - 0.05);
  EXPECT_FALSE(events(scaler, "cooldown").empty()) << "load stayed high during the cooldown";

  // At the maximum with the load still high: 20 more measurements (2 s, longer than the
  // cooldown) and no further replica.
  const std::size_t at_max = scaler.log_size();
  ASSERT_TRUE(scaler.wait_for_line(
      [&, seen = 0](const std::string& line) mutable {
        return line.find("\"tick\"") != std::string::npos && ++seen >= 20;
      },
      10s, at_max));
  EXPECT_EQ(green_backends(admin).size(), kMaxReplicas);
  EXPECT_EQ(events(scaler, "scaled").size(), kMaxReplicas - 1);
  EXPECT_EQ(replicas.pids().size(), kMaxReplicas);

  // Load gone: drained (PATCH), removed (DELETE) and stopped, down to the minimum.
  const std::vector<std::string> added = green_backends(admin);
  load.clear();
  ASSERT_TRUE(poll_until([&] { return green_backends(admin).size() == 1; }, 20s))
      << scaler.log_text();
  ASSERT_TRUE(poll_until([&] { return replicas.pids().size() == 1; }, 10s)) << scaler.log_text();
  EXPECT_EQ(green_backends(admin, "up"), std::vector<std::string>{oldest});
  // At the minimum with no load: held back, and said so.
  ASSERT_TRUE(scaler.wait_for_line(
      [](const std::string& line) {
        return line.find("\"at_limit\"") != std::string::npos &&
               line.find("\"wanted\": \"down\"") != std::string::npos;
      },
      10s, at_max))
      << scaler.log_text();
  std::multiset<std::string> calls;
  for (const json::object& e : events(scaler, "admin"))
    calls.insert(std::string(e.at("method").as_string()) + " " +
                 std::to_string(e.at("status").as_int64()));
  EXPECT_EQ(calls.count("PUT 200"), kMaxReplicas);  // adopting the first, adding two
  EXPECT_EQ(calls.count("PATCH 200"), kMaxReplicas - 1);
  EXPECT_EQ(calls.count("DELETE 202"), kMaxReplicas - 1);
  // veer's audit lines name the two drained and removed backends.
  const std::string veer_log = admin.veer->log_text();
  for (const std::string& address : added) {
    if (address == oldest) continue;
    EXPECT_NE(veer_log.find("drain and remove backend " + address), std::string::npos) << veer_log;
  }
}

// A restart adopts every backend of the pool as a replica, an unhealthy or held one too
// (counting only "up" ones would stop it undrained), and SIGTERM ends the script cleanly.
TEST(Autoscaler, AdoptsEveryBackendAtStartAndExitsOnSigterm) {
  Replicas replicas;
  const CommandResult two = run_command(replicas.command("2"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  std::istringstream lines(two.output);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  ASSERT_FALSE(second.empty()) << two.output;

  Admin admin = start_admin_toml(
      "[server]\nworkers = 1\naccess_log = \"off\"\n"
      "[admin]\naddress = \"127.0.0.1:0\"\ntokens = [ { name = \"scaler\", token = \"" +
      kToken +
      "\" } ]\n"
      "[listeners.public]\naddress = \"127.0.0.1:0\"\n"
      "  [[listeners.public.routes]]\n  target = \"green\"\n"
      "[pools.green]\nbackends = [\"" +
      first + "\", \"" + second + "\"]\n");
  ASSERT_NE(admin.port, 0);
  const auto down =
      admin.call("PATCH", "/api/v1/pools/green/backends/" + second, R"({"state": "down"})");
  ASSERT_TRUE(down);
  ASSERT_EQ(down->status, 200) << down->body;
  ASSERT_EQ(green_backends(admin, "up"), std::vector<std::string>{first});
  const std::string token_file = write_file(make_temp_dir(), "token", kToken + "\n");

  // Thresholds that never scale: only the start is measured.
  VeerProcess scaler(
      "", VeerOptions{.binary = python(),
                      .command = {kDocker + "/autoscaler.py", "--admin",
                                  "http://127.0.0.1:" + std::to_string(admin.port), "--token-file",
                                  token_file, "--pool", "green", "--scale-command",
                                  replicas.command("{replicas}"), "--min", "1", "--max", "3",
                                  "--up-in-flight", "1000", "--down-in-flight", "0", "--interval",
                                  "100ms"}});
  ASSERT_TRUE(scaler.wait_for_log("\"started\"", 10s)) << scaler.log_text();
  const std::vector<json::object> started = events(scaler, "started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].at("replicas").as_int64(), 2) << scaler.log_text();
  EXPECT_EQ(replicas.pids().size(), 2u);

  scaler.signal(SIGTERM);
  const std::optional<int> status = scaler.wait_exit(10s);
  ASSERT_TRUE(status) << scaler.log_text();
  EXPECT_EQ(*status, 0) << scaler.log_text();
  EXPECT_EQ(events(scaler, "stopped").size(), 1u) << scaler.log_text();
  EXPECT_EQ(green_backends(admin).size(), 2u);
}

}  // namespace
}  // namespace veer::test
