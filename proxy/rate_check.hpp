#pragma once

// The rate-limit check of one routed request: every policy of its route, in order, each
// charging the request to its key in the policy's process-wide Limiter, with the
// outcome counted per policy. Apart from the session so that bench/micro measures the
// very code the request path runs. Allocation-free; one atomic step per policy.

#include <cstdint>

#include "core/ip_address.hpp"
#include "http/http_head.hpp"
#include "limits/limiter.hpp"
#include "runtime/metrics.hpp"
#include "runtime/snapshot.hpp"

namespace veer::proxy {

struct RateCheck {
  // refuse: `by` refused it (stopping there); delay: hold it `hold` ns; else allow.
  limits::Verdict verdict = limits::Verdict::allow;
  std::int64_t hold = 0;
  // The policy that refused, asked for the longest delay, or (dry_run) would have
  // refused; null when none did.
  const runtime::PolicyRuntime* by = nullptr;
  bool dry_run = false;      // `by` is a dry_run policy that would have refused
  limits::Decision refusal;  // the refusing policy's decision (wait, remaining)
};

// `now`: steady-clock nanoseconds, read once per request. A refusal stops at once
// (policies before it have charged the request, as nginx's limit_req does with several
// zones); the longest delay asked for is the one served; dry_run policies count what
// they would have done and change nothing. `metrics` may be null (metrics off).
RateCheck check_rate_limits(const runtime::Snapshot& snapshot, const runtime::RouteRuntime& route,
                            const runtime::MetricsView* metrics, const http::RequestHead& head,
                            const core::IpAddress& client, std::int64_t now);

}  // namespace veer::proxy
