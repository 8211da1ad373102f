// Per-request and per-connection costs of client identity: deriving the client behind
// trusted proxies (a CDN chain in X-Forwarded-For or Forwarded), and parsing a PROXY
// protocol header. Run: build/bench/veer_micro_bench --benchmark_filter=Client\|Proxy.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "http/forwarded.hpp"
#include "http/http_parser.hpp"
#include "http/proxy_protocol.hpp"

namespace veer::http {
namespace {

std::vector<core::IpPrefix> cdn_ranges() {
  std::vector<core::IpPrefix> out;
  for (const char* text : {"10.0.0.0/8", "173.245.48.0/20", "103.21.244.0/22", "2400:cb00::/32"}) {
    std::string_view why;
    out.push_back(*core::IpPrefix::parse(text, &why));
  }
  return out;
}

void derive(benchmark::State& state, const std::string& field, const char* peer_text) {
  const std::string text = "GET / HTTP/1.1\r\nHost: rpc.example.com\r\nUser-Agent: ethers/6\r\n" +
                           field + "\r\nAccept: */*\r\n\r\n";
  auto head = std::make_unique<RequestHead>();
  parse_request_head(text, *head);
  const std::vector<core::IpPrefix> trusted = cdn_ranges();
  const core::IpAddress peer = *core::IpAddress::parse(peer_text);
  for (auto _ : state) {
    const ForwardedClient client = derive_client(head->headers(), peer, trusted);
    benchmark::DoNotOptimize(client);
  }
}

void BM_ClientFromUntrustedPeer(benchmark::State& state) {
  derive(state, "X-Forwarded-For: 6.6.6.6", "198.51.100.23");
}
void BM_ClientFromXForwardedForChain(benchmark::State& state) {
  derive(state, "X-Forwarded-For: 6.6.6.6, 198.51.100.23, 173.245.48.9", "10.0.0.5");
}
void BM_ClientFromForwarded(benchmark::State& state) {
  derive(state, "Forwarded: for=\"[2001:db8::23]:4711\";proto=https, for=173.245.48.9", "10.0.0.5");
}
BENCHMARK(BM_ClientFromUntrustedPeer);
BENCHMARK(BM_ClientFromXForwardedForChain);
BENCHMARK(BM_ClientFromForwarded);

void parse_proxy(benchmark::State& state, const std::string& header) {
  for (auto _ : state) {
    ProxyHeaderParser parser;
    benchmark::DoNotOptimize(parser.feed(header));
    benchmark::DoNotOptimize(parser.header());
  }
}
void BM_ProxyHeaderV1(benchmark::State& state) {
  parse_proxy(state, "PROXY TCP4 198.51.100.23 10.0.0.1 51000 443\r\n");
}
void BM_ProxyHeaderV2(benchmark::State& state) {
  const std::string addresses("\xc6\x33\x64\x17\x0a\x00\x00\x01\xc7\x38\x01\xbb", 12);
  parse_proxy(state, std::string("\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c", 16) + addresses);
}
BENCHMARK(BM_ProxyHeaderV1);
BENCHMARK(BM_ProxyHeaderV2);

}  // namespace
}  // namespace veer::http
