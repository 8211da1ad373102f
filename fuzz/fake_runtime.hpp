#pragma once

// A fake admin::Runtime for fuzz_admin_router: it does what Server does with a change
// (validate the file with the overrides on top, build a real snapshot, swap it in), but
// in memory, with no state file and no workers. It records whether a change was
// applied, so the fuzz target can check that no state changes without a 2xx reply.
//
// Keep it minimal: only what admin::Api calls belongs here.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "admin/api.hpp"
#include "app/rollout_book.hpp"
#include "conf/load.hpp"
#include "conf/overrides.hpp"
#include "runtime/snapshot.hpp"

namespace veer::fuzz {

// Two pools, a split over them, a few backends, two rate-limit policies (local: the
// snapshot makes their Limiters), and an [admin] table whose tokens the
// fuzz target switches on or off.
inline constexpr const char* kFakeConfig = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  path_prefix = "/blue"
  target = "blue"
  [[listeners.public.routes]]
  target = "rpc"
  limits = ["per_client", "by_key"]
[limits.per_client]
rate = "100/s"
burst = 20
[limits.by_key]
rate = "6000/m"
key = ["client_ip", "header:X-Api-Key", "route"]
ipv4_prefix = 24
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

// The configuration file alone; fatal if kFakeConfig itself does not load.
inline conf::Config fake_file_config() {
  conf::LoadResult result = conf::load_config_string(kFakeConfig, "fake.toml");
  if (!result.ok()) __builtin_trap();
  return std::move(*result.config);
}

// The file and its snapshot, built once: each input starts from them (a fresh build per
// input would cost more than most requests).
struct FakeStart {
  conf::Config file = fake_file_config();
  runtime::BackendRegistry registry;
  std::shared_ptr<const runtime::Snapshot> snapshot = runtime::build_snapshot(file, 1, registry);
};
inline const FakeStart& fake_start() {
  static const FakeStart start;
  return start;
}

class FakeRuntime final : public admin::Runtime {
 public:
  // `fail`: every apply() fails as a state file that cannot be written would, and every
  // reload() as a file that became invalid.
  explicit FakeRuntime(bool fail)
      : fail_(fail), file_(fake_start().file), snapshot_(fake_start().snapshot) {}

  std::shared_ptr<const runtime::Snapshot> snapshot() const override { return snapshot_; }
  const conf::Config& file_config() const override { return file_; }
  const conf::Overrides& overrides() const override { return overrides_; }
  const conf::OverrideReport& override_report() const override { return report_; }
  bool ready() const override { return true; }

  // As Server::apply: the file with `next` on top, checked as a file.
  Outcome apply(conf::Overrides next, std::optional<conf::Duration>) override {
    if (fail_) return Outcome{{"state file: disk full (fake)"}, version_, true};
    conf::LoadResult result = conf::load_config_with(kFakeConfig, "fake.toml", next);
    if (!result.ok()) return refused(result);
    overrides_ = std::move(next);
    report_ = {conf::describe(overrides_), {}};
    swap_in(std::move(*result.config));
    return Outcome{{}, version_, false};
  }

  // As Server::reload: the changes that still apply, or the file alone.
  Outcome reload() override {
    if (fail_) return Outcome{{"fake.toml:1:1: invalid (fake)"}, version_, false};
    conf::OverrideReport report;
    conf::Overrides kept = conf::prune_overrides(overrides_, file_, &report);
    conf::LoadResult result = conf::load_config_with(kFakeConfig, "fake.toml", kept);
    if (!result.ok()) {
      kept = {};
      result.config = file_;
    }
    overrides_ = std::move(kept);
    report_ = std::move(report);
    swap_in(std::move(*result.config));
    return Outcome{{}, version_, false};
  }

  void count_change(bool succeeded) override { changed_ = changed_ || succeeded; }
  std::optional<std::string> metrics() override { return "veer_up 1\n"; }
  std::map<std::string, std::uint64_t> split_assignments(const std::string&) override {
    return {{"blue", 9}, {"green", 1}};
  }
  std::map<std::string, admin::PolicyRequests> policy_requests() override {
    return {{"per_client", {90, 9, 1, 0}}};
  }
  // Rollouts through the real book (app/rollout_book.hpp), with a clock that only moves
  // on calls; a decision's weights are applied like the server's change path does.
  const std::map<std::string, runtime::RolloutRecord>& rollouts() const override {
    return book_.records();
  }
  RolloutResult start_rollout(conf::RolloutConfig rollout) override {
    app::RolloutEffects effects;
    return answer(book_.start(std::move(rollout), snapshot_->config, ++clock_, effects), effects);
  }
  RolloutResult act_on_rollout(const std::string& name, runtime::RolloutAction action) override {
    app::RolloutEffects effects;
    return answer(book_.act(name, action, snapshot_->config, ++clock_, effects), effects);
  }
  RolloutResult forget_rollout(const std::string& name) override {
    app::RolloutEffects effects;
    return answer(book_.forget(name, snapshot_->config, ++clock_, effects), effects);
  }

  // Whether apply() or reload() changed what runs, or the API counted a successful
  // change, since the last call.
  bool take_changed() { return std::exchange(changed_, false); }

 private:
  Outcome refused(const conf::LoadResult& result) const {
    Outcome outcome{{}, version_, false};
    for (const conf::ConfigError& e : result.errors)
      outcome.errors.push_back(e.to_string());
    if (outcome.errors.empty()) outcome.errors.push_back("refused");
    return outcome;
  }
  RolloutResult answer(const app::RolloutReply& reply, const app::RolloutEffects& effects) {
    if (reply.status >= 400) return {reply.status, reply.why, version_};
    changed_ = true;
    for (const auto& [split, weights] : effects.split_weights) {
      conf::Overrides next = overrides_;
      conf::set_split(next, *file_.find_split(split), weights);
      apply(std::move(next), std::nullopt);
    }
    return {reply.status, reply.why, version_};
  }
  void swap_in(conf::Config config) {
    snapshot_ = runtime::build_snapshot(std::move(config), ++version_, registry_);
    changed_ = true;
  }

  bool fail_;
  bool changed_ = false;
  std::uint64_t version_ = 1;
  conf::Config file_;
  conf::Overrides overrides_;
  conf::OverrideReport report_;
  runtime::BackendRegistry registry_;
  std::shared_ptr<const runtime::Snapshot> snapshot_;
  app::RolloutBook book_;
  std::int64_t clock_ = 0;
};

}  // namespace veer::fuzz
