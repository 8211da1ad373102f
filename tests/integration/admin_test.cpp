// The admin API end to end: auth, ETag/If-Match races, invalid changes, persistence
// across kill -9, and runtime changes under client load (autoscaler, blue-green).
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "support/admin_client.hpp"
#include "support/backend_process.hpp"
#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::uint64_t version_of(const Response& r) {
  return json::parse(r.body).at("version").to_number<std::uint64_t>();
}

TestConfig split_config(const TestBackend& blue, const TestBackend& green) {
  return TestConfig{.backends = {blue.address()},
                    .extra = "\n[pools.blue]\nbackends = [\"" + blue.address() +
                             "\"]\n[pools.green]\nbackends = [\"" + green.address() +
                             "\"]\n[splits.rpc]\ntargets = { blue = 100, green = 0 }\n",
                    .route_target = "rpc"};
}

TEST(Admin, EveryApiPathNeedsAValidToken) {
  TestBackend b("b");
  Admin admin = start_with_admin(TestConfig{.backends = {b.address()}});
  for (const char* path : {"/api/v1/config", "/api/v1/pools", "/api/v1/pools/main",
                           "/api/v1/splits/x", "/api/v1/export/nginx", "/api/v1/nothing"}) {
    for (const std::vector<std::string>& headers :
         {std::vector<std::string>{},
          std::vector<std::string>{"Authorization: Bearer wrong-token-0123456789"},
          std::vector<std::string>{"Authorization: Bearer " + kToken.substr(0, kToken.size() - 1)},
          std::vector<std::string>{"Authorization: Basic " + kToken}}) {
      const auto r = admin.call("GET", path, "", headers);
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->status, 401) << path;
    }
    const auto put = admin.call("PUT", path, "{}", {});
    ASSERT_TRUE(put.has_value());
    EXPECT_EQ(put->status, 401) << path;
  }
  const auto health = admin.call("GET", "/healthz", "", {});
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  const auto ready = admin.call("GET", "/readyz", "", {});
  EXPECT_EQ(ready->status, 200);
  const auto ok = admin.call("GET", "/api/v1/pools");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->header("ETag"), "\"1\"");
  EXPECT_EQ(admin.veer->log_text().find(kToken), std::string::npos) << "the token is never logged";
}

TEST(Admin, RacingPutsWithTheSameIfMatchLetExactlyOneWin) {
  TestBackend blue("blue"), green("green");
  Admin admin = start_with_admin(split_config(blue, green));
  for (int round = 0; round < 5; ++round) {
    const auto current = admin.call("GET", "/api/v1/splits/rpc");
    ASSERT_TRUE(current && current->status == 200);
    const std::string etag = current->header("ETag");
    std::vector<int> statuses(2);
    std::thread racers[2];
    for (int i = 0; i < 2; ++i) {
      racers[i] = std::thread([&, i] {
        const std::string body =
            "{\"targets\":{\"blue\":" + std::to_string(10 * round + i + 1) + ",\"green\":1}}";
        const auto r = admin.call("PUT", "/api/v1/splits/rpc", body, {kAuth, "If-Match: " + etag});
        statuses[i] = r ? r->status : 0;
      });
    }
    for (auto& t : racers)
      t.join();
    std::sort(statuses.begin(), statuses.end());
    EXPECT_EQ(statuses, (std::vector<int>{200, 412})) << "round " << round;
  }
  // The same PUT again: the same state, 200, no new version.
  const auto before = admin.call("GET", "/api/v1/splits/rpc");
  const std::string body =
      "{\"targets\":" +
      json::serialize(
          json::object{{"blue", json::parse(before->body).at("targets").at("blue").at("weight")},
                       {"green", 1}}) +
      "}";
  const auto again = admin.call("PUT", "/api/v1/splits/rpc", body);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(version_of(*again), version_of(*before));
}

TEST(Admin, AnInvalidChangeIsRefusedWithEveryErrorAndChangesNothing) {
  TestBackend blue("blue"), green("green");
  Admin admin = start_with_admin(split_config(blue, green));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/api/v1/splits/rpc", "{\"targets\":{\"blue\":0,\"green\":0}}"},
      {"/api/v1/splits/rpc", "{\"targets\":{\"blue\":1,\"purple\":1}}"},
      {"/api/v1/splits/rpc", "{\"targets\":{\"blue\":-1}}"},
      {"/api/v1/splits/rpc", "not json"},
      {"/api/v1/pools/blue/backends/not-an-address", "{}"},
      {"/api/v1/pools/blue/backends/127.0.0.1:99999", "{}"},
      {"/api/v1/pools/blue/backends/127.0.0.1:1", "{\"weight\":\"heavy\"}"},
  };
  for (const auto& [path, body] : bad) {
    const auto r = admin.call("PUT", path, body);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 400) << path << " " << body << " -> " << r->body;
    EXPECT_NE(r->body.find("\"error\""), std::string::npos);
  }
  const auto after = admin.call("GET", "/api/v1/config");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(version_of(*after), 1u) << "nothing changed";
  EXPECT_EQ(fetch(admin.veer->port(), "GET", "/")->body, "blue");
}

TEST(Admin, AChangeSurvivesKillNine) {
  TestBackend blue("blue"), green("green");
  const std::string state = make_temp_dir() + "/state.json";
  const TestConfig config = split_config(blue, green);
  {
    Admin admin = start_with_admin(config, state);
    const auto r =
        admin.call("PUT", "/api/v1/splits/rpc", "{\"targets\":{\"blue\":0,\"green\":100}}");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
    const auto added =
        admin.call("PUT", "/api/v1/pools/blue/backends/127.0.0.1:9", "{\"weight\":0}");
    ASSERT_TRUE(added && added->status == 200) << (added ? added->body : "");
    admin.veer->signal(SIGKILL);
    admin.veer->wait_exit(5s);
  }
  Admin again = start_with_admin(config, state);
  EXPECT_TRUE(again.veer->wait_for_log("state file " + state + " applied", 1s))
      << again.veer->log_text();
  const auto split = again.call("GET", "/api/v1/splits/rpc");
  ASSERT_TRUE(split.has_value());
  const json::value v = json::parse(split->body);
  EXPECT_EQ(v.at("targets").at("green").at("weight").to_number<int>(), 100);
  EXPECT_EQ(v.at("targets").at("blue").at("weight").to_number<int>(), 0);
  const auto pool = again.call("GET", "/api/v1/pools/blue");
  EXPECT_NE(pool->body.find("127.0.0.1:9"), std::string::npos) << pool->body;
  EXPECT_EQ(fetch(again.veer->port(), "GET", "/")->body, "green");
}

TEST(Admin, AScriptedAutoscalerAddsAndRemovesBackendsUnderLoadWithoutFailures) {
  TestBackend a("a");
  TestBackend b("b");
  TestBackend c("c");
  Admin admin = start_with_admin(TestConfig{.backends = {a.address()}});
  std::atomic<int> phase{0};
  PacedResult result;
  std::thread load([&] {
    result =
        run_paced(admin.veer->port(), PacedLoad{.rate = 300, .threads = 6, .duration = 4s}, phase);
  });
  auto wait_for = [&](auto&& done) {
    const auto deadline = Clock::now() + 3s;
    while (!done() && Clock::now() < deadline)
      Client(admin.port).wait_closed(5ms);  // bounded poll
    return done();
  };
  ASSERT_TRUE(wait_for([&] { return a.requests() > 100; }));
  // Scale out: two backends join; each takes traffic within a second.
  for (TestBackend* backend : {&b, &c}) {
    const auto r =
        admin.call("PUT", "/api/v1/pools/main/backends/" + backend->address(), "{\"weight\":1}");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  }
  const auto added = Clock::now();
  ASSERT_TRUE(wait_for([&] { return b.requests() > 0 && c.requests() > 0; }));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - added);
  EXPECT_LT(took.count(), 1000);
  RecordProperty("new_backends_serving_after_ms", static_cast<int>(took.count()));
  ASSERT_TRUE(wait_for([&] { return b.requests() > 50; }));
  // Scale in: drain and remove b; after the call returns it gets nothing new.
  const auto removed =
      admin.call("DELETE", "/api/v1/pools/main/backends/" + b.address() + "?drain=2s");
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->status, 202) << removed->body;
  EXPECT_NE(removed->body.find("drain_deadline"), std::string::npos);
  const int b_at_removal = b.requests();
  phase = 1;
  load.join();
  EXPECT_EQ(b.requests(), b_at_removal)
      << "the removed backend got requests after the call returned";
  EXPECT_TRUE(result.failures.empty())
      << result.failures.size()
      << " failed, first: " << (result.failures.empty() ? "" : result.failures[0]);
  EXPECT_GT(result.by_phase[1]["c"], 50);
  EXPECT_EQ(result.by_phase[1].count("b"), 0u);
  RecordProperty("requests", result.sent);
  EXPECT_TRUE(admin.veer->wait_for_log("\"token\":\"scaler\",\"method\":\"DELETE\"", 1s))
      << "audited";
}

TEST(Admin, BlueGreenSwitchThroughThePutUnderLoadLosesNothing) {
  TestBackend blue("blue");
  TestBackend green("green");
  Admin admin = start_with_admin(split_config(blue, green));
  std::atomic<int> phase{0};
  PacedResult result;
  std::thread load([&] {
    result =
        run_paced(admin.veer->port(), PacedLoad{.rate = 400, .threads = 8, .duration = 3s}, phase);
  });
  const auto deadline = Clock::now() + 3s;
  while (blue.requests() < 200 && Clock::now() < deadline)
    Client(admin.port).wait_closed(5ms);
  phase = 1;
  const auto r = admin.call("PUT", "/api/v1/splits/rpc", "{\"targets\":{\"blue\":0,\"green\":100}}",
                            {kAuth, "If-Match: \"1\""});
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  phase = 2;
  load.join();
  EXPECT_TRUE(result.failures.empty()) << result.failures.size() << " failed";
  EXPECT_GT(result.by_phase[2]["green"], 200);
  EXPECT_EQ(result.by_phase[2].count("blue"), 0u);
  RecordProperty("requests", result.sent);
}

TEST(AdminCtl, WrapsTheCommonCallsAndReportsRefusals) {
  TestBackend blue("blue"), green("green");
  Admin admin = start_with_admin(split_config(blue, green));
  const std::string dir = make_temp_dir();
  const std::string base = veer_binary() + " ctl --admin 127.0.0.1:" + std::to_string(admin.port);
  const std::string ctl = base + " --token-file " + write_file(dir, "token", kToken + "\n");
  auto pool_json = [&](const std::string& pool) {
    const auto r = admin.call("GET", "/api/v1/pools/" + pool);
    EXPECT_TRUE(r && r->status == 200);
    return r ? json::parse(r->body) : json::value();
  };
  auto backend_in = [&](const std::string& pool, const std::string& address) -> json::value {
    const json::value listed = pool_json(pool);
    for (const json::value& b : listed.at("backends").as_array()) {
      if (b.at("address").as_string() == address) return b;
    }
    return nullptr;
  };

  CommandResult r = run_command(ctl + " pools");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("blue"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(blue.address() + " "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("configuration version 1"), std::string::npos) << r.output;

  r = run_command(ctl + " add blue " + green.address() + " 3");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(backend_in("blue", green.address()).is_object());
  EXPECT_EQ(backend_in("blue", green.address()).at("weight").to_number<int>(), 3);

  r = run_command(ctl + " drain blue " + green.address());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(backend_in("blue", green.address()).at("state").as_string(), "draining");

  r = run_command(ctl + " remove blue " + green.address() + " 1s");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("drain_deadline"), std::string::npos) << r.output;
  EXPECT_TRUE(backend_in("blue", green.address()).is_null());

  r = run_command(ctl + " split rpc blue=0 green=100");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto split = admin.call("GET", "/api/v1/splits/rpc");
  ASSERT_TRUE(split && split->status == 200);
  const json::value targets = json::parse(split->body).at("targets");
  EXPECT_EQ(targets.at("green").at("weight").to_number<int>(), 100);
  EXPECT_EQ(targets.at("blue").at("weight").to_number<int>(), 0);

  const std::uint64_t before_reload = version_of(*split);
  r = run_command(ctl + " reload");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(version_of(*admin.call("GET", "/api/v1/config")), before_reload + 1);

  // Refusals: the API's error is shown and the exit code says so.
  r = run_command(ctl + " split rpc nope=1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("nope"), std::string::npos) << r.output;
  r = run_command(base + " pools");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("401"), std::string::npos) << r.output;
  r = run_command(ctl + " frobnicate");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("usage: veer ctl"), std::string::npos) << r.output;
  r = run_command(ctl + " split rpc blue=x");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_command(veer_binary() + " ctl --admin 127.0.0.1:" + std::to_string(free_port()) +
                  " pools");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("cannot connect"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace veer::test
