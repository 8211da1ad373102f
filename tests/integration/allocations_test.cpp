// Issue 18: no heap allocation on the request path of a keep-alive exchange. veer runs
// under an LD_PRELOAD shim that counts every malloc-family call of the process
// (tests/support/count_alloc.cpp); the count is read before and after N requests on
// one warmed-up keep-alive connection, so start-up, warm-up and shutdown cancel out.
// The shim counts clock_gettime calls too: the tests print clock reads per request
// (the issue's "one clock read per loop turn"; not asserted while the loop changes).
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

// Enough requests that pools, scratch vectors and malloc's arenas reach their steady
// size before the count starts; then enough counted ones that a few allocations of the
// process's other threads (the control thread's timers) stay far below the bound.
constexpr int kWarmUp = 500;
constexpr int kCounted = 2000;
// At most one allocation per 100 requests: what other threads may do meanwhile, not a
// per-request cost (that would be 1 or more).
constexpr double kMaxPerRequest = 0.01;

class Allocations : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (kSanitizerBuild) GTEST_SKIP() << "ASan replaces malloc; the shim cannot count it";
  }

  // veer with one worker under the shim; counts go to count_file_.
  std::unique_ptr<VeerProcess> start(TestConfig config) {
    config.io_engine = GetParam();
    config.workers = 1;
    count_file_ = make_temp_dir() + "/allocations";
    VeerOptions options;
    options.extra_env = {std::string("LD_PRELOAD=") + VEER_COUNT_ALLOC_LIBRARY,
                         "VEER_ALLOC_COUNT_FILE=" + count_file_};
    // VEER_ALLOC_TRACE=N in the test's environment: veer prints the stacks of the first
    // N allocations after warm-up into its log (shown when the test fails).
    if (const char* trace = std::getenv("VEER_ALLOC_TRACE"))
      options.extra_env.push_back(std::string("VEER_ALLOC_TRACE=") + trace);
    auto veer = std::make_unique<VeerProcess>(config.toml(), options);
    EXPECT_TRUE(veer->wait_ready()) << veer->log_text();
    return veer;
  }

  struct Counts {
    unsigned long allocations = 0;
    unsigned long clock_reads = 0;
  };

  // The process's counts so far: a signal makes the shim append a line.
  std::optional<Counts> counts(const VeerProcess& veer) const {
    const std::size_t lines_before = count_lines().size();
    veer.signal(SIGRTMIN + 3);
    std::vector<Counts> lines;
    if (!poll_until([&] { return (lines = count_lines()).size() > lines_before; })) return {};
    return lines.back();
  }

  std::vector<Counts> count_lines() const {
    std::vector<Counts> lines;
    std::ifstream in(count_file_);
    Counts line;
    while (in >> line.allocations >> line.clock_reads)
      lines.push_back(line);
    return lines;
  }

  struct PerRequest {
    double allocations = -1;  // -1: a request failed or the shim did not answer
    double clock_reads = -1;
  };

  // Counts per request over kCounted requests that `exchange` sends, after kWarmUp.
  PerRequest per_request(const VeerProcess& veer, const std::function<bool()>& exchange) const {
    for (int i = 0; i < kWarmUp; ++i)
      if (!exchange()) return {};
    const std::optional<Counts> before = counts(veer);
    for (int i = 0; i < kCounted; ++i)
      if (!exchange()) return {};
    const std::optional<Counts> after = counts(veer);
    if (!before || !after) return {};
    return {static_cast<double>(after->allocations - before->allocations) / kCounted,
            static_cast<double>(after->clock_reads - before->clock_reads) / kCounted};
  }

  std::string count_file_;
};

TEST_P(Allocations, PlainGetOnKeepAliveConnectionAllocatesNothing) {
  TestBackend backend;
  TestConfig config;
  config.backends = {backend.address()};
  auto veer = start(config);
  Client client(veer->port());
  const PerRequest counted = per_request(*veer, [&] {
    const std::optional<Response> response = client.get("/items/1?q=x");
    return response && response->status == 200 && response->keep_alive;
  });
  ASSERT_GE(counted.allocations, 0) << "a request failed or the shim did not answer\n"
                                    << veer->log_text();
  EXPECT_LE(counted.allocations, kMaxPerRequest) << veer->log_text();
  // The shim does see the worker's allocations: a new connection makes its session.
  const std::optional<Counts> before_connection = counts(*veer);
  const std::optional<Response> response = fetch(veer->port(), "GET", "/");
  const std::optional<Counts> after_connection = counts(*veer);
  ASSERT_TRUE(response && before_connection && after_connection);
  EXPECT_GT(after_connection->allocations, before_connection->allocations);
  std::cout << "keep-alive GET (" << GetParam() << "): " << counted.allocations << " allocations, "
            << counted.clock_reads << " clock reads per request\n";
}

TEST_P(Allocations, JsonRpcCallOnKeepAliveConnectionAllocatesNothing) {
  TestBackend node("node", [](const BackendRequest&) {
    BackendReply reply;
    reply.body = R"({"jsonrpc":"2.0","id":1,"result":"0x10"})";
    reply.headers = {{"Content-Type", "application/json"}};
    return reply;
  });
  TestConfig config;
  config.backends = {node.address()};
  config.route_keys = "  jsonrpc = true";
  auto veer = start(config);
  Client client(veer->port());
  const std::string call = R"({"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]})";
  const PerRequest counted = per_request(*veer, [&] {
    const std::optional<Response> response =
        client.request("POST", "/", call, {"Content-Type: application/json"});
    return response && response->status == 200 &&
           response->body.find("\"0x10\"") != std::string::npos;
  });
  ASSERT_GE(counted.allocations, 0) << "a call failed or the shim did not answer\n"
                                    << veer->log_text();
  EXPECT_LE(counted.allocations, kMaxPerRequest) << veer->log_text();
  std::cout << "keep-alive JSON-RPC call (" << GetParam() << "): " << counted.allocations
            << " allocations, " << counted.clock_reads << " clock reads per request\n";
}

INSTANTIATE_TEST_SUITE_P(Engines, Allocations, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
