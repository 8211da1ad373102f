// libFuzzer target: how an active check judges a backend's answer (health/evaluate.hpp),
// and what the pool makes of it (health/heads.hpp). The first byte chooses the check:
// bits 0-1: http, jsonrpc of eth_blockNumber (head tracking), or jsonrpc of net_version;
// bit 2: a configured chain_id; the rest is the answer as the backend sent it.
//
// Invariants, each a __builtin_trap(): every verdict has a cause; a passing head check
// has a block, a chain id is only read by head checks, other checks carry neither; the
// pool's verdict never passes what the answer failed, and its highest head is one it saw.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "health/evaluate.hpp"
#include "health/heads.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using veer::conf::HealthConfig;
  if (size == 0) return 0;
  HealthConfig config;
  config.path = "/";
  switch (data[0] % 3) {
    case 0:
      config.type = HealthConfig::Type::http;
      break;
    case 1:
      config.type = HealthConfig::Type::jsonrpc;
      break;
    default:
      config.type = HealthConfig::Type::jsonrpc;
      config.rpc_method = "net_version";
  }
  if ((data[0] & 4) != 0) config.chain_id = 1;
  config.max_lag_blocks = 8;
  const std::string_view answer(reinterpret_cast<const char*>(data + 1), size - 1);
  veer::health::CheckResult result = veer::health::evaluate_answer(config, answer);
  if (result.cause.empty()) __builtin_trap();
  const bool heads = veer::health::tracks_heads(config);
  if (heads && result.ok && !result.block) __builtin_trap();
  if (!heads && (result.block || result.chain_id)) __builtin_trap();
  if (!heads) return 0;
  veer::health::PoolHeads pool;
  veer::health::HeadWatch watch;
  const bool passed = result.ok;
  const int key = 0;
  pool.judge(&key, config, result, watch, std::chrono::steady_clock::now());
  if (result.ok && !passed) __builtin_trap();
  if (pool.highest(config) != 0 && (!result.block || pool.highest(config) != *result.block))
    __builtin_trap();
  return 0;
}
