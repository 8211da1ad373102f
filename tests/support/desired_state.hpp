#pragma once

// The desired-state rule of issue 11 as a model, written from the issue and not from
// veer's code: what runs is the config file with the acknowledged admin changes on
// top, re-applied at every load (start, SIGHUP, POST /api/v1/reload). The model
// predicts, for each admin call and each load, the status, whether the version moves,
// the backends and split weights that run, which backends take traffic, and the state
// file (format 2) byte for byte up to JSON equality.
//
// Pure logic, no I/O: the model test drives veer and this side by side.

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace veer::test::model {

// Limits of the config file (conf/load_pools.cpp, conf/load_splits.cpp), which the API
// applies to its changes as well.
inline constexpr std::uint64_t kMaxBackendWeight = 1'000'000;
inline constexpr std::uint64_t kMaxSplitWeight = 9'223'372'036'854'775'807ULL;  // 2^63 - 1

struct FileBackend {
  std::string address;
  std::uint64_t weight = 1;
  bool backup = false;
  friend bool operator==(const FileBackend&, const FileBackend&) = default;
};

struct FilePool {
  std::string name;
  std::vector<FileBackend> backends;  // in file order
  const FileBackend* find(const std::string& address) const;
};

// A rate-limit policy's values that PUT /api/v1/limits/{policy} changes (issue 14).
struct PolicyValues {
  std::string rate = "100/s";  // "N/s" | "N/m" | "N/h", as veer writes it back
  std::uint64_t burst = 0;
  std::uint64_t delay = 0;
  friend bool operator==(const PolicyValues&, const PolicyValues&) = default;
};
inline constexpr std::uint64_t kMaxPolicyBurst = 1'000'000;  // burst and delay

// The parts of the config file the rule looks at. One split at most (its name is the
// model test's choice); nullopt = the file has no such split. Policies by name.
struct ConfigFile {
  std::vector<FilePool> pools;
  std::optional<std::map<std::string, std::uint64_t>> split;
  std::map<std::string, PolicyValues> policies;
  const FilePool* pool(const std::string& name) const;
};

enum class AdminState { none, drain, down };
enum class StateRequest { up, drain, down };

// One backend's changes: at most one of update/added/removed, plus an admin state.
struct BackendChange {
  enum class Kind { none, update, added, removed };
  Kind kind = Kind::none;
  // update: the fields that differ from the file's; added: both, always.
  std::optional<std::uint64_t> weight;
  std::optional<bool> backup;
  // update: the file's values when the update was made (zero otherwise).
  std::uint64_t file_weight = 0;
  bool file_backup = false;
  AdminState state = AdminState::none;

  bool empty() const { return kind == Kind::none && state == AdminState::none; }
  friend bool operator==(const BackendChange&, const BackendChange&) = default;
};

struct SplitChange {
  std::map<std::string, std::uint64_t> targets;
  std::map<std::string, std::uint64_t> file;  // the file's table when made
  friend bool operator==(const SplitChange&, const SplitChange&) = default;
};

// A policy's changed fields (those that differ from the file), and the file's values
// when the change was made.
struct LimitChange {
  std::optional<std::string> rate;
  std::optional<std::uint64_t> burst;
  std::optional<std::uint64_t> delay;
  PolicyValues file;
  bool empty() const { return !rate && !burst && !delay; }
  friend bool operator==(const LimitChange&, const LimitChange&) = default;
};

struct Changes {
  std::map<std::string, std::map<std::string, BackendChange>> backends;  // pool -> address
  std::optional<SplitChange> split;
  std::map<std::string, LimitChange> limits;  // by policy
  bool empty() const { return backends.empty() && !split && limits.empty(); }
  friend bool operator==(const Changes&, const Changes&) = default;
};

struct RunningBackend {
  std::uint64_t weight = 1;
  bool backup = false;
  AdminState state = AdminState::none;
  friend bool operator==(const RunningBackend&, const RunningBackend&) = default;
};

// pool -> address -> what runs.
using RunningPools = std::map<std::string, std::map<std::string, RunningBackend>>;

struct Outcome {
  int status = 200;
  bool changed = false;  // a 2xx that changed the overrides: the version goes up by 1
};

// One change a load dropped: a backend's (by pool and address), a policy's, or the
// split's.
struct Dropped {
  std::string pool;     // empty for the split and a policy
  std::string address;  // empty for the split and a policy
  bool pool_gone = false;
  std::string policy;  // a policy's change
};

struct LoadReport {
  std::vector<Dropped> dropped;
  bool dropped_all = false;  // the kept changes did not validate on the new file
};

class DesiredState {
 public:
  DesiredState(std::string split_name, ConfigFile file);

  const ConfigFile& file() const { return file_; }  // as last loaded
  const Changes& changes() const { return changes_; }
  const std::string& split_name() const { return split_name_; }

  RunningPools running() const;
  std::optional<std::map<std::string, std::uint64_t>> running_split() const;
  // Addresses that take traffic in `pool`: routable primaries, else routable backups
  // (routable: weight > 0 and no admin state; the test runs no health checks).
  std::set<std::string> routable(const std::string& pool) const;
  bool is_running(const std::string& pool, const std::string& address) const;
  // Each policy's values as they run: the file's with the changes on top.
  std::map<std::string, PolicyValues> running_limits() const;

  // The admin calls, with bodies that are well-formed JSON of the right types (the
  // test predicts refusals of malformed bodies itself).
  Outcome put_backend(const std::string& pool, const std::string& address,
                      std::optional<std::uint64_t> weight, std::optional<bool> backup);
  Outcome patch_backend(const std::string& pool, const std::string& address,
                        std::optional<StateRequest> state, std::optional<std::uint64_t> weight);
  Outcome delete_backend(const std::string& pool, const std::string& address);
  Outcome put_split(const std::string& split, const std::map<std::string, std::uint64_t>& targets);
  // PUT /api/v1/limits/{policy} with valid values; at least one is given.
  Outcome put_limit(const std::string& policy, std::optional<std::string> rate,
                    std::optional<std::uint64_t> burst, std::optional<std::uint64_t> delay);
  Outcome delete_overrides();
  // A load of a valid `file`: start with a state file, SIGHUP, POST /api/v1/reload.
  LoadReport load(ConfigFile file);

  // The state file veer must hold now (format 2), and GET /api/v1/overrides' field.
  boost::json::value state_file() const;

 private:
  Outcome commit(Changes next, int status);
  // PUT's and PATCH's field changes on `entry` of a backend of `pool`.
  void set_fields(const std::string& pool, const std::string& address, BackendChange& entry,
                  std::optional<std::uint64_t> weight, std::optional<bool> backup) const;

  std::string split_name_;
  ConfigFile file_;
  Changes changes_;
};

// A state file or overrides document with absent "backends"/"splits" read as empty
// objects, so that "nothing there" compares equal however veer spells it.
boost::json::value normalised_state(const boost::json::value& state);

const char* state_name(AdminState state);  // as GET /api/v1/pools shows it

}  // namespace veer::test::model
