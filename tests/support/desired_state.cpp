#include "support/desired_state.hpp"

#include <algorithm>
#include <boost/json.hpp>

namespace veer::test::model {
namespace json = boost::json;

const FileBackend* FilePool::find(const std::string& address) const {
  for (const FileBackend& b : backends) {
    if (b.address == address) return &b;
  }
  return nullptr;
}

const FilePool* ConfigFile::pool(const std::string& name) const {
  for (const FilePool& p : pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const char* state_name(AdminState state) {
  switch (state) {
    case AdminState::drain:
      return "draining";
    case AdminState::down:
      return "disabled";
    case AdminState::none:
      break;
  }
  return "up";
}

DesiredState::DesiredState(std::string split_name, ConfigFile file)
    : split_name_(std::move(split_name)), file_(std::move(file)) {}

RunningPools DesiredState::running() const {
  RunningPools out;
  for (const FilePool& pool : file_.pools) {
    auto& backends = out[pool.name];
    const auto changes = changes_.backends.find(pool.name);
    auto change_of = [&](const std::string& address) -> const BackendChange* {
      if (changes == changes_.backends.end()) return nullptr;
      const auto it = changes->second.find(address);
      return it == changes->second.end() ? nullptr : &it->second;
    };
    for (const FileBackend& b : pool.backends) {
      const BackendChange* c = change_of(b.address);
      RunningBackend r{b.weight, b.backup, AdminState::none};
      if (c != nullptr) {
        if (c->kind == BackendChange::Kind::removed) continue;
        r.weight = c->weight.value_or(b.weight);
        r.backup = c->backup.value_or(b.backup);
        r.state = c->state;
      }
      backends[b.address] = r;
    }
    if (changes == changes_.backends.end()) continue;
    for (const auto& [address, c] : changes->second) {
      if (c.kind == BackendChange::Kind::added)
        backends[address] = RunningBackend{*c.weight, *c.backup, c.state};
    }
  }
  return out;
}

std::optional<std::map<std::string, std::uint64_t>> DesiredState::running_split() const {
  if (!file_.split) return std::nullopt;
  return changes_.split ? changes_.split->targets : *file_.split;
}

std::set<std::string> DesiredState::routable(const std::string& pool) const {
  const RunningPools pools = running();
  const auto it = pools.find(pool);
  if (it == pools.end()) return {};
  std::set<std::string> primaries, backups;
  for (const auto& [address, b] : it->second) {
    if (b.weight == 0 || b.state != AdminState::none) continue;
    (b.backup ? backups : primaries).insert(address);
  }
  return primaries.empty() ? backups : primaries;
}

bool DesiredState::is_running(const std::string& pool, const std::string& address) const {
  const RunningPools pools = running();
  const auto it = pools.find(pool);
  return it != pools.end() && it->second.count(address) != 0;
}

std::map<std::string, PolicyValues> DesiredState::running_limits() const {
  std::map<std::string, PolicyValues> out = file_.policies;
  for (const auto& [name, c] : changes_.limits) {
    PolicyValues& v = out.at(name);
    v.rate = c.rate.value_or(v.rate);
    v.burst = c.burst.value_or(v.burst);
    v.delay = c.delay.value_or(v.delay);
  }
  return out;
}

Outcome DesiredState::commit(Changes next, int status) {
  for (auto pool = next.backends.begin(); pool != next.backends.end();) {
    std::erase_if(pool->second, [](const auto& e) { return e.second.empty(); });
    pool = pool->second.empty() ? next.backends.erase(pool) : std::next(pool);
  }
  std::erase_if(next.limits, [](const auto& e) { return e.second.empty(); });
  const bool changed = !(next == changes_);
  changes_ = std::move(next);
  return Outcome{status, changed};
}

void DesiredState::set_fields(const std::string& pool, const std::string& address,
                              BackendChange& entry, std::optional<std::uint64_t> weight,
                              std::optional<bool> backup) const {
  const FileBackend* file = file_.pool(pool)->find(address);
  if (file == nullptr) {
    // An addition, new or updated.
    if (entry.kind != BackendChange::Kind::added) {
      entry.kind = BackendChange::Kind::added;
      entry.weight = 1;
      entry.backup = false;
    }
    if (weight) entry.weight = weight;
    if (backup) entry.backup = backup;
    return;
  }
  std::uint64_t current_weight = file->weight;
  bool current_backup = file->backup;
  if (entry.kind == BackendChange::Kind::removed) {
    entry = BackendChange{};  // the removal is forgotten
  } else if (entry.kind == BackendChange::Kind::update) {
    current_weight = entry.weight.value_or(file->weight);
    current_backup = entry.backup.value_or(file->backup);
  }
  const std::uint64_t w = weight.value_or(current_weight);
  const bool b = backup.value_or(current_backup);
  entry.weight = w != file->weight ? std::optional(w) : std::nullopt;
  entry.backup = b != file->backup ? std::optional(b) : std::nullopt;
  const bool update = entry.weight || entry.backup;
  entry.kind = update ? BackendChange::Kind::update : BackendChange::Kind::none;
  entry.file_weight = update ? file->weight : 0;
  entry.file_backup = update ? file->backup : false;
}

Outcome DesiredState::put_backend(const std::string& pool, const std::string& address,
                                  std::optional<std::uint64_t> weight, std::optional<bool> backup) {
  if (file_.pool(pool) == nullptr) return {404};
  if (weight && *weight > kMaxBackendWeight) return {400};
  Changes next = changes_;
  set_fields(pool, address, next.backends[pool][address], weight, backup);
  return commit(std::move(next), 200);
}

Outcome DesiredState::patch_backend(const std::string& pool, const std::string& address,
                                    std::optional<StateRequest> state,
                                    std::optional<std::uint64_t> weight) {
  if (!is_running(pool, address)) return {404};
  if (weight && *weight > kMaxBackendWeight) return {400};
  Changes next = changes_;
  BackendChange& entry = next.backends[pool][address];
  if (weight) set_fields(pool, address, entry, weight, std::nullopt);
  if (state) {
    entry.state = *state == StateRequest::drain  ? AdminState::drain
                  : *state == StateRequest::down ? AdminState::down
                                                 : AdminState::none;
  }
  return commit(std::move(next), 200);
}

Outcome DesiredState::delete_backend(const std::string& pool, const std::string& address) {
  if (!is_running(pool, address)) return {404};
  Changes next = changes_;
  if (file_.pool(pool)->find(address) != nullptr) {
    next.backends[pool][address] = BackendChange{.kind = BackendChange::Kind::removed};
  } else {
    next.backends[pool].erase(address);  // an addition is simply forgotten
  }
  return commit(std::move(next), 202);
}

Outcome DesiredState::put_split(const std::string& split,
                                const std::map<std::string, std::uint64_t>& targets) {
  if (split != split_name_ || !file_.split) return {404};
  if (targets.empty()) return {400};
  bool any_traffic = false;
  for (const auto& [pool, weight] : targets) {
    if (file_.pool(pool) == nullptr || weight > kMaxSplitWeight) return {400};
    any_traffic = any_traffic || weight > 0;
  }
  if (!any_traffic) return {400};  // the file refuses all-zero weights too
  Changes next = changes_;
  if (targets == *file_.split) {
    next.split.reset();
  } else {
    next.split = SplitChange{targets, *file_.split};
  }
  return commit(std::move(next), 200);
}

Outcome DesiredState::put_limit(const std::string& policy, std::optional<std::string> rate,
                                std::optional<std::uint64_t> burst,
                                std::optional<std::uint64_t> delay) {
  const auto file = file_.policies.find(policy);
  if (file == file_.policies.end()) return {404};
  if (!rate && !burst && !delay) return {400};
  if ((burst && *burst > kMaxPolicyBurst) || (delay && *delay > kMaxPolicyBurst)) return {400};
  // Fields not given keep what runs; a field equal to the file's is no change.
  const PolicyValues now = running_limits().at(policy);
  const PolicyValues wanted{rate.value_or(now.rate), burst.value_or(now.burst),
                            delay.value_or(now.delay)};
  const PolicyValues& in_file = file->second;
  LimitChange c;
  if (wanted.rate != in_file.rate) c.rate = wanted.rate;
  if (wanted.burst != in_file.burst) c.burst = wanted.burst;
  if (wanted.delay != in_file.delay) c.delay = wanted.delay;
  if (!c.empty()) c.file = in_file;
  Changes next = changes_;
  next.limits[policy] = c;
  return commit(std::move(next), 200);
}

Outcome DesiredState::delete_overrides() {
  return commit(Changes{}, 200);
}

LoadReport DesiredState::load(ConfigFile file) {
  LoadReport report;
  Changes next;
  for (const auto& [pool, entries] : changes_.backends) {
    const FilePool* listed = file.pool(pool);
    for (const auto& [address, change] : entries) {
      if (listed == nullptr) {
        report.dropped.push_back({pool, address, true});
        continue;
      }
      const FileBackend* in_file = listed->find(address);
      BackendChange kept = change;
      auto drop_fields = [&] {
        kept.kind = BackendChange::Kind::none;
        kept.weight.reset();
        kept.backup.reset();
        kept.file_weight = 0;
        kept.file_backup = false;
        report.dropped.push_back({pool, address, false});
      };
      switch (change.kind) {
        case BackendChange::Kind::update:
          if (in_file == nullptr || in_file->weight != change.file_weight ||
              in_file->backup != change.file_backup) {
            drop_fields();
          }
          break;
        case BackendChange::Kind::added:
          if (in_file != nullptr) drop_fields();  // the file's entry wins
          break;
        case BackendChange::Kind::removed:
          if (in_file == nullptr) drop_fields();
          break;
        case BackendChange::Kind::none:
          break;
      }
      const bool exists = (in_file != nullptr && kept.kind != BackendChange::Kind::removed) ||
                          kept.kind == BackendChange::Kind::added;
      if (kept.state != AdminState::none && !exists) {
        kept.state = AdminState::none;
        report.dropped.push_back({pool, address, false});
      }
      if (!kept.empty()) next.backends[pool][address] = kept;
    }
  }
  if (changes_.split) {
    if (file.split && *file.split == changes_.split->file) {
      next.split = changes_.split;
    } else {
      report.dropped.push_back({});
    }
  }
  for (const auto& [policy, change] : changes_.limits) {
    const auto in_file = file.policies.find(policy);
    if (in_file != file.policies.end() && in_file->second == change.file) {
      next.limits[policy] = change;
    } else {
      report.dropped.push_back(Dropped{.policy = policy});
    }
  }
  // The file with the kept changes must validate like a file: a kept split table may
  // name a pool the new file no longer has.
  if (next.split) {
    for (const auto& [pool, weight] : next.split->targets) {
      if (file.pool(pool) == nullptr) report.dropped_all = true;
    }
  }
  if (report.dropped_all) next = Changes{};
  file_ = std::move(file);
  changes_ = std::move(next);
  return report;
}

json::value DesiredState::state_file() const {
  json::object backends;
  for (const auto& [pool, entries] : changes_.backends) {
    json::object listed;
    for (const auto& [address, c] : entries) {
      json::object e;
      switch (c.kind) {
        case BackendChange::Kind::removed:
          e["removed"] = true;
          break;
        case BackendChange::Kind::added:
          e["added"] = true;
          e["weight"] = *c.weight;
          e["backup"] = *c.backup;
          break;
        case BackendChange::Kind::update:
          if (c.weight) e["weight"] = *c.weight;
          if (c.backup) e["backup"] = *c.backup;
          e["file"] = json::object{{"weight", c.file_weight}, {"backup", c.file_backup}};
          break;
        case BackendChange::Kind::none:
          break;
      }
      if (c.state == AdminState::drain) e["state"] = "drain";
      if (c.state == AdminState::down) e["state"] = "down";
      listed[address] = std::move(e);
    }
    backends[pool] = std::move(listed);
  }
  json::object splits;
  if (changes_.split) {
    json::object targets, file;
    for (const auto& [pool, weight] : changes_.split->targets)
      targets[pool] = weight;
    for (const auto& [pool, weight] : changes_.split->file)
      file[pool] = weight;
    splits[split_name_] = json::object{{"targets", std::move(targets)}, {"file", std::move(file)}};
  }
  json::object state{
      {"format", 2}, {"backends", std::move(backends)}, {"splits", std::move(splits)}};
  // Only when there is one (a state without is what veer wrote before limits).
  if (!changes_.limits.empty()) {
    json::object limits;
    for (const auto& [policy, c] : changes_.limits) {
      json::object e;
      if (c.rate) e["rate"] = *c.rate;
      if (c.burst) e["burst"] = *c.burst;
      if (c.delay) e["delay"] = *c.delay;
      e["file"] =
          json::object{{"rate", c.file.rate}, {"burst", c.file.burst}, {"delay", c.file.delay}};
      limits[policy] = std::move(e);
    }
    state["limits"] = std::move(limits);
  }
  return state;
}

namespace {

// Integers compare by value whatever their JSON kind (2 read as int64 or uint64).
json::value canonical(const json::value& v) {
  if (v.is_int64() && v.as_int64() >= 0)
    return json::value(static_cast<std::uint64_t>(v.as_int64()));
  if (v.is_object()) {
    json::object o;
    for (const auto& [key, value] : v.as_object())
      o[key] = canonical(value);
    return o;
  }
  if (v.is_array()) {
    json::array a;
    for (const json::value& value : v.as_array())
      a.push_back(canonical(value));
    return a;
  }
  return v;
}

}  // namespace

json::value normalised_state(const json::value& state) {
  json::value v = canonical(state);
  if (!v.is_object()) return v;
  json::object& o = v.as_object();
  for (const char* key : {"backends", "splits"}) {
    if (!o.contains(key)) o[key] = json::object{};
  }
  return v;
}

}  // namespace veer::test::model
