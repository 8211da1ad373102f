#pragma once

// Head tracking of the backends of one pool with jsonrpc checks (health thread only),
// apart from the checks' I/O so that it is unit-tested with a fake clock. Each check's
// answer (health/evaluate.hpp: head, syncing, chain id) is judged against the pool: a
// backend on another chain than the expected one (health.chain_id, else the majority of
// the pool's backends that answered eth_chainId, ties to the lowest), more than
// max_lag_blocks behind the pool's highest head, or whose head has not moved for
// stall_timeout fails its check; rise and fall then give the hysteresis.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>

#include "conf/config.hpp"
#include "health/evaluate.hpp"

namespace veer::health {

// One backend's head over time, kept by its probe (a new probe starts afresh).
struct HeadWatch {
  std::uint64_t head = 0;
  std::chrono::steady_clock::time_point since{};  // when `head` was first seen
  bool seen = false;
};

class PoolHeads {
 public:
  using Key = const void*;  // the backend (its BackendStats)

  // Notes what `result` says about `backend` and fails it (ok = false, with the cause)
  // when it is on the wrong chain, lagging or stalled. A result that already failed
  // (syncing, an error) keeps its cause.
  void judge(Key backend, const conf::HealthConfig& config, CheckResult& result, HeadWatch& watch,
             std::chrono::steady_clock::time_point now);
  void forget(Key backend) { nodes_.erase(backend); }

  // The chain the pool's backends must be on; nullopt while none is known.
  std::optional<std::uint64_t> expected_chain(const conf::HealthConfig& config) const;
  // The highest head of the backends on the expected chain (or of unknown chain); 0 =
  // none known.
  std::uint64_t highest(const conf::HealthConfig& config) const;

 private:
  struct Node {
    std::uint64_t head = 0;
    std::optional<std::uint64_t> chain_id;
  };
  std::map<Key, Node> nodes_;
};

}  // namespace veer::health
