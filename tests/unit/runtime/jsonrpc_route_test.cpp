// The policy of a JSON-RPC route: every branch of plan_call (local answers, denied
// methods, the logs range cap, sticky filters, method routes, archive routing,
// pin_latest), the reply fixes, per-method costs against the GCRA, the served head
// under concurrent workers, and how snapshots compile and keep a route's state.
#include "runtime/jsonrpc_route.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conf/load.hpp"
#include "core/routing_epoch.hpp"
#include "http/http_parser.hpp"
#include "limits/gcra.hpp"
#include "runtime/route_pick.hpp"
#include "runtime/snapshot.hpp"
#include "runtime/worker_view.hpp"

namespace veer::runtime {
namespace {

namespace jsonrpc = http::jsonrpc;

// One listener route to pool main, plus a transaction pool, an archive pool and a
// canary split for method routes.
constexpr std::string_view kConfig = R"(
[listeners.public]
address = "127.0.0.1:0"
  [[listeners.public.routes]]
  path_prefix = "/"
  target = "main"
[pools.main]
backends = ["127.0.0.1:8001", "127.0.0.1:8002"]
[pools.tx]
backends = ["127.0.0.1:8101"]
[pools.archive]
backends = ["127.0.0.1:8201"]
[pools.blue]
backends = ["127.0.0.1:9001"]
[pools.green]
backends = ["127.0.0.1:9101", "127.0.0.1:9102"]
[splits.canary]
targets = { blue = 50, green = 50 }
)";

conf::Config base_config() {
  const conf::LoadResult loaded = conf::load_config_string(kConfig, "jsonrpc.toml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
  return *loaded.config;
}

// The route in JSON-RPC mode with `jsonrpc`, method routes for transactions (tx) and
// traces (canary), and the archive pool.
conf::Config jsonrpc_config(conf::JsonRpcRouteConfig jsonrpc = {}) {
  conf::Config config = base_config();
  conf::RouteConfig& route = config.listeners.at(0).routes.at(0);
  jsonrpc.archive = "archive";
  route.jsonrpc = jsonrpc;
  route.method_routes.push_back(conf::MethodRouteConfig{{"eth_sendRawTransaction"}, "tx", {}});
  route.method_routes.push_back(conf::MethodRouteConfig{{"trace_*", "parity_*"}, "canary", {}});
  return config;
}

std::uint32_t pool_index(const Snapshot& snapshot, std::string_view name) {
  for (std::uint32_t i = 0; i < snapshot.pools.size(); ++i) {
    if (snapshot.pools[i].name == name) return i;
  }
  ADD_FAILURE() << "no pool " << name;
  return 0;
}

RpcTarget pool_target(const Snapshot& snapshot, std::string_view name) {
  return RpcTarget{pool_index(snapshot, name), kNoSplit};
}

struct Fixture {
  BackendRegistry registry;
  std::shared_ptr<const Snapshot> snapshot;
  jsonrpc::Request request;
  core::Buffer text;
  CallPlan plan;

  explicit Fixture(conf::JsonRpcRouteConfig config = {}) {
    snapshot = build_snapshot(jsonrpc_config(std::move(config)), 1, registry);
  }

  const RouteRuntime& route() const { return snapshot->listeners.at(0).routes.at(0); }
  const JsonRpcRouteRuntime& rpc() const { return *route().jsonrpc; }
  RpcTarget pool(std::string_view name) const { return pool_target(*snapshot, name); }

  // Plans the single call of `body` (kept alive in `body_`).
  const CallPlan& plan_of(std::string body, std::uint64_t head = 0, std::uint64_t highest = 0) {
    body_ = std::move(body);
    jsonrpc::parse_request(body_, 100, request);
    EXPECT_EQ(request.error, 0) << body_;
    EXPECT_EQ(request.calls.size(), 1u);
    EXPECT_EQ(request.calls.at(0).error, 0) << body_;
    text.clear();
    plan_call(*snapshot, rpc(), request.calls.at(0), head, highest, text, plan);
    EXPECT_NE(plan.method, nullptr);
    return plan;
  }
  // A view into `text`: parsed calls point into it, so it must outlive them (a copy
  // returned by value would die at the end of the parse's statement).
  std::string_view rewritten() const {
    return text.readable().substr(plan.rewritten_offset, plan.rewritten_length);
  }

 private:
  std::string body_;
};

std::string call(std::string_view method, std::string_view params = "[]", int id = 1) {
  std::string out = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")";
  out += method;
  out += R"(","params":)";
  out += params;
  out += "}";
  return out;
}

std::string notification(std::string_view method, std::string_view params = "[]") {
  return std::string(R"({"jsonrpc":"2.0","method":")") + std::string(method) + R"(","params":)" +
         std::string(params) + "}";
}

std::string hex(std::uint64_t value) {
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof digits, value, 16).ptr;
  return "0x" + std::string(digits, end);
}

// --- local answers and denied methods ---------------------------------------------

TEST(JsonRpcRoute, EthAccountsIsAnsweredLocallyWithAnEmptyList) {
  Fixture f;
  const CallPlan& plan = f.plan_of(call("eth_accounts"));
  EXPECT_EQ(plan.kind, CallPlan::Kind::result);
  EXPECT_EQ(plan.result, "[]");
  EXPECT_EQ(f.plan_of(notification("eth_accounts")).kind, CallPlan::Kind::none);

  conf::JsonRpcRouteConfig forwarded;
  forwarded.local_accounts = false;
  Fixture g(forwarded);
  EXPECT_EQ(g.plan_of(call("eth_accounts")).kind, CallPlan::Kind::forward);
}

TEST(JsonRpcRoute, TheDefaultDenyListAnswersMethodNotAllowed) {
  Fixture f;
  for (const char* method :
       {"admin_peers", "personal_unlockAccount", "miner_start", "debug_setHead", "eth_sign",
        "eth_signTypedData_v4", "eth_sendTransaction"}) {
    const CallPlan& plan = f.plan_of(call(method));
    EXPECT_EQ(plan.kind, CallPlan::Kind::error) << method;
    EXPECT_EQ(plan.code, jsonrpc::kMethodNotFound) << method;
    EXPECT_EQ(plan.message, std::string("method not allowed: ") + method);
    EXPECT_EQ(plan.data, "");
  }
  EXPECT_EQ(f.plan_of(notification("admin_peers")).kind, CallPlan::Kind::none)
      << "a denied notification is answered with nothing";
  for (const char* method : {"eth_chainId", "net_version", "debug_traceTransaction"}) {
    EXPECT_EQ(f.plan_of(call(method)).kind, CallPlan::Kind::forward) << method;
  }
}

TEST(JsonRpcRoute, AnAllowListLetsOnlyItsMethodsThroughAndDenyStillWins) {
  conf::JsonRpcRouteConfig config;
  config.allow = {"eth_*", "net_version"};
  config.deny = {"eth_getLogs"};
  Fixture f(config);
  EXPECT_EQ(f.plan_of(call("eth_chainId")).kind, CallPlan::Kind::forward);
  EXPECT_EQ(f.plan_of(call("net_version")).kind, CallPlan::Kind::forward);
  EXPECT_EQ(f.plan_of(call("web3_clientVersion")).kind, CallPlan::Kind::error);
  EXPECT_EQ(f.plan.message, "method not allowed: web3_clientVersion");
  EXPECT_EQ(f.plan_of(call("eth_getLogs", R"([{"fromBlock":"0x1","toBlock":"0x2"}])")).kind,
            CallPlan::Kind::error);
  EXPECT_EQ(f.plan.code, jsonrpc::kMethodNotFound);
}

TEST(JsonRpcRoute, NotificationsOfForwardedMethodsAreForwarded) {
  Fixture f;
  const CallPlan& plan = f.plan_of(notification("eth_chainId"));
  EXPECT_EQ(plan.kind, CallPlan::Kind::forward);
  EXPECT_EQ(plan.target, f.pool("main"));
}

// --- eth_getLogs range cap ---------------------------------------------------------

TEST(JsonRpcRoute, ALogsRangeAboveTheCapGetsLimitExceededWithTheLimit) {
  Fixture f;
  const CallPlan& over =
      f.plan_of(call("eth_getLogs", R"([{"fromBlock":"0x1","toBlock":")" + hex(10001) + R"("}])"));
  EXPECT_EQ(over.kind, CallPlan::Kind::error);
  EXPECT_EQ(over.code, jsonrpc::kLimitExceeded);
  EXPECT_EQ(over.message, "block range too large: 10001 blocks, the limit is 10000");
  EXPECT_EQ(over.data, R"({"limit":10000})");

  const CallPlan& at =
      f.plan_of(call("eth_getLogs", R"([{"fromBlock":"0x1","toBlock":")" + hex(10000) + R"("}])"));
  EXPECT_EQ(at.kind, CallPlan::Kind::forward) << "10,000 blocks is the limit itself";
}

TEST(JsonRpcRoute, ALogsRangeUpToLatestUsesTheRequestsHeadElseTheHighestKnown) {
  Fixture f;
  const std::string open = call("eth_getLogs", R"([{"fromBlock":"0x0"}])");
  EXPECT_EQ(f.plan_of(open, 20000, 0).kind, CallPlan::Kind::error);
  EXPECT_EQ(f.plan.message, "block range too large: 20001 blocks, the limit is 10000");
  EXPECT_EQ(f.plan_of(open, 0, 5000).kind, CallPlan::Kind::forward);
  EXPECT_EQ(f.plan_of(open, 0, 10000).kind, CallPlan::Kind::error) << "0..10000 is 10001";
  EXPECT_EQ(f.plan_of(open, 0, 0).kind, CallPlan::Kind::forward) << "head not known: no cap";
  EXPECT_EQ(
      f.plan_of(call("eth_getLogs", R"([{"fromBlock":"earliest","toBlock":"latest"}])"), 50000, 0)
          .kind,
      CallPlan::Kind::error);
  EXPECT_EQ(f.plan_of(call("eth_getLogs", R"([{"blockHash":"0x00ff"}])"), 50000, 0).kind,
            CallPlan::Kind::forward)
      << "one block by hash: no cap";
  EXPECT_EQ(f.plan_of(call("eth_getLogs", R"([{"fromBlock":"0x9","toBlock":"0x1"}])")).kind,
            CallPlan::Kind::forward)
      << "an empty range is the node's to answer";

  conf::JsonRpcRouteConfig small;
  small.max_logs_block_range = 5;
  Fixture g(small);
  EXPECT_EQ(g.plan_of(call("eth_getLogs", R"([{"fromBlock":"0x10","toBlock":"0x15"}])")).kind,
            CallPlan::Kind::error);
  EXPECT_EQ(g.plan.message, "block range too large: 6 blocks, the limit is 5");
  EXPECT_EQ(g.plan.data, R"({"limit":5})");
  EXPECT_EQ(g.plan_of(notification("eth_getLogs", R"([{"fromBlock":"0x0"}])"), 100).kind,
            CallPlan::Kind::none);
}

// --- method routes and archive -----------------------------------------------------

TEST(JsonRpcRoute, MethodRoutesSendMatchingCallsToTheirTargetFirstMatchWins) {
  Fixture f;
  EXPECT_EQ(f.plan_of(call("eth_sendRawTransaction", R"(["0x00"])")).target, f.pool("tx"));
  const RpcTarget canary{0, 0};
  EXPECT_EQ(f.plan_of(call("trace_block", R"(["0x1"])")).target.split, canary.split)
      << "a method route wins over archive routing";
  EXPECT_EQ(f.plan_of(call("parity_pendingTransactions")).target.split, canary.split);
  EXPECT_EQ(f.plan_of(call("eth_chainId")).target, f.pool("main"));
}

TEST(JsonRpcRoute, ArchiveTakesDebugMethodsAndOldOrEarliestBlocks) {
  Fixture f;
  const std::string addr = R"("0x00000000000000000000000000000000000000aa")";
  const auto balance_at = [&](const std::string& block) {
    return call("eth_getBalance", "[" + addr + ",\"" + block + "\"]");
  };
  EXPECT_EQ(f.plan_of(call("debug_traceTransaction", R"(["0x01"])")).target, f.pool("archive"));
  EXPECT_EQ(f.plan_of(balance_at(hex(871)), 0, 1000).target, f.pool("archive"))
      << "more than 128 below the highest head";
  EXPECT_EQ(f.plan_of(balance_at(hex(872)), 0, 1000).target, f.pool("main"))
      << "exactly 128 below is still recent";
  EXPECT_EQ(f.plan_of(balance_at("earliest"), 0, 1000).target, f.pool("archive"));
  EXPECT_EQ(f.plan_of(balance_at("earliest"), 0, 0).target, f.pool("archive"));
  EXPECT_EQ(f.plan_of(balance_at(hex(5)), 0, 0).target, f.pool("main"))
      << "the head is not known: nothing is old";
  EXPECT_EQ(f.plan_of(balance_at("latest"), 0, 1000).target, f.pool("main"));

  conf::JsonRpcRouteConfig recent;
  recent.recent_blocks = 10;
  Fixture g(recent);
  EXPECT_EQ(g.plan_of(balance_at(hex(989)), 0, 1000).target, g.pool("archive"));
  EXPECT_EQ(g.plan_of(balance_at(hex(990)), 0, 1000).target, g.pool("main"));
}

TEST(JsonRpcRoute, WithoutArchiveEverythingStaysOnTheRoutesTarget) {
  conf::Config config = base_config();
  config.listeners.at(0).routes.at(0).jsonrpc = conf::JsonRpcRouteConfig{};
  BackendRegistry registry;
  const auto snapshot = build_snapshot(std::move(config), 1, registry);
  const JsonRpcRouteRuntime& rpc = *snapshot->listeners.at(0).routes.at(0).jsonrpc;
  EXPECT_FALSE(rpc.archive.has_value());
  jsonrpc::Request request;
  const std::string body = call("debug_traceTransaction", R"(["0x01"])");
  jsonrpc::parse_request(body, 100, request);
  core::Buffer text;
  CallPlan plan;
  plan_call(*snapshot, rpc, request.calls.at(0), 0, 1000, text, plan);
  EXPECT_EQ(plan.kind, CallPlan::Kind::forward);
  EXPECT_EQ(plan.target, pool_target(*snapshot, "main"));
}

// --- pin_latest and reads_latest ---------------------------------------------------

TEST(JsonRpcRoute, PinLatestRewritesLatestToTheRequestsHead) {
  conf::JsonRpcRouteConfig pinned;
  pinned.pin_latest = true;
  Fixture f(pinned);
  const std::string addr = R"("0x00000000000000000000000000000000000000aa")";
  const CallPlan& plan = f.plan_of(call("eth_getBalance", "[" + addr + R"(,"latest"])"), 100);
  EXPECT_EQ(plan.kind, CallPlan::Kind::forward);
  EXPECT_TRUE(plan.reads_latest);
  ASSERT_GT(plan.rewritten_length, 0u);
  jsonrpc::Request sent;
  jsonrpc::parse_request(f.rewritten(), 100, sent);
  ASSERT_EQ(sent.calls.size(), 1u);
  EXPECT_EQ(sent.calls[0].method, "eth_getBalance");
  EXPECT_EQ(sent.calls[0].id, "1");
  EXPECT_EQ(jsonrpc::param(sent.calls[0].params, 0), addr);
  EXPECT_EQ(jsonrpc::param(sent.calls[0].params, 1), "\"0x64\"");

  const CallPlan& block = f.plan_of(call("eth_getBlockByNumber", R"(["latest",false])"), 255);
  EXPECT_TRUE(block.reads_latest);
  jsonrpc::parse_request(f.rewritten(), 100, sent);
  EXPECT_EQ(jsonrpc::param(sent.calls.at(0).params, 0), "\"0xff\"");
  EXPECT_EQ(jsonrpc::param(sent.calls.at(0).params, 1), "false");

  EXPECT_EQ(f.plan_of(call("eth_getBalance", "[" + addr + R"(,"latest"])"), 0).rewritten_length, 0u)
      << "no head known: nothing pinned";
  EXPECT_TRUE(f.plan.reads_latest);
  const CallPlan& numbered = f.plan_of(call("eth_getBalance", "[" + addr + R"(,"0x10"])"), 100);
  EXPECT_FALSE(numbered.reads_latest);
  EXPECT_EQ(numbered.rewritten_length, 0u);
  EXPECT_FALSE(f.plan_of(call("eth_getBalance", "[" + addr + R"(,"pending"])"), 100).reads_latest);
}

TEST(JsonRpcRoute, AnAbsentBlockArgumentReadsLatestAndIsPinned) {
  conf::JsonRpcRouteConfig pinned;
  pinned.pin_latest = true;
  Fixture f(pinned);
  const CallPlan& plan = f.plan_of(call("eth_call", R"([{"to":"0x00"}])"), 100);
  EXPECT_TRUE(plan.reads_latest);
  ASSERT_GT(plan.rewritten_length, 0u);
  jsonrpc::Request sent;
  jsonrpc::parse_request(f.rewritten(), 100, sent);
  EXPECT_EQ(jsonrpc::param(sent.calls.at(0).params, 1), "\"0x64\"");
}

TEST(JsonRpcRoute, WithoutPinLatestCallsGoAsSentButStillReadLatest) {
  Fixture f;
  const std::string addr = R"("0x00000000000000000000000000000000000000aa")";
  const CallPlan& plan = f.plan_of(call("eth_getBalance", "[" + addr + R"(,"latest"])"), 100);
  EXPECT_TRUE(plan.reads_latest);
  EXPECT_EQ(plan.rewritten_length, 0u);
  EXPECT_TRUE(f.plan_of(call("eth_blockNumber"), 100).reads_latest);
  EXPECT_FALSE(f.plan_of(call("eth_chainId"), 100).reads_latest);
}

// --- sticky filters ----------------------------------------------------------------

// The id fix_reply gives a client for a filter `node_id` created on `backend`.
std::string tagged_filter_id(Fixture& f, std::string_view backend, std::string_view node_id) {
  const CallPlan& plan = f.plan_of(call("eth_newBlockFilter"));
  EXPECT_EQ(plan.method->filter, jsonrpc::Filter::creates);
  const std::string reply_body =
      std::string(R"({"jsonrpc":"2.0","id":1,"result":")") + std::string(node_id) + "\"}";
  jsonrpc::Response response;
  jsonrpc::parse_response(reply_body, response);
  EXPECT_TRUE(response.valid);
  ReplyContext context{&f.rpc(), &f.request.calls.at(0), &plan, backend, false};
  core::Buffer out;
  EXPECT_TRUE(fix_reply(context, response.replies.at(0), out));
  jsonrpc::Response fixed;
  jsonrpc::parse_response(out.readable(), fixed);
  EXPECT_TRUE(fixed.valid);
  EXPECT_EQ(fixed.replies.at(0).id, "1");
  return std::string(fixed.replies.at(0).result);
}

TEST(JsonRpcRoute, FilterIdsCarryTheirBackendAndComeBackToIt) {
  Fixture f;
  const std::string backend = "127.0.0.1:8002";
  const std::string tagged = tagged_filter_id(f, backend, "0xabc123");
  char tag_hex[9];
  std::snprintf(tag_hex, sizeof tag_hex, "%08x", filter_backend_tag(backend));
  EXPECT_EQ(tagged, std::string("\"0x") + tag_hex + "abc123\"");

  for (const char* method : {"eth_getFilterChanges", "eth_getFilterLogs", "eth_uninstallFilter"}) {
    const CallPlan& plan = f.plan_of(call(method, "[" + tagged + "]", 7));
    EXPECT_EQ(plan.kind, CallPlan::Kind::forward) << method;
    ASSERT_TRUE(plan.sticky_backend_tag.has_value()) << method;
    EXPECT_EQ(*plan.sticky_backend_tag, filter_backend_tag(backend));
    jsonrpc::Request sent;
    jsonrpc::parse_request(f.rewritten(), 100, sent);
    ASSERT_EQ(sent.calls.size(), 1u);
    EXPECT_EQ(sent.calls[0].method, method);
    EXPECT_EQ(sent.calls[0].id, "7");
    EXPECT_EQ(jsonrpc::param(sent.calls[0].params, 0), "\"0xabc123\"") << "the node's own id";
  }
}

TEST(JsonRpcRoute, AFilterIdWithoutVeersTagGoesAsItIsToAnyBackend) {
  Fixture f;
  for (const char* id : {R"("0x1")", R"("0x12345678")", R"("zz")", R"(17)", R"("0xnothex12345")"}) {
    const CallPlan& plan = f.plan_of(call("eth_getFilterChanges", std::string("[") + id + "]"));
    EXPECT_EQ(plan.kind, CallPlan::Kind::forward) << id;
    EXPECT_FALSE(plan.sticky_backend_tag.has_value()) << id;
    EXPECT_EQ(plan.rewritten_length, 0u) << id;
  }
  EXPECT_FALSE(f.plan_of(call("eth_getFilterChanges")).sticky_backend_tag.has_value());
}

TEST(JsonRpcRoute, AFilterErrorOrANonHexResultIsNotTagged) {
  Fixture f;
  const CallPlan& plan = f.plan_of(call("eth_newFilter", "[{}]"));
  for (const char* body :
       {R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"x"}})",
        R"({"jsonrpc":"2.0","id":1,"result":"nope"})", R"({"jsonrpc":"2.0","id":1,"result":12})"}) {
    jsonrpc::Response response;
    jsonrpc::parse_response(body, response);
    ASSERT_TRUE(response.valid) << body;
    ReplyContext context{&f.rpc(), &f.request.calls.at(0), &plan, "127.0.0.1:8001", false};
    core::Buffer out;
    EXPECT_FALSE(fix_reply(context, response.replies.at(0), out)) << body;
  }
}

TEST(JsonRpcRoute, ABackendIsFoundByItsFilterTagUnlessItIsDownOrGone) {
  Fixture f;
  auto view = std::make_unique<WorkerView>(f.snapshot, 0, 1, nullptr,
                                           [](const conf::SocketAddress&) { return 0u; });
  const std::uint32_t tag = filter_backend_tag("127.0.0.1:8002");
  const auto found = assign_backend_by_tag(*view, &f.route(), f.pool("main"), tag);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->pool, pool_index(*f.snapshot, "main"));
  EXPECT_EQ(found->backend, 1u);
  EXPECT_EQ(found->route, &f.route());

  // Through a split: every target pool is searched.
  const RpcTarget canary{0, 0};
  const auto in_split =
      assign_backend_by_tag(*view, &f.route(), canary, filter_backend_tag("127.0.0.1:9102"));
  ASSERT_TRUE(in_split.has_value());
  EXPECT_EQ(f.snapshot->pools[in_split->pool].name, "green");
  EXPECT_EQ(in_split->backend, 1u);
  EXPECT_EQ(in_split->split, &f.snapshot->splits.at(0));
  EXPECT_EQ(f.snapshot->splits.at(0).pools[in_split->target], in_split->pool);

  const BackendRuntime& node = f.snapshot->pools[found->pool].backends[1];
  for (core::Reason kept :
       {core::Reason::draining, core::Reason::disabled, core::Reason::ejected}) {
    node.stats->set(kept);
    EXPECT_TRUE(assign_backend_by_tag(*view, &f.route(), f.pool("main"), tag).has_value())
        << core::reason_name(kept) << ": the filter is still on that node";
    node.stats->clear(kept);
  }
  node.stats->set(core::Reason::down);
  EXPECT_FALSE(assign_backend_by_tag(*view, &f.route(), f.pool("main"), tag).has_value());
  node.stats->clear(core::Reason::down);
  EXPECT_FALSE(assign_backend_by_tag(*view, &f.route(), f.pool("tx"), tag).has_value())
      << "not a backend of that target";
  EXPECT_FALSE(
      assign_backend_by_tag(*view, &f.route(), f.pool("main"), filter_backend_tag("10.0.0.1:1"))
          .has_value())
      << "a backend removed by a reload";
}

// --- fixing replies ----------------------------------------------------------------

struct ReplyFixture : Fixture {
  jsonrpc::Response response;
  core::Buffer out;
  // fix_reply for the single call of `request_body` answered by `reply_body`.
  bool fix(const std::string& request_body, const std::string& reply_body, bool retried = false) {
    plan_of(request_body);
    reply_ = reply_body;
    jsonrpc::parse_response(reply_, response);
    EXPECT_TRUE(response.valid) << reply_;
    out.clear();
    ReplyContext context{&rpc(), &request.calls.at(0), &plan, "127.0.0.1:8001", retried};
    return fix_reply(context, response.replies.at(0), out);
  }
  std::string fixed_result() {
    jsonrpc::Response fixed;
    jsonrpc::parse_response(out.readable(), fixed);
    EXPECT_TRUE(fixed.valid) << out.readable();
    return fixed.valid ? std::string(fixed.replies.at(0).result) : "";
  }
  std::string reply_;
};

std::string result_reply(std::string_view result, int id = 1) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"result":)" + std::string(result) +
         "}";
}

TEST(JsonRpcRoute, BlockNumberNeverGoesBelowTheServedHead) {
  ReplyFixture f;
  EXPECT_FALSE(f.fix(call("eth_blockNumber"), result_reply("\"0x64\"")));
  EXPECT_EQ(f.rpc().state->served_head.load(), 100u);
  EXPECT_TRUE(f.fix(call("eth_blockNumber", "[]", 9), result_reply("\"0x61\"", 9)))
      << "97 after 100";
  EXPECT_EQ(f.fixed_result(), "\"0x64\"");
  jsonrpc::Response fixed;
  jsonrpc::parse_response(f.out.readable(), fixed);
  EXPECT_EQ(fixed.replies.at(0).id, "9");
  EXPECT_FALSE(f.fix(call("eth_blockNumber"), result_reply("\"0x65\"")));
  EXPECT_EQ(f.rpc().state->served_head.load(), 101u);
  EXPECT_FALSE(f.fix(call("eth_blockNumber"),
                     R"({"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"x"}})"));
  EXPECT_FALSE(f.fix(call("eth_blockNumber"), result_reply("\"garbage\"")));
  EXPECT_EQ(f.rpc().state->served_head.load(), 101u);
  EXPECT_FALSE(f.fix(call("eth_chainId"), result_reply("\"0x1\""))) << "other methods go as is";
}

// With a known head (health checks), one answer raises the served head at most to that
// head plus a small slack: a bogus or wrong-chain answer goes to its client but pins
// nothing for the others.
TEST(JsonRpcRoute, TheServedHeadRisesAtMostToTheKnownHeadPlusSlack) {
  JsonRpcRouteState state;
  EXPECT_EQ(state.serve(100, 100), 100u);
  EXPECT_EQ(state.serve(1'000'000, 100), 1'000'000u) << "the answer goes as it is";
  EXPECT_EQ(state.served_head.load(), 100u + JsonRpcRouteState::kHeadSlack);
  EXPECT_EQ(state.serve(99, 100), 100u + JsonRpcRouteState::kHeadSlack);
  EXPECT_EQ(state.serve(101, 100), 100u + JsonRpcRouteState::kHeadSlack);
  // The known head moves on: so does the cap.
  EXPECT_EQ(state.serve(110, 110), 110u);
  EXPECT_EQ(state.served_head.load(), 110u);
  // Not known: as before, any answer raises it.
  EXPECT_EQ(state.serve(5000, 0), 5000u);
  EXPECT_EQ(state.served_head.load(), 5000u);
}

// Far above the known head (a devnet reset, a bogus answer taken before the head was
// known) the served head comes back down; a lag within kResetDistance does not.
TEST(JsonRpcRoute, TheServedHeadComesDownWhenTheKnownHeadIsFarBelow) {
  JsonRpcRouteState state;
  state.serve(5000);
  EXPECT_EQ(state.pinned_head(0), 5000u);
  EXPECT_EQ(state.pinned_head(5000 - JsonRpcRouteState::kResetDistance), 5000u);
  EXPECT_EQ(state.serve(4990, 5000 - JsonRpcRouteState::kResetDistance), 5000u)
      << "within the distance: never backwards";
  EXPECT_EQ(state.pinned_head(10), 10u) << "pinning uses the known head at once";
  EXPECT_EQ(state.serve(10, 10), 10u) << "after a reset, the chain's new head";
  EXPECT_EQ(state.served_head.load(), 10u);
  EXPECT_EQ(state.serve(11, 10), 11u);
  EXPECT_EQ(state.serve(9, 10), 11u) << "and never backwards again";
}

// A long random sequence of answers and known heads against the rules: the value served
// is never below the answer; the served head only drops when it was more than
// kResetDistance above the known head, and then to within the slack of it; it never
// rises above max(answer, known + slack) when a head is known.
TEST(JsonRpcRoute, TheServedHeadKeepsItsRulesOverARandomSequence) {
  std::mt19937_64 random(16);
  JsonRpcRouteState state;
  std::uint64_t known = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t roll = random() % 100;
    if (roll < 10) known = random() % 5 == 0 ? 0 : random() % 1000;  // a reset, or unknown
    if (roll >= 10 && roll < 40 && known != 0) known += random() % 3;
    const std::uint64_t base = known != 0 ? known : 500;
    const std::uint64_t answer =
        roll >= 95 ? random() : base - std::min(base, random() % 8) + random() % 4;
    const std::uint64_t before = state.served_head.load();
    const std::uint64_t served = state.serve(answer, known);
    const std::uint64_t after = state.served_head.load();
    ASSERT_GE(served, answer);
    ASSERT_EQ(served, std::max(after, answer));
    if (known == 0) {
      ASSERT_EQ(after, std::max(before, answer));
      continue;
    }
    const std::uint64_t cap = known + JsonRpcRouteState::kHeadSlack;
    if (before > known + JsonRpcRouteState::kResetDistance) {
      ASSERT_EQ(after, std::max(known, std::min(answer, cap)));
    } else {
      ASSERT_EQ(after, std::max(before, std::min(answer, cap)));
    }
  }
}

// The known head of a target: its pool's chain-filtered head, a split's highest pool.
TEST(JsonRpcRoute, TheKnownHeadIsThePoolsHeadOrTheHighestOfASplit) {
  Fixture f;
  const Snapshot& snapshot = *f.snapshot;
  EXPECT_EQ(known_head(snapshot, f.pool("main")), 0u);
  snapshot.pools[pool_index(snapshot, "main")].stats->head_block.store(300);
  snapshot.pools[pool_index(snapshot, "blue")].stats->head_block.store(120);
  snapshot.pools[pool_index(snapshot, "green")].stats->head_block.store(130);
  // A backend's own head (e.g. a wrong-chain node) is not the pool's.
  snapshot.pools[pool_index(snapshot, "main")].backends.at(0).stats->head_block.store(9999);
  EXPECT_EQ(known_head(snapshot, f.pool("main")), 300u);
  EXPECT_EQ(known_head(snapshot, f.rpc().method_routes[1].target), 130u);
}

TEST(JsonRpcRoute, ARetriedTransactionThatAlreadyLandedAnswersItsHash) {
  ReplyFixture f;
  const std::string raw = R"("0xf86b80843b9aca00825208940000000000000000000000000000000000000000")";
  const std::string send = call("eth_sendRawTransaction", "[" + raw + "]");
  const std::string known =
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"already known"}})";
  core::Buffer expected;
  ASSERT_TRUE(jsonrpc::append_transaction_hash(expected, raw));
  EXPECT_TRUE(f.fix(send, known, true));
  EXPECT_EQ(f.fixed_result(), expected.readable());
  EXPECT_FALSE(f.fix(send, known, false)) << "a first try's 'already known' is the client's";
  EXPECT_FALSE(f.fix(
      send, R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"insufficient funds"}})",
      true));
  EXPECT_FALSE(f.fix(send, result_reply("\"0x01\""), true)) << "success goes as is";
}

// --- costs and the GCRA ------------------------------------------------------------

PolicyRuntime policy_with(const conf::RateLimitPolicyConfig& config) {
  PolicyRuntime policy;
  policy.config = &config;
  return policy;
}

TEST(JsonRpcRoute, CallCostIsTheFirstMatchingGlobElseOne) {
  conf::RateLimitPolicyConfig config;  // defaults: eth_getLogs 10, debug_* 20, trace_* 20
  const PolicyRuntime policy = policy_with(config);
  EXPECT_EQ(call_cost(policy, "eth_getLogs"), 10u);
  EXPECT_EQ(call_cost(policy, "debug_traceTransaction"), 20u);
  EXPECT_EQ(call_cost(policy, "trace_block"), 20u);
  EXPECT_EQ(call_cost(policy, "eth_call"), 1u);
  config.method_costs = {{"eth_get*", 3}, {"eth_getLogs", 50}};
  EXPECT_EQ(call_cost(policy, "eth_getLogs"), 3u) << "first match wins";
  EXPECT_EQ(call_cost(policy, "eth_chainId"), 1u);
  EXPECT_EQ(call_cost(PolicyRuntime{}, "eth_getLogs"), 1u);
}

constexpr std::int64_t kSecond = 1'000'000'000;

// Calls of `costs` at `now` against one key: how many were allowed.
int allowed_calls(std::int64_t& tat, std::int64_t now, const limits::Gcra& gcra,
                  const std::vector<std::uint64_t>& costs) {
  int allowed = 0;
  for (std::uint64_t cost : costs) {
    if (limits::gcra_step(tat, now, gcra_for_cost(gcra, cost)).verdict == limits::Verdict::allow)
      ++allowed;
  }
  return allowed;
}

TEST(JsonRpcRoute, ACallOfCostNTakesNRequestsWorthOfAllowance) {
  // 10/s with burst 9: ten requests at once, then one per 100 ms.
  const limits::Gcra gcra = limits::Gcra::of(10, kSecond, 9, 0);
  std::int64_t tat = 0;
  const std::int64_t t0 = 5 * kSecond;
  EXPECT_EQ(allowed_calls(tat, t0, gcra, std::vector<std::uint64_t>(15, 1)), 10)
      << "a batch of 15 on a 10/s key: 10 results";

  tat = 0;
  EXPECT_EQ(allowed_calls(tat, t0, gcra, {10, 10, 1}), 1) << "a full bucket holds one cost-10";
  EXPECT_EQ(allowed_calls(tat, t0 + kSecond - 1, gcra, {10}), 0) << "refilled in exactly 1 s";
  EXPECT_EQ(allowed_calls(tat, t0 + kSecond, gcra, {10}), 1);

  tat = 0;
  EXPECT_EQ(allowed_calls(tat, t0, gcra, {1, 1, 1, 1, 1}), 5);
  EXPECT_EQ(allowed_calls(tat, t0, gcra, {10, 6, 5, 1}), 1) << "five left: cost 5 only";
  EXPECT_EQ(allowed_calls(tat, t0 + kSecond / 10 * 3, gcra, {4, 3}), 1) << "three refilled";

  // A cost above the whole bucket: one such call from a full bucket, then its debt.
  tat = 0;
  EXPECT_EQ(allowed_calls(tat, t0, gcra, {20, 1}), 1);
  // 20 tokens taken from 10: 10 owed (1 s to repay), then 100 ms for the next token.
  const std::int64_t next = t0 + kSecond + kSecond / 10;
  EXPECT_EQ(allowed_calls(tat, next - 1, gcra, {1}), 0);
  EXPECT_EQ(allowed_calls(tat, next, gcra, {1}), 1);
  EXPECT_EQ(gcra_for_cost(gcra, 1), gcra);
  EXPECT_EQ(gcra_for_cost(gcra, 0), gcra);
}

TEST(JsonRpcRoute, CostsMatchOneRequestPerTokenOverARandomSequence) {
  // Model: a token bucket of capacity burst + 1 refilled one token per interval,
  // in exact integer time; a call of cost n <= capacity passes iff n tokens are there.
  const std::int64_t interval = kSecond / 10;
  const limits::Gcra gcra = limits::Gcra::of(10, kSecond, 9, 0);
  std::mt19937_64 random(16);
  std::int64_t tat = 0;
  std::int64_t now = kSecond;
  // tokens * interval, so that refills stay exact.
  std::int64_t scaled_tokens = 10 * interval;
  for (int step = 0; step < 20000; ++step) {
    const std::int64_t advance = static_cast<std::int64_t>(random() % (interval * 3));
    now += advance;
    scaled_tokens = std::min(scaled_tokens + advance, 10 * interval);
    const std::uint64_t cost = 1 + random() % 10;
    const bool model = scaled_tokens >= static_cast<std::int64_t>(cost) * interval;
    const bool got =
        limits::gcra_step(tat, now, gcra_for_cost(gcra, cost)).verdict == limits::Verdict::allow;
    ASSERT_EQ(got, model) << "step " << step << " cost " << cost;
    if (model) scaled_tokens -= static_cast<std::int64_t>(cost) * interval;
  }
}

// --- the served head across threads ------------------------------------------------

TEST(JsonRpcRoute, TheServedHeadNeverGoesBackwardsAcrossThreads) {
  JsonRpcRouteState state;
  constexpr int kThreads = 4;
  constexpr int kSteps = 20000;
  std::vector<std::vector<std::pair<std::uint64_t, std::uint64_t>>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 random(static_cast<std::uint64_t>(t) + 1);
      std::uint64_t base = 0;
      for (int i = 0; i < kSteps; ++i) {
        base += random() % 3;  // a chain that moves, with nodes up to 20 blocks behind
        const std::uint64_t input = base - std::min<std::uint64_t>(base, random() % 20);
        seen[t].emplace_back(input, state.serve(input));
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  std::uint64_t highest_input = 0;
  std::vector<std::uint64_t> inputs;
  for (const auto& calls : seen) {
    std::uint64_t last = 0;
    for (const auto& [input, served] : calls) {
      ASSERT_GE(served, last) << "a thread saw the head go backwards";
      ASSERT_GE(served, input);
      last = served;
      highest_input = std::max(highest_input, input);
      inputs.push_back(input);
    }
  }
  // Every served value is some thread's input (the max of those seen at that moment).
  std::sort(inputs.begin(), inputs.end());
  for (const auto& calls : seen) {
    for (const auto& [input, served] : calls) {
      ASSERT_TRUE(std::binary_search(inputs.begin(), inputs.end(), served)) << served;
    }
  }
  EXPECT_EQ(state.served_head.load(), highest_input);
  EXPECT_EQ(state.serve(0), highest_input);
}

// --- snapshots ---------------------------------------------------------------------

TEST(JsonRpcRoute, SnapshotsResolveMethodRoutesAndArchiveToIndices) {
  Fixture f;
  const JsonRpcRouteRuntime& rpc = f.rpc();
  EXPECT_EQ(rpc.config, &*f.snapshot->config.listeners.at(0).routes.at(0).jsonrpc);
  EXPECT_EQ(rpc.target, f.pool("main"));
  ASSERT_EQ(rpc.method_routes.size(), 2u);
  EXPECT_EQ(rpc.method_routes[0].target, f.pool("tx"));
  EXPECT_EQ(rpc.method_routes[0].match, std::vector<std::string>{"eth_sendRawTransaction"});
  EXPECT_EQ(rpc.method_routes[1].target.split, 0u);
  EXPECT_EQ(f.snapshot->splits.at(rpc.method_routes[1].target.split).name, "canary");
  ASSERT_TRUE(rpc.archive.has_value());
  EXPECT_EQ(*rpc.archive, f.pool("archive"));
  ASSERT_NE(rpc.state, nullptr);

  const auto plain = build_snapshot(base_config(), 2, f.registry);
  EXPECT_EQ(plain->listeners.at(0).routes.at(0).jsonrpc, nullptr) << "a byte-exact route";
}

TEST(JsonRpcRoute, AConfigFileCompilesToTheSameTargets) {
  std::string file(kConfig);
  const std::string route_line = "  target = \"main\"\n";
  file.replace(file.find(route_line), route_line.size(),
               route_line +
                   "  jsonrpc = { archive = \"archive\", pin_latest = true }\n"
                   "  method_routes = [ { match = [\"eth_sendRawTransaction\"], target = \"tx\" },"
                   " { match = [\"trace_*\"], target = \"canary\" } ]\n");
  const conf::LoadResult loaded = conf::load_config_string(file, "jsonrpc.toml");
  ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
  BackendRegistry registry;
  const auto snapshot = build_snapshot(*loaded.config, 1, registry);
  const JsonRpcRouteRuntime& rpc = *snapshot->listeners.at(0).routes.at(0).jsonrpc;
  EXPECT_TRUE(rpc.config->pin_latest);
  ASSERT_EQ(rpc.method_routes.size(), 2u);
  EXPECT_EQ(rpc.method_routes[0].target, pool_target(*snapshot, "tx"));
  EXPECT_EQ(snapshot->splits.at(rpc.method_routes[1].target.split).name, "canary");
  EXPECT_EQ(rpc.archive, pool_target(*snapshot, "archive"));
}

TEST(JsonRpcRoute, ARouteToASplitHasTheSplitAsItsTarget) {
  conf::Config config = jsonrpc_config();
  config.listeners.at(0).routes.at(0).target = "canary";
  BackendRegistry registry;
  const auto snapshot = build_snapshot(std::move(config), 1, registry);
  const JsonRpcRouteRuntime& rpc = *snapshot->listeners.at(0).routes.at(0).jsonrpc;
  EXPECT_EQ(rpc.target.split, 0u);
}

TEST(JsonRpcRoute, TheServedHeadSurvivesAReloadAndGoesWithTheRoute) {
  BackendRegistry registry;
  auto first = build_snapshot(jsonrpc_config(), 1, registry);
  first->listeners.at(0).routes.at(0).jsonrpc->state->serve(1234);
  conf::JsonRpcRouteConfig changed;
  changed.pin_latest = true;
  auto second = build_snapshot(jsonrpc_config(changed), 2, registry);
  first.reset();
  registry.collect();
  const JsonRpcRouteRuntime& rpc = *second->listeners.at(0).routes.at(0).jsonrpc;
  EXPECT_EQ(rpc.state->served_head.load(), 1234u);
  EXPECT_TRUE(rpc.config->pin_latest);

  // A route with another path is another route: a state of its own.
  conf::Config moved = jsonrpc_config();
  moved.listeners.at(0).routes.at(0).path_prefix = "/rpc";
  auto third = build_snapshot(std::move(moved), 3, registry);
  EXPECT_EQ(third->listeners.at(0).routes.at(0).jsonrpc->state->served_head.load(), 0u);
  second.reset();
  registry.collect();
  auto fourth = build_snapshot(jsonrpc_config(), 4, registry);
  EXPECT_EQ(fourth->listeners.at(0).routes.at(0).jsonrpc->state->served_head.load(), 0u)
      << "forgotten once no snapshot had the route";
}

// --- assign_target -----------------------------------------------------------------

TEST(JsonRpcRoute, AssignTargetPicksInTheGivenPoolOrSplit) {
  Fixture f;
  auto view = std::make_unique<WorkerView>(f.snapshot, 0, 1, nullptr,
                                           [](const conf::SocketAddress&) { return 0u; });
  const std::string bytes = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
  http::RequestHead head;
  ASSERT_FALSE(http::parse_request_head(bytes, head));
  const Assignment tx = assign_target(*view, &f.route(), f.pool("tx"), head, "192.0.2.1");
  EXPECT_EQ(tx.route, &f.route());
  EXPECT_EQ(tx.split, nullptr);
  EXPECT_EQ(f.snapshot->pools[tx.pool].name, "tx");
  EXPECT_EQ(tx.backend, 0u);

  const RpcTarget canary{0, 0};
  for (int i = 0; i < 20; ++i) {
    const Assignment a = assign_target(*view, &f.route(), canary, head, "192.0.2.1");
    ASSERT_EQ(a.split, &f.snapshot->splits.at(0));
    const std::string& pool = f.snapshot->pools[a.pool].name;
    EXPECT_TRUE(pool == "blue" || pool == "green") << pool;
    EXPECT_EQ(f.snapshot->splits.at(0).pools[a.target], a.pool);
    EXPECT_TRUE(a.backend.has_value());
  }
}

}  // namespace
}  // namespace veer::runtime
