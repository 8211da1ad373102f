// Per-call costs of a JSON-RPC route's codec (docs/JSONRPC.md): parsing a request, the
// method table, classifying the answer. The extra CPU a JSON-RPC route spends per
// request over a plain route is about parse_request + method_info + parse_response +
// classify. Run: build/bench/veer_micro_bench --benchmark_filter=JsonRpc
#include <benchmark/benchmark.h>

#include <string>

#include "http/jsonrpc.hpp"
#include "http/jsonrpc_methods.hpp"

namespace veer::http::jsonrpc {
namespace {

// An eth_call as ethers 6 sends it (balanceOf on a token).
const std::string kEthCall =
    R"({"method":"eth_call","params":[{"to":"0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",)"
    R"("data":"0x70a08231000000000000000000000000d8da6bf26964af9d7eed9e03e53415d37aa96045"},)"
    R"("latest"],"id":42,"jsonrpc":"2.0"})";

std::string batch_of_ten() {
  std::string body = "[";
  for (int i = 0; i < 10; ++i) {
    if (i > 0) body += ",";
    body +=
        i % 2 == 0
            ? kEthCall
            : R"({"jsonrpc":"2.0","id":)" + std::to_string(100 + i) +
                  R"(,"method":"eth_getBalance","params":["0xd8da6bf26964af9d7eed9e03e53415d37aa96045","latest"]})";
  }
  return body + "]";
}

const std::string kResult =
    R"({"jsonrpc":"2.0","id":42,"result":"0x00000000000000000000000000000000000000000000000000000002540be400"})";
const std::string kRevert =
    R"({"jsonrpc":"2.0","id":42,"error":{"code":3,"message":"execution reverted: ERC20: transfer amount exceeds balance","data":"0x08c379a0"}})";

// What the route does per request body: parse, look each method up, read its block param.
void parse_and_look_up(benchmark::State& state, const std::string& body) {
  Request request;
  for (auto _ : state) {
    parse_request(body, 100, request);
    for (const Call& call : request.calls) {
      const MethodInfo& info = method_info(call.method);
      if (info.block_param >= 0) {
        const auto block = param(call.params, static_cast<std::size_t>(info.block_param));
        if (block) benchmark::DoNotOptimize(parse_block_ref(*block));
      }
      benchmark::DoNotOptimize(&info);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_JsonRpcRequestEthCall(benchmark::State& state) {
  parse_and_look_up(state, kEthCall);
}
BENCHMARK(BM_JsonRpcRequestEthCall);

void BM_JsonRpcRequestBatch10(benchmark::State& state) {
  parse_and_look_up(state, batch_of_ten());
}
BENCHMARK(BM_JsonRpcRequestBatch10);

void classify_answer(benchmark::State& state, const std::string& body) {
  Response response;
  for (auto _ : state) {
    parse_response(body, response);
    for (const Reply& reply : response.replies)
      benchmark::DoNotOptimize(classify(reply));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_JsonRpcResponseResult(benchmark::State& state) {
  classify_answer(state, kResult);
}
BENCHMARK(BM_JsonRpcResponseResult);

void BM_JsonRpcResponseRevert(benchmark::State& state) {
  classify_answer(state, kRevert);
}
BENCHMARK(BM_JsonRpcResponseRevert);

void BM_JsonRpcMethodInfo(benchmark::State& state) {
  const std::string_view names[] = {"eth_call", "eth_getBalance", "eth_blockNumber", "eth_nope"};
  std::size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(&method_info(names[i++ & 3]));
}
BENCHMARK(BM_JsonRpcMethodInfo);

}  // namespace
}  // namespace veer::http::jsonrpc
