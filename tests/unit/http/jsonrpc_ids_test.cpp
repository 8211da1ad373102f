#include "http/jsonrpc_ids.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace veer::http {
namespace {

std::vector<std::string> ids_of(std::string_view body) {
  const JsonRpcIds ids(body);
  std::vector<std::string> out;
  JsonRpcIds::Iterator it = ids.begin();
  std::string_view id;
  while (it.next(&id))
    out.emplace_back(id);
  EXPECT_EQ(out.size(), ids.count());
  return out;
}

using Ids = std::vector<std::string>;

TEST(JsonRpcIds, SingleRequestIdsAreVerbatim) {
  EXPECT_EQ(ids_of(R"({"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1})"), Ids{"1"});
  EXPECT_EQ(ids_of(R"({"id":"abc","method":"x"})"), Ids{R"("abc")"});
  EXPECT_EQ(ids_of(R"( {"id" : -12.5e+3 } )"), Ids{"-12.5e+3"});
  EXPECT_EQ(ids_of(R"({"id":"a\"b\\c\u00e9"})"), Ids{R"("a\"b\\c\u00e9")"});
  EXPECT_EQ(ids_of("{\"id\":\"caf\xc3\xa9\"}"), Ids{"\"caf\xc3\xa9\""});
  EXPECT_EQ(ids_of(R"({"id":null})"), Ids{"null"});
  EXPECT_EQ(ids_of(R"({"params":{"id":7},"id":8})"), Ids{"8"}) << "only the top level's id";
  EXPECT_EQ(ids_of(R"({"\u0069d":9})"), Ids{"9"}) << "an escaped name is the same member";
  EXPECT_FALSE(JsonRpcIds(R"({"id":1})").batch());
}

TEST(JsonRpcIds, UnusableIdsAreNull) {
  EXPECT_EQ(ids_of(R"({"method":"x"})"), Ids{"null"}) << "a notification";
  EXPECT_EQ(ids_of(R"({"id":true})"), Ids{"null"});
  EXPECT_EQ(ids_of(R"({"id":{"a":1}})"), Ids{"null"});
  EXPECT_EQ(ids_of(R"({"id":[1]})"), Ids{"null"});
  EXPECT_EQ(ids_of(R"({"id":1,"id":2})"), Ids{"null"}) << "two ids: ambiguous";
  EXPECT_EQ(ids_of(R"({"id":1,"\u0069d":2})"), Ids{"null"});
  EXPECT_EQ(ids_of(R"("just a string")"), Ids{"null"});
  EXPECT_EQ(ids_of("[]"), Ids{"null"}) << "an empty batch is one invalid request";
  EXPECT_FALSE(JsonRpcIds("[]").batch());
}

TEST(JsonRpcIds, MalformedDocumentsGiveNull) {
  for (const char* body : {
           "",
           "{",
           R"({"id":1)",
           R"({"id":1,})",
           R"({"id":01})",
           R"({"id":1.})",
           R"({"id":.5})",
           R"({"id":1e})",
           R"({"id":+1})",
           R"({"id":-})",
           R"({"id":"a)",
           "{\"id\":\"a\nb\"}",
           R"({"id":"\x41"})",
           R"({"id":"\u12"})",
           R"({"id":"\ud800"})",
           R"({"id":"\udc00"})",
           R"({"id":"\ud800\u0041"})",
           "{\"id\":\"\xc0\xaf\"}",
           "{\"id\":\"\xed\xa0\x80\"}",
           "{\"id\":\"\xf4\x90\x80\x80\"}",
           "{\"id\":\"\xe2\x82\"}",
           R"({"id":1} {"id":2})",
           R"({"id":1}x)",
           R"({id:1})",
           R"({'id':1})",
           R"({"id":tru})",
           R"({"id":1,"x":[1,2,]})",
           "\xef\xbb\xbf{\"id\":1}",
       }) {
    EXPECT_EQ(ids_of(body), Ids{"null"}) << body;
    EXPECT_FALSE(JsonRpcIds(body).batch()) << body;
  }
}

TEST(JsonRpcIds, PairedSurrogatesAreFine) {
  EXPECT_EQ(ids_of(R"({"id":"\ud83d\ude00"})"), Ids{R"("\ud83d\ude00")"});
}

TEST(JsonRpcIds, BatchGivesEachItemsId) {
  const std::string body =
      R"([{"jsonrpc":"2.0","id":1,"method":"a"}, {"id":"two"} ,{"method":"notify"},)"
      R"( 5, {"id":null}, {"id":[1]}, {"id":-0.5}])";
  const JsonRpcIds ids(body);
  EXPECT_TRUE(ids.batch());
  EXPECT_EQ(ids_of(body), (Ids{"1", R"("two")", "null", "null", "null", "null", "-0.5"}));
  // Restartable: a second pass gives the same ids.
  EXPECT_EQ(ids_of(body), ids_of(body));
}

TEST(JsonRpcIds, MalformedBatchIsOneNull) {
  EXPECT_EQ(ids_of(R"([{"id":1},{"id":2})"), Ids{"null"});
  EXPECT_EQ(ids_of(R"([{"id":1},])"), Ids{"null"});
  EXPECT_EQ(ids_of(R"([{"id":1}],)"), Ids{"null"});
}

TEST(JsonRpcIds, NestingIsBounded) {
  const auto nested = [](unsigned depth) {
    return R"({"id":1,"p":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  EXPECT_EQ(ids_of(nested(JsonRpcIds::kMaxDepth - 1)), Ids{"1"});
  EXPECT_EQ(ids_of(nested(JsonRpcIds::kMaxDepth + 1)), Ids{"null"});
  EXPECT_EQ(ids_of(std::string(100000, '[')), Ids{"null"}) << "no stack overflow";
}

TEST(JsonRpcIds, LongBodiesAreNotScanned) {
  std::string body = R"({"id":3,"pad":")";
  body += std::string(JsonRpcIds::kScanLimit, 'x');
  body += "\"}";
  EXPECT_EQ(ids_of(body), Ids{"null"});
  body.resize(JsonRpcIds::kScanLimit - 2);
  body += "\"}";
  EXPECT_EQ(ids_of(body), Ids{"3"});
}

}  // namespace
}  // namespace veer::http
