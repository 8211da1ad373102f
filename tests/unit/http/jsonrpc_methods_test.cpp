#include "http/jsonrpc_methods.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace veer::http::jsonrpc {
namespace {

TEST(JsonRpcMethods, BlockParamIndexes) {
  const std::pair<const char*, int> cases[] = {
      {"eth_getBalance", 1},
      {"eth_getCode", 1},
      {"eth_getTransactionCount", 1},
      {"eth_getStorageAt", 2},
      {"eth_call", 1},
      {"eth_estimateGas", 1},
      {"eth_getBlockByNumber", 0},
      {"eth_getBlockTransactionCountByNumber", 0},
      {"eth_getUncleCountByBlockNumber", 0},
      {"eth_getTransactionByBlockNumberAndIndex", 0},
      {"eth_getUncleByBlockNumberAndIndex", 0},
      {"eth_getProof", 2},
      {"eth_feeHistory", 1},
      {"eth_createAccessList", 1},
      {"eth_getBlockReceipts", 0},
      {"debug_traceCall", 1},
      {"trace_call", 2},
      {"trace_block", 0},
      {"trace_replayBlockTransactions", 0},
      {"eth_blockNumber", -1},
      {"eth_getLogs", -1},
      {"eth_getBlockByHash", -1},
  };
  for (const auto& [name, index] : cases) {
    const MethodInfo& m = method_info(name);
    EXPECT_EQ(m.name, name);
    EXPECT_EQ(m.block_param, index) << name;
  }
}

TEST(JsonRpcMethods, RetryAndFilters) {
  for (const char* name : {"eth_blockNumber", "eth_chainId", "net_version", "eth_syncing",
                           "eth_gasPrice", "eth_maxPriorityFeePerGas", "eth_getBlockByHash",
                           "eth_getTransactionByHash", "eth_getTransactionReceipt", "eth_getLogs",
                           "web3_clientVersion", "eth_call", "debug_traceTransaction"}) {
    EXPECT_EQ(method_info(name).retry, Retry::read) << name;
    EXPECT_EQ(method_info(name).filter, Filter::none) << name;
  }
  EXPECT_EQ(method_info("eth_sendRawTransaction").retry, Retry::send_raw);
  for (const char* name : {"eth_sendTransaction", "eth_subscribe", "eth_unsubscribe"}) {
    EXPECT_EQ(method_info(name).retry, Retry::never) << name;
    EXPECT_EQ(method_info(name).filter, Filter::none) << name;
  }
  for (const char* name :
       {"eth_newFilter", "eth_newBlockFilter", "eth_newPendingTransactionFilter"}) {
    EXPECT_EQ(method_info(name).retry, Retry::never) << name;
    EXPECT_EQ(method_info(name).filter, Filter::creates) << name;
  }
  for (const char* name : {"eth_getFilterChanges", "eth_getFilterLogs", "eth_uninstallFilter"}) {
    EXPECT_EQ(method_info(name).retry, Retry::never) << name;
    EXPECT_EQ(method_info(name).filter, Filter::uses) << name;
  }
  EXPECT_TRUE(method_info("eth_getLogs").logs_range);
  EXPECT_FALSE(method_info("eth_call").logs_range);
  for (const char* name :
       {"debug_traceTransaction", "debug_traceCall", "trace_block", "trace_call"})
    EXPECT_TRUE(method_info(name).archive) << name;
  EXPECT_FALSE(method_info("eth_call").archive);
}

TEST(JsonRpcMethods, UnknownAndPrivateAreOther) {
  const MethodInfo& other = method_info("eth_nope");
  EXPECT_EQ(other.name, "other");
  EXPECT_EQ(other.retry, Retry::never);
  EXPECT_EQ(other.block_param, -1);
  EXPECT_EQ(other.index, known_method_count() - 1);
  for (const char* name : {"eth_accounts", "eth_sign", "eth_signTransaction", "personal_sign",
                           "admin_peers", "miner_start", "", "ETH_CALL", "eth_cal", "eth_calls"})
    EXPECT_EQ(&method_info(name), &other) << name;
}

TEST(JsonRpcMethods, IndexesAreDenseAndNamesUnique) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < known_method_count(); ++i) {
    const MethodInfo& m = method_by_index(i);
    EXPECT_EQ(m.index, i);
    EXPECT_TRUE(names.insert(m.name).second) << m.name;
    EXPECT_EQ(&method_info(m.name), &m) << m.name;
  }
  EXPECT_EQ(method_by_index(known_method_count() + 5).name, "other");
}

Reply error(std::int64_t code, std::string_view message) {
  Reply r;
  r.has_error = true;
  r.error_code = code;
  r.error_message = message;
  return r;
}

TEST(JsonRpcMethods, Classify) {
  Reply ok;
  ok.result = "\"0x1\"";
  EXPECT_EQ(classify(ok), ErrorClass::ok);
  const std::pair<Reply, ErrorClass> cases[] = {
      {error(-32603, "anything"), ErrorClass::server_error},
      {error(-32005, "rate limited"), ErrorClass::server_error},
      {error(-32000, "header not found"), ErrorClass::server_error},
      {error(-32000, "missing trie node 0xabc (path )"), ErrorClass::server_error},
      {error(-32001, "Unknown block"), ErrorClass::server_error},
      {error(-32000, "request timed out"), ErrorClass::server_error},
      {error(-32002, "Request Timeout"), ErrorClass::server_error},
      {error(-32000, "INTERNAL error"), ErrorClass::server_error},
      {error(-32600, "invalid request"), ErrorClass::client_error},
      {error(-32601, "the method x does not exist"), ErrorClass::client_error},
      {error(-32602, "invalid argument 0: timeout"), ErrorClass::client_error},
      {error(3, "execution reverted: internal"), ErrorClass::client_error},
      {error(-32000, "execution reverted: timeout"), ErrorClass::client_error},
      {error(-32015, "VM execution error: Revert"), ErrorClass::client_error},
      {error(-32000, "nonce too low"), ErrorClass::client_error},
      {error(-32000, "nonce too high"), ErrorClass::client_error},
      {error(-32000, "insufficient funds for gas * price + value"), ErrorClass::client_error},
      {error(-32000, "already known"), ErrorClass::client_error},
      {error(-32000, "replacement transaction underpriced"), ErrorClass::client_error},
      {error(-32000, "intrinsic gas too low"), ErrorClass::client_error},
      {error(-32000, "gas too low"), ErrorClass::client_error},
      {error(-32000, "something new"), ErrorClass::client_error},
  };
  for (const auto& [reply, expected] : cases)
    EXPECT_EQ(classify(reply), expected) << reply.error_code << " " << reply.error_message;
}

TEST(JsonRpcMethods, ClassifiesParsedReplies) {
  Response r;
  parse_response(
      R"([{"jsonrpc":"2.0","id":1,"result":"0x1"},)"
      R"({"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"Header Not Found"}},)"
      R"({"jsonrpc":"2.0","id":3,"error":{"code":3,"message":"execution reverted","data":"0x"}}])",
      r);
  ASSERT_TRUE(r.valid);
  EXPECT_EQ(classify(r.replies[0]), ErrorClass::ok);
  EXPECT_EQ(classify(r.replies[1]), ErrorClass::server_error);
  EXPECT_EQ(classify(r.replies[2]), ErrorClass::client_error);
}

// A missing-state answer is the node's fault only for a block it should have.
TEST(JsonRpcMethods, ClassifyMissingStateByTheBlockAsked) {
  const auto number = [](std::uint64_t n) {
    return std::optional(BlockRef{BlockRef::Kind::number, n});
  };
  const auto tag = [](BlockRef::Kind kind) { return std::optional(BlockRef{kind, 0}); };
  const Reply missing[] = {error(-32000, "header not found"),
                           error(-32000, "missing trie node 0xabc (path )"),
                           error(-32001, "Unknown block")};
  for (const Reply& reply : missing) {
    // At or below the answering node's head, a tag, or no block: the node's trouble.
    EXPECT_EQ(classify(reply, {number(100), 100}), ErrorClass::server_error);
    EXPECT_EQ(classify(reply, {number(5), 100}), ErrorClass::server_error);
    EXPECT_EQ(classify(reply, {tag(BlockRef::Kind::earliest), 100}), ErrorClass::server_error);
    EXPECT_EQ(classify(reply, {tag(BlockRef::Kind::latest), 0}), ErrorClass::server_error);
    EXPECT_EQ(classify(reply, {tag(BlockRef::Kind::safe), 100}), ErrorClass::server_error);
    EXPECT_EQ(classify(reply, {tag(BlockRef::Kind::finalized), 100}), ErrorClass::server_error);
    EXPECT_EQ(classify(reply, {std::nullopt, 100}), ErrorClass::server_error);
    // Above its head, the head not known, or a hash: the caller asked for what may not exist.
    EXPECT_EQ(classify(reply, {number(101), 100}), ErrorClass::client_error);
    EXPECT_EQ(classify(reply, {number(0xffffffff), 100}), ErrorClass::client_error);
    EXPECT_EQ(classify(reply, {number(5), 0}), ErrorClass::client_error);
    EXPECT_EQ(classify(reply, {tag(BlockRef::Kind::hash), 100}), ErrorClass::client_error);
  }
  // Other classes are as classify(reply) says, whatever the block.
  EXPECT_EQ(classify(error(-32603, "header not found"), {number(500), 100}),
            ErrorClass::server_error);
  EXPECT_EQ(classify(error(-32000, "request timed out"), {number(500), 100}),
            ErrorClass::server_error);
  EXPECT_EQ(classify(error(3, "execution reverted"), {number(5), 100}), ErrorClass::client_error);
  Reply ok;
  ok.result = "\"0x1\"";
  EXPECT_EQ(classify(ok, {number(500), 100}), ErrorClass::ok);
}

// Nodes that re-serialise ids: the same value written another way still matches.
TEST(JsonRpcMethods, SameIdComparesValuesWhenTheTextDiffers) {
  EXPECT_TRUE(same_id("1", "1"));
  EXPECT_TRUE(same_id("1", "1.0"));
  EXPECT_TRUE(same_id("1", "1e0"));
  EXPECT_TRUE(same_id("-2", "-2.00"));
  EXPECT_TRUE(same_id("\"A\"", "\"\\u0041\""));
  EXPECT_TRUE(same_id("\"a/b\"", "\"a\\/b\""));
  EXPECT_TRUE(same_id("\"\\ud83d\\ude00\"", "\"\xF0\x9F\x98\x80\""));
  EXPECT_TRUE(same_id("null", "null"));
  EXPECT_FALSE(same_id("1", "2"));
  EXPECT_FALSE(same_id("1", "\"1\""));
  EXPECT_FALSE(same_id("\"1\"", "1"));
  EXPECT_FALSE(same_id("\"A\"", "\"B\""));
  EXPECT_FALSE(same_id("null", "0"));
  EXPECT_FALSE(same_id("\"a\"", "\"a\\u00\""));
}

TEST(JsonRpcMethods, AlreadyDelivered) {
  EXPECT_TRUE(already_delivered(error(-32000, "already known")));
  EXPECT_TRUE(already_delivered(error(-32000, "Known transaction: 0xabc")));
  EXPECT_TRUE(already_delivered(error(-32000, "nonce too low: next nonce 5, tx nonce 4")));
  EXPECT_FALSE(already_delivered(error(-32000, "nonce too high")));
  EXPECT_FALSE(already_delivered(error(-32000, "insufficient funds")));
  Reply ok;
  ok.result = "\"0x1\"";
  EXPECT_FALSE(already_delivered(ok));
}

TEST(JsonRpcMethods, TransactionHash) {
  // EIP-155's example transaction; its hash as ethers and geth compute it.
  core::Buffer out;
  ASSERT_TRUE(append_transaction_hash(
      out,
      R"("0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83")"));
  EXPECT_EQ(out.readable(),
            R"("0x33469b22e9f636356c4160a87eb19df52b7412e8eac32a4a55ffe88ea8350788")");
  for (const char* bad :
       {R"("0x")", R"("0xabc")", R"("abcd")", R"("0xzz")", "0xab", R"(["0xab"])", ""}) {
    core::Buffer none;
    EXPECT_FALSE(append_transaction_hash(none, bad)) << bad;
    EXPECT_TRUE(none.empty()) << bad;
  }
}

}  // namespace
}  // namespace veer::http::jsonrpc
