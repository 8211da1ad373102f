// The rollout judge's evidence end to end (runtime::SplitTargetSeries): every request a
// split routed is answered once on the target it ended on, as ok or error, and
// /metrics' veer_split_target_answers_total says exactly what the clients saw: backend
// 5xx, veer's own 502/503 for a dead target, server-class JSON-RPC errors inside HTTP
// 200 answers (a revert is the caller's, not an error), and WebSocket upgrades.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

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

// Per pool: answers by outcome, as the clients saw them or as /metrics counts them.
struct Tally {
  std::map<std::string, int> ok;
  std::map<std::string, int> error;
  int total() const {
    int n = 0;
    for (const auto& [pool, count] : ok)
      n += count;
    for (const auto& [pool, count] : error)
      n += count;
    return n;
  }
};

std::string scrape(Admin& admin) {
  const auto r = admin.call("GET", "/metrics");
  return r && r->status == 200 ? r->body : "";
}

int answers(const std::string& text, const std::string& pool, const std::string& outcome) {
  return static_cast<int>(sample(text, "veer_split_target_answers_total{split=\"rpc\",pool=\"" +
                                           pool + "\",outcome=\"" + outcome + "\"}")
                              .value_or(0));
}

int assigned(const std::string& text, const std::string& pool) {
  return static_cast<int>(
      sample(text, "veer_split_assignments_total{split=\"rpc\",pool=\"" + pool + "\"}")
          .value_or(0));
}

// Scrapes until the answers counted add up to `expected` (the last answer of a
// keep-alive exchange is counted once its write completed, just after the client read
// it), then returns the page.
std::string scrape_when_answered(Admin& admin, const std::vector<std::string>& pools,
                                 int expected) {
  std::string text;
  const bool counted = poll_until([&] {
    text = scrape(admin);
    int n = 0;
    for (const std::string& pool : pools)
      n += answers(text, pool, "ok") + answers(text, pool, "error");
    return n == expected;
  });
  EXPECT_TRUE(counted) << text;
  return text;
}

void expect_metrics_match(const std::string& text, const Tally& seen,
                          const std::vector<std::string>& pools) {
  for (const std::string& pool : pools) {
    const int ok = seen.ok.contains(pool) ? seen.ok.at(pool) : 0;
    const int error = seen.error.contains(pool) ? seen.error.at(pool) : 0;
    EXPECT_EQ(answers(text, pool, "ok"), ok) << pool;
    EXPECT_EQ(answers(text, pool, "error"), error) << pool;
    EXPECT_EQ(assigned(text, pool), ok + error) << pool << ": every assigned request answered";
    testing::Test::RecordProperty(pool + "_ok", ok);
    testing::Test::RecordProperty(pool + "_error", error);
  }
}

TestConfig split_of(const std::string& stable, const std::string& canary,
                    const std::string& split_keys, const std::string& pool_keys = "") {
  std::string extra = "\n[pools.stable]\nbackends = [\"" + stable + "\"]\n" + pool_keys;
  extra += "\n[pools.canary]\nbackends = [\"" + canary + "\"]\n" + pool_keys;
  extra += "\n[splits.rpc]\ntargets = { stable = 50, canary = 50 }\nsticky = \"header:X-User\"\n";
  extra += "target_header = \"X-Veer-Target\"\n";
  extra += split_keys;
  return TestConfig{.backends = {stable}, .extra = extra, .route_target = "rpc"};
}

// The canary answers 500 to every 4th request it gets, 20 ms late; stable answers at
// once. Distinct keys spread over both; each answer names its pool.
TEST(SplitEvidence, HttpAnswersByTargetAndOutcomeMatchWhatClientsSaw) {
  TestBackend stable("stable");
  std::atomic<int> canary_requests{0};
  TestBackend canary("canary", [&](const BackendRequest&) {
    BackendReply reply;
    reply.body = "canary";
    reply.headers = {{"X-Backend", "canary"}};
    reply.delay = std::chrono::milliseconds(20);
    if (++canary_requests % 4 == 0) reply.status = 500;
    return reply;
  });
  Admin admin = start_with_admin(split_of(stable.address(), canary.address(), ""));
  constexpr int kRequests = 400;
  Tally seen;
  Client client(admin.veer->port());
  for (int i = 0; i < kRequests; ++i) {
    const auto r = client.request("GET", "/", "", {"X-User: user-" + std::to_string(i)});
    ASSERT_TRUE(r.has_value()) << i;
    ASSERT_EQ(r->header("X-Veer-Target"), r->body) << "the answer names its pool";
    (r->status >= 500 ? seen.error : seen.ok)[r->body] += 1;
  }
  EXPECT_EQ(seen.total(), kRequests);
  EXPECT_GT(seen.error["canary"], 20) << "the canary got its share, and a quarter failed";
  EXPECT_EQ(seen.error["stable"], 0);
  const std::vector<std::string> pools = {"stable", "canary"};
  expect_metrics_match(scrape_when_answered(admin, pools, kRequests), seen, pools);

  // A WebSocket upgrade is one answer too: its 101 is ok.
  WsClient ws(admin.veer->port());
  ASSERT_EQ(ws.echo("hello"), "hello");
  const std::string after = scrape_when_answered(admin, pools, kRequests + 1);
  EXPECT_EQ(answers(after, "stable", "ok") + answers(after, "canary", "ok"),
            seen.ok["stable"] + seen.ok["canary"] + 1);
  EXPECT_EQ(answers(after, "canary", "error"), seen.error["canary"]);
}

// A canary nobody listens on, with the split's failover off: its share is answered by
// veer (502 connection refused, then 503 once passive health ejects it), each an error
// on the canary; stable's answers stay ok.
TEST(SplitEvidence, ADeadCanaryCountsVeersOwnFailuresAsItsErrors) {
  TestBackend stable("stable");
  const std::string dead = "127.0.0.1:" + std::to_string(free_port());
  Admin admin = start_with_admin(split_of(stable.address(), dead, "failover = false\n"));
  constexpr int kRequests = 200;
  Tally seen;
  std::map<int, int> statuses;
  for (int i = 0; i < kRequests; ++i) {
    const auto r = fetch(admin.veer->port(), "GET", "/", "", {"X-User: user-" + std::to_string(i)});
    ASSERT_TRUE(r.has_value()) << i;
    ++statuses[r->status];
    if (r->status == 200) {
      ASSERT_EQ(r->body, "stable");
      ++seen.ok["stable"];
    } else {
      ASSERT_GE(r->status, 500) << r->body;
      ++seen.error["canary"];  // stable never fails: a failure is the canary's share
    }
  }
  for (const auto& [status, count] : statuses)
    RecordProperty("status_" + std::to_string(status), count);
  EXPECT_GT(seen.error["canary"], 50);
  const std::vector<std::string> pools = {"stable", "canary"};
  expect_metrics_match(scrape_when_answered(admin, pools, kRequests), seen, pools);
}

// A JSON-RPC backend answering fixed JSON: each call's reply by its id. The canary
// answers -32603 (server class) to ids divisible by 5 and a revert (code 3, the
// caller's) to ids that leave 1; stable always a result.
std::string reply_for(const std::string& id, bool canary) {
  const long n = std::stol(id);
  std::string reply = "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",";
  if (canary && n % 5 == 0) return reply + "\"error\":{\"code\":-32603,\"message\":\"boom\"}}";
  if (canary && n % 5 == 1)
    return reply + "\"error\":{\"code\":3,\"message\":\"execution reverted\",\"data\":\"0x\"}}";
  return reply + "\"result\":\"fake/" + (canary ? "canary" : "stable") + "\"}";
}

BackendHandler rpc_node(bool canary) {
  return [canary](const BackendRequest& request) {
    static const std::regex id_pattern("\"id\":([0-9]+)");
    std::vector<std::string> replies;
    for (auto it = std::sregex_iterator(request.body.begin(), request.body.end(), id_pattern);
         it != std::sregex_iterator(); ++it)
      replies.push_back(reply_for((*it)[1].str(), canary));
    BackendReply reply;
    reply.headers = {{"Content-Type", "application/json"}};
    if (!request.body.empty() && request.body.front() == '[') {
      reply.body = "[";
      for (std::size_t i = 0; i < replies.size(); ++i)
        reply.body += (i ? "," : "") + replies[i];
      reply.body += "]";
    } else {
      reply.body = replies.empty() ? "{}" : replies[0];
    }
    return reply;
  };
}

std::string call(int id) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) +
         ",\"method\":\"web3_clientVersion\",\"params\":[]}";
}

// Single calls and batches of three on a JSON-RPC route: an answer is an error when it
// carries a server-class error (a batch: any of its items); reverts and results are ok.
// Retries are off, so each answer comes from the target the split chose, and passive
// health's failure ratio too, so the canary keeps its share.
TEST(SplitEvidence, JsonRpcServerErrorsCountAndRevertsDoNot) {
  TestBackend stable("stable", rpc_node(false));
  TestBackend canary("canary", rpc_node(true));
  TestConfig config = split_of(stable.address(), canary.address(), "",
                               "retries = { attempts = 0 }\noutlier = { failure_percent = 0 }\n");
  config.route_keys = "  jsonrpc = true";
  Admin admin = start_with_admin(config);
  constexpr int kRequests = 300;
  Tally seen;
  int reverts = 0;
  Client client(admin.veer->port());
  for (int i = 0; i < kRequests; ++i) {
    const int id = 10 * i;
    const bool batch = i % 3 == 2;
    // A single call's id is 10 i (-32603 on the canary) or, every other time, 10 i + 1
    // (a revert); a batch asks 10 i, + 1, + 2 (an error among them) or, every other
    // batch, 10 i + 2, + 3, + 4 (all results).
    const int first = id + 2 * (i % 2);
    const std::string body =
        batch ? "[" + call(first) + "," + call(first + 1) + "," + call(first + 2) + "]"
              : call(id + i % 2);
    const auto r = client.request(
        "POST", "/", body, {"Content-Type: application/json", "X-User: user-" + std::to_string(i)});
    ASSERT_TRUE(r.has_value()) << i;
    ASSERT_EQ(r->status, 200) << r->body;
    const std::string pool = r->header("X-Veer-Target");
    ASSERT_TRUE(pool == "stable" || pool == "canary") << pool;
    const bool server_error = r->body.find("-32603") != std::string::npos;
    reverts += r->body.find("\"code\":3") != std::string::npos ? 1 : 0;
    (server_error ? seen.error : seen.ok)[pool] += 1;
  }
  EXPECT_GT(seen.error["canary"], 20);
  EXPECT_GT(reverts, 20) << "reverts reached the clients and count as ok";
  EXPECT_EQ(seen.error["stable"], 0);
  RecordProperty("reverts", reverts);
  const std::vector<std::string> pools = {"stable", "canary"};
  expect_metrics_match(scrape_when_answered(admin, pools, kRequests), seen, pools);
}

}  // namespace
}  // namespace veer::test
