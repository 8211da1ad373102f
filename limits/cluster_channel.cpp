#include "limits/cluster_channel.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

namespace veer::limits {

ClusterChannel::ClusterChannel() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

std::uint64_t ClusterChannel::instances() const {
  const std::uint64_t configured = configured_instances_.load(std::memory_order_relaxed);
  if (configured > 0) return configured;
  const std::uint64_t discovered = discovered_.load(std::memory_order_relaxed);
  return discovered > 0 ? discovered : 1;
}

bool ClusterChannel::post(const RefillRequest& request) {
  if (!queue_.bounded_push(request)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // One write per wake-up of the cluster thread, however many requests it finds.
  if (!wake_pending_.exchange(true, std::memory_order_seq_cst) && wake_fd_.get() >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_.get(), &one, sizeof one);
  }
  return true;
}

bool ClusterChannel::pop(RefillRequest& request) {
  return queue_.pop(request);
}

void ClusterChannel::woken() {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(wake_fd_.get(), &count, sizeof count);
  // Cleared before the queue is drained: a request pushed after the drain began writes
  // the eventfd again, so none waits for the next one.
  wake_pending_.store(false, std::memory_order_seq_cst);
}

bool ClusterChannel::set_shared(bool shared, bool count) {
  const bool was = shared_.exchange(shared, std::memory_order_acq_rel);
  if (was == shared) return false;
  if (!shared && count) fallback_transitions_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ClusterChannel::set_discovered_instances(std::uint64_t live) {
  discovered_.store(live > 0 ? live : 1, std::memory_order_relaxed);
}

void ClusterChannel::configure(std::uint32_t instances, std::uint64_t lease) {
  configured_instances_.store(instances, std::memory_order_relaxed);
  lease_.store(lease, std::memory_order_relaxed);
}

std::uint32_t ClusterChannel::add(std::weak_ptr<ClusterLimiter> limiter) {
  std::lock_guard lock(registry_mutex_);
  const std::uint32_t id = next_id_++;
  registry_.emplace(id, std::move(limiter));
  return id;
}

void ClusterChannel::remove(std::uint32_t id) {
  std::lock_guard lock(registry_mutex_);
  registry_.erase(id);
}

std::shared_ptr<ClusterLimiter> ClusterChannel::find(std::uint32_t id) const {
  std::lock_guard lock(registry_mutex_);
  const auto it = registry_.find(id);
  return it == registry_.end() ? nullptr : it->second.lock();
}

}  // namespace veer::limits
