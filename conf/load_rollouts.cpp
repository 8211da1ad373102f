// [rollouts.NAME] (docs/CONFIG.md): read with the usual unknown-key checks, then held to
// conf/rollout_rules.hpp, each broken rule reported at the key it names.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "conf/rollout_rules.hpp"
#include "conf/toml_reader.hpp"

namespace veer::conf::detail {
namespace {

// The keys that could not be read: the rules say nothing more about them (a bad step
// would otherwise also be "missing", a guard of the wrong type also "no guard").
class Failed {
 public:
  void add(std::string key) { keys_.push_back(std::move(key)); }
  bool covers(const std::string& key) const {
    return std::any_of(keys_.begin(), keys_.end(), [&](const std::string& failed) {
      return key.rfind(failed, 0) == 0 && (key.size() == failed.size() ||
                                           key[failed.size()] == '.' || key[failed.size()] == '[');
    });
  }

 private:
  std::vector<std::string> keys_;
};

// A TOML integer or float as a double; false (reported) for anything else.
bool number_of(const toml::node& node, const std::string& path, Diagnostics& diag, double& out) {
  if (const auto* i = node.as_integer()) {
    out = static_cast<double>(i->get());
    return true;
  }
  if (const auto* f = node.as_floating_point()) {
    out = f->get();
    return true;
  }
  diag.error(node.source(), path + ": expected a number");
  return false;
}

// Reads `key` of `r` into `out` when present; `failed_key` is its name in the rules.
void read_number(TableReader& r, std::string_view key, double& out, const std::string& failed_key,
                 Failed& failed) {
  const toml::node* node = r.take(key);
  if (node != nullptr && !number_of(*node, r.path_of(key), r.diag(), out)) failed.add(failed_key);
}

void read_steps(TableReader& r, RolloutConfig& rollout, Failed& failed) {
  const toml::node* node = r.take("steps");
  if (node == nullptr) {
    r.diag().error(r.table().source(), r.path() + ": missing key \"steps\"");
    failed.add("steps");
    return;
  }
  const toml::array* steps = node->as_array();
  if (steps == nullptr) {
    r.diag().error(
        node->source(),
        r.path_of("steps") + ": expected an array of percents, such as [1, 5, 25, 50, 100]");
    failed.add("steps");
    return;
  }
  for (std::size_t i = 0; i < steps->size(); ++i) {
    const toml::node& step = *steps->get(i);
    const std::string key = "steps[" + std::to_string(i) + "]";
    double percent = 0;
    if (!number_of(step, r.path() + "." + key, r.diag(), percent)) {
      failed.add("steps");
      continue;
    }
    const std::optional<std::uint32_t> bp = percent_to_basis_points(percent);
    if (!bp) {
      r.diag().error(step.source(), r.path() + "." + key +
                                        ": not a percent from 0 to 100 with at most 2 decimals");
      failed.add("steps");
      continue;
    }
    rollout.steps.push_back(*bp);
  }
}

template <class Guard>
void read_guard(TableReader& guards, std::string_view name, std::optional<Guard>& out,
                std::string_view example, Failed& failed) {
  const toml::node* node = guards.take(name);
  if (node == nullptr) return;
  const std::string key = "guards." + std::string(name);
  std::optional<TableReader> reader =
      open_table(*node, guards.path_of(name), example, guards.diag());
  if (!reader) {
    failed.add(key);
    return;
  }
  Guard guard;
  if constexpr (std::is_same_v<Guard, LatencyGuardConfig>) {
    read_number(*reader, "quantile", guard.quantile, key + ".quantile", failed);
    read_number(*reader, "tolerance_ms", guard.tolerance_ms, key + ".tolerance_ms", failed);
  } else {
    read_number(*reader, "tolerance", guard.tolerance, key + ".tolerance", failed);
  }
  read_number(*reader, "alpha", guard.alpha, key + ".alpha", failed);
  reader->finish();
  out = guard;
}

void read_guards(TableReader& r, RolloutConfig& rollout, Failed& failed) {
  const toml::node* node = r.take("guards");
  if (node == nullptr) {
    rollout.error_ratio = ErrorGuardConfig{};  // the documented default
    return;
  }
  std::optional<TableReader> guards = open_table(
      *node, r.path_of("guards"), "{ error_ratio = { tolerance = 0.01, alpha = 0.05 } }", r.diag());
  if (!guards) {
    failed.add("guards");
    return;
  }
  read_guard(*guards, "error_ratio", rollout.error_ratio, "{ tolerance = 0.01, alpha = 0.05 }",
             failed);
  read_guard(*guards, "latency", rollout.latency,
             "{ quantile = 0.99, tolerance_ms = 50, alpha = 0.05 }", failed);
  guards->finish();
}

void read_names(TableReader& r, RolloutConfig& rollout, Failed& failed) {
  for (auto [key, out] : {std::pair{"split", &rollout.split}, std::pair{"stable", &rollout.stable},
                          std::pair{"canary", &rollout.canary}}) {
    if (r.read_string(key, *out)) continue;
    failed.add(key);
    if (!r.table().contains(key)) {
      r.diag().error(r.table().source(), r.path() + ": missing key \"" + std::string(key) + "\"");
    }
  }
}

// Each broken rule at the key it names (the table itself for the rollout as a whole).
void report_problems(const toml::node& node, const std::string& path, const RolloutConfig& rollout,
                     const Config& config, const Failed& failed, Diagnostics& diag) {
  for (const RolloutProblem& p : rollout_problems(rollout, config)) {
    if (p.key == "name") continue;  // open_named_table said so already
    if (failed.covers(p.key)) continue;
    if (p.key.empty()) {
      diag.error(node.source(), path + ": " + p.message);
      continue;
    }
    const toml::node_view<const toml::node> at = toml::at_path(node, p.key);
    diag.error(at ? at.node()->source() : node.source(), path + "." + p.key + ": " + p.message);
  }
}

void load_rollout(std::string_view name, const toml::node& node, Diagnostics& diag,
                  Config& config) {
  RolloutConfig rollout;
  std::optional<TableReader> reader = open_named_table("rollouts", name, node, diag, rollout);
  if (!reader) return;
  TableReader& r = *reader;
  Failed failed;
  read_names(r, rollout, failed);
  read_steps(r, rollout, failed);
  for (auto [key, out] :
       {std::pair{"min_step", &rollout.min_step}, std::pair{"max_step", &rollout.max_step}}) {
    if (r.table().contains(key) && !r.read_duration(key, *out, Duration{0})) failed.add(key);
  }
  read_guards(r, rollout, failed);
  r.finish();
  report_problems(node, r.path(), rollout, config, failed, diag);
  config.rollouts.push_back(std::move(rollout));
}

// A split follows one rollout at a time: two would fight over its weights.
void check_one_per_split(const toml::table& rollouts, const Config& config, Diagnostics& diag) {
  std::vector<const RolloutConfig*> in_file_order;
  for (const RolloutConfig& rollout : config.rollouts)
    in_file_order.push_back(&rollout);
  std::stable_sort(in_file_order.begin(), in_file_order.end(), [](const auto* a, const auto* b) {
    return a->pos.line != b->pos.line ? a->pos.line < b->pos.line : a->pos.column < b->pos.column;
  });
  std::map<std::string, std::string> owner;  // split -> the first rollout on it
  for (const RolloutConfig* rollout : in_file_order) {
    if (rollout->split.empty()) continue;
    const auto [first, inserted] = owner.emplace(rollout->split, rollout->name);
    if (inserted) continue;
    const toml::node* split = rollouts.get(rollout->name)->as_table()->get("split");
    diag.error(split->source(), "rollouts." + rollout->name + ".split: split \"" + rollout->split +
                                    "\" already has rollout \"" + first->second +
                                    "\" (at most one rollout per split)");
  }
}

}  // namespace

void load_rollouts(TableReader& root, Config& config) {
  const toml::node* node = root.take("rollouts");
  if (node == nullptr) return;
  if (!node->is_table()) {
    root.diag().error(node->source(), "rollouts: expected [rollouts.NAME] tables");
    return;
  }
  for (auto&& [name, rollout] : *node->as_table()) {
    load_rollout(name.str(), rollout, root.diag(), config);
  }
  check_one_per_split(*node->as_table(), config, root.diag());
}

}  // namespace veer::conf::detail
