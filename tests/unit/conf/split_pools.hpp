#pragma once

// The configuration the split tests start from (conf/ for the loader, runtime/ for the
// choice of target): a listener routing to split "rpc" and three one-backend pools it
// may target. Each test appends its [splits.rpc] table.

namespace veer::conf::unit {

inline constexpr const char* kRoutesAndPools = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  target = "rpc"
[pools.blue]
backends = ["127.0.0.1:19001"]
[pools.green]
backends = ["127.0.0.1:19002"]
[pools.canary]
backends = ["127.0.0.1:19003"]
)";

}  // namespace veer::conf::unit
