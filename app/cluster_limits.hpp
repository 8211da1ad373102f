#pragma once

// The Redis link behind rate limits of scope = "cluster" (limits/redis_link.hpp): one
// per process, made and started when the first cluster policy is built, reconfigured
// when a reload brings another [cluster] table, stopped at shutdown. Main thread only.
// Compiled with each engine (the link uses Asio).

#include <memory>

#include "limits/redis_link.hpp"
#include "runtime/limits_runtime.hpp"

namespace veer::app {

class ClusterLimits {
 public:
  ClusterLimits() = default;
  ~ClusterLimits();
  ClusterLimits(const ClusterLimits&) = delete;
  ClusterLimits& operator=(const ClusterLimits&) = delete;

  // For LimiterSet::build: a ClusterLimiter on this process's link (created lazily).
  // The factory refers to this object, which must outlive every build that uses it.
  runtime::ClusterLimiterFactory factory();
  // Ends the cluster thread; limiters still in use fall back to their local limit.
  void stop();
  // The link, once a cluster policy made it (for tests and the admin API's views).
  const limits::RedisLink* link() const { return link_.get(); }

 private:
  std::shared_ptr<limits::Limiter> make(const conf::RateLimitPolicyConfig& policy,
                                        const conf::ClusterConfig& cluster);

  std::unique_ptr<limits::RedisLink> link_;
};

}  // namespace veer::app
