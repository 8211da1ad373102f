#pragma once

// Drives the process's rollouts (app/rollout_book.hpp) on the server's control thread:
// a tick every kRolloutTick judges them from the workers' counts, and every decision is
// carried out: the split's new weights go through the server's change path (validated,
// persisted, swapped in like an admin change), and each decision becomes a log line and
// an audit line. Compiled with each engine (it uses Asio's timer).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "admin/api.hpp"
#include "app/rollout_book.hpp"
#include "core/asio.hpp"
#include "runtime/snapshot.hpp"

namespace veer::app {

inline constexpr std::chrono::milliseconds kRolloutTick{100};
// While a rollout is unfinished, new evidence reaches the state file within this (a
// decision writes it at once), so a kill -9 loses at most this much of it. A write is a
// few kilobytes and two fsyncs on the control thread.
inline constexpr std::chrono::milliseconds kRolloutSave{500};
inline constexpr std::chrono::milliseconds kRetryWeights{1000};

class RolloutDriver {
 public:
  struct Hooks {
    // The workers' cumulative counts per (split, target pool).
    std::function<RolloutBook::Totals()> totals;
    // What runs now (held while used: a change publishes another), and the file alone.
    std::function<std::shared_ptr<const runtime::Snapshot>()> running;
    std::function<const conf::Config&()> file;
    // The server's change path for one split's weights; false with *why when refused.
    std::function<bool(const std::string& split, const std::map<std::string, std::uint64_t>&,
                       std::string* why)>
        set_split;
    // Writes the state file (the book's records with the changes in force); false with
    // *why when it cannot.
    std::function<bool(std::string* why)> persist;
    std::function<std::uint64_t()> version;
  };

  RolloutDriver(asio::io_context& control, Hooks hooks);

  void start_ticking();
  void stop() { timer_.cancel(); }
  // At start, the state file's records.
  void restore(std::vector<runtime::RolloutRecord> records);
  // After every load the server committed (not the ones the driver made itself).
  void reconcile();
  const RolloutBook& book() const { return book_; }

  admin::Runtime::RolloutResult start(conf::RolloutConfig rollout);
  admin::Runtime::RolloutResult act(const std::string& name, runtime::RolloutAction action);
  admin::Runtime::RolloutResult forget(const std::string& name);

 private:
  void tick();
  // False with *failure when a weight change or the state file was refused: the weights
  // are retried every kRetryWeights until they go in.
  bool carry_out(const RolloutEffects& effects, std::string* failure = nullptr);
  admin::Runtime::RolloutResult answer(const RolloutReply& reply, const RolloutEffects& effects);
  static std::int64_t now_ms();

  asio::steady_timer timer_;
  Hooks hooks_;
  RolloutBook book_;
  bool carrying_out_ = false;  // our own weight changes do not reconcile again
  // Weights a refused change left unapplied (a full disk), by split: retried.
  std::map<std::string, std::map<std::string, std::uint64_t>> unapplied_;
  std::chrono::steady_clock::time_point last_retry_{};
  std::chrono::steady_clock::time_point last_tick_{};
  std::chrono::steady_clock::time_point last_save_{};
};

}  // namespace veer::app
