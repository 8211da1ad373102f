#pragma once

// Runtime changes made through the admin API, kept per backend and per split. What runs
// is always the configuration file with these changes on top; every load (start,
// SIGHUP, POST /api/v1/reload) checks each change against the file as it is now and
// drops the ones that no longer apply (prune_overrides; the rule is in
// docs/OPERATIONS.md, "Desired state"). Keeping the last value per field, not a log of
// calls, is the same as replaying the calls in order, and keeps the state file small.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/load.hpp"
#include "conf/rate_limit.hpp"

namespace veer::conf {

// An operator's hold on a backend, apart from health: HAProxy's drain and maint.
enum class AdminState { none, drain, down };
const char* to_string(AdminState state);

// What the runtime changed about one backend of one pool.
struct BackendChange {
  // Not in the file: `weight` and `backup` are its whole definition.
  bool added = false;
  // In the file, taken out through the API.
  bool removed = false;
  // For a file backend: the fields that differ from the file, made while the file said
  // `file_weight` and `file_backup` (a file that now says otherwise wins).
  std::optional<std::uint64_t> weight;
  std::optional<bool> backup;
  std::uint64_t file_weight = 1;
  bool file_backup = false;
  AdminState state = AdminState::none;

  bool empty() const {
    return !added && !removed && !weight && !backup && state == AdminState::none;
  }
  friend bool operator==(const BackendChange&, const BackendChange&) = default;
};

// A split's whole weight table, set while the file's table was `file_targets`.
struct SplitChange {
  std::map<std::string, std::uint64_t> targets;
  std::map<std::string, std::uint64_t> file_targets;
  friend bool operator==(const SplitChange&, const SplitChange&) = default;
};

// A rate-limit policy's rate, burst and delay as set through the API (PUT
// /api/v1/limits/{policy}): the fields that differ from the file, made while the file
// said `file_rate`, `file_burst` and `file_delay` (a file that now says otherwise wins).
struct LimitChange {
  std::optional<Rate> rate;
  std::optional<std::uint64_t> burst;
  std::optional<std::uint64_t> delay;
  Rate file_rate;
  std::uint64_t file_burst = 0;
  std::uint64_t file_delay = 0;

  bool empty() const { return !rate && !burst && !delay; }
  friend bool operator==(const LimitChange&, const LimitChange&) = default;
};

struct Overrides {
  std::map<std::string, std::map<std::string, BackendChange>> backends;  // pool -> address
  std::map<std::string, SplitChange> splits;
  std::map<std::string, LimitChange> limits;  // by policy name

  bool empty() const { return backends.empty() && splits.empty() && limits.empty(); }
  const BackendChange* find(const std::string& pool, const std::string& address) const;
  friend bool operator==(const Overrides&, const Overrides&) = default;
};

// What the last load kept and dropped, in words an operator reads in the log and in
// GET /api/v1/config.
struct OverrideReport {
  std::vector<std::string> kept;
  std::vector<std::string> dropped;
};

// The changes of `changes` that still apply to `file` (the configuration file alone);
// each dropped one is described in report->dropped, each kept one in report->kept.
Overrides prune_overrides(const Overrides& changes, const Config& file, OverrideReport* report);

// One line per change ("pool rpc: backend 127.0.0.1:1 drained").
std::vector<std::string> describe(const Overrides& changes);

// Removes what equals the file (an update back to the file's values, a split table
// equal to the file's), so equal states compare equal and the state file stays small.
void normalize(Overrides& changes);

// --- Edits, one per admin call. `file` is the file alone; `running` the pool or split
// as it runs now (file plus changes). Each leaves `changes` normalised. ----------------

// PUT .../backends/ADDRESS: updates or adds; fields not given keep their running values.
void put_backend(Overrides& changes, const PoolConfig& file, const PoolConfig& running,
                 const std::string& address, std::optional<std::uint64_t> weight,
                 std::optional<bool> backup);
// DELETE .../backends/ADDRESS: a file backend is removed, an added one forgotten.
void remove_backend(Overrides& changes, const PoolConfig& file, const std::string& address);
// PATCH {"state": ...}: the backend must be running.
void set_admin_state(Overrides& changes, const std::string& pool, const std::string& address,
                     AdminState state);
// PUT /api/v1/splits/NAME.
void set_split(Overrides& changes, const SplitConfig& file,
               std::map<std::string, std::uint64_t> targets);

// PUT /api/v1/limits/NAME: fields not given keep their running values (`running`: the
// policy as it runs now).
void set_limit(Overrides& changes, const RateLimitPolicyConfig& file,
               const RateLimitPolicyConfig& running, std::optional<Rate> rate,
               std::optional<std::uint64_t> burst, std::optional<std::uint64_t> delay);

// load_config_string with `changes` applied to the parsed document before validation,
// so they go through exactly the checks a file does. Call it with pruned changes:
// a change that does not apply to the text is skipped here.
LoadResult load_config_with(std::string_view toml_text, std::string_view name,
                            const Overrides& changes);

// The desired-state rule as one load: `text` (valid alone as `file`) with the changes
// that still apply on top; when the file with them does not validate, the file alone
// and every change dropped. *kept receives what runs, *report what was kept and dropped.
LoadResult load_with_changes(std::string_view text, std::string_view name, const Config& file,
                             const Overrides& changes, Overrides* kept, OverrideReport* report);

}  // namespace veer::conf
