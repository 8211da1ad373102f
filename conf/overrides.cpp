#include "conf/overrides.hpp"

#include "conf/toml_reader.hpp"

namespace veer::conf {
namespace {

const BackendConfig* find_backend(const PoolConfig& pool, const std::string& address) {
  for (const BackendConfig& b : pool.backends) {
    if (b.address == address) return &b;
  }
  return nullptr;
}

std::map<std::string, std::uint64_t> table_of(const SplitConfig& split) {
  std::map<std::string, std::uint64_t> table;
  for (const SplitTargetConfig& t : split.targets)
    table[t.pool] = t.weight;
  return table;
}

std::string weights_text(const std::map<std::string, std::uint64_t>& table) {
  std::string text;
  for (const auto& [pool, weight] : table) {
    if (!text.empty()) text += ' ';
    text += pool + "=" + std::to_string(weight);
  }
  return text;
}

std::string backend_text(const BackendConfig& b) {
  return "weight " + std::to_string(b.weight) + (b.backup ? ", backup" : "");
}

// The parts of one backend change, each with its own words, so that one part can be
// dropped while the others stay.
std::string addition_text(const std::string& who, const BackendChange& c) {
  return who + " added with weight " + std::to_string(c.weight.value_or(1)) +
         (c.backup.value_or(false) ? ", backup" : "");
}

std::string update_text(const std::string& who, const BackendChange& c) {
  std::string text = who;
  if (c.weight) text += " weight " + std::to_string(*c.weight);
  if (c.backup)
    text += std::string(c.weight ? "," : "") + " backup " + (*c.backup ? "true" : "false");
  return text + " (the file says weight " + std::to_string(c.file_weight) +
         (c.file_backup ? ", backup)" : ")");
}

std::string state_text(const std::string& who, AdminState state) {
  return who + (state == AdminState::drain ? " drained" : " set down");
}

std::string split_text(const std::string& name, const SplitChange& c) {
  return "split " + name + ": weights " + weights_text(c.targets) + " (the file says " +
         weights_text(c.file_targets) + ")";
}

Rate rate_of(const RateLimitPolicyConfig& policy) {
  return Rate{policy.rate, policy.per};
}

std::string policy_values_text(const Rate& rate, std::uint64_t burst, std::uint64_t delay) {
  return "rate " + format_rate(rate) + ", burst " + std::to_string(burst) + ", delay " +
         std::to_string(delay);
}

std::string limit_text(const std::string& name, const LimitChange& c) {
  std::string text = "limits " + name + ":";
  const char* separator = " ";
  if (c.rate) text += separator + ("rate " + format_rate(*c.rate)), separator = ", ";
  if (c.burst) text += separator + ("burst " + std::to_string(*c.burst)), separator = ", ";
  if (c.delay) text += separator + ("delay " + std::to_string(*c.delay));
  return text + " (the file says " + policy_values_text(c.file_rate, c.file_burst, c.file_delay) +
         ")";
}

// One line per part of a backend change.
std::vector<std::string> backend_lines(const std::string& who, const BackendChange& c) {
  std::vector<std::string> lines;
  if (c.added) lines.push_back(addition_text(who, c));
  if (c.removed) lines.push_back(who + " removed");
  if (!c.added && (c.weight || c.backup)) lines.push_back(update_text(who, c));
  if (c.state != AdminState::none) lines.push_back(state_text(who, c.state));
  return lines;
}

// Checks the parts of one backend change against the file's entry for it (nullptr: the
// file does not list it).
BackendChange prune_backend(const BackendChange& c, const BackendConfig* in_file,
                            const std::string& who, OverrideReport& report) {
  BackendChange out;
  auto keep = [&](std::string text) { report.kept.push_back(std::move(text)); };
  auto drop = [&](const std::string& text, const std::string& why) {
    report.dropped.push_back(text + ": dropped, " + why);
  };
  if (c.added) {
    if (in_file != nullptr) {
      drop(addition_text(who, c), "the file now lists it (" + backend_text(*in_file) + ")");
    } else {
      out.added = true;
      out.weight = c.weight;
      out.backup = c.backup;
      keep(addition_text(who, c));
    }
  } else if (c.removed) {
    if (in_file == nullptr) {
      drop(who + " removed", "the file no longer lists it");
    } else {
      out.removed = true;
      keep(who + " removed");
    }
  } else if (c.weight || c.backup) {
    if (in_file == nullptr) {
      drop(update_text(who, c), "the file no longer lists it");
    } else if (in_file->weight != c.file_weight || in_file->backup != c.file_backup) {
      drop(update_text(who, c), "the file now lists it with " + backend_text(*in_file));
    } else {
      out.weight = c.weight;
      out.backup = c.backup;
      out.file_weight = c.file_weight;
      out.file_backup = c.file_backup;
      keep(update_text(who, c));
    }
  }
  if (c.state != AdminState::none) {
    const bool exists = out.added || (in_file != nullptr && !out.removed);
    if (exists) {
      out.state = c.state;
      keep(state_text(who, c.state));
    } else {
      drop(state_text(who, c.state), "the backend is no longer configured");
    }
  }
  return out;
}

}  // namespace

const char* to_string(AdminState state) {
  switch (state) {
    case AdminState::none:
      return "up";
    case AdminState::drain:
      return "drain";
    case AdminState::down:
      return "down";
  }
  return "?";
}

const BackendChange* Overrides::find(const std::string& pool, const std::string& address) const {
  const auto p = backends.find(pool);
  if (p == backends.end()) return nullptr;
  const auto b = p->second.find(address);
  return b == p->second.end() ? nullptr : &b->second;
}

Overrides prune_overrides(const Overrides& changes, const Config& file, OverrideReport* report) {
  Overrides out;
  for (const auto& [pool, entries] : changes.backends) {
    const PoolConfig* file_pool = file.find_pool(pool);
    for (const auto& [address, change] : entries) {
      const std::string who = "pool " + pool + ": backend " + address;
      if (file_pool == nullptr) {
        for (const std::string& line : backend_lines(who, change))
          report->dropped.push_back(line + ": dropped, the file no longer has pool " + pool);
        continue;
      }
      BackendChange kept = prune_backend(change, find_backend(*file_pool, address), who, *report);
      if (!kept.empty()) out.backends[pool][address] = kept;
    }
  }
  for (const auto& [name, change] : changes.splits) {
    const SplitConfig* file_split = file.find_split(name);
    if (file_split == nullptr) {
      report->dropped.push_back(split_text(name, change) +
                                ": dropped, the file no longer has split " + name);
    } else if (table_of(*file_split) != change.file_targets) {
      report->dropped.push_back(split_text(name, change) +
                                ": dropped, the file's weights are now " +
                                weights_text(table_of(*file_split)));
    } else {
      out.splits[name] = change;
      report->kept.push_back(split_text(name, change));
    }
  }
  for (const auto& [name, change] : changes.limits) {
    const RateLimitPolicyConfig* policy = file.limits.find_policy(name);
    if (policy == nullptr) {
      report->dropped.push_back(limit_text(name, change) +
                                ": dropped, the file no longer has policy " + name);
    } else if (rate_of(*policy) != change.file_rate || policy->burst != change.file_burst ||
               policy->delay != change.file_delay) {
      report->dropped.push_back(limit_text(name, change) + ": dropped, the file now says " +
                                policy_values_text(rate_of(*policy), policy->burst, policy->delay));
    } else {
      out.limits[name] = change;
      report->kept.push_back(limit_text(name, change));
    }
  }
  return out;
}

std::vector<std::string> describe(const Overrides& changes) {
  std::vector<std::string> lines;
  for (const auto& [pool, entries] : changes.backends) {
    for (const auto& [address, c] : entries) {
      for (std::string& line : backend_lines("pool " + pool + ": backend " + address, c))
        lines.push_back(std::move(line));
    }
  }
  for (const auto& [name, change] : changes.splits)
    lines.push_back(split_text(name, change));
  for (const auto& [name, change] : changes.limits)
    lines.push_back(limit_text(name, change));
  return lines;
}

void normalize(Overrides& changes) {
  for (auto& [pool, entries] : changes.backends) {
    for (auto& [address, c] : entries) {
      if (c.added || c.removed) continue;
      if (c.weight == c.file_weight) c.weight.reset();
      if (c.backup == c.file_backup) c.backup.reset();
      if (!c.weight && !c.backup) c.file_weight = 1, c.file_backup = false;
    }
    std::erase_if(entries, [](const auto& e) { return e.second.empty(); });
  }
  std::erase_if(changes.backends, [](const auto& e) { return e.second.empty(); });
  std::erase_if(changes.splits,
                [](const auto& e) { return e.second.targets == e.second.file_targets; });
  for (auto& [name, c] : changes.limits) {
    if (c.rate == c.file_rate) c.rate.reset();
    if (c.burst == c.file_burst) c.burst.reset();
    if (c.delay == c.file_delay) c.delay.reset();
  }
  std::erase_if(changes.limits, [](const auto& e) { return e.second.empty(); });
}

void put_backend(Overrides& changes, const PoolConfig& file, const PoolConfig& running,
                 const std::string& address, std::optional<std::uint64_t> weight,
                 std::optional<bool> backup) {
  BackendChange& c = changes.backends[file.name][address];
  const BackendConfig* in_file = find_backend(file, address);
  const BackendConfig* now = find_backend(running, address);
  const std::uint64_t current_weight = now ? now->weight : in_file ? in_file->weight : 1;
  const bool current_backup = now ? now->backup : in_file ? in_file->backup : false;
  c.removed = false;
  c.added = in_file == nullptr;
  c.weight = weight.value_or(current_weight);
  c.backup = backup.value_or(current_backup);
  if (in_file != nullptr) {
    c.file_weight = in_file->weight;
    c.file_backup = in_file->backup;
  }
  normalize(changes);
}

void remove_backend(Overrides& changes, const PoolConfig& file, const std::string& address) {
  if (find_backend(file, address) != nullptr) {
    BackendChange removed;
    removed.removed = true;
    changes.backends[file.name][address] = removed;
  } else if (auto pool = changes.backends.find(file.name); pool != changes.backends.end()) {
    pool->second.erase(address);
  }
  normalize(changes);
}

void set_admin_state(Overrides& changes, const std::string& pool, const std::string& address,
                     AdminState state) {
  changes.backends[pool][address].state = state;
  normalize(changes);
}

void set_split(Overrides& changes, const SplitConfig& file,
               std::map<std::string, std::uint64_t> targets) {
  changes.splits[file.name] = SplitChange{std::move(targets), table_of(file)};
  normalize(changes);
}

void set_limit(Overrides& changes, const RateLimitPolicyConfig& file,
               const RateLimitPolicyConfig& running, std::optional<Rate> rate,
               std::optional<std::uint64_t> burst, std::optional<std::uint64_t> delay) {
  LimitChange& c = changes.limits[file.name];
  c.rate = rate.value_or(rate_of(running));
  c.burst = burst.value_or(running.burst);
  c.delay = delay.value_or(running.delay);
  c.file_rate = rate_of(file);
  c.file_burst = file.burst;
  c.file_delay = file.delay;
  normalize(changes);
}

LoadResult load_with_changes(std::string_view text, std::string_view name, const Config& file,
                             const Overrides& changes, Overrides* kept, OverrideReport* report) {
  *kept = prune_overrides(changes, file, report);
  LoadResult result;
  if (!kept->empty()) {
    result = load_config_with(text, name, *kept);
    if (result.ok()) return result;
    const std::string why = result.errors.front().message;
    for (const std::string& line : report->kept) {
      report->dropped.push_back(line +
                                ": dropped, the file with the runtime changes does not "
                                "validate (" +
                                why + ")");
    }
    report->kept.clear();
    *kept = {};
  }
  result = LoadResult{};
  result.config = file;
  return result;
}

namespace detail {

// The file's entry for a backend as a table, so weight and backup can be set on it
// whatever form (short string or table) the file used.
toml::table backend_table(const toml::node& entry) {
  if (const toml::table* t = entry.as_table()) return *t;
  toml::table t;
  if (const auto* address = entry.as_string()) t.insert("address", address->get());
  return t;
}

std::string address_of(const toml::node& entry) {
  const toml::node* address = entry.is_table() ? entry.as_table()->get("address") : &entry;
  return address != nullptr && address->is_string() ? address->as_string()->get() : "";
}

void apply_backend_changes(toml::table& pool, const std::map<std::string, BackendChange>& entries) {
  toml::array* file_list = pool["backends"].as_array();
  if (file_list == nullptr) return;  // the loader reports the file's own error
  toml::array list;
  for (const toml::node& entry : *file_list) {
    const auto it = entries.find(address_of(entry));
    const BackendChange* c = it == entries.end() ? nullptr : &it->second;
    if (c != nullptr && c->removed) continue;
    if (c == nullptr || (!c->weight && !c->backup)) {
      list.push_back(entry);
      continue;
    }
    toml::table t = backend_table(entry);
    if (c->weight) t.insert_or_assign("weight", static_cast<std::int64_t>(*c->weight));
    if (c->backup) t.insert_or_assign("backup", *c->backup);
    list.push_back(std::move(t));
  }
  for (const auto& [address, c] : entries) {
    if (!c.added) continue;
    list.push_back(toml::table{{"address", address},
                               {"weight", static_cast<std::int64_t>(c.weight.value_or(1))},
                               {"backup", c.backup.value_or(false)}});
  }
  pool.insert_or_assign("backends", std::move(list));
}

// Rewrites the document with the (pruned) changes; admin states are not configuration
// and are applied to the running backends instead.
void apply_overrides(toml::table& root, const Overrides& changes, Diagnostics& diag) {
  for (const auto& [pool, entries] : changes.backends) {
    if (toml::table* table = root["pools"][pool].as_table()) apply_backend_changes(*table, entries);
  }
  for (const auto& [split, change] : changes.splits) {
    toml::table* table = root["splits"][split].as_table();
    if (table == nullptr) continue;
    toml::table weights;
    for (const auto& [pool, weight] : change.targets) {
      if (weight > static_cast<std::uint64_t>(INT64_MAX)) {
        diag.error(SourcePos{}, "splits." + split + ".targets." + pool + ": " +
                                    std::to_string(weight) + " is out of range (0-2^63-1)");
        continue;
      }
      weights.insert_or_assign(pool, static_cast<std::int64_t>(weight));
    }
    table->insert_or_assign("targets", std::move(weights));
  }
  for (const auto& [policy, change] : changes.limits) {
    toml::table* table = root["limits"][policy].as_table();
    if (table == nullptr) continue;
    if (change.rate) table->insert_or_assign("rate", format_rate(*change.rate));
    for (auto [key, value] : {std::pair{"burst", change.burst}, std::pair{"delay", change.delay}}) {
      if (!value) continue;
      // The loader checks the range; only what TOML cannot hold is refused here.
      if (*value > static_cast<std::uint64_t>(INT64_MAX)) {
        diag.error(SourcePos{}, "limits." + policy + "." + key + ": " + std::to_string(*value) +
                                    " is out of range");
        continue;
      }
      table->insert_or_assign(key, static_cast<std::int64_t>(*value));
    }
  }
}

}  // namespace detail
}  // namespace veer::conf
