#pragma once

// What an active check sends and how its answer is judged, apart from the I/O (which
// is in health/probe.cpp), so that it is compiled once and unit-tested on its own.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conf/config.hpp"

namespace veer::health {

struct CheckResult {
  bool ok = false;
  std::string cause;                      // why it failed (or what passed), for log lines
  std::optional<std::uint64_t> block;     // jsonrpc eth_blockNumber checks: the node's head
  std::optional<std::uint64_t> chain_id;  // head tracking: eth_chainId, when it was asked
};

// Head tracking: a jsonrpc check of eth_blockNumber (the default) asks for the node's
// head, whether it is syncing (eth_syncing) and, when `ask_chain_id`, its chain
// (eth_chainId), in one batch; a check of another method sends that method alone.
bool tracks_heads(const conf::HealthConfig& config);

// The request bytes of an http or jsonrpc check of `backend` ("host:port").
std::string check_request(const conf::HealthConfig& config, std::string_view backend,
                          bool ask_chain_id = false);

// Judges a complete answer (the backend closed the connection after it, as asked).
CheckResult evaluate_answer(const conf::HealthConfig& config, std::string_view answer);

// The block number in a JSON-RPC answer body, or nullopt with *why.
std::optional<std::uint64_t> parse_block_number(std::string_view body, bool expect_block,
                                                std::string* why);

}  // namespace veer::health
