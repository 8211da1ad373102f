#include <algorithm>
#include <limits>
#include <string>

#include "conf/toml_reader.hpp"

namespace veer::conf::detail {
namespace {

// Weights are relative, so any size works; TOML integers stop at 2^63 - 1.
constexpr std::uint64_t kMaxSplitWeight = std::numeric_limits<std::int64_t>::max();
// Failover remembers the targets it tried in one 64-bit mask.
constexpr std::size_t kMaxTargets = 64;

void load_targets(const toml::node& node, const std::string& path, Diagnostics& diag,
                  SplitConfig& split) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    diag.error(node.source(), path +
                                  ": expected a table of pool = weight, such as "
                                  "{ blue = 90, green = 10 }");
    return;
  }
  for (auto&& [pool, weight] : *table) {
    SplitTargetConfig target;
    target.pool = std::string(pool.str());
    target.pos = position_of(weight.source());
    const std::string key = path + "." + target.pool;
    if (weight.is_integer() && weight.as_integer()->get() < 0) {
      diag.error(weight.source(), key + ": must be >= 0 (0 takes no traffic)");
      continue;
    }
    if (!read_uint_node(weight, key, diag, target.weight, 0, kMaxSplitWeight)) continue;
    split.targets.push_back(std::move(target));
  }
  if (split.targets.size() > kMaxTargets) {
    diag.error(node.source(), path + ": at most " + std::to_string(kMaxTargets) + " targets");
  }
  if (table->empty()) {
    diag.error(node.source(), path + ": a split needs at least one target pool");
  } else if (!split.targets.empty() &&
             std::all_of(split.targets.begin(), split.targets.end(),
                         [](const SplitTargetConfig& t) { return t.weight == 0; })) {
    diag.error(node.source(), path + ": every weight is 0; at least one target must take traffic");
  }
  std::sort(split.targets.begin(), split.targets.end(),
            [](const SplitTargetConfig& a, const SplitTargetConfig& b) { return a.pool < b.pool; });
}

void load_split(std::string_view name, const toml::node& node, Diagnostics& diag, Config& config) {
  SplitConfig split;
  std::optional<TableReader> reader = open_named_table("splits", name, node, diag, split);
  if (!reader) return;
  TableReader& r = *reader;
  const std::string& path = r.path();
  if (const toml::node* targets = r.take("targets")) {
    load_targets(*targets, path + ".targets", diag, split);
  } else {
    diag.error(node.source(), path + ": missing key \"targets\"");
  }
  if (r.read_string("sticky", split.sticky) && split.sticky != "none" &&
      !valid_hash_key(split.sticky)) {
    diag.error(r.take("sticky")->source(),
               path + ".sticky: \"" + split.sticky +
                   "\" is not client_ip, header:NAME, cookie:NAME or none");
  }
  for (auto [key, out] : {std::pair{"override_header", &split.override_header},
                          std::pair{"override_cookie", &split.override_cookie},
                          std::pair{"target_header", &split.target_header}}) {
    if (r.read_string(key, *out) && !out->empty() && !valid_name(*out)) {
      diag.error(r.take(key)->source(), r.path_of(key) + ": \"" + *out +
                                            "\" is not a header or cookie name (letters, "
                                            "digits, '-', '_', '.')");
    }
  }
  r.read_bool("failover", split.failover);
  Duration grace{0};
  if (r.read_duration("drain_tunnels_after", grace, Duration{0})) split.drain_tunnels_after = grace;
  r.finish();
  config.splits.push_back(std::move(split));
}

}  // namespace

void load_splits(TableReader& root, Config& config) {
  const toml::node* node = root.take("splits");
  if (node == nullptr) return;
  if (!node->is_table()) {
    root.diag().error(node->source(), "splits: expected [splits.NAME] tables");
    return;
  }
  for (auto&& [name, split] : *node->as_table()) {
    load_split(name.str(), split, root.diag(), config);
  }
}

}  // namespace veer::conf::detail
