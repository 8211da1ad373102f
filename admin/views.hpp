#pragma once

// The JSON the admin API shows of the configuration and of the running pools and
// splits. Read-only: called on the control thread with a snapshot.

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <string>

#include "conf/overrides.hpp"
#include "runtime/snapshot.hpp"

namespace veer::admin {

boost::json::object config_json(const conf::Config& config);
// `rate` is the backend's recent requests per second.
boost::json::object backend_json(const runtime::BackendRuntime& backend, double rate);
// `assigned`: requests the split sent to each target pool so far.
boost::json::object split_json(const runtime::Snapshot& snapshot,
                               const runtime::SplitRuntime& split,
                               std::map<std::string, std::uint64_t> assigned);
// The state file's JSON and one line of words per change.
boost::json::object overrides_json(const conf::Overrides& changes);

}  // namespace veer::admin
