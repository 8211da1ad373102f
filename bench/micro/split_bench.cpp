// What a split adds to a request: choosing the target (override lookup, sticky key
// hash into a bucket, range search), and building the bucket ranges on a reload.
#include <benchmark/benchmark.h>

#include <string>

#include "conf/load.hpp"
#include "core/hash.hpp"
#include "http/http_parser.hpp"
#include "runtime/split_route.hpp"
#include "strategies/split_buckets.hpp"

namespace veer::proxy {
namespace {

std::shared_ptr<const runtime::Snapshot> split_of(int targets, const std::string& keys,
                                                  runtime::BackendRegistry& registry) {
  std::string text =
      "[listeners.l]\naddress = \"127.0.0.1:0\"\n[[listeners.l.routes]]\ntarget = \"s\"\n";
  std::string weights;
  for (int i = 0; i < targets; ++i) {
    std::string name = "v";
    name += std::to_string(i);
    text += "[pools." + name + "]\nbackends = [\"127.0.0.1:" + std::to_string(20000 + i) + "\"]\n";
    if (i > 0) weights += ", ";
    weights += name + " = " + std::to_string(i + 1);
  }
  text += "[splits.s]\ntargets = { " + weights + " }\n";
  text += keys;
  const conf::LoadResult loaded = conf::load_config_string(text, "bench.toml");
  return build_snapshot(*loaded.config, 1, registry);
}

// A JSON-RPC request with the headers a client sends, keyed by its address (the
// default) with an override header configured but absent.
void BM_SplitChoice(benchmark::State& state) {
  runtime::BackendRegistry registry;
  const auto snapshot = split_of(static_cast<int>(state.range(0)),
                                 "override_header = \"X-Veer-Version\"\n", registry);
  const std::string bytes =
      "POST / HTTP/1.1\r\nHost: rpc.example.com\r\nContent-Type: application/json\r\n"
      "Content-Length: 64\r\nUser-Agent: ethers/6.7\r\nAccept: */*\r\n\r\n";
  http::RequestHead head;
  http::parse_request_head(bytes, head);
  core::Random random(1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        runtime::choose_split_target(snapshot->splits[0], head, "203.0.113.7", random));
  }
}
BENCHMARK(BM_SplitChoice)->Arg(2)->Arg(10);

void BM_SplitBucketRanges(benchmark::State& state) {
  std::vector<std::uint64_t> weights(static_cast<std::size_t>(state.range(0)));
  for (std::size_t i = 0; i < weights.size(); ++i)
    weights[i] = i + 1;
  for (auto _ : state)
    benchmark::DoNotOptimize(strategies::split_bucket_ends(weights));
}
BENCHMARK(BM_SplitBucketRanges)->Arg(2)->Arg(64);

// The sticky key's hash alone, for a client address and a typical user-id header:
// nginx's MurmurHash2 (the split's hash, so that the nginx export splits alike) against
// FNV-1a + splitmix64 (ip_hash's, and the split's before issue 15).
const char* const kKeys[] = {"203.0.113.7", "0x7f3c9a1e5b2d4c6f8a0e1d3b5c7a9f2e4d6b8a0c"};

void BM_SplitKeyHashMurmur2(benchmark::State& state) {
  const std::string_view key = kKeys[state.range(0)];
  for (auto _ : state) {
    benchmark::DoNotOptimize(key);
    benchmark::DoNotOptimize(strategies::split_bucket(key));
  }
}
BENCHMARK(BM_SplitKeyHashMurmur2)->Arg(0)->Arg(1);

void BM_SplitKeyHashFnvMix(benchmark::State& state) {
  const std::string_view key = kKeys[state.range(0)];
  for (auto _ : state) {
    benchmark::DoNotOptimize(key);
    benchmark::DoNotOptimize(core::hash_bytes(key, 0x5b11'7ed5ULL) % strategies::kSplitBuckets);
  }
}
BENCHMARK(BM_SplitKeyHashFnvMix)->Arg(0)->Arg(1);

}  // namespace
}  // namespace veer::proxy
