// What a rate-limit policy adds to a request: proxy::check_rate_limits, the code the
// session runs after routing (key derivation, the Limiter's acquire, the per-policy
// counter), on a route with one policy that never refuses against the same route
// without one. The budget: at most 100 ns more per request.
// Run: build/bench/veer_micro_bench --benchmark_filter=RateCheck
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "conf/load.hpp"
#include "http/http_parser.hpp"
#include "proxy/rate_check.hpp"
#include "runtime/metrics.hpp"
#include "runtime/snapshot.hpp"

namespace veer::proxy {
namespace {

// One listener with two routes: /free without a policy, / with `key`'s policy, so
// generous (10^9 a second, burst 10^6) that it never refuses.
struct Fixture {
  runtime::BackendRegistry registry;
  std::shared_ptr<const runtime::Snapshot> snapshot;
  runtime::WorkerMetrics worker_metrics;
  std::unique_ptr<runtime::MetricsView> metrics;

  explicit Fixture(const std::string& key) {
    const conf::LoadResult loaded = conf::load_config_string(
        "[limits.generous]\nrate = \"1000000000/s\"\nburst = 1000000\nkey = \"" + key +
            "\"\n[listeners.public]\naddress = \"127.0.0.1:8545\"\n"
            "  [[listeners.public.routes]]\n  path_prefix = \"/free\"\n  target = \"rpc\"\n"
            "  [[listeners.public.routes]]\n  target = \"rpc\"\n  limits = [\"generous\"]\n"
            "[pools.rpc]\nbackends = [\"127.0.0.1:19001\"]\n",
        "bench.toml");
    if (!loaded.ok()) throw std::runtime_error(loaded.errors.front().to_string());
    snapshot = runtime::build_snapshot(*loaded.config, 1, registry);
    metrics = std::make_unique<runtime::MetricsView>(*snapshot, worker_metrics);
  }
  const runtime::RouteRuntime& free_route() const { return snapshot->listeners[0].routes[0]; }
  const runtime::RouteRuntime& limited_route() const { return snapshot->listeners[0].routes[1]; }
};

// A JSON-RPC POST as client libraries send it, with an API key.
std::string rpc_head(const std::string& api_key) {
  return "POST / HTTP/1.1\r\nHost: rpc.example.com\r\nUser-Agent: ethers/6.9.0\r\n"
         "Accept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nContent-Type: application/json\r\n"
         "X-Api-Key: " +
         api_key + "\r\nContent-Length: 65\r\nConnection: keep-alive\r\n\r\n";
}

struct Heads {
  std::vector<std::string> texts;
  std::vector<std::unique_ptr<http::RequestHead>> parsed;
  explicit Heads(std::size_t count) {
    texts.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      texts.push_back(rpc_head("key-" + std::to_string(1000 + i)));
      auto head = std::make_unique<http::RequestHead>();
      std::size_t scan = 0;
      const std::size_t end = http::find_head_end(texts.back(), scan);
      http::parse_request_head(std::string_view(texts.back()).substr(0, end), *head);
      parsed.push_back(std::move(head));
    }
  }
};

std::vector<core::IpAddress> clients(std::size_t count) {
  std::vector<core::IpAddress> out;
  for (std::size_t i = 0; i < count; ++i) {
    const auto n = static_cast<std::uint32_t>(i * 2654435761u);  // spread, not sequential
    const std::uint8_t octets[4] = {
        static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
        static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
    out.push_back(core::IpAddress::from_v4(octets));
  }
  return out;
}

// range(0): 0 = the route without a policy, 1 = with it. range(1): distinct clients
// (keys) cycled through; 1 is one hot key, 1,000,000 misses the caches as a busy public
// endpoint does.
void BM_RateCheck_ClientIp(benchmark::State& state) {
  Fixture fixture("client_ip");
  const runtime::RouteRuntime& route =
      state.range(0) == 0 ? fixture.free_route() : fixture.limited_route();
  const std::vector<core::IpAddress> addresses = clients(static_cast<std::size_t>(state.range(1)));
  const Heads heads(1);
  std::int64_t now = 1'000'000'000;
  // Every key is in the table before timing starts: what is measured is a request of a
  // known client, not the first request of a new one.
  for (const core::IpAddress& address : addresses)
    check_rate_limits(*fixture.snapshot, route, fixture.metrics.get(), *heads.parsed[0], address,
                      now);
  std::size_t i = 0;
  for (auto _ : state) {
    const RateCheck check = check_rate_limits(*fixture.snapshot, route, fixture.metrics.get(),
                                              *heads.parsed[0], addresses[i], now);
    benchmark::DoNotOptimize(check);
    if (++i == addresses.size()) i = 0;
    now += 50;
  }
  if (state.range(0) == 1 && fixture.metrics->policy(0).limited.value() != 0)
    state.SkipWithError("the generous policy refused a request");
}
BENCHMARK(BM_RateCheck_ClientIp)
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({0, 10'000})
    ->Args({1, 10'000})
    ->Args({0, 1'000'000})
    ->Args({1, 1'000'000});

// key = "header:X-Api-Key": the header found among the head's fields, its value hashed.
// One head, just parsed as on the request path (in cache), whose key's digits are
// rewritten in place for each request: 10,000 distinct API keys cycled through.
void BM_RateCheck_ApiKeyHeader(benchmark::State& state) {
  Fixture fixture("header:X-Api-Key");
  const runtime::RouteRuntime& route =
      state.range(0) == 0 ? fixture.free_route() : fixture.limited_route();
  Heads heads(1);
  const http::RequestHead& head = *heads.parsed[0];
  std::string_view value;
  for (const http::HeaderField& field : head.headers()) {
    if (field.name == "X-Api-Key") value = field.value;
  }
  char* digits = const_cast<char*>(value.data()) + value.size() - 4;  // "key-0000" in texts
  const std::vector<core::IpAddress> addresses = clients(1);
  std::int64_t now = 1'000'000'000;
  const auto set_key = [&](std::uint32_t n) {
    for (int d = 3; d >= 0; --d, n /= 10)
      digits[d] = static_cast<char>('0' + n % 10);
  };
  for (std::uint32_t k = 0; k < 10'000; ++k) {  // every key known before timing starts
    set_key(k);
    check_rate_limits(*fixture.snapshot, route, fixture.metrics.get(), head, addresses[0], now);
  }
  std::uint32_t i = 0;
  for (auto _ : state) {
    std::uint32_t n = i;
    for (int d = 3; d >= 0; --d, n /= 10)
      digits[d] = static_cast<char>('0' + n % 10);
    const RateCheck check =
        check_rate_limits(*fixture.snapshot, route, fixture.metrics.get(), head, addresses[0], now);
    benchmark::DoNotOptimize(check);
    i = i + 1 == 10'000 ? 0 : i + 1;
    now += 50;
  }
}
BENCHMARK(BM_RateCheck_ApiKeyHeader)->Arg(0)->Arg(1);

}  // namespace
}  // namespace veer::proxy

namespace veer::proxy {
namespace {

// The key derivation alone (runtime::limit_key), the part of the check before the table.
void BM_LimitKey(benchmark::State& state) {
  Fixture fixture(state.range(0) == 0 ? "client_ip" : "header:X-Api-Key");
  const runtime::PolicyRuntime& policy = fixture.snapshot->policies[0];
  const Heads heads(1);
  const std::vector<core::IpAddress> addresses = clients(1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(runtime::limit_key(policy, *heads.parsed[0], addresses[0], 1));
  }
}
BENCHMARK(BM_LimitKey)->Arg(0)->Arg(1);

}  // namespace
}  // namespace veer::proxy
