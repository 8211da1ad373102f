// Per-request costs of veer's HTTP layer: parsing a head, validating chunked bodies,
// writing the upstream head. Run: build/bench/veer_micro_bench.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "http/chunked.hpp"
#include "http/header_rewrite.hpp"
#include "http/http_parser.hpp"

namespace veer::http {
namespace {

// A JSON-RPC POST as an Ethereum client library sends it.
const std::string kRpcRequest =
    "POST / HTTP/1.1\r\nHost: rpc.example.com:8545\r\nUser-Agent: ethers/6.9.0\r\n"
    "Accept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nContent-Type: application/json\r\n"
    "Content-Length: 65\r\nConnection: keep-alive\r\n\r\n";

// A browser-like GET with the headers real browsers send.
const std::string kBrowserRequest =
    "GET /api/v1/blocks?limit=20&cursor=abc HTTP/1.1\r\nHost: explorer.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36\r\nAccept: "
    "text/html,application/xhtml+xml,application/xml;q=0.9\r\n"
    "Accept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "Cookie: session=0123456789abcdef; theme=dark\r\nReferer: https://explorer.example.com/\r\n"
    "Sec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: same-origin\r\n"
    "Upgrade-Insecure-Requests: 1\r\nConnection: keep-alive\r\n\r\n";

void parse_request(benchmark::State& state, const std::string& text) {
  auto head = std::make_unique<http::RequestHead>();
  for (auto _ : state) {
    std::size_t scan = 0;
    const std::size_t end = http::find_head_end(text, scan);
    const http::ParseError error =
        http::parse_request_head(std::string_view(text).substr(0, end), *head);
    benchmark::DoNotOptimize(error);
    benchmark::DoNotOptimize(head->field_count);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

void BM_ParseJsonRpcRequest(benchmark::State& state) {
  parse_request(state, kRpcRequest);
}
void BM_ParseBrowserRequest(benchmark::State& state) {
  parse_request(state, kBrowserRequest);
}
BENCHMARK(BM_ParseJsonRpcRequest);
BENCHMARK(BM_ParseBrowserRequest);

void BM_ParseAndRewriteJsonRpcRequest(benchmark::State& state) {
  auto head = std::make_unique<http::RequestHead>();
  core::Buffer out(core::BufferPool::kBlockSize);
  for (auto _ : state) {
    std::size_t scan = 0;
    const std::size_t end = http::find_head_end(kRpcRequest, scan);
    http::parse_request_head(std::string_view(kRpcRequest).substr(0, end), *head);
    out.clear();
    http::write_upstream_request(
        *head, ForwardContext{"192.0.2.7", "http", "0123456789abcdef0123456789abcdef"}, out);
    benchmark::DoNotOptimize(out.size());
  }
}
BENCHMARK(BM_ParseAndRewriteJsonRpcRequest);

void BM_ParseResponse(benchmark::State& state) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nDate: Mon, 23 Nov 2026 19:00:00 GMT\r\nContent-Type: application/json\r\n"
      "Content-Length: 1024\r\nVary: Origin\r\n\r\n";
  auto head = std::make_unique<http::ResponseHead>();
  for (auto _ : state) {
    std::size_t scan = 0;
    const std::size_t end = http::find_head_end(text, scan);
    benchmark::DoNotOptimize(
        http::parse_response_head(std::string_view(text).substr(0, end), false, *head));
  }
}
BENCHMARK(BM_ParseResponse);

void BM_ValidateChunkedBody(benchmark::State& state) {
  std::string body;
  const std::string piece(static_cast<std::size_t>(state.range(0)), 'x');
  char size[16];
  std::snprintf(size, sizeof size, "%zx", piece.size());
  for (int i = 0; i < 64; ++i)
    body += std::string(size) + "\r\n" + piece + "\r\n";
  body += "0\r\n\r\n";
  for (auto _ : state) {
    http::ChunkedDecoder decoder;
    std::size_t used = 0;
    while (used < body.size()) {
      std::string_view data;
      used += decoder.next(std::string_view(body).substr(used), &data).consumed;
    }
    benchmark::DoNotOptimize(decoder.data_bytes());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ValidateChunkedBody)->Arg(64)->Arg(4096);

}  // namespace
}  // namespace veer::http
