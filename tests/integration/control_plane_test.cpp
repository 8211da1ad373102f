// Issue 11's reproductions, end to end: admin changes survive SIGHUP, POST reload and
// kill -9; malformed admin paths get 404/405 and the process lives; bodies are checked
// like the config file; a tokenless loopback admin port refuses what a web page could
// send; every signal is handled; a restart right after kill -9 binds at once.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "support/admin_client.hpp"
#include "support/backend_process.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool file_exists(const std::string& path) {
  return static_cast<bool>(std::ifstream(path));
}

// A JSON string as std::string, so that failures print it as text.
std::string text(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string server_section(const std::string& engine, const std::string& state_file = "",
                           const std::string& access_log = "off") {
  std::string t = "[server]\nworkers = 2\nio_engine = \"" + engine + "\"\naccess_log = \"" +
                  access_log + "\"\n";
  if (!state_file.empty()) t += "state_file = \"" + state_file + "\"\n";
  return t;
}

std::string admin_section(bool with_token) {
  std::string t = "[admin]\naddress = \"127.0.0.1:0\"\n";
  if (with_token) t += "tokens = [ { name = \"tests\", token = \"" + kToken + "\" } ]\n";
  return t;
}

// Listener "public" with routes /blue/ -> pool blue, /green/ -> pool green, and
// everything else -> split rpc between them (override header X-Veer-Version).
std::string blue_green(const std::vector<std::string>& blue, const std::vector<std::string>& green,
                       const std::string& split = "blue = 100, green = 0") {
  auto list = [](const std::vector<std::string>& addresses) {
    std::string out;
    for (const std::string& a : addresses)
      out += (out.empty() ? "\"" : ", \"") + a + "\"";
    return out;
  };
  std::string t = "[listeners.public]\naddress = \"127.0.0.1:0\"\n";
  t += "  [[listeners.public.routes]]\n  path_prefix = \"/blue/\"\n  target = \"blue\"\n";
  t += "  [[listeners.public.routes]]\n  path_prefix = \"/green/\"\n  target = \"green\"\n";
  t += "  [[listeners.public.routes]]\n  path_prefix = \"/\"\n  target = \"rpc\"\n";
  t += "[pools.blue]\nstrategy = \"round_robin\"\nbackends = [" + list(blue) + "]\n";
  t += "[pools.green]\nstrategy = \"round_robin\"\nbackends = [" + list(green) + "]\n";
  t += "[splits.rpc]\ntargets = { " + split +
       " }\nsticky = \"none\"\noverride_header = \"X-Veer-Version\"\nfailover = false\n";
  return t;
}

std::uint64_t version_of(Admin& admin) {
  const auto r = admin.call("GET", "/api/v1/config");
  if (!r || r->status != 200) return 0;
  return json::parse(r->body).at("version").to_number<std::uint64_t>();
}

// The names of the backends that answer `n` requests to `target` on one connection.
std::set<std::string> answering(std::uint16_t port, const std::string& target, int n,
                                const std::vector<std::string>& headers = {}) {
  Client client(port);
  std::set<std::string> names;
  for (int i = 0; i < n; ++i) {
    const auto r = client.request("GET", target, "", headers);
    names.insert(!r                 ? "no answer"
                 : r->status != 200 ? std::to_string(r->status)
                                    : r->header("X-Backend"));
  }
  return names;
}

// pool -> address -> the backend's JSON in GET /api/v1/pools.
std::map<std::string, std::map<std::string, json::object>> pools_of(Admin& admin) {
  std::map<std::string, std::map<std::string, json::object>> out;
  const auto r = admin.call("GET", "/api/v1/pools");
  EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  if (!r || r->status != 200) return out;
  const json::value listed = json::parse(r->body);
  for (const json::value& pool : listed.at("pools").as_array()) {
    auto& backends = out[json::value_to<std::string>(pool.at("name"))];
    for (const json::value& b : pool.at("backends").as_array())
      backends[json::value_to<std::string>(b.at("address"))] = b.as_object();
  }
  return out;
}

// What an operator compares before and after a refused request: addresses, weights,
// backup flags and states of every backend, and the split's weights.
std::string visible_state(Admin& admin) {
  std::string out;
  for (const auto& [pool, backends] : pools_of(admin)) {
    out += pool + ":";
    for (const auto& [address, b] : backends) {
      out += " " + address + "/" + json::serialize(b.at("weight")) + "/" +
             json::serialize(b.at("backup")) + "/" + json::serialize(b.at("state"));
    }
    out += "\n";
  }
  const auto split = admin.call("GET", "/api/v1/splits/rpc");
  if (split && split->status == 200) {
    const json::value listed = json::parse(split->body);
    for (const auto& [pool, target] : listed.at("targets").as_object())
      out += "rpc " + std::string(pool) + "=" + json::serialize(target.at("weight")) + "\n";
  }
  return out;
}

class ControlPlane : public ::testing::TestWithParam<std::string> {};

// --- changes survive reloads and restarts -------------------------------------

struct Fleet {
  TestBackend a{"a"}, b{"b"}, c{"c"}, d{"d"}, e{"e"}, g{"g"};
};

void expect_changes_in_force(Admin& admin, const Fleet& f, const std::string& stage) {
  SCOPED_TRACE(stage);
  auto pools = pools_of(admin);
  ASSERT_EQ(pools.count("blue"), 1u);
  auto& blue = pools["blue"];
  EXPECT_EQ(blue.size(), 4u) << "a, b, c and e run in blue; d was removed";
  EXPECT_EQ(blue.count(f.d.address()), 0u) << "the removed backend is back";
  ASSERT_EQ(blue.count(f.a.address()), 1u);
  EXPECT_EQ(text(blue[f.a.address()].at("state")), "draining");
  ASSERT_EQ(blue.count(f.b.address()), 1u);
  EXPECT_EQ(text(blue[f.b.address()].at("state")), "disabled");
  ASSERT_EQ(blue.count(f.c.address()), 1u);
  EXPECT_EQ(blue[f.c.address()].at("weight").to_number<int>(), 3);
  EXPECT_EQ(text(blue[f.c.address()].at("state")), "up");
  ASSERT_EQ(blue.count(f.e.address()), 1u) << "the added backend is gone";
  EXPECT_EQ(text(blue[f.e.address()].at("state")), "up");
  EXPECT_EQ(blue[f.e.address()].at("weight").to_number<int>(), 1);
  const auto split = admin.call("GET", "/api/v1/splits/rpc");
  ASSERT_TRUE(split && split->status == 200);
  const json::value targets = json::parse(split->body).at("targets");
  EXPECT_EQ(targets.at("blue").at("weight").to_number<int>(), 0);
  EXPECT_EQ(targets.at("green").at("weight").to_number<int>(), 100);

  const std::uint16_t port = admin.veer->port();
  EXPECT_EQ(answering(port, "/blue/x", 8), (std::set<std::string>{"c", "e"}))
      << "drained, disabled and removed backends take nothing; the added one takes its share";
  EXPECT_EQ(answering(port, "/", 6), std::set<std::string>{"g"}) << "the split sends all to green";
  EXPECT_EQ(answering(port, "/", 6, {"X-Veer-Version: blue"}), (std::set<std::string>{"c", "e"}));

  const auto overrides = admin.call("GET", "/api/v1/overrides");
  ASSERT_TRUE(overrides && overrides->status == 200) << (overrides ? overrides->body : "");
  const json::value o = json::parse(overrides->body).at("overrides");
  const json::value& in_blue = o.at("backends").at("blue");
  EXPECT_EQ(text(in_blue.at(f.a.address()).at("state")), "drain") << o;
  EXPECT_EQ(text(in_blue.at(f.b.address()).at("state")), "down") << o;
  EXPECT_EQ(in_blue.at(f.c.address()).at("weight").to_number<int>(), 3) << o;
  EXPECT_TRUE(in_blue.at(f.d.address()).at("removed").as_bool()) << o;
  EXPECT_TRUE(in_blue.at(f.e.address()).at("added").as_bool()) << o;
  EXPECT_EQ(o.at("splits").at("rpc").at("targets").at("green").to_number<int>(), 100) << o;
}

TEST_P(ControlPlane, ChangesSurviveSighupReloadAndKillNine) {
  Fleet f;
  const std::string state = make_temp_dir() + "/state.json";
  const std::string toml =
      server_section(GetParam(), state) + admin_section(true) +
      blue_green({f.a.address(), f.b.address(), f.c.address(), f.d.address()}, {f.g.address()});
  Admin admin = start_admin_toml(toml);
  ASSERT_NE(admin.port, 0);
  const std::string blue = "/api/v1/pools/blue/backends/";
  const std::vector<std::tuple<std::string, std::string, std::string, int>> changes = {
      {"PATCH", blue + f.a.address(), R"({"state":"drain"})", 200},
      {"PATCH", blue + f.b.address(), R"({"state":"down"})", 200},
      {"PUT", blue + f.c.address(), R"({"weight":3})", 200},
      {"PUT", blue + f.e.address(), "{}", 200},
      {"DELETE", blue + f.d.address(), "", 202},
      {"PUT", "/api/v1/splits/rpc", R"({"targets":{"blue":0,"green":100}})", 200},
  };
  for (const auto& [method, path, body, status] : changes) {
    const auto r = admin.call(method, path, body);
    ASSERT_TRUE(r.has_value()) << method << " " << path;
    ASSERT_EQ(r->status, status) << method << " " << path << " " << body << " -> " << r->body;
  }
  expect_changes_in_force(admin, f, "after the changes");

  for (int i = 1; i <= 3; ++i) {
    const std::uint64_t before = version_of(admin);
    admin.veer->signal(SIGHUP);
    ASSERT_TRUE(poll_until([&] { return version_of(admin) == before + 1; }))
        << "SIGHUP " << i << " did not reload\n"
        << admin.veer->log_text();
    expect_changes_in_force(admin, f, "after SIGHUP " + std::to_string(i));
  }
  const auto reload = admin.call("POST", "/api/v1/reload");
  ASSERT_TRUE(reload && reload->status == 200) << (reload ? reload->body : "");
  expect_changes_in_force(admin, f, "after POST /api/v1/reload");
  EXPECT_EQ(admin.veer->log_text().find("back in the configuration"), std::string::npos)
      << "a reload undid the drain\n"
      << admin.veer->log_text();

  admin.veer->signal(SIGKILL);
  ASSERT_TRUE(admin.veer->wait_exit(5s).has_value());
  Admin again = start_admin_toml(toml);
  ASSERT_NE(again.port, 0);
  expect_changes_in_force(again, f, "after kill -9 and a restart");
  const std::uint64_t before = version_of(again);
  again.veer->signal(SIGHUP);
  ASSERT_TRUE(poll_until([&] { return version_of(again) == before + 1; }))
      << again.veer->log_text();
  expect_changes_in_force(again, f, "after a restart and a SIGHUP");
  EXPECT_EQ(again.veer->log_text().find("back in the configuration"), std::string::npos)
      << again.veer->log_text();
}

// The rule's last clause: when the kept changes no longer validate on the new file
// (a split table naming a pool the file dropped), every change goes, the file alone runs.
TEST(ControlPlaneRule, ChangesThatNoLongerValidateOnTheNewFileAreAllDropped) {
  TestBackend blue("blue"), green("green");
  const std::string state = make_temp_dir() + "/state.json";
  const std::string head = server_section("epoll", state) + admin_section(true);
  Admin admin =
      start_admin_toml(head + blue_green({blue.address()}, {green.address()}, "blue = 100"));
  ASSERT_NE(admin.port, 0);
  // The split's file table names blue only; the change adds green.
  for (const auto& [method, path, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"PUT", "/api/v1/splits/rpc", R"({"targets":{"blue":0,"green":100}})"},
           {"PATCH", "/api/v1/pools/blue/backends/" + blue.address(), R"({"state":"down"})"}}) {
    const auto r = admin.call(method, path, body);
    ASSERT_TRUE(r && r->status == 200) << method << " " << path << " -> " << (r ? r->body : "");
  }
  EXPECT_EQ(answering(admin.veer->port(), "/", 3), std::set<std::string>{"green"});
  // The new file keeps the split's table as it was and drops pool green.
  std::string without_green = head + "[listeners.public]\naddress = \"127.0.0.1:0\"\n";
  without_green += "  [[listeners.public.routes]]\n  path_prefix = \"/\"\n  target = \"rpc\"\n";
  without_green +=
      "[pools.blue]\nstrategy = \"round_robin\"\nbackends = [\"" + blue.address() + "\"]\n";
  without_green +=
      "[splits.rpc]\ntargets = { blue = 100 }\nsticky = \"none\"\n"
      "override_header = \"X-Veer-Version\"\nfailover = false\n";
  admin.veer->rewrite_config(without_green);
  const std::size_t mark = admin.veer->log_size();
  const auto reload = admin.call("POST", "/api/v1/reload");
  ASSERT_TRUE(reload.has_value());
  ASSERT_EQ(reload->status, 200) << reload->body << "\n" << admin.veer->log_text();
  const auto overrides = admin.call("GET", "/api/v1/overrides");
  ASSERT_TRUE(overrides && overrides->status == 200);
  const json::value o = json::parse(overrides->body).at("overrides");
  for (const char* part : {"backends", "splits"}) {
    const json::value* listed = o.as_object().if_contains(part);
    EXPECT_TRUE(listed == nullptr || listed->as_object().empty()) << "kept: " << o;
  }
  auto pools = pools_of(admin);
  ASSERT_EQ(pools["blue"].count(blue.address()), 1u);
  EXPECT_EQ(text(pools["blue"][blue.address()].at("state")), "up") << "the down went too";
  EXPECT_EQ(answering(admin.veer->port(), "/", 3), std::set<std::string>{"blue"});
  const auto config = admin.call("GET", "/api/v1/config");
  ASSERT_TRUE(config && config->status == 200);
  const json::value listed = json::parse(config->body).at("overrides");
  EXPECT_TRUE(listed.at("kept").as_array().empty()) << listed;
  EXPECT_GE(listed.at("dropped").as_array().size(), 2u) << listed;
  EXPECT_TRUE(admin.veer->wait_for_line(
      [](const std::string& line) { return line.find(" warn") != std::string::npos; }, 2s, mark))
      << "the drop is not logged as a warning\n"
      << admin.veer->log_text();
  if (file_exists(state)) {
    const json::value now = json::parse(read_file(state));
    for (const char* part : {"backends", "splits"}) {
      const json::value* kept = now.as_object().if_contains(part);
      EXPECT_TRUE(kept == nullptr || kept->as_object().empty()) << read_file(state);
    }
  }
}

// A state file that no longer fits the config file: `veer check` warns and passes,
// `veer run` starts with the rule applied; a malformed one is an error.
TEST(ControlPlaneStateFile, CheckWarnsAboutDroppedChangesAndRunAppliesTheRule) {
  const std::string dir = make_temp_dir();
  const std::string state = dir + "/state.json";
  // An addition of an address that the file now lists itself: the rule drops it.
  write_file(dir, "state.json",
             R"({"format": 2, "backends": {"blue": {"127.0.0.1:9": {"added": true, "weight": 2,)"
             R"( "backup": false}}}, "splits": {}})");
  const std::string toml = server_section("epoll", state) + admin_section(true) +
                           blue_green({"127.0.0.1:9"}, {"127.0.0.1:10"});
  const std::string config = write_file(dir, "veer.toml", toml);
  CommandResult r = run_command(veer_binary() + " check " + config);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("127.0.0.1:9"), std::string::npos)
      << "no warning names the change the rule drops: " << r.output;

  Admin admin = start_admin_toml(toml);
  ASSERT_NE(admin.port, 0) << "veer run refused the state file";
  auto pools = pools_of(admin);
  ASSERT_EQ(pools["blue"].count("127.0.0.1:9"), 1u);
  EXPECT_EQ(pools["blue"]["127.0.0.1:9"].at("weight").to_number<int>(), 1)
      << "the file's entry wins";
  const auto listed = admin.call("GET", "/api/v1/config");
  ASSERT_TRUE(listed && listed->status == 200);
  const json::value dropped = json::parse(listed->body).at("overrides").at("dropped");
  EXPECT_FALSE(dropped.as_array().empty()) << listed->body;
  // The state file now equals what runs: nothing layered.
  if (file_exists(state)) {
    const json::value now = json::parse(read_file(state));
    const json::value* backends = now.as_object().if_contains("backends");
    EXPECT_TRUE(backends == nullptr || backends->as_object().empty()) << read_file(state);
  }
  const auto overrides = admin.call("GET", "/api/v1/overrides");
  ASSERT_TRUE(overrides && overrides->status == 200);
  const json::value layered = json::parse(overrides->body);
  const json::value* backends = layered.at("overrides").as_object().if_contains("backends");
  EXPECT_TRUE(backends == nullptr || backends->as_object().empty()) << overrides->body;

  write_file(dir, "state.json", "{\"format\": 2, \"backends\": ");
  r = run_command(veer_binary() + " check " + config);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(state), std::string::npos)
      << "the error names the state file: " << r.output;
}

// --- malformed admin paths ----------------------------------------------------

// Reloads (SIGHUP, as logrotate sends) arrive while release tooling changes weights and
// drains: every acknowledged change is in force at the end, in the state file, and after
// kill -9 + restart.
TEST_P(ControlPlane, ReloadsDuringAdminChangesLoseNoAcknowledgedChange) {
  Fleet f;
  const std::string state = make_temp_dir() + "/state.json";
  Admin admin = start_admin_toml(server_section(GetParam(), state) + admin_section(true) +
                                 blue_green({f.a.address(), f.b.address()}, {f.g.address()}));
  ASSERT_NE(admin.port, 0);
  const std::string blue = "/api/v1/pools/blue/backends/";
  std::atomic<bool> changing{true};
  std::thread reloads([&] {
    for (int i = 0; i < 200 && changing.load(); ++i) {
      // Each reload must be taken before the next signal, or signals merge into one.
      const std::size_t from = admin.veer->log_size();
      admin.veer->signal(SIGHUP);
      admin.veer->wait_for_log("reloading", 2s, from);
    }
  });
  int last_weight = 1;
  std::string last_state = "up";
  for (int i = 0; i < 120; ++i) {
    const int weight = i % 7 + 2;
    const auto put =
        admin.call("PUT", blue + f.b.address(), "{\"weight\":" + std::to_string(weight) + "}");
    ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "no answer");
    last_weight = weight;
    const std::string wanted = i % 3 == 0 ? "up" : i % 3 == 1 ? "drain" : "down";
    const auto patch = admin.call("PATCH", blue + f.a.address(), "{\"state\":\"" + wanted + "\"}");
    ASSERT_TRUE(patch && patch->status == 200) << (patch ? patch->body : "no answer");
    last_state = wanted;
  }
  changing = false;
  reloads.join();
  const auto reload = admin.call("POST", "/api/v1/reload");
  ASSERT_TRUE(reload && reload->status == 200) << (reload ? reload->body : "no answer");
  const std::map<std::string, std::string> shown = {
      {"up", "up"}, {"drain", "draining"}, {"down", "disabled"}};
  auto expect_last = [&](Admin& a, const std::string& stage) {
    SCOPED_TRACE(stage);
    auto pools = pools_of(a);
    EXPECT_EQ(pools["blue"][f.b.address()].at("weight").to_number<int>(), last_weight);
    EXPECT_EQ(text(pools["blue"][f.a.address()].at("state")), shown.at(last_state));
    const auto layered = a.call("GET", "/api/v1/overrides");
    ASSERT_TRUE(layered && layered->status == 200);
    EXPECT_EQ(json::parse(layered->body).at("overrides"), json::parse(read_file(state)))
        << "the state file equals what runs";
  };
  expect_last(admin, "after the reloads");
  const std::string log = admin.veer->log_text();
  int sighups = 0;
  for (std::size_t at = log.find("SIGHUP:"); at != std::string::npos;
       at = log.find("SIGHUP:", at + 1))
    ++sighups;
  RecordProperty("sighups_during_changes", sighups);
  EXPECT_GE(sighups, 10) << "the reloads overlapped the changes";
  admin.veer->signal(SIGKILL);
  admin.veer->wait_exit(5s);
  Admin again = start_admin_toml(server_section(GetParam(), state) + admin_section(true) +
                                 blue_green({f.a.address(), f.b.address()}, {f.g.address()}));
  ASSERT_NE(again.port, 0);
  expect_last(again, "after kill -9 and restart");
}

TEST_P(ControlPlane, MalformedAdminPathsGet404Or405AndTheProcessLives) {
  TestBackend blue("blue"), green("green");
  Admin admin = start_admin_toml(server_section(GetParam()) + admin_section(true) +
                                 blue_green({blue.address()}, {green.address()}));
  ASSERT_NE(admin.port, 0);
  const std::vector<std::string> paths = {
      "/api/v1/pools",
      "/api/v1",
      "/api/v1/",
      "/api/v1/pools/",
      "/api/v1/pools/blue/backends",
      "/api/v1/pools/x/backends",
      "/api/v1/splits",
      "/api/v1/splits/",
      "/api",
      "/api/v2/pools",
      "/api/v1//pools",
      "/api/v1/pools/blue/backends/127.0.0.1:1/extra",
      "/api/v1/" + std::string(8000, 'a'),
      "/api/v1/pools/" + std::string(20000, 'x') + "/backends",
      "/api/v1/pools/blue/" + std::string(4000, '/'),
      "/api/v1/pools/%00",
      "/api/v1/pools/%00/backends/127.0.0.1:1",
      "/api/v1/pools/blue%2Fbackends%2F127.0.0.1:1",
      "/api/v1/pools/%2F",
      "/api/v1/splits/%00",
      "/api/v1/splits/%2F%2F",
      "/api/v1/%2F",
      "/api/v1/pools/blue/%2F/127.0.0.1:1",
  };
  int checked = 0;
  for (const std::string method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    for (const std::string& path : paths) {
      const std::string shown = method + " " + path.substr(0, 80);
      const std::string body = method == "PUT" || method == "PATCH" ? "{}" : "";
      const auto r = admin.call(method, path, body);
      ASSERT_TRUE(r.has_value()) << shown << ": no answer\n" << admin.veer->log_text();
      EXPECT_TRUE(r->status == 404 || r->status == 405)
          << shown << " -> " << r->status << " " << r->body;
      if (r->status == 405) {
        EXPECT_FALSE(r->header("Allow").empty()) << shown;
      }
      EXPECT_EQ(r->body.find("bad_alloc"), std::string::npos) << shown << " -> " << r->body;
      ASSERT_FALSE(admin.veer->wait_exit(0ms).has_value()) << shown << " killed veer\n"
                                                           << admin.veer->log_text();
      ++checked;
    }
  }
  // Broken percent-encoding or an empty address may also be a 400; no crash either way.
  for (const std::string method : {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    for (const std::string path :
         {"/api/v1/pools/%", "/api/v1/pools/%zz/backends/%", "/api/v1/splits/%4",
          "/api/v1/pools/blue/backends/%%%", "/api/v1/pools/blue/backends/"}) {
      const auto r = admin.call(method, path, method == "PUT" || method == "PATCH" ? "{}" : "");
      ASSERT_TRUE(r.has_value()) << method << " " << path << ": no answer";
      EXPECT_TRUE(r->status == 400 || r->status == 404 || r->status == 405)
          << method << " " << path << " -> " << r->status << " " << r->body;
      ASSERT_FALSE(admin.veer->wait_exit(0ms).has_value())
          << method << " " << path << " killed veer";
    }
  }
  // A known path with another method: 405 and what it allows.
  for (const auto& [method, path, allowed] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/api/v1/pools", "GET"},
           {"PUT", "/api/v1/pools", "GET"},
           {"DELETE", "/api/v1/pools", "GET"},
           {"PATCH", "/api/v1/pools", "GET"},
           {"OPTIONS", "/api/v1/pools", "GET"},
           {"GET", "/api/v1/reload", "POST"},
           {"PUT", "/api/v1/overrides", "DELETE"},
           {"POST", "/api/v1/splits/rpc", "PUT"}}) {
    const auto r = admin.call(method, path, method == "GET" || method == "OPTIONS" ? "" : "{}");
    ASSERT_TRUE(r.has_value()) << method << " " << path;
    EXPECT_EQ(r->status, 405) << method << " " << path << " -> " << r->body;
    EXPECT_NE(r->header("Allow").find(allowed), std::string::npos)
        << method << " " << path << ": Allow: " << r->header("Allow");
  }
  for (const std::string path : {"/api/v1/nothing", "/api/v1/pools/nope", "/api/v1/splits/nope"}) {
    const auto r = admin.call("GET", path);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 404) << path << " -> " << r->body;
  }
  RecordProperty("malformed_requests", checked);

  // HEAD where GET exists: the GET's status and headers, no body.
  Client head(admin.port);
  const auto h = head.request("HEAD", "/api/v1/pools", "", {kAuth});
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body_size, 0u);
  const auto after_head = head.request("GET", "/healthz");
  ASSERT_TRUE(after_head.has_value()) << "the connection is out of step after HEAD";
  EXPECT_EQ(after_head->status, 200);

  // GET /api/v1 lists the endpoints, each with a line of help.
  const auto index = admin.call("GET", "/api/v1");
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->status, 200) << index->body;
  boost::system::error_code ec;
  const json::value listed = json::parse(index->body, ec);
  EXPECT_FALSE(ec) << "not JSON: " << index->body;
  for (const char* path : {"/api/v1/config", "/api/v1/reload", "/api/v1/pools", "/api/v1/splits/",
                           "/api/v1/overrides", "/api/v1/export/nginx"}) {
    EXPECT_NE(index->body.find(path), std::string::npos) << path << " not listed: " << index->body;
  }
  for (const char* method : {"GET", "PUT", "POST", "PATCH", "DELETE"})
    EXPECT_NE(index->body.find(method), std::string::npos) << method;
  // Help is prose: count the strings with words in them.
  int sentences = 0;
  std::function<void(const json::value&)> count = [&](const json::value& v) {
    if (v.is_string()) {
      const std::string s(v.as_string());
      sentences += s.size() >= 8 && s.find(' ') != std::string::npos && s.front() != '/' ? 1 : 0;
    } else if (v.is_array()) {
      for (const json::value& x : v.as_array())
        count(x);
    } else if (v.is_object()) {
      for (const auto& [k, x] : v.as_object())
        count(x);
    }
  };
  count(listed);
  EXPECT_GE(sentences, 10) << "one line of help per endpoint: " << index->body;

  // Alive and serving.
  const auto health = admin.call("GET", "/healthz", "", {});
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(answering(admin.veer->port(), "/", 3), std::set<std::string>{"blue"});
  EXPECT_FALSE(admin.veer->wait_exit(0ms).has_value());
  EXPECT_EQ(version_of(admin), 1u) << "a malformed request changed the configuration";
}

// --- bodies are checked like the config file -----------------------------------

TEST(ControlPlaneBodies, UnknownFieldsWrongTypesAndOversizedBodiesAreNamed) {
  TestBackend blue("blue"), green("green");
  Admin admin = start_admin_toml(server_section("epoll") + admin_section(true) +
                                 blue_green({blue.address()}, {green.address()}));
  ASSERT_NE(admin.port, 0);
  const std::string before = visible_state(admin);
  const std::string backend = "/api/v1/pools/blue/backends/" + blue.address();
  struct Bad {
    std::string method, path, body, must_name;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"PUT", backend, R"({"wieght": 5})", "wieght"},
           {"PUT", backend, R"({"backup": "yes"})", "backup: expected a boolean"},
           {"PUT", backend, R"({"weight": "heavy"})", "weight"},
           {"PUT", backend, R"({"weight": 2, "wieght": 5})", "wieght"},
           {"PATCH", backend, R"({"state": "drain", "wieght": 1})", "wieght"},
           {"PATCH", backend, R"({"state": 1})", "state"},
           {"PUT", "/api/v1/splits/rpc", R"({"targets": {"blue": 1}, "wieght": 1})", "wieght"},
           {"PUT", "/api/v1/splits/rpc", R"({"targets": {"blue": "most"}})", "blue"},
       }) {
    const auto r = admin.call(bad.method, bad.path, bad.body);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 400) << bad.method << " " << bad.body << " -> " << r->body;
    EXPECT_NE(r->body.find(bad.must_name), std::string::npos)
        << bad.body << ": the error does not say \"" << bad.must_name << "\": " << r->body;
    for (const char* never : {"backends[", "boost", "std::"})
      EXPECT_EQ(r->body.find(never), std::string::npos) << r->body;
  }
  EXPECT_EQ(visible_state(admin), before) << "a refused body changed something";
  EXPECT_EQ(version_of(admin), 1u);

  // Over the admin body limit (1 MiB): 413 that says so, answered from the head.
  Client big(admin.port);
  ASSERT_TRUE(big.send("PUT " + backend + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + kAuth +
                       "\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string((1 << 20) + 1) + "\r\n\r\n"));
  const auto too_large = big.read_response();
  ASSERT_TRUE(too_large.has_value()) << "no answer to an oversized body";
  EXPECT_EQ(too_large->status, 413) << too_large->body;
  EXPECT_NE(lower(too_large->body).find("too large"), std::string::npos) << too_large->body;
  EXPECT_EQ(too_large->body.find("\"bad request\""), std::string::npos) << too_large->body;

  // The Bearer scheme is case-insensitive (RFC 9110 section 11.1).
  for (const std::string scheme : {"bearer", "BEARER", "bEaReR"}) {
    const auto r =
        admin.call("GET", "/api/v1/pools", "", {"Authorization: " + scheme + " " + kToken});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200) << scheme;
  }
  const auto change =
      admin.call("PATCH", backend, R"({"state":"drain"})", {"Authorization: bearer " + kToken});
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->status, 200) << change->body;
  EXPECT_EQ(version_of(admin), 2u);
}

TEST(ControlPlaneBodies, VeerCtlSendsJsonMutations) {
  TestBackend blue("blue"), green("green");
  Admin admin = start_admin_toml(server_section("epoll") + admin_section(true) +
                                 blue_green({blue.address()}, {green.address()}));
  ASSERT_NE(admin.port, 0);
  const std::string dir = make_temp_dir();
  const std::string ctl = veer_binary() + " ctl --admin 127.0.0.1:" + std::to_string(admin.port) +
                          " --token-file " + write_file(dir, "token", kToken + "\n");
  CommandResult r = run_command(ctl + " split rpc blue=0 green=100");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_command(ctl + " drain blue " + blue.address());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_command(ctl + " reload");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(version_of(admin), 4u);
  EXPECT_EQ(answering(admin.veer->port(), "/", 3), std::set<std::string>{"green"});
}

// --- cross-site requests on a tokenless loopback admin port -------------------------

struct CrossSite : ::testing::Test {
  TestBackend blue{"blue"}, green{"green"}, extra{"extra"};
  std::string state = make_temp_dir() + "/state.json";
  Admin admin = start_admin_toml(server_section("epoll", state) + admin_section(false) +
                                 blue_green({blue.address()}, {green.address()}));

  struct Mutation {
    std::string method, path, body;
  };
  std::vector<Mutation> mutations() const {
    const std::string pool = "/api/v1/pools/blue/backends/";
    return {{"PUT", pool + extra.address(), R"({"weight":2})"},
            {"PATCH", pool + blue.address(), R"({"state":"down"})"},
            {"DELETE", pool + blue.address(), ""},
            {"PUT", "/api/v1/splits/rpc", R"({"targets":{"blue":0,"green":100}})"},
            {"POST", "/api/v1/reload", ""},
            {"DELETE", "/api/v1/overrides", ""}};
  }

  // Everything a refused request must leave alone.
  std::string snapshot() {
    const auto overrides = admin.call("GET", "/api/v1/overrides", "", {});
    return "version " + std::to_string(version_of(admin)) + "\n" + visible_state(admin) +
           "overrides " + (overrides ? overrides->body : "?") + "\nstate file " +
           (file_exists(state) ? read_file(state) : "(none)");
  }
};

TEST_F(CrossSite, FormAndTextBodiesGet415AndChangeNothing) {
  ASSERT_NE(admin.port, 0);
  // A first change, so the state file exists and has something to lose.
  const auto first = admin.call("PATCH", "/api/v1/pools/green/backends/" + green.address(),
                                R"({"state":"drain"})", {});
  ASSERT_TRUE(first && first->status == 200) << (first ? first->body : "");
  ASSERT_TRUE(file_exists(state));
  const std::string before = snapshot();
  int refused = 0;
  for (const Mutation& m : mutations()) {
    for (const std::string type : {"application/x-www-form-urlencoded", "text/plain",
                                   "multipart/form-data; boundary=x", ""}) {
      std::vector<std::string> headers;
      if (!type.empty()) headers.push_back("Content-Type: " + type);
      // No token: the port is open to anything local, a browser included.
      const auto r = fetch(
          admin.port, m.method, m.path,
          m.body.empty() ? "" : (type.rfind("multipart", 0) == 0 ? "--x--" : m.body), headers);
      ASSERT_TRUE(r.has_value()) << m.method << " " << m.path;
      EXPECT_EQ(r->status, 415) << m.method << " " << m.path << " as "
                                << (type.empty() ? "(none)" : type) << " -> " << r->body;
      ++refused;
    }
  }
  EXPECT_EQ(snapshot(), before) << "a refused request changed something";
  EXPECT_EQ(answering(admin.veer->port(), "/", 3), std::set<std::string>{"blue"});
  RecordProperty("refused", refused);
}

TEST_F(CrossSite, AnotherSitesOriginOrFetchSiteGets403AndChangesNothing) {
  ASSERT_NE(admin.port, 0);
  const std::string before = snapshot();
  for (const Mutation& m : mutations()) {
    for (const std::string header :
         {"Origin: http://evil.example", "Origin: null", "Sec-Fetch-Site: cross-site"}) {
      const auto r =
          fetch(admin.port, m.method, m.path, m.body, {"Content-Type: application/json", header});
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->status, 403) << m.method << " " << m.path << " with " << header << " -> "
                                << r->body;
    }
  }
  // Reads are refused to other sites too.
  const auto read = fetch(admin.port, "GET", "/api/v1/pools", "", {"Origin: http://evil.example"});
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->status, 403) << read->body;
  EXPECT_EQ(snapshot(), before) << "a cross-site request changed something";
}

TEST_F(CrossSite, SameOriginAndToolJsonRequestsWork) {
  ASSERT_NE(admin.port, 0);
  // As the status page's own script sends it: same origin, JSON.
  const std::string host = "127.0.0.1:" + std::to_string(admin.port);
  const std::string body = R"({"targets":{"blue":0,"green":100}})";
  Client page(admin.port);
  ASSERT_TRUE(page.send("PUT /api/v1/splits/rpc HTTP/1.1\r\nHost: " + host + "\r\nOrigin: http://" +
                        host +
                        "\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/json\r\n"
                        "Content-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body));
  const auto r = page.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(version_of(admin), 2u);
  EXPECT_EQ(answering(admin.veer->port(), "/", 3), std::set<std::string>{"green"});
  // As curl or a script sends it: JSON, no Origin.
  const auto tool = fetch(admin.port, "PATCH", "/api/v1/pools/blue/backends/" + blue.address(),
                          R"({"state":"drain"})", {"Content-Type: application/json"});
  ASSERT_TRUE(tool.has_value());
  EXPECT_EQ(tool->status, 200) << tool->body;
  const auto reload =
      fetch(admin.port, "POST", "/api/v1/reload", "", {"Content-Type: application/json"});
  ASSERT_TRUE(reload.has_value());
  EXPECT_EQ(reload->status, 200) << reload->body;
  EXPECT_EQ(version_of(admin), 4u);
}

// --- signals -------------------------------------------------------------------

TEST_P(ControlPlane, SigusrOneReopensAMovedAccessLogAndVeerStaysUp) {
  TestBackend blue("blue"), green("green");
  const std::string dir = make_temp_dir();
  const std::string log = dir + "/access.log";
  VeerProcess veer(server_section(GetParam(), "", log) +
                   blue_green({blue.address()}, {green.address()}));
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  ASSERT_TRUE(fetch(veer.port(), "GET", "/first-request"));
  ASSERT_TRUE(poll_until([&] {
    return read_file(log).find("/first-request") != std::string::npos;
  })) << "the access log never got the first line";
  ASSERT_EQ(std::rename(log.c_str(), (log + ".1").c_str()), 0);  // what logrotate does

  const std::size_t mark = veer.log_size();
  veer.signal(SIGUSR1);
  EXPECT_TRUE(veer.wait_for_line(
      [](const std::string& line) { return lower(line).find("reopen") != std::string::npos; }, 5s,
      mark))
      << "no log line says the logs were reopened\n"
      << veer.log_text();
  ASSERT_FALSE(veer.wait_exit(0ms).has_value()) << "SIGUSR1 killed veer\n" << veer.log_text();

  const auto second = fetch(veer.port(), "GET", "/second-request");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 200);
  EXPECT_TRUE(poll_until([&] {
    return read_file(log).find("/second-request") != std::string::npos;
  })) << "no new access log at "
      << log;
  EXPECT_EQ(read_file(log).find("/first-request"), std::string::npos);
  const std::string rotated = read_file(log + ".1");
  EXPECT_NE(rotated.find("/first-request"), std::string::npos) << rotated;
  EXPECT_EQ(rotated.find("/second-request"), std::string::npos) << "written to the moved file";

  // logrotate with several files signals more than once.
  veer.signal(SIGUSR1);
  veer.signal(SIGUSR1);
  const auto third = fetch(veer.port(), "GET", "/third-request");
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->status, 200);
  EXPECT_FALSE(veer.wait_exit(0ms).has_value());
}

TEST_P(ControlPlane, SigquitDrainsAndExitsZero) {
  TestBackend slow("slow", [](const BackendRequest&) {
    return BackendReply{.body = "finished", .delay = 300ms};
  });
  TestBackend green("green");
  VeerProcess veer(server_section(GetParam()) + blue_green({slow.address()}, {green.address()}));
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  Client client(veer.port());
  ASSERT_TRUE(client.send("GET /blue/x HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(poll_until([&] { return slow.requests() == 1; }));
  veer.signal(SIGQUIT);
  const auto r = client.read_response();
  ASSERT_TRUE(r.has_value()) << "SIGQUIT cut the request in flight";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "finished");
  EXPECT_EQ(veer.wait_exit(5s), 0) << veer.log_text();
  EXPECT_NE(veer.log_text().find("SIGQUIT"), std::string::npos) << veer.log_text();
}

TEST_P(ControlPlane, NoSignalKillsVeerUnannounced) {
  TestBackend blue("blue"), green("green");
  VeerProcess veer(server_section(GetParam(), "", make_temp_dir() + "/access.log") +
                   blue_green({blue.address()}, {green.address()}));
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  // These keep it running, and each leaves a log line.
  for (const auto& [signo, name] : std::vector<std::pair<int, std::string>>{
           {SIGHUP, "SIGHUP"}, {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}, {SIGHUP, "SIGHUP"}}) {
    const std::size_t mark = veer.log_size();
    veer.signal(signo);
    EXPECT_TRUE(veer.wait_for_line(
        [&](const std::string& line) {
          return line.find(name) != std::string::npos ||
                 (signo == SIGUSR1 && lower(line).find("reopen") != std::string::npos);
        },
        5s, mark))
        << name << " left no log line\n"
        << veer.log_text();
    ASSERT_FALSE(veer.wait_exit(0ms).has_value()) << name << " killed veer\n" << veer.log_text();
    const auto r = fetch(veer.port(), "GET", "/");
    ASSERT_TRUE(r.has_value()) << "no answer after " << name;
    EXPECT_EQ(r->status, 200) << "after " << name;
  }
  // SIGTERM ends it, announced, with exit 0.
  veer.signal(SIGTERM);
  EXPECT_EQ(veer.wait_exit(5s), 0) << veer.log_text();
  EXPECT_NE(veer.log_text().find("SIGTERM"), std::string::npos) << veer.log_text();
}

// --- a restart right after kill -9 binds at once -------------------------------

TEST_P(ControlPlane, RestartRightAfterKillNineBindsOnTheFirstTry) {
  TestBackend blue("blue"), green("green");
  const std::uint16_t port = free_port();
  std::string toml = server_section(GetParam()) + blue_green({blue.address()}, {green.address()});
  toml.replace(toml.find("127.0.0.1:0"), 11, "127.0.0.1:" + std::to_string(port));
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    VeerProcess veer(toml);
    ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
    EXPECT_EQ(veer.port(), port);
    EXPECT_EQ(veer.log_text().find("already in use"), std::string::npos) << veer.log_text();
    // Connections that veer's side closes when it dies leave TIME_WAIT on its port.
    Client kept(port);
    const auto r = kept.get("/");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "blue");
    Client idle(port);
    ASSERT_TRUE(idle.connected());
    veer.signal(SIGKILL);
    ASSERT_TRUE(veer.wait_exit(5s).has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, ControlPlane, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
