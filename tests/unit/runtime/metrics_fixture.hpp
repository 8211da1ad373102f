#pragma once

// A snapshot for the metrics tests (runtime/ and admin/): a listener with a route
// through split "release" (blue 90, green 10) and a route to pool blue alone.

#include <memory>

#include <gtest/gtest.h>

#include "conf/load.hpp"
#include "runtime/snapshot.hpp"

// An inner namespace, so that these names never meet the library's.
namespace veer::runtime::unit {

inline std::shared_ptr<const runtime::Snapshot> snapshot(runtime::BackendRegistry& registry) {
  const conf::LoadResult loaded = conf::load_config_string(R"(
[listeners.rpc]
address = "127.0.0.1:8545"
  [[listeners.rpc.routes]]
  host = "api.example"
  path_prefix = "/v1"
  target = "release"
  [[listeners.rpc.routes]]
  target = "blue"
[pools.blue]
backends = ["127.0.0.1:9001", "127.0.0.1:9002"]
[pools.green]
backends = ["127.0.0.1:9003"]
[splits.release]
targets = { blue = 90, green = 10 }
[admin]
)",
                                                           "metrics.toml");
  EXPECT_TRUE(loaded.ok());
  return build_snapshot(*loaded.config, 1, registry);
}

}  // namespace veer::runtime::unit
