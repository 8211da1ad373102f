// Head tracking end to end: fake Ethereum nodes (tests/support/fake_rpc_node.hpp) behind
// veer with jsonrpc checks. A node that syncs, is on another chain, lags or stalls goes
// down with the reason in GET /api/v1/pools and comes back after `rise`; heads and lags
// show in the API and /metrics. And the failure ratio of passive health on a plain route.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/admin_client.hpp"
#include "support/config_builder.hpp"
#include "support/fake_rpc_node.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"

namespace veer::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// Fast checks: down after 2 failed checks, up after 2 passing ones.
std::string head_check(const std::string& more = "") {
  return "health = { type = \"jsonrpc\", interval = \"100ms\", timeout = \"500ms\", rise = 2, "
         "fall = 2" +
         (more.empty() ? std::string() : ", " + more) + " }\n";
}

Admin start_pool(const std::vector<const FakeRpcNode*>& nodes, const std::string& extra) {
  TestConfig config;
  for (const FakeRpcNode* node : nodes)
    config.backends.push_back(node->address());
  config.extra = extra;
  return start_with_admin(config);
}

// The backend's object in GET /api/v1/pools/main (null when absent).
json::value backend_view(Admin& admin, const std::string& address) {
  const auto r = admin.call("GET", "/api/v1/pools/main");
  if (!r || r->status != 200) return nullptr;
  boost::system::error_code ec;
  json::value pool = json::parse(r->body, ec);
  if (ec || !pool.is_object()) return nullptr;
  for (const json::value& b : pool.at("backends").as_array()) {
    if (b.at("address").as_string() == address) return b;
  }
  return nullptr;
}

std::string state_of(Admin& admin, const std::string& address) {
  const json::value b = backend_view(admin, address);
  return b.is_object() ? std::string(b.at("state").as_string()) : std::string();
}

// The cause of the backend's `down` reason ("" when not down).
std::string down_cause(Admin& admin, const std::string& address) {
  const json::value b = backend_view(admin, address);
  if (!b.is_object()) return "";
  for (const json::value& r : b.at("reasons").as_array()) {
    if (r.at("reason").as_string() == "down") return std::string(r.at("cause").as_string());
  }
  return "";
}

// Polls until the backend is `state` (and, when given, its down cause starts with `cause`).
bool becomes(Admin& admin, const FakeRpcNode& node, const std::string& state,
             const std::string& cause = "", std::chrono::milliseconds within = 10s) {
  return poll_until(
      [&] {
        return state_of(admin, node.address()) == state &&
               down_cause(admin, node.address()).rfind(cause, 0) == 0;
      },
      within);
}

std::optional<std::uint64_t> number(const json::value& backend, const char* key) {
  if (!backend.is_object() || backend.at(key).is_null()) return std::nullopt;
  return backend.at(key).to_number<std::uint64_t>();
}

TEST(JsonRpcHealth, SyncingNodeGoesDownAndReturnsWhenDone) {
  FakeRpcNode a("a"), b("b");
  Admin admin = start_pool({&a, &b}, head_check("stall_timeout = \"0s\""));
  ASSERT_TRUE(becomes(admin, b, "up"));
  ASSERT_TRUE(b.control(R"({"syncing": true})"));
  ASSERT_TRUE(becomes(admin, b, "down", "syncing: current 100, highest 200"))
      << down_cause(admin, b.address());
  EXPECT_EQ(state_of(admin, a.address()), "up");
  ASSERT_TRUE(b.control(R"({"syncing": false})"));
  EXPECT_TRUE(becomes(admin, b, "up")) << down_cause(admin, b.address());
  EXPECT_GE(b.calls("eth_syncing"), 4u) << "asked on every check";
}

TEST(JsonRpcHealth, NodeOnAnotherChainGoesDown) {
  FakeRpcNode a("a"), b("b"), c("c", {.chain_id = 5});
  Admin admin = start_pool({&a, &b, &c}, head_check("stall_timeout = \"0s\""));
  ASSERT_TRUE(becomes(admin, c, "down", "chain id 5, expected 1"))
      << down_cause(admin, c.address());
  EXPECT_EQ(state_of(admin, a.address()), "up");
  EXPECT_EQ(state_of(admin, b.address()), "up");
  ASSERT_TRUE(c.control(R"({"chain_id": 1})"));
  EXPECT_TRUE(becomes(admin, c, "up")) << "asked again after its failures";
}

TEST(JsonRpcHealth, ConfiguredChainIdOutvotesTheMajority) {
  FakeRpcNode a("a", {.chain_id = 5}), b("b", {.chain_id = 5}), c("c", {.chain_id = 137});
  Admin admin = start_pool({&a, &b, &c}, head_check("chain_id = 137, stall_timeout = \"0s\""));
  ASSERT_TRUE(becomes(admin, a, "down", "chain id 5, expected 137"));
  ASSERT_TRUE(becomes(admin, b, "down", "chain id 5, expected 137"));
  EXPECT_EQ(state_of(admin, c.address()), "up");
}

TEST(JsonRpcHealth, LaggingNodeGoesDownCatchesUpAndReturns) {
  FakeRpcNode a("a", {.head = 120}), b("b", {.head = 100});
  Admin admin = start_pool({&a, &b}, head_check("max_lag_blocks = 8, stall_timeout = \"0s\""));
  ASSERT_TRUE(becomes(admin, b, "down", "lagging: block 100, pool's highest 120, max_lag_blocks 8"))
      << down_cause(admin, b.address());
  EXPECT_EQ(state_of(admin, a.address()), "up");
  ASSERT_TRUE(b.control(R"({"head": 118})"));
  EXPECT_TRUE(becomes(admin, b, "up"));
}

TEST(JsonRpcHealth, HeadsAndLagsInThePoolsViewAndMetrics) {
  FakeRpcNode a("a", {.head = 120}), b("b", {.head = 100});
  Admin admin = start_pool({&a, &b}, head_check("stall_timeout = \"0s\""));
  ASSERT_TRUE(poll_until([&] {
    return number(backend_view(admin, a.address()), "head") == 120u &&
           number(backend_view(admin, b.address()), "head") == 100u;
  }));
  EXPECT_EQ(number(backend_view(admin, a.address()), "lag"), 0u);
  EXPECT_EQ(number(backend_view(admin, b.address()), "lag"), 20u);
  const auto metrics = admin.call("GET", "/metrics", "", {});
  ASSERT_TRUE(metrics && metrics->status == 200);
  const auto series = [&](const char* name, const FakeRpcNode& node) {
    return sample(metrics->body,
                  std::string(name) + "{pool=\"main\",backend=\"" + node.address() + "\"}");
  };
  EXPECT_EQ(series("veer_backend_head_block", a), 120.0) << metrics->body;
  EXPECT_EQ(series("veer_backend_head_block", b), 100.0);
  EXPECT_EQ(series("veer_backend_lag_blocks", a), 0.0);
  EXPECT_EQ(series("veer_backend_lag_blocks", b), 20.0);

  ASSERT_TRUE(b.control(R"({"head": 125})"));  // now b leads
  EXPECT_TRUE(poll_until([&] {
    return number(backend_view(admin, a.address()), "lag") == 5u &&
           number(backend_view(admin, b.address()), "lag") == 0u;
  }));
}

TEST(JsonRpcHealth, StalledNodeGoesDownAfterStallTimeout) {
  FakeRpcNode a("a", {.block_ms = 50}), b("b", {.block_ms = 0});
  Admin admin = start_pool({&a, &b}, head_check("stall_timeout = \"1s\""));
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(becomes(admin, b, "down", "stalled: head 100 unchanged for "))
      << down_cause(admin, b.address());
  EXPECT_GE(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_EQ(state_of(admin, a.address()), "up") << "its head moves";
  ASSERT_TRUE(b.control(R"({"block_ms": 50})"));
  EXPECT_TRUE(becomes(admin, b, "up"));
}

// The failure ratio end to end on a plain route (no jsonrpc mode): a node answering 500
// to everything is ejected by the ratio (consecutive_failures is out of reach), its
// healthy peer is not.
TEST(FailureRatio, NodeFailingEveryCallIsEjectedByTheRatio) {
  FakeRpcNode a("a"), b("b");
  Admin admin = start_pool(
      {&a, &b},
      "outlier = { consecutive_failures = 1000, failure_percent = 3, failure_min_requests = 10, "
      "failure_window = \"300ms\" }\nretries = { attempts = 0 }\n");
  ASSERT_TRUE(b.control(R"({"http_status": 500})"));
  const std::string call = R"({"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]})";
  const auto ejection_cause = [&]() -> std::string {
    const json::value view = backend_view(admin, b.address());
    if (!view.is_object()) return "";
    for (const json::value& r : view.at("reasons").as_array()) {
      if (r.at("reason").as_string() == "ejected") return std::string(r.at("cause").as_string());
    }
    return "";
  };
  int sent = 0;
  ASSERT_TRUE(poll_until(
      [&] {
        ++sent;
        fetch(admin.veer->port(), "POST", "/", call, {"Content-Type: application/json"});
        return !ejection_cause().empty();
      },
      20s))
      << "after " << sent << " requests";
  const std::string cause = ejection_cause();
  EXPECT_NE(cause.find(" exchanges failed (100.0 % > 3 %) in 300ms: 5xx responses; ejected for "),
            std::string::npos)
      << cause;
  EXPECT_EQ(state_of(admin, a.address()), "up");
  EXPECT_GE(sent, 11) << "failure_min_requests on b, and one more to close the window";
}

}  // namespace
}  // namespace veer::test
