#include "app/cluster_limits.hpp"

#include "limits/cluster_limiter.hpp"

namespace veer::app {

ClusterLimits::~ClusterLimits() {
  stop();
}

runtime::ClusterLimiterFactory ClusterLimits::factory() {
  return [this](const conf::RateLimitPolicyConfig& policy, const conf::ClusterConfig& cluster) {
    return make(policy, cluster);
  };
}

std::shared_ptr<limits::Limiter> ClusterLimits::make(const conf::RateLimitPolicyConfig& policy,
                                                     const conf::ClusterConfig& cluster) {
  if (!link_) link_ = std::make_unique<limits::RedisLink>();
  // Every cluster policy of one configuration carries the same [cluster]; a reload that
  // changes it rebuilds the policies (LimiterSet), and the link follows (a new address
  // reconnects).
  link_->configure(cluster);
  link_->start();
  return limits::ClusterLimiter::create(link_->channel(), policy);
}

void ClusterLimits::stop() {
  if (link_) link_->stop();
}

}  // namespace veer::app
