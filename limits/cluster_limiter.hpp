#pragma once

// A rate limit shared by several veer instances through Redis (scope = "cluster"),
// served on the request path from local leases: no network round trip per request.
//
// Each key's entry (limits/lease_table.hpp) holds a balance of units leased from the
// key's shared GCRA state in Redis (limits/lease_script.hpp), at most B (the block) at a
// time. A request takes one unit; when the balance falls below B / 2 a worker queues a
// refill (one per key at a time: the kPending flag) that the cluster thread sends as one
// atomic script; the grant is added when it comes back. When Redis has nothing to give
// now it says when it will (retry_at); until then no refill is asked and requests beyond
// the balance are refused.
//
// A key new to this instance starts with one provisional block, so that its first
// requests are not refused while the first lease is in flight; the grant replaces it
// (balance += granted - B), which can leave the key owing up to B units that later
// grants pay first. Hence the bound: over any interval an instance serves at most B more
// units of a key than Redis granted it in that interval (B held at the start, or B owed
// at the end, never both), and the cluster at most B x N above the shared GCRA, N the
// instances. A key evicted from the table and seen again starts over with a new
// provisional block (the only way past the bound, and only under key pressure).
//
// While Redis does not answer (ClusterChannel::shared() false), each instance applies a
// local GCRA at rate / N with burst / N on the same entries, never waiting for Redis.
// Delays (`delay`) are not applied to cluster scope: a request is allowed or refused.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "conf/config.hpp"
#include "limits/cluster_channel.hpp"
#include "limits/lease_script.hpp"
#include "limits/lease_table.hpp"
#include "limits/limiter.hpp"

namespace veer::limits {

// One refill as the cluster thread sends it.
struct LeaseAsk {
  std::uint64_t key = 0;         // the limit key (its hash)
  std::int64_t interval = 0;     // T, ns
  std::int64_t tolerance = 0;    // burst x T, ns
  std::uint64_t amount = 0;      // units asked (B when backing the provisional block)
  std::uint32_t generation = 0;  // the entry's incarnation
};

class ClusterLimiter final : public Limiter, public std::enable_shared_from_this<ClusterLimiter> {
 public:
  // Registers with `channel` (the process's Redis link) under the policy's name.
  static std::shared_ptr<ClusterLimiter> create(std::shared_ptr<ClusterChannel> channel,
                                                const conf::RateLimitPolicyConfig& policy);
  ~ClusterLimiter() override;

  // Workers.
  Decision acquire(std::uint64_t key, std::int64_t now, const Gcra& gcra) override;
  KeyState inspect(std::uint64_t key, std::int64_t now, const Gcra& gcra) const override;
  LimiterStats stats(std::int64_t now) const override;

  // The cluster thread. lease_ask: what to ask Redis for a queued refill, or nullopt
  // when the entry has gone (its pending flag is then cleared if still its own).
  std::optional<LeaseAsk> lease_ask(const RefillRequest& request);
  // The reply came: add the grant and clear the pending flag. `now` on the workers' clock.
  void lease_granted(const RefillRequest& request, const LeaseAsk& ask, const LeaseGrant& grant,
                     std::int64_t now);
  // No reply (Redis down, slow or refusing): clear the pending flag; a provisional
  // block stays provisional, to be backed by the next lease.
  void lease_failed(const RefillRequest& request);

  const std::string& policy() const { return policy_; }
  const LeaseTable& lease_table() const { return table_; }
  // B for the policy as it runs now.
  std::uint64_t block() const;

  ClusterLimiter(std::shared_ptr<ClusterChannel> channel, const conf::RateLimitPolicyConfig& policy,
                 std::uint64_t max_keys);

 private:
  std::uint64_t block_for(const Gcra& gcra) const;
  void remember(const Gcra& gcra);
  void maybe_refill(std::uint32_t slot, std::int64_t now, std::int64_t left, std::uint64_t block);
  Decision fallback(LeaseEntry& entry, std::int64_t now, const Gcra& gcra);
  Gcra fallback_gcra(const Gcra& gcra) const;
  // Clears `bits` of the entry's flags if it is still incarnation `generation`.
  void clear_flags(LeaseEntry& entry, std::uint32_t generation, std::uint64_t bits);

  std::shared_ptr<ClusterChannel> channel_;
  std::string policy_;
  std::int64_t per_ns_;
  std::uint32_t id_ = 0;
  LeaseTable table_;
  // The policy's T and tolerance as last seen by acquire (admin changes move them), for
  // the cluster thread's requests.
  std::atomic<std::int64_t> interval_;
  std::atomic<std::int64_t> tolerance_;
  std::atomic<std::uint64_t> fallback_allowed_{0};
};

}  // namespace veer::limits
