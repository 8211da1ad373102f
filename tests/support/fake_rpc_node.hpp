#pragma once

// A scripted fake Ethereum node for JSON-RPC tests: a real process (the test binary
// `veer-fake-rpc-node`, tests/support/fake_rpc_node_main.cpp, Boost.Beast) serving HTTP
// JSON-RPC and WebSocket subscriptions on one port of 127.0.0.1, that a test can kill
// (SIGKILL, a crash), restart on the same port, and script at runtime through
// POST /__control. It answers with an `X-Fake-Node: NAME` header, and
// `web3_clientVersion` returns "fake/NAME", so a test knows which node answered.
//
// Chain: block n has hash keccak-ish H(fork, n) ("0x" + 64 hex), parentHash H(fork of
// n-1, n-1), timestamp n. The head starts at `head` and, with `block_ms` > 0, grows by one
// every block_ms (each new head is pushed to newHeads subscribers, and its one log to
// logs subscribers). Each block n carries exactly one log: address 0x00..01, topics
// ["0x" + 64 hex of n], logIndex "0x0", blockNumber n, blockHash H(fork, n).
//
// Methods: eth_blockNumber, eth_chainId, net_version, eth_syncing (false, or an object
// while syncing), web3_clientVersion, eth_getBlockByNumber (number, hash, parentHash,
// timestamp; null above the head; "header not found" -32000 when `missing_state` is set),
// eth_getLogs (fromBlock/toBlock/blockHash), eth_call / eth_estimateGas (result "0x", or
// a revert 3 "execution reverted" at `revert_rate`), eth_getBalance ("0x" + node index),
// eth_sendRawTransaction (the keccak-256 hash; the same raw bytes a second time:
// -32000 "already known"), eth_newFilter / eth_newBlockFilter /
// eth_newPendingTransactionFilter (ids "0x" + 32 hex, kept per node), eth_getFilterChanges
// / eth_getFilterLogs / eth_uninstallFilter (unknown id: -32000 "filter not found"),
// eth_accounts (["0x00..aa"]), debug_* / trace_* / admin_* / personal_* (result
// "NAME:METHOD"), anything else -32601. Over WebSocket also eth_subscribe (newHeads, logs,
// newPendingTransactions; other kinds -32602) and eth_unsubscribe.
//
// Control (POST /__control, a JSON object; every member optional, applied in order):
//   {"head": 120}                set the head (a lower value is allowed: a rewind)
//   {"block_ms": 100}            grow the head every 100 ms (0 = stop)
//   {"chain_id": 5}              change eth_chainId
//   {"syncing": true}
//   {"error_rate": 0.05, "error_code": -32603}  that share of calls (not eth_chainId,
//                                eth_syncing, eth_blockNumber) answers that error (HTTP 200)
//   {"http_status": 500}         every JSON-RPC POST answers this status (0 = normal)
//   {"revert_rate": 0.5}
//   {"missing_state": true}      eth_getBlockByNumber / eth_call: "header not found"
//   {"delay_ms": 100}            every answer waits this long
//   {"reorg": 2}                 the last 2 blocks get new hashes (fork + 1); logs
//                                subscribers get those blocks' old logs with
//                                "removed": true, then the new ones
//   {"seed": 7}                  the error/revert draws' random seed
// GET /__stats: {"calls": {"METHOD": N, ...}, "batches": N, "ws_connections": N,
//                "subscriptions": N}; POST /__reset_stats zeroes them. ws_connections and
//                subscriptions count accepted ones since the start or reset; the stats also
//                carry "active_subscriptions" (now open) and "head".
// Also accepted: {"error_message": "..."} for error_rate's error (default "internal error").
// An HTTP GET of any other path answers 200 "fake/NAME". Ids of filters and
// subscriptions are "0x" + 32 hex, unique per node. A head set higher notifies each new
// block (the last 1,000 at most); a rewind notifies nothing. Hashes are real keccak256
// (tests/support/fake_rpc_chain.cpp carries its own, independent of core/keccak).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "veer_process.hpp"

namespace veer::test {

struct FakeRpcNodeOptions {
  std::uint64_t head = 100;
  std::uint64_t chain_id = 1;
  std::uint32_t block_ms = 0;  // 0 = the head stays put until set
  std::uint32_t index = 0;     // eth_getBalance's answer, to tell nodes apart
};

class FakeRpcNode {
 public:
  // Starts on a free port of 127.0.0.1 and waits until it answers.
  explicit FakeRpcNode(std::string name, FakeRpcNodeOptions options = {});
  ~FakeRpcNode();

  bool running() const;
  void kill();     // SIGKILL: a crash, sockets reset
  bool restart();  // same port, same options, chain state from the options again

  // POST /__control with `json`; false when the node did not answer 200.
  bool control(const std::string& json);
  // GET /__stats's body ("" when the node did not answer).
  std::string stats();
  // How often `method` was called since the start or the last reset_stats().
  std::uint64_t calls(const std::string& method);
  void reset_stats();

  const std::string& name() const { return name_; }
  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string name_;
  FakeRpcNodeOptions options_;
  std::uint16_t port_ = 0;
  std::unique_ptr<VeerProcess> process_;  // runs any binary: here veer-fake-rpc-node
};

// Where the built veer-fake-rpc-node is (set by CMake: VEER_FAKE_RPC_NODE_BINARY).
std::string fake_rpc_node_binary();

}  // namespace veer::test
