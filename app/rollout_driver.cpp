#include "app/rollout_driver.hpp"

#include <boost/json.hpp>

#include "admin/audit.hpp"
#include "conf/duration.hpp"
#include "core/log.hpp"

namespace veer::app {

RolloutDriver::RolloutDriver(asio::io_context& control, Hooks hooks)
    : timer_(control), hooks_(std::move(hooks)) {}

std::int64_t RolloutDriver::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void RolloutDriver::start_ticking() {
  last_tick_ = last_save_ = std::chrono::steady_clock::now();
  book_.baseline(hooks_.totals());
  timer_.expires_after(kRolloutTick);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void RolloutDriver::tick() {
  const auto now = std::chrono::steady_clock::now();
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_tick_);
  last_tick_ = now;
  RolloutEffects effects;
  book_.tick(hooks_.totals(), hooks_.running()->config, elapsed.count(), now_ms(), effects);
  if (!effects.persist && book_.any_unfinished() && now - last_save_ >= kRolloutSave)
    effects.persist = true;
  if (!unapplied_.empty() && now - last_retry_ >= kRetryWeights) {
    last_retry_ = now;
    for (const auto& [split, weights] : unapplied_)
      effects.split_weights.try_emplace(split, weights);
  }
  carry_out(effects);
  timer_.expires_after(kRolloutTick);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void RolloutDriver::restore(std::vector<runtime::RolloutRecord> records) {
  RolloutEffects effects;
  book_.restore(std::move(records), now_ms(), effects);
  for (const std::string& line : effects.lines)
    core::log::info(line);
}

void RolloutDriver::reconcile() {
  if (carrying_out_) return;
  RolloutEffects effects;
  book_.reconcile(hooks_.file(), hooks_.running()->config, now_ms(), effects);
  carry_out(effects);
}

// Weights first (each a change through the server, which also writes the state file),
// then the lines, then the state file if no weight change wrote it.
bool RolloutDriver::carry_out(const RolloutEffects& effects, std::string* failure) {
  if (effects.empty()) return true;
  const std::uint64_t before = hooks_.version();
  bool ok = true;
  const auto refused = [&](const std::string& why) {
    ok = false;
    if (failure != nullptr && failure->empty()) *failure = why;
  };
  carrying_out_ = true;
  for (const auto& [split, weights] : effects.split_weights) {
    std::string why;
    if (hooks_.set_split(split, weights, &why)) {
      unapplied_.erase(split);
      continue;
    }
    core::log::error("rollout: split ", split, " keeps its weights for now (retried every ",
                     conf::format_duration(kRetryWeights), "): the change was refused: ", why);
    unapplied_[split] = weights;
    refused("split " + split + ": " + why);
  }
  carrying_out_ = false;
  for (const std::string& line : effects.lines) {
    core::log::info(line);
    admin::append_audit(hooks_.running()->config.admin.audit_log,
                        admin::audit_line("rollout", "ROLLOUT", "/api/v1/rollouts", before,
                                          hooks_.version(), line));
  }
  if (effects.persist) {
    std::string why;
    if (!hooks_.persist(&why)) refused("state file: " + why);
    last_save_ = std::chrono::steady_clock::now();
  }
  return ok;
}

admin::Runtime::RolloutResult RolloutDriver::answer(const RolloutReply& reply,
                                                    const RolloutEffects& effects) {
  if (reply.status >= 400) return {reply.status, reply.why, hooks_.version()};
  std::string failure;
  if (!carry_out(effects, &failure)) {
    return {500, "recorded, but not yet in force (weights are retried every second): " + failure,
            hooks_.version()};
  }
  return {reply.status, reply.why, hooks_.version()};
}

admin::Runtime::RolloutResult RolloutDriver::start(conf::RolloutConfig rollout) {
  RolloutEffects effects;
  const RolloutReply reply =
      book_.start(std::move(rollout), hooks_.running()->config, now_ms(), effects);
  return answer(reply, effects);
}

admin::Runtime::RolloutResult RolloutDriver::act(const std::string& name,
                                                 runtime::RolloutAction action) {
  RolloutEffects effects;
  const RolloutReply reply = book_.act(name, action, hooks_.running()->config, now_ms(), effects);
  return answer(reply, effects);
}

admin::Runtime::RolloutResult RolloutDriver::forget(const std::string& name) {
  RolloutEffects effects;
  const RolloutReply reply = book_.forget(name, hooks_.running()->config, now_ms(), effects);
  return answer(reply, effects);
}

}  // namespace veer::app
