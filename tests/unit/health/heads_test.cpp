// Head tracking of jsonrpc checks: the batch a check sends and how its answer is read
// (health/evaluate.hpp), and the pool's verdicts on chain, lag and stall
// (health/heads.hpp).
#include "health/heads.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <random>
#include <string>
#include <string_view>

namespace veer::health {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

conf::HealthConfig head_check() {
  conf::HealthConfig config;
  config.type = conf::HealthConfig::Type::jsonrpc;
  return config;
}

std::string answer(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST(HeadCheck, AsksHeadAndSyncingInOneBatchAndTheChainWhenTold) {
  const conf::HealthConfig config = head_check();
  const std::string plain = check_request(config, "127.0.0.1:8545");
  const std::string with_chain = check_request(config, "127.0.0.1:8545", true);
  const std::string body = plain.substr(plain.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, R"([{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]},)"
                  R"({"jsonrpc":"2.0","id":2,"method":"eth_syncing","params":[]}])");
  EXPECT_NE(plain.find("Content-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  EXPECT_EQ(plain.find("eth_chainId"), std::string::npos);
  EXPECT_NE(with_chain.find(R"({"jsonrpc":"2.0","id":3,"method":"eth_chainId","params":[]}])"),
            std::string::npos);
}

TEST(HeadCheck, ReadsHeadChainAndSyncingInAnyOrder) {
  const conf::HealthConfig config = head_check();
  CheckResult r = evaluate_answer(config, answer(R"([{"jsonrpc":"2.0","id":3,"result":"0x89"},)"
                                                 R"({"jsonrpc":"2.0","id":2,"result":false},)"
                                                 R"({"jsonrpc":"2.0","id":1,"result":"0x64"}])"));
  EXPECT_TRUE(r.ok) << r.cause;
  EXPECT_EQ(r.block, 100u);
  EXPECT_EQ(r.chain_id, 137u);

  r = evaluate_answer(config, answer(R"([{"id":1,"result":"0x64"},{"id":2,"result":)"
                                     R"({"currentBlock":"0x64","highestBlock":"0xc8"}}])"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.cause, "syncing: current 100, highest 200");
  EXPECT_EQ(r.block, 100u) << "the head is still shown";
  EXPECT_FALSE(r.chain_id.has_value());

  r = evaluate_answer(config, answer(R"([{"id":1,"result":"0xc8"},{"id":2,"result":)"
                                     R"({"currentBlock":"0xc8","highestBlock":"0xc8"}}])"));
  EXPECT_TRUE(r.ok) << "caught up, though the node still answers an object";

  r = evaluate_answer(config, answer(R"([{"id":1,"result":"0x5"},)"
                                     R"({"id":2,"error":{"code":-32601,"message":"no"}}])"));
  EXPECT_TRUE(r.ok) << "a node without eth_syncing is judged by its head alone";

  r = evaluate_answer(config, answer(R"([{"id":2,"result":false}])"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.cause, "batch answer without eth_blockNumber");
  r = evaluate_answer(config, answer(R"([{"id":1,"error":{"code":-32000,"message":"x"}}])"));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.cause.find("JSON-RPC error"), std::string::npos);
  r = evaluate_answer(
      config, answer(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch"}})"));
  EXPECT_FALSE(r.ok) << "a node that refuses batches";
}

struct Backends {
  PoolHeads pool;
  std::array<HeadWatch, 5> watches{};
  std::array<int, 5> keys{};
  conf::HealthConfig config = head_check();

  CheckResult check(std::size_t i, std::uint64_t block, Clock::time_point now,
                    std::optional<std::uint64_t> chain = std::nullopt) {
    CheckResult r{true, "block " + std::to_string(block), block, chain};
    pool.judge(&keys[i], config, r, watches[i], now);
    return r;
  }
};

TEST(PoolHeads, WrongChainAgainstTheConfiguredOrTheMajority) {
  Backends b;
  const Clock::time_point t = Clock::now();
  EXPECT_TRUE(b.check(0, 100, t, 1).ok);
  EXPECT_TRUE(b.check(1, 100, t, 1).ok);
  CheckResult r = b.check(2, 900, t, 5);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.cause, "chain id 5, expected 1");
  EXPECT_EQ(b.pool.highest(b.config), 100u) << "another chain's head does not count";
  r = b.check(2, 901, t + 1s);
  EXPECT_FALSE(r.ok) << "the chain id is remembered between asks";

  b.config.chain_id = 5;
  EXPECT_TRUE(b.check(2, 902, t + 2s).ok);
  EXPECT_EQ(b.check(0, 101, t + 2s).cause, "chain id 1, expected 5");

  Backends tie;
  EXPECT_TRUE(tie.check(0, 10, t, 7).ok);
  EXPECT_TRUE(tie.check(1, 10, t, 3).ok) << "1 against 1: the lowest id wins";
  EXPECT_EQ(tie.check(0, 11, t).cause, "chain id 7, expected 3");
  EXPECT_EQ(tie.pool.expected_chain(tie.config), 3u);
}

TEST(PoolHeads, LagBeyondMaxLagBlocks) {
  Backends b;
  b.config.max_lag_blocks = 8;
  const Clock::time_point t = Clock::now();
  EXPECT_TRUE(b.check(0, 120, t).ok);
  EXPECT_TRUE(b.check(1, 112, t).ok) << "8 behind is allowed";
  const CheckResult r = b.check(2, 100, t);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.cause, "lagging: block 100, pool's highest 120, max_lag_blocks 8");
  EXPECT_TRUE(b.check(2, 118, t + 1s).ok) << "caught up";
}

TEST(PoolHeads, StallAfterStallTimeoutOfAnUnmovedHead) {
  Backends b;
  b.config.stall_timeout = 60s;
  const Clock::time_point t = Clock::now();
  EXPECT_TRUE(b.check(0, 100, t).ok);
  EXPECT_TRUE(b.check(0, 100, t + 59s).ok);
  const CheckResult r = b.check(0, 100, t + 61s);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.cause, "stalled: head 100 unchanged for 61s");
  EXPECT_TRUE(b.check(0, 101, t + 62s).ok) << "it moved";
  EXPECT_TRUE(b.check(0, 101, t + 121s).ok);
  b.config.stall_timeout = 0s;
  EXPECT_TRUE(b.check(0, 101, t + 1h).ok) << "0s: off";
}

TEST(PoolHeads, AFailedResultKeepsItsCauseButShowsTheHead) {
  Backends b;
  const Clock::time_point t = Clock::now();
  CheckResult r{false, "syncing: current 5, highest 9", 5, std::nullopt};
  b.pool.judge(&b.keys[0], b.config, r, b.watches[0], t);
  EXPECT_EQ(r.cause, "syncing: current 5, highest 9");
  EXPECT_EQ(b.pool.highest(b.config), 5u);
}

// Model: random heads, chains and clock steps against a direct computation of the rules.
TEST(PoolHeads, ModelBasedVerdicts) {
  std::mt19937_64 random(7);
  for (int run = 0; run < 20; ++run) {
    Backends b;
    b.config.max_lag_blocks = random() % 3 == 0 ? 0 : 1 + random() % 10;
    b.config.stall_timeout =
        std::chrono::milliseconds(random() % 2 == 0 ? 0 : 1000 + random() % 5000);
    if (random() % 2 == 0) b.config.chain_id = 1 + random() % 2;
    std::array<std::uint64_t, 5> heads{}, chains{};
    std::array<Clock::time_point, 5> moved{};
    std::array<bool, 5> seen{};
    Clock::time_point now = Clock::now();
    for (int step = 0; step < 2000; ++step) {
      now += std::chrono::milliseconds(random() % 400);
      const std::size_t i = random() % 5;
      const std::uint64_t head = 1000 + random() % 30;
      const std::uint64_t chain = random() % 10 == 0 ? 2 : 1;
      if (!seen[i] || heads[i] != head) moved[i] = now;
      seen[i] = true;
      heads[i] = head;
      chains[i] = chain;
      // Expected: chain (configured, else majority ties lowest), lag, stall.
      std::map<std::uint64_t, int> votes;
      for (std::size_t k = 0; k < 5; ++k)
        if (seen[k]) ++votes[chains[k]];
      std::uint64_t expected = 0;
      int most = 0;
      for (const auto& [c, n] : votes)
        if (n > most) expected = c, most = n;
      if (b.config.chain_id) expected = *b.config.chain_id;
      std::uint64_t top = 0;
      for (std::size_t k = 0; k < 5; ++k)
        if (seen[k] && chains[k] == expected) top = std::max(top, heads[k]);
      bool ok = chain == expected;
      if (ok && b.config.max_lag_blocks != 0) ok = head + b.config.max_lag_blocks >= top;
      if (ok && b.config.stall_timeout.count() > 0) ok = now - moved[i] < b.config.stall_timeout;
      ASSERT_EQ(b.check(i, head, now, chain).ok, ok) << "run " << run << " step " << step;
      ASSERT_EQ(b.pool.highest(b.config), top);
    }
  }
}

}  // namespace
}  // namespace veer::health
