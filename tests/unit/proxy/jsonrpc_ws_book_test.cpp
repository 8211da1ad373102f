#include "proxy/jsonrpc_ws_book.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <random>
#include <set>
#include <string>

namespace veer::proxy::jsonrpc_ws {
namespace {
namespace json = boost::json;

std::string hex(std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(n));
  return buf;
}
std::uint64_t number(const json::value& v) {
  return std::stoull(std::string(v.as_string()).substr(2), nullptr, 16);
}

// A node of the shared chain: answers the calls the book sends and makes the
// notifications of its subscriptions. Block n's hash depends on the chain's fork
// number at n, so a reorg gives the top blocks new hashes.
struct Chain {
  std::uint64_t head = 100;
  std::map<std::uint64_t, int> fork;  // height -> fork it was made on
  std::string hash(std::uint64_t n) const {
    const auto it = fork.find(n);
    return "0xh" + std::to_string(n) + "f" + std::to_string(it == fork.end() ? 0 : it->second);
  }
  json::object block(std::uint64_t n) const { return {{"number", hex(n)}, {"hash", hash(n)}}; }
  json::object log(std::uint64_t n, bool removed = false) const {
    return {{"address", "0x01"}, {"blockNumber", hex(n)}, {"blockHash", hash(n)},
            {"logIndex", "0x0"}, {"removed", removed},    {"topics", json::array{hex(n)}}};
  }
};

struct Node {
  const Chain& chain;
  std::uint64_t next_sub = 1;
  std::map<std::string, std::string> subs;  // node id -> kind
  explicit Node(const Chain& c) : chain(c) {}

  // Answers every message of out.to_node into the book (and clears it).
  void serve(Book& book, Out& out, Out& client) {
    for (auto& m : out.to_client)  // the book's own answers
      client.to_client.push_back(std::move(m));
    out.to_client.clear();
    while (!out.to_node.empty()) {
      std::vector<std::string> calls;
      calls.swap(out.to_node);
      for (const std::string& text : calls) {
        json::object call = json::parse(text).as_object();
        json::object answer{{"jsonrpc", "2.0"}, {"id", call["id"]}};
        const std::string method(call["method"].as_string());
        json::array& params = call["params"].as_array();
        if (method == "eth_subscribe") {
          const std::string id = "0xnode" + std::to_string(next_sub++);
          subs[id] = std::string(params[0].as_string());
          answer["result"] = id;
        } else if (method == "eth_unsubscribe") {
          answer["result"] = subs.erase(std::string(params[0].as_string())) > 0;
        } else if (method == "eth_blockNumber") {
          answer["result"] = hex(chain.head);
        } else if (method == "eth_getBlockByNumber") {
          const std::uint64_t n = number(params[0]);
          answer["result"] = n <= chain.head ? json::value(chain.block(n)) : json::value(nullptr);
        } else if (method == "eth_getLogs") {
          json::array logs;
          for (std::uint64_t n = number(params[0].as_object()["fromBlock"]); n <= chain.head; ++n)
            logs.push_back(chain.log(n));
          answer["result"] = std::move(logs);
        } else {
          answer["result"] = "0x";
        }
        Out more;
        book.from_node(json::serialize(answer), more);
        take(more, out, client);
      }
    }
  }
  static void take(Out& from, Out& node, Out& client) {
    for (auto& m : from.to_node)
      node.to_node.push_back(std::move(m));
    for (auto& m : from.to_client)
      client.to_client.push_back(std::move(m));
  }
  // Pushes one notification of every subscription of `kind`.
  void notify(Book& book, const std::string& kind, const json::object& result, Out& out,
              Out& client) {
    for (const auto& [id, k] : subs) {
      if (k != kind) continue;
      json::object n{{"jsonrpc", "2.0"},
                     {"method", "eth_subscription"},
                     {"params", json::object{{"subscription", id}, {"result", result}}}};
      Out more;
      book.from_node(json::serialize(n), more);
      take(more, out, client);
    }
    serve(book, out, client);
  }
};

// What the client saw.
struct Seen {
  std::map<std::string, std::string> sub_ids;  // call id -> client subscription id
  std::vector<std::string> heads_sub;          // subscription id of each head
  std::vector<std::uint64_t> heads;
  std::vector<std::string> head_hashes;
  std::multiset<std::pair<std::string, bool>> logs;  // (blockHash, removed)
  std::vector<json::object> answers;

  void read(Out& client) {
    for (const std::string& text : client.to_client) {
      json::object o = json::parse(text).as_object();
      if (o.contains("method")) {
        json::object& params = o["params"].as_object();
        json::object& r = params["result"].as_object();
        const std::string sub(params["subscription"].as_string());
        if (r.contains("logIndex")) {
          logs.emplace(std::string(r["blockHash"].as_string()), r["removed"].as_bool());
        } else {
          heads_sub.push_back(sub);
          heads.push_back(number(r["number"]));
          head_hashes.emplace_back(r["hash"].as_string());
        }
      } else {
        answers.push_back(o);
      }
    }
    client.to_client.clear();
  }
};

std::string subscribe(int id, std::string_view kind) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"eth_subscribe","params":[")" + std::string(kind) + R"("]})";
}

TEST(JsonRpcWsBook, SubscriptionIdsAreVeersBothWays) {
  Chain chain;
  Node node(chain);
  Book book(100, 1);
  Out out, client;
  book.from_client(subscribe(7, "newHeads"), out);
  node.serve(book, out, client);
  ASSERT_EQ(client.to_client.size(), 1u);
  json::object answer = json::parse(client.to_client[0]).as_object();
  EXPECT_EQ(answer["id"], 7);
  const std::string id(answer["result"].as_string());
  EXPECT_EQ(id.size(), 34u);
  EXPECT_NE(id, "0xnode1");
  client.to_client.clear();
  ++chain.head;
  node.notify(book, "newHeads", chain.block(chain.head), out, client);
  ASSERT_EQ(client.to_client.size(), 1u);
  EXPECT_NE(client.to_client[0].find(id), std::string::npos);
  client.to_client.clear();
  book.from_client(
      R"({"jsonrpc":"2.0","id":"u","method":"eth_unsubscribe","params":[")" + id + R"("]})", out);
  ASSERT_EQ(out.to_node.size(), 1u);
  EXPECT_NE(out.to_node[0].find("0xnode1"), std::string::npos);
  node.serve(book, out, client);
  EXPECT_EQ(json::parse(client.to_client.at(0)).as_object()["result"], true);
  EXPECT_EQ(book.subscriptions(), 0u);
}

TEST(JsonRpcWsBook, CallsKeepTheClientsIdsAndFailWithThemWhenTheNodeDies) {
  Book book(100, 1);
  Out out;
  book.from_client(R"({"jsonrpc":"2.0","id":"abc","method":"eth_chainId","params":[]})", out);
  book.from_client(
      R"([{"jsonrpc":"2.0","id":1,"method":"eth_call"},{"jsonrpc":"2.0","id":2,"method":"net_version"}])",
      out);
  ASSERT_EQ(out.to_node.size(), 3u);
  EXPECT_EQ(out.to_node[0].find("abc"), std::string::npos);
  Out lost;
  EXPECT_TRUE(book.node_lost(lost));
  ASSERT_EQ(lost.to_client.size(), 2u);  // the single call's answer, the batch's array
  std::set<std::string> ids;
  for (const std::string& text : lost.to_client) {
    json::value v = json::parse(text);
    json::array items = v.is_array() ? v.as_array() : json::array{v};
    for (json::value& item : items) {
      json::object& o = item.as_object();
      EXPECT_EQ(o["error"].as_object()["code"], -32603);
      ids.insert(json::serialize(o["id"]));
    }
  }
  EXPECT_EQ(ids, (std::set<std::string>{R"("abc")", "1", "2"}));
  EXPECT_EQ(book.client_calls_pending(), 0u);
}

// A node that answers the calls of out.to_node in reverse order, echoing the method.
void answer_reversed(Book& book, Out& out) {
  std::vector<std::string> calls;
  calls.swap(out.to_node);
  for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
    json::object call = json::parse(*it).as_object();
    json::object answer{{"jsonrpc", "2.0"}, {"id", call["id"]}, {"result", call["method"]}};
    book.from_node(json::serialize(answer), out);
  }
}

TEST(JsonRpcWsBook, ABatchIsAnsweredWithOneArrayInTheClientsOrder) {
  Book book(100, 1);
  book.set_policy([](std::string_view text) {
    Verdict v;
    const json::object call = json::parse(text).as_object();
    if (call.at("method") == "admin_addPeer" && call.contains("id")) {
      v.kind = Verdict::Kind::answer;
      v.answer = error_answer(call.at("id"), -32601, "method not allowed: admin_addPeer");
    } else if (call.at("method") == "admin_addPeer") {
      v.kind = Verdict::Kind::drop;
    }
    return v;
  });
  Out out;
  book.from_client(R"([{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},)"
                   R"({"jsonrpc":"2.0","id":2,"method":"admin_addPeer"},)"
                   R"({"jsonrpc":"2.0","method":"admin_addPeer"},)"
                   R"({"jsonrpc":"2.0","method":"eth_foo"},)"
                   R"(7,)"
                   R"({"jsonrpc":"2.0","id":"x","method":"net_version"}])",
                   out);
  EXPECT_TRUE(out.to_client.empty());  // not before the last answer
  ASSERT_EQ(out.to_node.size(), 3u);   // eth_chainId, the eth_foo notification, net_version
  answer_reversed(book, out);
  ASSERT_EQ(out.to_client.size(), 1u);
  const json::array answers = json::parse(out.to_client[0]).as_array();
  ASSERT_EQ(answers.size(), 4u);  // notifications get no answer
  EXPECT_EQ(answers[0].at("id"), 1);
  EXPECT_EQ(answers[0].at("result"), "eth_chainId");
  EXPECT_EQ(answers[1].at("id"), 2);
  EXPECT_EQ(answers[1].at("error").at("code"), -32601);
  EXPECT_EQ(answers[2].at("error").at("code"), -32600);
  EXPECT_EQ(answers[3].at("id"), "x");
  EXPECT_EQ(answers[3].at("result"), "net_version");

  // All local, and only notifications.
  out = Out{};
  book.from_client(R"([{"jsonrpc":"2.0","id":3,"method":"admin_addPeer"}])", out);
  ASSERT_EQ(out.to_client.size(), 1u);
  EXPECT_EQ(json::parse(out.to_client[0]).as_array().at(0).at("id"), 3);
  EXPECT_TRUE(out.to_node.empty());
  out = Out{};
  book.from_client(R"([{"jsonrpc":"2.0","method":"eth_foo"}])", out);
  EXPECT_TRUE(out.to_client.empty());
  EXPECT_EQ(out.to_node.size(), 1u);
}

TEST(JsonRpcWsBook, ThePolicyAnswersSingleCallsLocallyWithTheClientsId) {
  Book book(100, 1);
  book.set_policy([](std::string_view text) {
    Verdict v;
    const json::object call = json::parse(text).as_object();
    if (call.at("method") == "eth_accounts") {
      v.kind = Verdict::Kind::answer;
      v.answer = R"({"jsonrpc":"2.0","id":)" + json::serialize(call.at("id")) + R"(,"result":[]})";
    }
    return v;
  });
  Out out;
  book.from_client(R"({"jsonrpc":"2.0","id":"q","method":"eth_accounts","params":[]})", out);
  EXPECT_TRUE(out.to_node.empty());
  ASSERT_EQ(out.to_client.size(), 1u);
  EXPECT_EQ(json::parse(out.to_client[0]).at("id"), "q");
  EXPECT_TRUE(json::parse(out.to_client[0]).at("result").as_array().empty());
}

TEST(JsonRpcWsBook, CallsInFlightAreCapped) {
  Book book(100, 1, 3);
  Out out;
  for (int i = 1; i <= 5; ++i)
    book.from_client(
        R"({"jsonrpc":"2.0","id":)" + std::to_string(i) + R"(,"method":"eth_chainId"})", out);
  EXPECT_EQ(out.to_node.size(), 3u);
  EXPECT_EQ(book.client_calls_pending(), 3u);
  ASSERT_EQ(out.to_client.size(), 2u);
  for (const std::string& text : out.to_client)
    EXPECT_EQ(json::parse(text).at("error").at("code"), -32005);
  out.to_client.clear();
  answer_reversed(book, out);
  EXPECT_EQ(out.to_client.size(), 3u);
  EXPECT_EQ(book.client_calls_pending(), 0u);
  book.from_client(R"({"jsonrpc":"2.0","id":9,"method":"eth_chainId"})", out);
  EXPECT_EQ(out.to_node.size(), 1u);
}

TEST(JsonRpcWsBook, MaxSubscriptionsAnswersMinus32005) {
  Chain chain;
  Node node(chain);
  Book book(2, 1);
  Out out, client;
  for (int i = 1; i <= 3; ++i)
    book.from_client(subscribe(i, "newHeads"), out);
  node.serve(book, out, client);
  Seen seen;
  seen.read(client);
  ASSERT_EQ(seen.answers.size(), 3u);
  int refused = 0;
  for (json::object& a : seen.answers)
    if (a.contains("error")) {
      EXPECT_EQ(a["error"].as_object()["code"], -32005);
      EXPECT_EQ(a["id"], 3);
      ++refused;
    }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(book.subscriptions(), 2u);
}

TEST(JsonRpcWsBook, UnknownKindsCannotFailOver) {
  Book book(100, 1);
  Out out;
  book.from_client(subscribe(1, "someVendorThing"), out);
  Out answer;
  book.from_node(R"({"jsonrpc":"2.0","id":1,"result":"0xnode9"})", answer);
  ASSERT_EQ(book.subscriptions(), 1u);
  Out lost;
  EXPECT_FALSE(book.node_lost(lost));
}

TEST(JsonRpcWsBook, ResubscribeFillsTheHeadGapWithTheSameId) {
  Chain chain;
  Book book(100, 1);
  Out out, client;
  Seen seen;
  {
    Node a(chain);
    book.from_client(subscribe(1, "newHeads"), out);
    a.serve(book, out, client);
    for (int i = 0; i < 3; ++i) {
      ++chain.head;
      a.notify(book, "newHeads", chain.block(chain.head), out, client);
    }
    seen.read(client);
  }
  Out lost;
  ASSERT_TRUE(book.node_lost(lost));
  chain.head += 5;  // blocks nobody delivered while failing over
  Node b(chain);
  book.node_connected(out);
  b.serve(book, out, client);
  ++chain.head;
  b.notify(book, "newHeads", chain.block(chain.head), out, client);
  seen.read(client);
  ASSERT_EQ(seen.heads.size(), 9u);
  for (std::size_t i = 0; i < seen.heads.size(); ++i) {
    EXPECT_EQ(seen.heads[i], 101 + i);
    EXPECT_EQ(seen.heads_sub[i], seen.heads_sub[0]);
  }
  EXPECT_EQ(book.counters().resubscribes, 1u);
  EXPECT_EQ(book.counters().gap_filled_blocks, 5u);
}

TEST(JsonRpcWsBook, HeadsNeverGoBackExceptAReorgAtTheSameHeight) {
  Chain chain;
  Node node(chain);
  Book book(100, 1);
  Out out, client;
  Seen seen;
  book.from_client(subscribe(1, "newHeads"), out);
  node.serve(book, out, client);
  node.notify(book, "newHeads", chain.block(105), out, client);
  node.notify(book, "newHeads", chain.block(104), out, client);  // lower: dropped
  node.notify(book, "newHeads", chain.block(105), out, client);  // same: dropped
  chain.fork[105] = 1;
  node.notify(book, "newHeads", chain.block(105), out, client);  // reorg: delivered
  seen.read(client);
  EXPECT_EQ(seen.heads, (std::vector<std::uint64_t>{105, 105}));
  EXPECT_NE(seen.head_hashes[0], seen.head_hashes[1]);
}

TEST(JsonRpcWsBook, ReorgedLogsAreSentAgainAsRemoved) {
  Chain chain;
  Node node(chain);
  Book book(100, 1);
  Out out, client;
  Seen seen;
  book.from_client(subscribe(1, "logs"), out);
  node.serve(book, out, client);
  for (std::uint64_t n = 101; n <= 104; ++n)
    node.notify(book, "logs", chain.log(n), out, client);
  node.notify(book, "logs", chain.log(104), out, client);  // a duplicate
  chain.fork[103] = chain.fork[104] = 1;
  node.notify(book, "logs", chain.log(103), out, client);  // the new 103: old 103, 104 removed
  node.notify(book, "logs", chain.log(104), out, client);
  seen.read(client);
  EXPECT_EQ(seen.logs.size(), 8u);
  EXPECT_EQ(seen.logs.count({"0xh103f0", true}), 1u);
  EXPECT_EQ(seen.logs.count({"0xh104f0", true}), 1u);
  EXPECT_EQ(seen.logs.count({"0xh104f0", false}), 1u);
  EXPECT_EQ(seen.logs.count({"0xh103f1", false}), 1u);
  // A node that reports the removal itself (as geth does) causes no second removal.
  chain.fork[104] = 2;
  node.notify(book, "logs", json::object(chain.log(104)), out, client);
  seen.read(client);
  EXPECT_EQ(seen.logs.count({"0xh104f1", true}), 1u);
}

// A model test: a chain growing by one block per step, with random failovers (the new
// node at the same or a later head, sometimes more blocks made while failing over) and
// random duplicate or stale notifications. The client sees every height exactly once,
// in order, with one subscription id, and each block's log exactly once.
TEST(JsonRpcWsBook, RandomFailoverModel) {
  std::mt19937 rng(16);
  for (int round = 0; round < 20; ++round) {
    Chain chain;
    Book book(100, static_cast<std::uint64_t>(round));
    Out out, client;
    Seen seen;
    auto node = std::make_unique<Node>(chain);
    book.from_client(subscribe(1, "newHeads"), out);
    book.from_client(subscribe(2, "logs"), out);
    node->serve(book, out, client);
    const std::uint64_t start = chain.head;
    for (int step = 0; step < 300; ++step) {
      const unsigned r = rng() % 20;
      if (r == 0) {
        Out lost;
        ASSERT_TRUE(book.node_lost(lost));
        chain.head += rng() % 4;  // made while nobody listened
        node = std::make_unique<Node>(chain);
        book.node_connected(out);
        // Sometimes a notification arrives before the gap is filled.
        if (rng() % 2 == 0) {
          std::vector<std::string> calls;
          calls.swap(out.to_node);
          for (const std::string& c : calls) {
            Out one;
            one.to_node.push_back(c);
            node->serve(book, one, client);
          }
        }
        node->serve(book, out, client);
        continue;
      }
      if (r == 1 && chain.head > start) {  // a stale repeat
        node->notify(book, "newHeads", chain.block(chain.head - rng() % 2), out, client);
        node->notify(book, "logs", chain.log(chain.head), out, client);
        continue;
      }
      ++chain.head;
      node->notify(book, "newHeads", chain.block(chain.head), out, client);
      node->notify(book, "logs", chain.log(chain.head), out, client);
    }
    seen.read(client);
    ASSERT_EQ(seen.heads.size(), chain.head - start) << round;
    for (std::size_t i = 0; i < seen.heads.size(); ++i) {
      ASSERT_EQ(seen.heads[i], start + 1 + i) << round;
      ASSERT_EQ(seen.heads_sub[i], seen.heads_sub[0]);
    }
    ASSERT_EQ(seen.logs.size(), chain.head - start);
    for (std::uint64_t n = start + 1; n <= chain.head; ++n)
      ASSERT_EQ(seen.logs.count({chain.hash(n), false}), 1u) << n;
  }
}

}  // namespace
}  // namespace veer::proxy::jsonrpc_ws
