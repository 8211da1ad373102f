#include "proxy/rate_check.hpp"

namespace veer::proxy {

RateCheck check_rate_limits(const runtime::Snapshot& snapshot, const runtime::RouteRuntime& route,
                            const runtime::MetricsView* metrics, const http::RequestHead& head,
                            const core::IpAddress& client, std::int64_t now) {
  RateCheck check;
  for (const std::uint32_t index : route.policies) {
    const runtime::PolicyRuntime& policy = snapshot.policies[index];
    const std::uint64_t key = runtime::limit_key(policy, head, client, route.id);
    const limits::Decision decision = policy.limiter->acquire(key, now, policy.gcra);
    runtime::PolicyCounters* counters = metrics != nullptr ? &metrics->policy(index) : nullptr;
    const bool dry_run = policy.config->dry_run;
    switch (decision.verdict) {
      case limits::Verdict::allow:
        if (counters != nullptr) counters->allowed.add();
        break;
      case limits::Verdict::delay:
        if (counters != nullptr) counters->delayed.add();
        if (!dry_run && decision.wait > check.hold) {
          check.verdict = limits::Verdict::delay;
          check.hold = decision.wait;
          check.by = &policy;
          check.dry_run = false;
        }
        break;
      case limits::Verdict::refuse:
        if (dry_run) {
          if (counters != nullptr) counters->dry_run_limited.add();
          if (check.by == nullptr) {
            check.by = &policy;
            check.dry_run = true;
          }
          break;
        }
        if (counters != nullptr) counters->limited.add();
        check.verdict = limits::Verdict::refuse;
        check.by = &policy;
        check.dry_run = false;
        check.refusal = decision;
        return check;
    }
  }
  return check;
}

}  // namespace veer::proxy
