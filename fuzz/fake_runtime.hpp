#pragma once

// A fake admin::Runtime for fuzz_admin_router: it does what Server does with a change
// (validate the file with the overrides on top, build a real snapshot, swap it in), but
// in memory, with no state file and no workers. It records whether a change was
// applied, so the fuzz target can check that no state changes without a 2xx reply.
//
// Keep it minimal: the Runtime interface is changing (file_config(), the last load's
// report); only what admin::Api calls belongs here.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "admin/api.hpp"
#include "conf/load.hpp"
#include "conf/overrides.hpp"
#include "proxy/snapshot.hpp"

namespace veer::fuzz {

// Two pools, a split over them, a few backends, and an [admin] table whose tokens the
// fuzz target switches on or off.
inline constexpr const char* kFakeConfig = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  path_prefix = "/blue"
  target = "blue"
  [[listeners.public.routes]]
  target = "rpc"
[pools.blue]
strategy = "weighted"
backends = ["127.0.0.1:19001", { address = "127.0.0.1:19002", weight = 3 },
            { address = "[::1]:19003", backup = true }]
[pools.green]
backends = ["127.0.0.1:19011", "127.0.0.1:19012"]
[splits.rpc]
targets = { blue = 90, green = 10 }
sticky = "client_ip"
override_header = "X-Veer-Version"
[admin]
address = "127.0.0.1:9901"
)";

class FakeRuntime final : public admin::Runtime {
 public:
  // `fail_apply`: every apply() fails as a state file that cannot be written would, and
  // every reload() as a file that became invalid.
  explicit FakeRuntime(bool fail_apply) : fail_apply_(fail_apply) { snapshot_ = load(overrides_); }

  std::shared_ptr<const proxy::Snapshot> snapshot() const override { return snapshot_; }
  const conf::Overrides& overrides() const override { return overrides_; }
  bool ready() const override { return true; }

  Outcome apply(conf::Overrides next, std::optional<conf::Duration>) override {
    if (fail_apply_) return Outcome{{"state file: disk full (fake)"}, version_, true};
    conf::LoadResult result = conf::load_config_with(kFakeConfig, "fake.toml", next);
    if (!result.ok()) return refused(result);
    overrides_ = std::move(next);
    swap_in(std::move(*result.config));
    return Outcome{{}, version_, false};
  }

  Outcome reload() override {
    if (fail_apply_) return Outcome{{"fake.toml:1:1: invalid (fake)"}, version_, false};
    conf::LoadResult result = conf::load_config_with(kFakeConfig, "fake.toml", overrides_);
    if (!result.ok()) return refused(result);
    swap_in(std::move(*result.config));
    return Outcome{{}, version_, false};
  }

  std::optional<std::string> metrics() override { return "veer_up 1\n"; }
  std::map<std::string, std::uint64_t> split_assignments(const std::string&) override {
    return {{"blue", 9}, {"green", 1}};
  }

  // Whether apply() or reload() changed what runs since the last call.
  bool take_changed() { return std::exchange(changed_, false); }

 private:
  std::shared_ptr<const proxy::Snapshot> load(const conf::Overrides& overrides) {
    conf::LoadResult result = conf::load_config_with(kFakeConfig, "fake.toml", overrides);
    if (!result.ok()) __builtin_trap();  // kFakeConfig itself must be valid
    return proxy::build_snapshot(std::move(*result.config), ++version_, registry_);
  }
  Outcome refused(const conf::LoadResult& result) const {
    Outcome outcome{{}, version_, false};
    for (const conf::ConfigError& e : result.errors)
      outcome.errors.push_back(e.to_string());
    if (outcome.errors.empty()) outcome.errors.push_back("refused");
    return outcome;
  }
  void swap_in(conf::Config config) {
    snapshot_ = proxy::build_snapshot(std::move(config), ++version_, registry_);
    changed_ = true;
  }

  bool fail_apply_;
  bool changed_ = false;
  std::uint64_t version_ = 0;
  conf::Overrides overrides_;
  proxy::BackendRegistry registry_;
  std::shared_ptr<const proxy::Snapshot> snapshot_;
};

}  // namespace veer::fuzz
