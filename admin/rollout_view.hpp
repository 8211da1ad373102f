#pragma once

// A rollout as GET /api/v1/rollouts/{name} shows it (docs/OPERATIONS.md, "Rollouts"): its
// definition, state, step and weight, this step's evidence per target, each guard's
// judgement, and its history.

#include <boost/json/object.hpp>

#include "runtime/rollout.hpp"

namespace veer::admin {

boost::json::object rollout_view(const runtime::RolloutRecord& record);

}  // namespace veer::admin
