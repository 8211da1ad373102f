// Backends dying, hanging, lagging and coming back, under real load through veer:
// active checks, passive ejection, retries and their budget, backups, panic mode,
// draining on reload. Backends that are killed are real processes (veer demo-backend).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "support/backend_process.hpp"
#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"
#include "support/ws_client.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<VeerProcess> start(const TestConfig& config) {
  auto veer = std::make_unique<VeerProcess>(config.toml());
  EXPECT_TRUE(veer->wait_ready()) << veer->log_text();
  return veer;
}

// The log line of a backend's state change, as health/transitions.cpp writes it.
std::string transition(const std::string& address, const std::string& from, const std::string& to) {
  return "backend " + address + " of pool main: " + from + " -> " + to;
}

// A line saying that the backend's state became `to`, from whichever state.
std::function<bool(const std::string&)> became(const std::string& address, const std::string& to) {
  return [prefix = "backend " + address + " of pool main: ",
          suffix = " -> " + to + " ("](const std::string& line) {
    const std::size_t at = line.find(prefix);
    return at != std::string::npos && line.find(suffix, at + prefix.size()) != std::string::npos;
  };
}

int occurrences(const std::string& text, const std::string& fragment) {
  int n = 0;
  for (std::size_t at = text.find(fragment); at != std::string::npos;
       at = text.find(fragment, at + 1)) {
    ++n;
  }
  return n;
}

long millis_since(Clock::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

// --- Kill one of three backends under steady load, then restart it ------------------

// interval x fall + timeout = 2.3 s to be marked down; interval x rise = 2 s to return.
// Passive checks are on too, as in a production configuration: connect failures eject
// the dead backend within a few requests, before the active checks mark it down.
constexpr auto kInterval = 1000ms;
constexpr auto kCheckTimeout = 300ms;
constexpr int kRise = 2;
constexpr int kFall = 2;

struct KillScenario {
  PacedResult load;
  long down_ms = -1;  // from the kill to the "-> down" log line
  long up_ms = -1;    // from the restart to the "-> up" log line
  std::string victim;
};

KillScenario kill_and_restart(const std::string& engine, PacedLoad load) {
  BackendProcess a("a"), b("b"), c("c");
  TestConfig config{.backends = {a.address(), b.address(), c.address()}, .io_engine = engine};
  config.extra =
      "health = { type = \"http\", path = \"/health\", interval = \"1s\", timeout = "
      "\"300ms\", rise = 2, fall = 2 }\n"
      "outlier = { consecutive_failures = 3, base_ejection = \"1s\" }\n";
  auto veer = start(config);
  KillScenario result;
  result.victim = b.name();
  std::atomic<int> phase{0};
  std::atomic<int> answered{0};
  load.answered = &answered;
  std::thread client([&] { result.load = run_paced(veer->port(), load, phase); });

  // Steady traffic first: wait (bounded) until 1.5 s worth of requests were answered.
  const int warm = load.rate * 3 / 2;
  const auto warm_deadline = Clock::now() + 5s;
  while (answered.load() < warm && Clock::now() < warm_deadline) {
    Client(veer->port()).wait_closed(5ms);  // a bounded poll
  }
  EXPECT_GE(answered.load(), warm);
  const std::size_t mark = veer->log_size();
  const auto killed = Clock::now();
  b.kill();
  phase = 1;
  if (veer->wait_for_line(became(b.address(), "down"), 10s, mark)) {
    result.down_ms = millis_since(killed);
  }
  phase = 2;
  const auto restarted = Clock::now();
  EXPECT_TRUE(b.restart());
  if (veer->wait_for_line(became(b.address(), "up"), 10s, mark)) {
    result.up_ms = millis_since(restarted);
  }
  phase = 3;
  client.join();
  EXPECT_GE(result.down_ms, 0) << veer->log_text();
  EXPECT_GE(result.up_ms, 0) << veer->log_text();
  return result;
}

void expect_detection_bounds(const KillScenario& s) {
  // Under ASan the restarted backend process itself takes a second or two longer to
  // listen again; the bounds are the normal build's.
  constexpr std::int64_t kSlack = kSanitizerBuild ? 2000 : 0;
  EXPECT_LE(s.down_ms, (kInterval * kFall + kCheckTimeout).count() + kSlack)
      << "marked down within interval x fall + timeout";
  EXPECT_LE(s.up_ms, (kInterval * kRise).count() + kSlack) << "back within interval x rise";
  // Traffic reaches the restarted backend again once it is back.
  ASSERT_TRUE(s.load.by_phase.contains(3));
  const auto& after = s.load.by_phase.at(3);
  EXPECT_GT(after.contains(s.victim) ? after.at(s.victim) : 0, 50);
}

class KillAndRestart : public ::testing::TestWithParam<std::string> {};

TEST_P(KillAndRestart, GetsNeverFail) {
  const KillScenario s = kill_and_restart(GetParam(), PacedLoad{.rate = 300, .duration = 10s});
  std::cout << "GET: " << s.load.sent << " sent, " << s.load.failures.size()
            << " failed; down after " << s.down_ms << " ms, up after " << s.up_ms << " ms\n";
  RecordProperty("requests", s.load.sent);
  RecordProperty("failed", static_cast<int>(s.load.failures.size()));
  RecordProperty("down_ms", static_cast<int>(s.down_ms));
  RecordProperty("up_ms", static_cast<int>(s.up_ms));
  EXPECT_GE(s.load.sent, 2500) << "a few hundred requests per second for 10 s";
  EXPECT_EQ(s.load.failures.size(), 0u)
      << "first failure: " << (s.load.failures.empty() ? "" : s.load.failures[0]);
  expect_detection_bounds(s);
}

TEST_P(KillAndRestart, JsonRpcPostsFailOnlyWhenAlreadySent) {
  PacedLoad load{.method = "POST",
                 .body =
                     [](int i) {
                       return R"({"jsonrpc":"2.0","id":)" + std::to_string(i) +
                              R"(,"method":"eth_blockNumber","params":[]})";
                     },
                 .ok =
                     [](const Response& r) {
                       return r.status == 200 && r.body.find("\"result\"") != std::string::npos;
                     },
                 .rate = 300,
                 .duration = 10s};
  const KillScenario s = kill_and_restart(GetParam(), load);
  const double failed_percent = 100.0 * static_cast<double>(s.load.failures.size()) / s.load.sent;
  std::cout << "JSON-RPC POST: " << s.load.sent << " sent, " << s.load.failures.size()
            << " failed (" << failed_percent << "%); down after " << s.down_ms << " ms, up after "
            << s.up_ms << " ms\n";
  for (const std::string& failure : s.load.failures)
    std::cout << "  failed: " << failure << "\n";
  RecordProperty("requests", s.load.sent);
  RecordProperty("failed", static_cast<int>(s.load.failures.size()));
  EXPECT_GE(s.load.sent, 2500);
  EXPECT_LE(failed_percent, 0.5) << "only requests already sent to the dead backend may fail";
  for (const std::string& failure : s.load.failures) {
    EXPECT_EQ(failure.rfind("502", 0), 0u) << "a POST lost with the backend: " << failure;
  }
  expect_detection_bounds(s);
}

INSTANTIATE_TEST_SUITE_P(Engines, KillAndRestart, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

// --- A backend that accepts and never answers ---------------------------------------

TEST(Outlier, HungBackendTimesOutWith504AndIsEjected) {
  TestBackend hung("hung", [](const BackendRequest&) { return BackendReply{.hang = true}; });
  TestBackend good("good");
  TestConfig config{.backends = {hung.address(), good.address()},
                    .timeouts = "upstream_response = \"300ms\""};
  config.extra = "outlier = { consecutive_failures = 2, base_ejection = \"30s\" }\n";
  auto veer = start(config);
  Client client(veer->port());
  int timeouts = 0;
  for (int i = 0; i < 20 && veer->log_text().find(transition(hung.address(), "up", "ejected")) ==
                                std::string::npos;
       ++i) {
    const auto sent = Clock::now();
    const auto r = client.get("/");
    ASSERT_TRUE(r);
    if (r->status == 504) {
      ++timeouts;
      EXPECT_GE(millis_since(sent), 300) << "504 only once upstream_response has passed";
      EXPECT_NE(r->body.find("upstream timed out"), std::string::npos) << r->body;
    } else {
      EXPECT_EQ(r->body, "good");
    }
  }
  ASSERT_TRUE(veer->wait_for_log(
      transition(hung.address(), "up", "ejected") + " (2 consecutive timeouts; ejected for 30s)",
      2s))
      << veer->log_text();
  EXPECT_GE(timeouts, 2);
  for (int i = 0; i < 50; ++i) {
    const auto r = client.get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "good") << "an ejected backend gets no requests";
  }
}

TEST(Outlier, EjectedBackendReturnsWhenItsTimeIsUp) {
  std::atomic<bool> failing{true};
  TestBackend flaky("flaky", [&](const BackendRequest&) {
    return failing ? BackendReply{.status = 500, .body = "broken"} : BackendReply{.body = "flaky"};
  });
  TestBackend good("good");
  TestConfig config{.backends = {flaky.address(), good.address()}};
  config.extra = "outlier = { consecutive_failures = 1, base_ejection = \"300ms\" }\n";
  auto veer = start(config);
  Client client(veer->port());
  for (int i = 0; i < 10 && veer->log_text().find(transition(flaky.address(), "up", "ejected")) ==
                                std::string::npos;
       ++i) {
    ASSERT_TRUE(client.get("/"));
  }
  ASSERT_TRUE(veer->wait_for_log(transition(flaky.address(), "up", "ejected") +
                                     " (1 consecutive 5xx responses; ejected for 300ms)",
                                 1s))
      << veer->log_text();
  failing = false;
  ASSERT_TRUE(
      veer->wait_for_log(transition(flaky.address(), "ejected", "up") + " (ejection over)", 2s))
      << veer->log_text();
  const LoadResult load = run_gets(veer->port(), 2, 200, 10s);
  EXPECT_EQ(load.ok, 200);
  EXPECT_GT(load.by_body.count("flaky") ? load.by_body.at("flaky") : 0, 50);
}

// --- Active checks ------------------------------------------------------------------

TEST(ActiveChecks, OneHungBackendDoesNotDelayTheChecksOfOthers) {
  TestBackend hung("hung", [](const BackendRequest&) { return BackendReply{.hang = true}; });
  TestBackend b("b");
  TestConfig config{.backends = {hung.address(), b.address()}};
  config.extra =
      "health = { path = \"/health\", interval = \"200ms\", timeout = \"1s\", "
      "rise = 1, fall = 2 }\n";
  auto veer = start(config);
  const auto stopped = Clock::now();
  b.stop();
  ASSERT_TRUE(veer->wait_for_log(transition(b.address(), "up", "down"), 5s)) << veer->log_text();
  const long down_ms = millis_since(stopped);
  std::cout << "down after " << down_ms << " ms while another backend's checks hang\n";
  EXPECT_LE(down_ms, 200 * 2 + 1000) << "interval x fall + timeout, not delayed by the hung one";
  EXPECT_TRUE(veer->wait_for_log(transition(hung.address(), "up", "down") +
                                     " (2 consecutive failed checks: waiting for the answer timed "
                                     "out after 1s)",
                                 5s))
      << veer->log_text();
}

// A fake Ethereum node: eth_blockNumber answers with `block`; GETs with its name.
struct FakeNode {
  std::atomic<std::uint64_t> block{1000};
  TestBackend backend;

  explicit FakeNode(const std::string& name)
      : backend(name, [this, name](const BackendRequest& request) {
          if (request.method != "POST") return BackendReply{.body = name};
          char hex[32];
          std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(block.load()));
          return BackendReply{
              .body = std::string(R"({"jsonrpc":"2.0","id":1,"result":")") + hex + "\"}",
              .headers = {{"Content-Type", "application/json"}}};
        }) {}
};

TEST(ActiveChecks, LaggingJsonRpcNodeIsRemovedAndRejoinsWhenCaughtUp) {
  FakeNode a("a"), b("b"), c("c");
  TestConfig config{.backends = {a.backend.address(), b.backend.address(), c.backend.address()}};
  config.extra =
      "health = { type = \"jsonrpc\", interval = \"100ms\", timeout = \"500ms\", "
      "rise = 2, fall = 2, max_lag_blocks = 5 }\n";
  auto veer = start(config);
  a.block = 1010;
  b.block = 1012;
  c.block = 1004;  // 8 behind the highest
  ASSERT_TRUE(veer->wait_for_log(transition(c.backend.address(), "up", "down") +
                                     " (2 consecutive failed checks: lagging: block 1004, pool's "
                                     "highest 101",
                                 5s))
      << veer->log_text();
  LoadResult load = run_gets(veer->port(), 2, 300, 10s);
  EXPECT_EQ(load.ok, 300);
  EXPECT_EQ(load.by_body.count("c"), 0u) << "a lagging node takes no traffic";

  c.block = 1009;  // 3 behind: within max_lag_blocks
  ASSERT_TRUE(veer->wait_for_log(transition(c.backend.address(), "down", "up"), 5s))
      << veer->log_text();
  load = run_gets(veer->port(), 2, 300, 10s);
  EXPECT_EQ(load.ok, 300);
  EXPECT_NEAR(load.share("c"), 1.0 / 3, 0.1) << "caught up: back in rotation";
}

TEST(ActiveChecks, BackupsServeOnlyWhileNoPrimaryIsUpAndAllDownIsAFast503) {
  auto a = std::make_unique<TestBackend>("a");
  auto b = std::make_unique<TestBackend>("b");
  TestBackend backup("backup");
  const std::string a_address = a->address();
  const std::uint16_t a_port = a->port();
  TestConfig config{.backends = {a->address(), b->address(),
                                 "{ address = \"" + backup.address() + "\", backup = true }"}};
  config.extra =
      "health = { path = \"/health\", interval = \"100ms\", timeout = \"300ms\", "
      "rise = 1, fall = 1 }\n";
  auto veer = start(config);
  LoadResult load = run_gets(veer->port(), 2, 200, 10s);
  EXPECT_EQ(load.ok, 200);
  EXPECT_EQ(load.by_body.count("backup"), 0u) << "primaries are up: the backup is idle";

  const std::string b_address = b->address();
  a.reset();
  b.reset();
  ASSERT_TRUE(veer->wait_for_log(transition(a_address, "up", "down"), 5s)) << veer->log_text();
  ASSERT_TRUE(veer->wait_for_log(transition(b_address, "up", "down"), 5s)) << veer->log_text();
  load = run_gets(veer->port(), 2, 200, 10s);
  EXPECT_EQ(load.ok, 200);
  EXPECT_EQ(load.by_body["backup"], 200) << "no primary is up: the backup serves";

  backup.stop();
  ASSERT_TRUE(veer->wait_for_log(transition(backup.address(), "up", "down"), 5s));
  Client client(veer->port());
  long slowest_us = 0;
  for (int i = 0; i < 50; ++i) {
    const auto sent = Clock::now();
    const auto r = client.get("/");
    slowest_us = std::max<long>(
        slowest_us,
        static_cast<long>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count()));
    ASSERT_TRUE(r) << "no hang";
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(r->body.find("no backend available in pool main"), std::string::npos) << r->body;
  }
  std::cout << "all backends down: slowest 503 of 50 took " << slowest_us << " us\n";
  RecordProperty("slowest_503_us", static_cast<int>(slowest_us));
  EXPECT_LT(slowest_us, 1000000) << "answered without trying a backend";

  TestBackend back("a-again", {}, a_port);  // a comes back on its port
  ASSERT_TRUE(veer->wait_for_log(transition(a_address, "down", "up"), 5s)) << veer->log_text();
  const auto r = client.get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "a-again") << "traffic resumes on the primary that returned";
}

// --- Limits on ejection ---------------------------------------------------------------

TEST(Outlier, MaxEjectedPercentAndPanicThreshold) {
  std::atomic<bool> failing{true};
  std::vector<std::unique_ptr<TestBackend>> backends;
  std::vector<std::string> addresses;
  for (const char* name : {"a", "b", "c", "d"}) {
    backends.push_back(std::make_unique<TestBackend>(name, [&, name](const BackendRequest&) {
      return failing ? BackendReply{.status = 500, .body = "broken"} : BackendReply{.body = name};
    }));
    addresses.push_back(backends.back()->address());
  }
  TestConfig config{.backends = addresses, .workers = 1};
  const std::string outlier =
      "outlier = { consecutive_failures = 1, base_ejection = \"60s\", max_ejected_percent = 50 }\n";
  config.extra = outlier + "panic_threshold = 50\n";
  auto veer = start(config);
  Client client(veer->port());
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(client.get("/"));
  const std::string log = veer->log_text();
  EXPECT_EQ(occurrences(log, "up -> ejected"), 2) << "max_ejected_percent = 50 of 4: two\n" << log;

  failing = false;
  LoadResult load = run_gets(veer->port(), 2, 400, 10s);
  EXPECT_EQ(load.ok, 400);
  EXPECT_EQ(load.by_body.size(), 2u) << "2 of 4 routable is not below panic_threshold 50";
  EXPECT_EQ(veer->log_text().find("panic"), std::string::npos);

  config.extra = outlier + "panic_threshold = 75\n";
  veer->rewrite_config(config.toml());
  const std::size_t mark = veer->log_size();
  veer->signal(SIGHUP);
  ASSERT_TRUE(veer->wait_for_log("configuration version 2 applied", 5s, mark));
  load = run_gets(veer->port(), 2, 400, 10s);
  EXPECT_EQ(load.ok, 400);
  EXPECT_EQ(load.by_body.size(), 4u) << "below 75%: panic routes across the ejected too";
  for (const auto& [name, n] : load.by_body)
    EXPECT_GT(n, 50) << name;
  EXPECT_TRUE(veer->wait_for_log(
      "pool main: panic: only 2 of 4 backends routable (panic_threshold 75%); routing across "
      "ejected backends too",
      1s, mark))
      << veer->log_text();
}

// --- Retries --------------------------------------------------------------------------

TEST(Retries, BudgetBoundsAttemptsWhenEveryBackendFails) {
  std::vector<std::unique_ptr<TestBackend>> backends;
  std::vector<std::string> addresses;
  for (const char* name : {"a", "b", "c"}) {
    backends.push_back(std::make_unique<TestBackend>(name, [](const BackendRequest&) {
      return BackendReply{.drop = true};  // reads the request, closes without a word
    }));
    addresses.push_back(backends.back()->address());
  }
  const auto attempts = [&] {
    int n = 0;
    for (const auto& b : backends)
      n += b->requests();
    return n;
  };
  TestConfig config{.backends = addresses, .workers = 1};
  config.extra = "retries = { attempts = 2, budget_percent = 20, budget_min = 0 }\n";
  auto veer = start(config);
  constexpr int kRequests = 300;
  Client client(veer->port());
  for (int i = 0; i < kRequests; ++i) {
    const auto r = client.get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502);
  }
  const int with_budget = attempts();
  std::cout << kRequests << " failing GETs: " << with_budget
            << " attempts with budget_percent = 20\n";
  RecordProperty("attempts_with_budget", with_budget);
  EXPECT_GT(with_budget, kRequests) << "some retries were allowed";
  EXPECT_LE(with_budget, kRequests + kRequests * 20 / 100) << "retries within 20% of requests";
  EXPECT_TRUE(veer->wait_for_log("retry budget spent (budget_percent 20)", 1s));

  // The same with a budget too large to bind: every request is tried 1 + attempts times.
  config.extra = "retries = { attempts = 2, budget_percent = 20, budget_min = 100000 }\n";
  veer->rewrite_config(config.toml());
  const std::size_t mark = veer->log_size();
  veer->signal(SIGHUP);
  ASSERT_TRUE(veer->wait_for_log("configuration version 2 applied", 5s, mark));
  for (int i = 0; i < kRequests; ++i)
    ASSERT_TRUE(client.get("/"));
  const int unlimited = attempts() - with_budget;
  std::cout << kRequests << " failing GETs: " << unlimited
            << " attempts without a binding budget\n";
  EXPECT_EQ(unlimited, 3 * kRequests) << "without the budget, retries multiply the load";
}

TEST(Retries, PostIsNotRetriedOnceSentButIsWhenTheConnectFails) {
  TestBackend dropper("dropper", [](const BackendRequest&) { return BackendReply{.drop = true}; });
  TestBackend good("good");
  const std::uint16_t closed_port = free_port();  // nothing listens: connects are refused
  TestConfig config{.backends = {dropper.address(), good.address()}, .workers = 1};
  auto veer = start(config);
  Client client(veer->port());
  int dropped_posts = 0;
  for (int i = 0; i < 20; ++i) {
    const auto r = client.request("POST", "/", "{}");
    ASSERT_TRUE(r);
    if (r->status == 502) ++dropped_posts;
  }
  EXPECT_EQ(dropped_posts, 10) << "POSTs that reached the dropping backend fail, never retried";
  EXPECT_EQ(dropper.requests(), 10);
  for (int i = 0; i < 20; ++i) {
    const auto r = client.get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "good") << "GETs are retried on the other backend";
  }

  config.backends = {"127.0.0.1:" + std::to_string(closed_port), good.address()};
  veer->rewrite_config(config.toml());
  const std::size_t mark = veer->log_size();
  veer->signal(SIGHUP);
  ASSERT_TRUE(veer->wait_for_log("configuration version 2 applied", 5s, mark));
  for (int i = 0; i < 20; ++i) {
    const auto r = client.request("POST", "/", "{}");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "good") << "a refused connect sent nothing: even a POST moves on";
  }
}

// --- Draining on reload -----------------------------------------------------------------

TEST(Draining, RemovedBackendFinishesInFlightWorkAndTunnelsCloseAtTheDeadline) {
  TestBackend old_backend("old", [](const BackendRequest& request) {
    return BackendReply{.body = "old", .delay = request.target == "/slow" ? 400ms : 0ms};
  });
  TestBackend new_backend("new");
  TestConfig config{.backends = {old_backend.address()}, .timeouts = "drain = \"1500ms\""};
  auto veer = start(config);
  WsClient tunnel(veer->port());
  ASSERT_EQ(tunnel.echo("before"), "before");
  std::optional<Response> slow;
  std::thread in_flight([&] { slow = fetch(veer->port(), "GET", "/slow"); });
  // The slow request is at the old backend once it has counted it.
  for (int i = 0; i < 200 && old_backend.requests() < 2; ++i)
    Client(veer->port()).wait_closed(5ms);

  config.backends = {new_backend.address()};
  veer->rewrite_config(config.toml());
  const std::size_t mark = veer->log_size();
  veer->signal(SIGHUP);
  ASSERT_TRUE(veer->wait_for_log("configuration version 2 applied", 5s, mark));
  const auto reloaded = Clock::now();
  EXPECT_TRUE(veer->wait_for_log(transition(old_backend.address(), "up", "draining") +
                                     " (removed from the configuration; in-flight requests and "
                                     "tunnels have 1500ms to finish)",
                                 1s, mark))
      << veer->log_text();
  EXPECT_EQ(fetch(veer->port(), "GET", "/")->body, "new") << "no new requests to a drained one";
  EXPECT_EQ(tunnel.echo("during the drain"), "during the drain") << "the tunnel is not cut early";
  in_flight.join();
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->status, 200) << "the in-flight request finished";
  EXPECT_EQ(slow->body, "old");

  EXPECT_TRUE(tunnel.ends()) << "closed at the drain deadline";
  const long closed_after = millis_since(reloaded);
  std::cout << "tunnel to the removed backend closed " << closed_after << " ms after the reload\n";
  EXPECT_GE(closed_after, 1400) << "not before the deadline";
  EXPECT_LE(closed_after, 3000);
}

// --- Slow start -------------------------------------------------------------------------

TEST(SlowStart, ABackendBackFromDownTakesASmallShareAtFirst) {
  std::atomic<bool> sick{false};
  TestBackend a("a"), b("b");
  TestBackend c("c", [&](const BackendRequest& request) {
    if (request.target == "/health" && sick) return BackendReply{.status = 503};
    return BackendReply{.body = "c"};
  });
  TestConfig config{.backends = {a.address(), b.address(), c.address()}};
  config.extra =
      "health = { path = \"/health\", interval = \"100ms\", timeout = \"300ms\", "
      "rise = 1, fall = 1 }\nslow_start = \"60s\"\n";
  auto veer = start(config);
  sick = true;
  ASSERT_TRUE(veer->wait_for_log(transition(c.address(), "up", "down"), 5s));
  sick = false;
  ASSERT_TRUE(veer->wait_for_log(transition(c.address(), "down", "up"), 5s));
  const LoadResult load = run_gets(veer->port(), 2, 3000, 20s);
  ASSERT_EQ(load.ok, 3000);
  std::cout << "share of the backend warming up: " << load.share("c") << "\n";
  // Seconds into a 60 s ramp its effective weight is the 5% floor or a little more:
  // about 0.05 / 2.05 of the requests instead of a third.
  EXPECT_GT(load.share("c"), 0.0) << "it does get some traffic";
  EXPECT_LT(load.share("c"), 0.08);
}

}  // namespace
}  // namespace veer::test
