// GET /metrics end to end: promtool accepts the exposition, and the counters move as
// requests, tunnels, reloads and admin changes happen.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <optional>
#include <string>

#include "support/admin_client.hpp"
#include "support/backend_process.hpp"
#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"
#include "support/ws_client.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;

// The value of the sample written exactly `series` (name and labels), if present.
std::string scrape(Admin& admin) {
  const auto r = admin.call("GET", "/metrics", "", {});
  EXPECT_TRUE(r.has_value());
  if (!r) return "";
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  return r->body;
}

// Runs `promtool check metrics` on `text`.
CommandResult promtool_check(const std::string& text) {
  return run_command("promtool check metrics < " +
                     write_file(make_temp_dir(), "metrics.txt", text));
}

// Scrapes until `series` has `value` (state the workers publish asynchronously, such as
// a tunnel handed over after its 101), for at most five seconds.
bool wait_for_sample(Admin& admin, const std::string& series, double value) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    if (sample(scrape(admin), series) == value) return true;
  }
  return false;
}

TEST(Metrics, PromtoolAcceptsTheOutputAndCountersMoveAsRequestsFlow) {
  TestBackend blue("blue"), green("green");
  const std::string blue_labels = "pool=\"blue\",backend=\"" + blue.address() + "\"";
  const std::string blue_requests =
      "veer_requests_total{listener=\"public\",route=\"*/\"," + blue_labels + ",code=\"2xx\"}";
  TestConfig config{.backends = {blue.address()},
                    .extra = "\n[pools.blue]\nbackends = [\"" + blue.address() +
                             "\"]\n[pools.green]\nbackends = [\"" + green.address() +
                             "\"]\n[splits.rpc]\ntargets = { blue = 100, green = 0 }\n",
                    .route_target = "rpc"};
  Admin admin = start_with_admin(config);

  const std::string before = scrape(admin);
  const CommandResult before_check = promtool_check(before);
  EXPECT_EQ(before_check.exit_code, 0) << "is the prometheus package installed (scripts/setup)?\n"
                                       << before_check.output;
  EXPECT_EQ(sample(before, "veer_config_version"), 1);
  EXPECT_EQ(sample(before, "veer_workers"), 2);
  EXPECT_EQ(sample(before, blue_requests), std::nullopt) << "no request yet";

  constexpr int kRequests = 40;
  Client client(admin.veer->port());
  for (int i = 0; i < kRequests; ++i) {
    const auto r = client.get("/");
    ASSERT_TRUE(r && r->status == 200);
  }
  // A request veer refuses before routing (an invalid Host) counts without a backend.
  const auto refused = fetch(admin.veer->port(), "GET", "/", "", {"Host: bad host"});
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 400);
  WsClient ws(admin.veer->port());
  EXPECT_EQ(ws.echo("hello"), "hello");
  ASSERT_TRUE(wait_for_sample(admin, "veer_websocket_tunnels", 1));
  admin.veer->signal(SIGHUP);
  ASSERT_TRUE(admin.veer->wait_for_log("configuration version 2 applied", std::chrono::seconds(5)));
  const auto put = admin.call("PUT", "/api/v1/splits/rpc", R"({"targets":{"blue":100,"green":1}})");
  ASSERT_TRUE(put && put->status == 200);
  const auto invalid = admin.call("PUT", "/api/v1/splits/rpc", R"({"targets":{"nope":1}})");
  ASSERT_TRUE(invalid && invalid->status == 400);

  const std::string after = scrape(admin);
  const CommandResult after_check = promtool_check(after);
  EXPECT_EQ(after_check.exit_code, 0) << after_check.output;
  EXPECT_EQ(sample(after, blue_requests), kRequests);
  EXPECT_EQ(sample(after, "veer_requests_total{listener=\"public\",route=\"*/\"," + blue_labels +
                              ",code=\"1xx\"}"),
            1)
      << "the WebSocket upgrade's 101";
  EXPECT_EQ(sample(after,
                   "veer_requests_total{listener=\"public\",route=\"\",pool=\"\",backend="
                   "\"\",code=\"4xx\"}"),
            1);
  EXPECT_EQ(sample(after, "veer_backend_response_seconds_count{" + blue_labels + "}"),
            kRequests + 1);
  EXPECT_GT(sample(after, "veer_backend_response_seconds_sum{" + blue_labels + "}").value_or(0), 0);
  EXPECT_EQ(sample(after, "veer_backend_response_seconds_bucket{" + blue_labels + ",le=\"+Inf\"}"),
            kRequests + 1);
  const double opened =
      sample(after, "veer_upstream_connections_opened_total{" + blue_labels + "}").value_or(0);
  const double reused =
      sample(after, "veer_upstream_connections_reused_total{" + blue_labels + "}").value_or(0);
  EXPECT_EQ(opened + reused, kRequests + 1);
  EXPECT_GE(reused, kRequests - 2) << "one keep-alive client reuses its upstream connection";
  EXPECT_EQ(sample(after, "veer_split_assignments_total{split=\"rpc\",pool=\"blue\"}"),
            kRequests + 1);
  EXPECT_EQ(sample(after, "veer_split_assignments_total{split=\"rpc\",pool=\"green\"}"), 0);
  EXPECT_EQ(sample(after, "veer_split_weight{split=\"rpc\",pool=\"green\"}"), 1);
  EXPECT_EQ(sample(after, "veer_backend_state{" + blue_labels + ",state=\"up\"}"), 1);
  EXPECT_EQ(sample(after, "veer_backend_active_connections{" + blue_labels + "}"), 1)
      << "the tunnel (idle pooled connections are not active)";
  EXPECT_GE(sample(after, "veer_client_connections_accepted_total").value_or(0), 3);
  EXPECT_EQ(sample(after, "veer_websocket_tunnels_opened_total"), 1);
  EXPECT_EQ(sample(after, "veer_config_reloads_total{result=\"success\"}"), 1);
  EXPECT_EQ(sample(after, "veer_config_last_reload_successful"), 1);
  EXPECT_EQ(sample(after, "veer_admin_changes_total{result=\"success\"}"), 1);
  EXPECT_EQ(sample(after, "veer_admin_changes_total{result=\"failure\"}"), 1);
  EXPECT_EQ(sample(after, "veer_config_version"), 3);
  EXPECT_NE(after.find("veer_info{version=\""), std::string::npos);

  ws.ws.close(boost::beast::websocket::close_code::normal);
  EXPECT_TRUE(wait_for_sample(admin, "veer_websocket_tunnels", 0));
}

TEST(Metrics, HealthCheckResultsAndBackendStatesAreExported) {
  TestBackend good("good");
  // Nothing listens on a freshly freed port: every check and request there fails.
  const std::string dead = "127.0.0.1:" + std::to_string(free_port());
  TestConfig config{
      .backends = {good.address(), dead},
      .extra = "health = { type = \"tcp\", interval = \"100ms\", timeout = \"50ms\", fall = 2 }\n"};
  Admin admin = start_with_admin(config);
  const std::string dead_labels = "pool=\"main\",backend=\"" + dead + "\"";
  ASSERT_TRUE(wait_for_sample(admin, "veer_backend_state{" + dead_labels + ",state=\"down\"}", 1));
  const std::string text = scrape(admin);
  EXPECT_GE(
      sample(text, "veer_health_checks_total{" + dead_labels + ",result=\"failure\"}").value_or(0),
      2);
  EXPECT_GE(sample(text, "veer_health_checks_total{pool=\"main\",backend=\"" + good.address() +
                             "\",result=\"success\"}")
                .value_or(0),
            1);
  EXPECT_EQ(sample(text, "veer_backend_state{" + dead_labels + ",state=\"up\"}"), 0);
}

TEST(Metrics, OffMeansNoEndpoint) {
  TestBackend b("b");
  Admin admin = start_with_admin(TestConfig{.backends = {b.address()}}, "", "metrics = false\n");
  ASSERT_EQ(Client(admin.veer->port()).get("/")->status, 200);
  const auto r = admin.call("GET", "/metrics", "", {});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("[admin].metrics = false"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace veer::test
