#include "http/jsonrpc.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <random>
#include <string>
#include <vector>

namespace veer::http::jsonrpc {
namespace {

std::string text_of(const core::Buffer& b) {
  return std::string(b.readable());
}

Request parsed(std::string_view body, std::size_t max_batch = 100) {
  Request r;
  parse_request(body, max_batch, r);
  return r;
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

TEST(JsonRpcRequest, Single) {
  const std::string body =
      R"( {"jsonrpc":"2.0","method":"eth_call","params":[{"to":"0x1"},"latest"],"id":7} )";
  const Request r = parsed(body);
  EXPECT_EQ(r.error, 0);
  EXPECT_FALSE(r.batch);
  ASSERT_EQ(r.calls.size(), 1u);
  const Call& c = r.calls[0];
  EXPECT_EQ(c.error, 0);
  EXPECT_EQ(c.method, "eth_call");
  EXPECT_EQ(c.id, "7");
  EXPECT_EQ(c.params, R"([{"to":"0x1"},"latest"])");
  EXPECT_EQ(c.text, body.substr(1, body.size() - 2));
  EXPECT_FALSE(c.notification);
  EXPECT_TRUE(inside(c.text, body) && inside(c.params, body) && inside(c.method, body));
}

TEST(JsonRpcRequest, Batch) {
  const std::string body =
      R"([{"jsonrpc":"2.0","method":"a","id":1}, {"jsonrpc":"2.0","method":"b","id":"x","params":{}}])";
  const Request r = parsed(body);
  EXPECT_EQ(r.error, 0);
  EXPECT_TRUE(r.batch);
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].method, "a");
  EXPECT_EQ(r.calls[0].params, "");
  EXPECT_EQ(r.calls[1].id, R"("x")");
  EXPECT_EQ(r.calls[1].params, "{}");
  EXPECT_EQ(r.calls[1].text, R"({"jsonrpc":"2.0","method":"b","id":"x","params":{}})");
}

TEST(JsonRpcRequest, Notification) {
  const Request r = parsed(R"({"jsonrpc":"2.0","method":"eth_subscribe","params":[]})");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_TRUE(r.calls[0].notification);
  EXPECT_EQ(r.calls[0].id, "null");
  EXPECT_EQ(r.calls[0].error, 0);
  const Request with_null = parsed(R"({"jsonrpc":"2.0","method":"m","id":null})");
  EXPECT_FALSE(with_null.calls[0].notification) << "an explicit null id is answered";
}

TEST(JsonRpcRequest, InvalidItemsInsideABatch) {
  const Request r = parsed(
      R"([1, "x", {"jsonrpc":"1.0","method":"a","id":1}, {"jsonrpc":"2.0","id":2},)"
      R"( {"jsonrpc":"2.0","method":5,"id":3}, {"jsonrpc":"2.0","method":"a","params":3,"id":4},)"
      R"( {"jsonrpc":"2.0","method":"a","id":true}, {"jsonrpc":"2.0","method":"ok","id":9},)"
      R"( {"method":"a","id":10}, {"jsonrpc":"2.0","method":"a b","id":11}, [] ])");
  EXPECT_EQ(r.error, 0);
  ASSERT_EQ(r.calls.size(), 11u);
  for (std::size_t i = 0; i < r.calls.size(); ++i) {
    const Call& c = r.calls[i];
    if (i == 7) {
      EXPECT_EQ(c.error, 0);
      EXPECT_EQ(c.method, "ok");
      continue;
    }
    EXPECT_EQ(c.error, kInvalidRequest) << i;
    EXPECT_EQ(c.method, "") << i;
    EXPECT_FALSE(c.notification) << i << ": an invalid request is answered";
  }
  EXPECT_EQ(r.calls[0].text, "1");
  EXPECT_EQ(r.calls[0].id, "null");
  EXPECT_EQ(r.calls[2].id, "1") << "a usable id is kept for the error";
  EXPECT_EQ(r.calls[6].id, "null") << "true is no id";
  EXPECT_EQ(r.calls[10].text, "[]");
}

TEST(JsonRpcRequest, EmptyBatchAndScalars) {
  for (const char* body : {"[]", " [ ] ", "1", "\"x\"", "null", "true"}) {
    const Request r = parsed(body);
    EXPECT_EQ(r.error, kInvalidRequest) << body;
    EXPECT_TRUE(r.calls.empty()) << body;
  }
}

TEST(JsonRpcRequest, TooMany) {
  std::string body = "[";
  for (int i = 0; i < 12; ++i)
    body += (i ? "," : "") + std::string(R"({"jsonrpc":"2.0","method":"m","id":)") +
            std::to_string(i) + "}";
  body += "]";
  Request r;
  EXPECT_TRUE(parse_request(body, 10, r).too_many);
  EXPECT_EQ(r.error, 0);
  ASSERT_EQ(r.calls.size(), 11u);
  EXPECT_EQ(r.calls[10].id, "10");
  EXPECT_FALSE(parse_request(body, 12, r).too_many);
  EXPECT_EQ(r.calls.size(), 12u);
  // A malformed document is a parse error, however long.
  EXPECT_FALSE(parse_request(body + ",", 10, r).too_many);
  EXPECT_EQ(r.error, kParseError);
}

TEST(JsonRpcRequest, DuplicateMembers) {
  for (const char* body : {
           R"({"jsonrpc":"2.0","method":"a","method":"b","id":1})",
           R"({"jsonrpc":"2.0","jsonrpc":"2.0","method":"a","id":1})",
           R"({"jsonrpc":"2.0","method":"a","params":[],"params":[],"id":1})",
           R"({"jsonrpc":"2.0","method":"a","id":1,"id":2})",
           R"({"jsonrpc":"2.0","method":"a","id":1,"\u0069d":2})",
           R"({"jsonrpc":"2.0","method":"a","\u006dethod":"b","id":1})",
       }) {
    const Request r = parsed(body);
    ASSERT_EQ(r.calls.size(), 1u) << body;
    EXPECT_EQ(r.calls[0].error, kInvalidRequest) << body;
  }
  EXPECT_EQ(parsed(R"({"jsonrpc":"2.0","method":"a","id":1,"id":2})").calls[0].id, "null");
  EXPECT_EQ(parsed(R"({"jsonrpc":"2.0","method":"a","method":"b","id":1})").calls[0].id, "1");
  EXPECT_EQ(parsed(R"({"jsonrpc":"2.0","method":"a","x":1,"x":2,"id":1})").calls[0].error, 0)
      << "other members are not ours to police";
}

TEST(JsonRpcRequest, Version) {
  EXPECT_EQ(parsed(R"({"jsonrpc":"2.0","method":"a","id":1})").calls[0].error, 0);
  EXPECT_EQ(parsed(R"({"jsonrpc":"2\u002e0","method":"a","id":1})").calls[0].error, 0);
  for (const char* v : {R"("1.0")", R"(2.0)", R"("2.00")", R"("")", "null", R"(["2.0"])"}) {
    const std::string body = std::string(R"({"jsonrpc":)") + v + R"(,"method":"a","id":1})";
    EXPECT_EQ(parsed(body).calls[0].error, kInvalidRequest) << body;
  }
}

TEST(JsonRpcRequest, NestedParams) {
  const std::string body =
      R"({"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x1",)"
      R"("toBlock":"latest","topics":[["0xa","0xb"],null,{"x":[1,2,{"y":"]"}]}]}]})";
  const Request r = parsed(body);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].error, 0);
  const auto filter = param(r.calls[0].params, 0);
  ASSERT_TRUE(filter);
  EXPECT_EQ(member(*filter, "toBlock"), R"("latest")");
  EXPECT_EQ(member(*filter, "fromBlock"), R"("0x1")");
  EXPECT_EQ(member(*filter, "topics"), R"([["0xa","0xb"],null,{"x":[1,2,{"y":"]"}]}])");
  EXPECT_FALSE(member(*filter, "address"));
  EXPECT_FALSE(param(r.calls[0].params, 1));
}

TEST(JsonRpcRequest, EscapedStrings) {
  const std::string body =
      "{\"jsonrpc\":\"2.0\",\"method\":\"eth_call\",\"id\":\"a\\\"b\\\\\\u00e9\\ud83d\\ude00\","
      "\"params\":[\"caf\xc3\xa9\",\"\\n\\t\\/\"]}";
  const Request r = parsed(body);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].error, 0);
  EXPECT_EQ(r.calls[0].id, "\"a\\\"b\\\\\\u00e9\\ud83d\\ude00\"");
  EXPECT_EQ(param(r.calls[0].params, 1), "\"\\n\\t\\/\"");
  EXPECT_EQ(parsed(R"({"jsonrpc":"2.0","method":"eth_c\u0061ll","id":1})").calls[0].error,
            kInvalidRequest)
      << "an escaped method name is refused, not guessed";
  // Lone surrogates, bad escapes, bad UTF-8, raw control characters: not JSON.
  for (const std::string& bad :
       {std::string(R"({"id":"\ud800"})"), std::string(R"({"id":"\x"})"),
        std::string("{\"id\":\"\xc3\"}"), std::string("{\"id\":\"\xc0\xaf\"}"),
        std::string("{\"id\":\"\x01\"}"), std::string(R"({"id":"\udc00"})")}) {
    EXPECT_EQ(parsed(bad).error, kParseError) << bad;
  }
}

TEST(JsonRpcRequest, DeepNestingIsRefused) {
  const auto nested = [](unsigned levels) {
    return std::string(R"({"jsonrpc":"2.0","method":"a","id":1,"params":)") +
           std::string(levels, '[') + std::string(levels, ']') + "}";
  };
  EXPECT_EQ(parsed(nested(kMaxDepth - 1)).error, 0);
  EXPECT_EQ(parsed(nested(kMaxDepth)).error, kParseError);
  EXPECT_EQ(parsed(nested(100000)).error, kParseError) << "no stack overflow";
}

TEST(JsonRpcRequest, TruncatedBodies) {
  const std::string body =
      R"([{"jsonrpc":"2.0","method":"eth_call","params":[{"to":"0x1","data":"0xab"},"latest"],"id":1},)"
      R"({"jsonrpc":"2.0","method":"eth_blockNumber","id":"two"}])";
  for (std::size_t n = 0; n < body.size(); ++n) {
    Request r;
    parse_request(body.substr(0, n), 100, r);
    EXPECT_EQ(r.error, kParseError) << n;
    EXPECT_TRUE(r.calls.empty()) << n;
  }
  EXPECT_EQ(parsed(body).calls.size(), 2u);
  EXPECT_EQ(parsed(body + "x").error, kParseError) << "trailing bytes";
  EXPECT_EQ(parsed(body + body).error, kParseError) << "two documents";
}

TEST(JsonRpcRequest, IdsOfEveryType) {
  const std::pair<const char*, const char*> cases[] = {
      {"1", "1"},      {"-1.5e3", "-1.5e3"},   {R"("abc")", R"("abc")"}, {"null", "null"},
      {"0", "0"},      {R"("")", R"("")"},     {"true", "null"},         {"false", "null"},
      {"[1]", "null"}, {R"({"a":1})", "null"},
  };
  for (const auto& [id, expected] : cases) {
    const std::string body = std::string(R"({"jsonrpc":"2.0","method":"m","id":)") + id + "}";
    const Request r = parsed(body);
    ASSERT_EQ(r.calls.size(), 1u) << id;
    EXPECT_EQ(r.calls[0].id, expected) << id;
    EXPECT_EQ(r.calls[0].error, std::string_view(id) == expected ? 0 : kInvalidRequest) << id;
  }
}

TEST(JsonRpcRequest, ScratchIsReused) {
  Request r;
  parse_request(R"([{"jsonrpc":"2.0","method":"a","id":1},{"jsonrpc":"2.0","method":"b","id":2}])",
                100, r);
  const std::size_t capacity = r.calls.capacity();
  parse_request(R"({"jsonrpc":"2.0","method":"c","id":3})", 100, r);
  EXPECT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls.capacity(), capacity);
  EXPECT_FALSE(r.batch);
}

Response replied(std::string_view body) {
  Response r;
  parse_response(body, r);
  return r;
}

TEST(JsonRpcResponse, ResultErrorBothNeither) {
  const Response ok = replied(R"({"jsonrpc":"2.0","id":1,"result":"0x10"})");
  ASSERT_TRUE(ok.valid);
  ASSERT_EQ(ok.replies.size(), 1u);
  EXPECT_EQ(ok.replies[0].result, R"("0x10")");
  EXPECT_EQ(ok.replies[0].id, "1");
  EXPECT_FALSE(ok.replies[0].has_error);

  const Response null_result = replied(R"({"jsonrpc":"2.0","id":1,"result":null})");
  ASSERT_TRUE(null_result.valid);
  EXPECT_EQ(null_result.replies[0].result, "null");

  const Response err = replied(
      R"({"jsonrpc":"2.0","id":"a","error":{"code":-32000,"message":"header not found","data":{"x":1}}})");
  ASSERT_TRUE(err.valid);
  const Reply& e = err.replies[0];
  EXPECT_TRUE(e.has_error);
  EXPECT_EQ(e.error_code, -32000);
  EXPECT_EQ(e.error_message, "header not found");
  EXPECT_EQ(e.error_data, R"({"x":1})");
  EXPECT_EQ(e.result, "");
  EXPECT_EQ(e.id, R"("a")");

  EXPECT_FALSE(
      replied(R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}})").valid);
  EXPECT_FALSE(replied(R"({"jsonrpc":"2.0","id":1})").valid);
  EXPECT_TRUE(replied(R"({"jsonrpc":"2.0","id":1,"result":1,"error":null})").valid);
  EXPECT_FALSE(replied(R"({"jsonrpc":"2.0","id":1,"error":{"message":"x"}})").valid) << "no code";
  EXPECT_FALSE(replied(R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"x"}})").valid);
  EXPECT_FALSE(replied(R"({"jsonrpc":"2.0","id":1,"error":"boom"})").valid);
  EXPECT_FALSE(replied(R"({"jsonrpc":"2.0","id":1,"result":1,"result":2})").valid);
  EXPECT_FALSE(replied(R"({"jsonrpc":"2.0","id":1,"result":1)").valid) << "truncated";
  EXPECT_FALSE(replied("").valid);
  EXPECT_FALSE(replied("[]").valid);
  EXPECT_FALSE(replied("[1]").valid);
  EXPECT_FALSE(replied("\"x\"").valid);
}

TEST(JsonRpcResponse, Batch) {
  const Response r = replied(
      R"([{"jsonrpc":"2.0","id":1,"result":"0x1"},)"
      R"( {"jsonrpc":"2.0","id":2,"error":{"code":3,"message":"execution reverted","data":"0x08c3"}}])");
  ASSERT_TRUE(r.valid);
  EXPECT_TRUE(r.batch);
  ASSERT_EQ(r.replies.size(), 2u);
  EXPECT_EQ(r.replies[1].error_code, 3);
  EXPECT_EQ(r.replies[1].error_data, R"("0x08c3")");
  EXPECT_FALSE(replied(R"([{"jsonrpc":"2.0","id":1,"result":"0x1"},{"id":2}])").valid)
      << "one bad item spoils the batch";
  EXPECT_FALSE(replied(R"([{"jsonrpc":"2.0","id":1,"result":"0x1"},)").valid);
}

TEST(JsonRpcParams, ParamAndMember) {
  EXPECT_EQ(param(R"([ "0x1" , true , {"a":[1]} ])", 0), R"("0x1")");
  EXPECT_EQ(param(R"([ "0x1" , true , {"a":[1]} ])", 1), "true");
  EXPECT_EQ(param(R"([ "0x1" , true , {"a":[1]} ])", 2), R"({"a":[1]})");
  EXPECT_FALSE(param(R"([ "0x1" ])", 1));
  EXPECT_FALSE(param("[]", 0));
  EXPECT_FALSE(param(R"({"a":1})", 0));
  EXPECT_FALSE(param("", 0));
  EXPECT_EQ(member(R"({"a":1,"b":[2],"c":"3"})", "b"), "[2]");
  EXPECT_EQ(member(R"({"a":1,"a":2})", "a"), "2") << "the last one, as geth reads it";
  EXPECT_EQ(member(R"({"\u0061":1})", "a"), "1");
  EXPECT_FALSE(member("[1]", "a"));
  EXPECT_FALSE(member(R"({"a":1)", "a"));
}

TEST(JsonRpcParams, Quantities) {
  EXPECT_EQ(parse_quantity(R"("0x0")"), 0u);
  EXPECT_EQ(parse_quantity(R"("0x1a")"), 26u);
  EXPECT_EQ(parse_quantity(R"("0xFF")"), 255u);
  EXPECT_EQ(parse_quantity(R"("0xffffffffffffffff")"), UINT64_MAX);
  for (const char* bad : {R"("0x")", R"("0x01")", R"("0x00")", R"("1a")", "26", R"("0x1g")",
                          R"("0x10000000000000000")", R"("-0x1")", "", R"("0x1)"}) {
    EXPECT_FALSE(parse_quantity(bad)) << bad;
  }
  for (const std::uint64_t v :
       {0ull, 1ull, 15ull, 16ull, 0x1a2bull, 0x8000000000000000ull, 0xffffffffffffffffull}) {
    core::Buffer out;
    append_quantity(out, v);
    EXPECT_EQ(parse_quantity(out.readable()), v) << text_of(out);
  }
  core::Buffer out;
  append_quantity(out, 26);
  EXPECT_EQ(text_of(out), R"("0x1a")");
}

TEST(JsonRpcParams, BlockRefs) {
  using Kind = BlockRef::Kind;
  const auto kind = [](std::string_view raw) { return parse_block_ref(raw)->kind; };
  EXPECT_EQ(kind(R"("latest")"), Kind::latest);
  EXPECT_EQ(kind(R"("pending")"), Kind::pending);
  EXPECT_EQ(kind(R"("earliest")"), Kind::earliest);
  EXPECT_EQ(kind(R"("safe")"), Kind::safe);
  EXPECT_EQ(kind(R"("finalized")"), Kind::finalized);
  EXPECT_EQ(parse_block_ref(R"("0x1a")")->number, 26u);
  EXPECT_EQ(kind(R"("0x1a")"), Kind::number);
  EXPECT_EQ(parse_block_ref(R"({"blockNumber":"0x10"})")->number, 16u);
  EXPECT_EQ(kind(R"({"blockNumber":"latest"})"), Kind::latest);
  const std::string hash = "\"0x" + std::string(64, 'a') + "\"";
  EXPECT_EQ(kind(hash), Kind::hash);
  EXPECT_EQ(kind(R"({"blockHash":)" + hash + R"(,"requireCanonical":true})"), Kind::hash);
  for (const std::string& bad :
       {std::string(R"("Latest")"), std::string("26"), std::string(R"({})"),
        std::string(R"({"blockHash":"0x1"})"), std::string(R"({"blockNumber":)" + hash + "}"),
        std::string(R"({"blockNumber":"0x1","blockHash":)" + hash + "}"), std::string("null"),
        std::string(R"("0x01")")}) {
    EXPECT_FALSE(parse_block_ref(bad)) << bad;
  }
}

TEST(JsonRpcWriters, Errors) {
  core::Buffer out;
  append_error(out, "7", kLimitExceeded, "too \"many\"\n");
  EXPECT_EQ(text_of(out),
            R"({"jsonrpc":"2.0","id":7,"error":{"code":-32005,"message":"too \"many\"\u000a"}})");
  out.clear();
  append_error(out, R"("a")", kLimitExceeded, "range", R"({"limit":10000})");
  EXPECT_EQ(
      text_of(out),
      R"({"jsonrpc":"2.0","id":"a","error":{"code":-32005,"message":"range","data":{"limit":10000}}})");
  Response back;
  parse_response(out.readable(), back);
  ASSERT_TRUE(back.valid);
  EXPECT_EQ(back.replies[0].error_code, kLimitExceeded);
  EXPECT_EQ(back.replies[0].error_data, R"({"limit":10000})");
  out.clear();
  append_result(out, "null", "[]");
  EXPECT_EQ(text_of(out), R"({"jsonrpc":"2.0","id":null,"result":[]})");
}

TEST(JsonRpcWriters, WithParam) {
  const auto pinned = [](std::string_view body, std::size_t index) {
    const Request r = parsed(body);
    core::Buffer out;
    append_with_param(out, r.calls.at(0), index, R"("0x64")");
    return text_of(out);
  };
  EXPECT_EQ(
      pinned(R"({"jsonrpc":"2.0","method":"eth_getBalance","params":["0xab", "latest"],"id":1})",
             1),
      R"({"jsonrpc":"2.0","method":"eth_getBalance","params":["0xab", "0x64"],"id":1})");
  EXPECT_EQ(pinned(R"({"jsonrpc":"2.0","method":"eth_call","params":[{"to":"0x1"}],"id":1})", 1),
            R"({"jsonrpc":"2.0","method":"eth_call","params":[{"to":"0x1"},"0x64"],"id":1})")
      << "an absent block param is added";
  EXPECT_EQ(pinned(R"({"jsonrpc":"2.0","method":"eth_getBlockByNumber","params":[ ],"id":1})", 0),
            R"({"jsonrpc":"2.0","method":"eth_getBlockByNumber","params":[ "0x64"],"id":1})");
  EXPECT_EQ(pinned(R"({"jsonrpc":"2.0","method":"m","params":[],"id":1})", 2),
            R"({"jsonrpc":"2.0","method":"m","params":[],"id":1})")
      << "a gap is not filled";
}

TEST(JsonRpcGlob, Matches) {
  EXPECT_TRUE(glob_match("eth_*", "eth_call"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("eth_call", "eth_call"));
  EXPECT_FALSE(glob_match("eth_call", "eth_calls"));
  EXPECT_FALSE(glob_match("eth_*", "debug_x"));
  EXPECT_TRUE(glob_match("eth_sign*", "eth_signTypedData_v4"));
  EXPECT_TRUE(glob_match("*_trace*", "debug_traceCall"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYbc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYYbd"));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_TRUE(glob_match("**x", "x"));
}

// --- Differential: the scanner against Boost.JSON over generated documents. ---

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  std::string value(unsigned depth) {
    switch (below(depth > 5 ? 5 : 8)) {
      case 0:
        return number();
      case 1:
        return string();
      case 2:
        return std::vector<const char*>{"true", "false", "null"}[below(3)];
      case 3:
        return string();
      case 4:
        return number();
      case 5:
      case 6:
        return array(depth + 1);
      default:
        return object(depth + 1);
    }
  }

  std::string number() {
    static const char* const kNumbers[] = {
        "0", "-0", "1", "-17", "12.5", "1e3", "1E+2", "-3e-2", "99999999999999999999", "0.000"};
    return kNumbers[below(std::size(kNumbers))];
  }

  std::string string() {
    static const char* const kParts[] = {"a",
                                         "eth_call",
                                         "\\\"",
                                         "\\\\",
                                         "\\/",
                                         "\\n",
                                         "\\u0041",
                                         "\\u00e9",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\\ud83d\\ude00",
                                         " ",
                                         "0x1a",
                                         "latest",
                                         "2.0",
                                         "]",
                                         "}",
                                         ",",
                                         ":",
                                         "id"};
    std::string s = "\"";
    for (std::size_t n = below(4); n > 0; --n)
      s += kParts[below(std::size(kParts))];
    return s + "\"";
  }

  std::string ws() { return std::vector<const char*>{"", "", " ", "\n\t", "\r\n "}[below(5)]; }

  std::string array(unsigned depth) {
    std::string s = "[" + ws();
    for (std::size_t n = below(4), i = 0; i < n; ++i)
      s += (i ? "," + ws() : "") + value(depth) + ws();
    return s + "]";
  }

  std::string object(unsigned depth) {
    std::string s = "{" + ws();
    for (std::size_t n = below(4), i = 0; i < n; ++i)
      s += (i ? "," : "") + ws() + string() + ws() + ":" + ws() + value(depth) + ws();
    return s + "}";
  }

  // A JSON-RPC request or response item, usually well-formed, sometimes not quite.
  std::string rpc_item(bool response) {
    std::vector<std::string> members;
    const auto maybe = [&](unsigned percent, std::string member) {
      if (below(100) < percent) members.push_back(std::move(member));
    };
    maybe(90, below(10) ? R"("jsonrpc":"2.0")" : R"("jsonrpc":)" + value(3));
    maybe(85, R"("id":)" + (below(5) ? std::to_string(below(1000)) : value(3)));
    if (response) {
      maybe(60, R"("result":)" + value(2));
      maybe(45, R"("error":{"code":)" + (below(8) ? "-3200" + std::to_string(below(9)) : number()) +
                    R"(,"message":)" + string() + (below(2) ? R"(,"data":)" + value(3) : "") + "}");
    } else {
      maybe(90, below(10) ? R"("method":"eth_call")" : R"("method":)" + value(3));
      maybe(70, R"("params":)" + (below(6) ? array(2) : value(2)));
    }
    maybe(10, string() + ":" + value(2));
    maybe(5, R"("id":)" + value(3));
    std::shuffle(members.begin(), members.end(), rng_);
    std::string s = "{" + ws();
    for (std::size_t i = 0; i < members.size(); ++i)
      s += (i ? "," + ws() : "") + members[i];
    return s + ws() + "}";
  }

  std::string document(bool response) {
    std::string doc;
    switch (below(4)) {
      case 0:
        doc = value(0);
        break;
      case 1:
        doc = rpc_item(response);
        break;
      default: {
        doc = "[" + ws();
        for (std::size_t n = below(5), i = 0; i < n; ++i)
          doc += (i ? "," + ws() : "") + (below(10) ? rpc_item(response) : value(2));
        doc += "]";
      }
    }
    return ws() + mutate(doc) + ws();
  }

  std::string mutate(std::string doc) {
    if (doc.empty() || below(3) != 0) return doc;
    const std::size_t at = below(doc.size());
    static const char kBytes[] = {'"', '\\', ',', ']',    '}',    '{',
                                  '[', ':',  'x', '\x80', '\x01', '0'};
    switch (below(3)) {
      case 0:
        return doc.substr(0, at);  // truncated
      case 1:
        doc[at] = kBytes[below(sizeof kBytes)];
        return doc;
      default:
        return doc.insert(at, 1, kBytes[below(sizeof kBytes)]);
    }
  }

 private:
  std::mt19937_64 rng_;
};

// What Boost finds in a request item, against the scanner's Call.
void expect_call_matches(const boost::json::value& item, const Call& call, std::string_view body) {
  EXPECT_TRUE(inside(call.text, body) && (call.id == "null" || inside(call.id, body)) &&
              inside(call.params, body) && inside(call.method, body));
  EXPECT_EQ(boost::json::parse(call.text), item);
  if (!item.is_object()) {
    EXPECT_EQ(call.error, kInvalidRequest);
    return;
  }
  const boost::json::object& o = item.as_object();
  if (call.error != 0) return;  // duplicates are invisible to Boost: no further claim
  ASSERT_TRUE(o.contains("method") && o.at("method").is_string());
  EXPECT_EQ(o.at("method").as_string(), call.method);
  EXPECT_EQ(o.at("jsonrpc"), "2.0");
  EXPECT_EQ(call.notification, !o.contains("id"));
  if (o.contains("id")) {
    EXPECT_EQ(boost::json::parse(call.id), o.at("id"));
  }
  if (o.contains("params")) {
    EXPECT_EQ(boost::json::parse(call.params), o.at("params"));
    EXPECT_TRUE(o.at("params").is_array() || o.at("params").is_object());
  } else {
    EXPECT_EQ(call.params, "");
  }
}

// Whether Boost accepts the text as JSON; nullopt when the two cannot be compared (an
// exponent Boost cannot represent).
std::optional<boost::json::value> boost_parse(std::string_view text, bool* comparable) {
  boost::json::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 1000;
  boost::json::value v = boost::json::parse(text, ec, {}, options);
  *comparable = ec != boost::json::error::exponent_overflow;
  if (ec) return std::nullopt;
  return v;
}

TEST(JsonRpcDifferential, RequestsAgainstBoostJson) {
  Generator gen(20261207);
  Request r;
  std::size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    const std::string body = gen.document(false);
    bool comparable = true;
    const auto doc = boost_parse(body, &comparable);
    if (!comparable) continue;
    parse_request(body, 100, r);
    ASSERT_EQ(r.error == kParseError, !doc.has_value()) << body;
    if (!doc) continue;
    ++accepted;
    if (doc->is_array()) {
      const boost::json::array& items = doc->as_array();
      if (items.empty()) {
        EXPECT_EQ(r.error, kInvalidRequest) << body;
        continue;
      }
      ASSERT_TRUE(r.batch) << body;
      ASSERT_EQ(r.calls.size(), items.size()) << body;
      for (std::size_t i = 0; i < items.size(); ++i)
        expect_call_matches(items[i], r.calls[i], body);
    } else if (doc->is_object()) {
      ASSERT_EQ(r.calls.size(), 1u) << body;
      expect_call_matches(*doc, r.calls[0], body);
    } else {
      EXPECT_EQ(r.error, kInvalidRequest) << body;
    }
  }
  EXPECT_GT(accepted, 5000u) << "the generator must mostly make JSON";
}

TEST(JsonRpcDifferential, ResponsesAgainstBoostJson) {
  Generator gen(7);
  Response r;
  std::size_t valid = 0;
  for (int round = 0; round < 20000; ++round) {
    const std::string body = gen.document(true);
    bool comparable = true;
    const auto doc = boost_parse(body, &comparable);
    if (!comparable) continue;
    parse_response(body, r);
    if (!doc) {
      ASSERT_FALSE(r.valid) << body;
      continue;
    }
    if (!r.valid) {
      EXPECT_TRUE(r.replies.empty());
      continue;
    }
    ++valid;
    const boost::json::value& top = *doc;
    ASSERT_EQ(r.batch, top.is_array()) << body;
    const std::size_t count = top.is_array() ? top.as_array().size() : 1;
    ASSERT_EQ(r.replies.size(), count) << body;
    for (std::size_t i = 0; i < count; ++i) {
      const boost::json::value& item = top.is_array() ? top.as_array()[i] : top;
      const Reply& reply = r.replies[i];
      ASSERT_TRUE(item.is_object()) << body;
      const boost::json::object& o = item.as_object();
      EXPECT_TRUE(inside(reply.text, body) && inside(reply.result, body) &&
                  inside(reply.error_message, body) && inside(reply.error_data, body));
      EXPECT_EQ(boost::json::parse(reply.text), item);
      if (reply.has_error) {
        ASSERT_TRUE(o.at("error").is_object()) << body;
        EXPECT_EQ(o.at("error").as_object().at("code").to_number<std::int64_t>(), reply.error_code);
        EXPECT_FALSE(o.contains("result") && !o.at("error").is_null()) << body;
      } else {
        EXPECT_EQ(boost::json::parse(reply.result), o.at("result")) << body;
      }
    }
  }
  EXPECT_GT(valid, 1000u);
}

}  // namespace
}  // namespace veer::http::jsonrpc
