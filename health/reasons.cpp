#include "health/reasons.hpp"

#include <bit>
#include <ctime>

namespace veer::health {
namespace {

constexpr core::Reason kReasons[core::kReasonCount] = {
    core::Reason::down, core::Reason::ejected, core::Reason::draining, core::Reason::disabled};

std::size_t index_of(core::Reason reason) {
  return static_cast<std::size_t>(std::countr_zero(static_cast<std::uint32_t>(reason)));
}

}  // namespace

std::vector<ReasonNote> reasons_of(const core::BackendStats& stats) {
  return reasons_of(stats, std::chrono::steady_clock::now(), std::chrono::system_clock::now());
}

std::vector<ReasonNote> reasons_of(const core::BackendStats& stats,
                                   std::chrono::steady_clock::time_point steady_now,
                                   std::chrono::system_clock::time_point system_now) {
  std::vector<ReasonNote> out;
  std::lock_guard lock(stats.notes.mutex);
  // Read under the lock: change_noted flips bits under it too, so bits and notes agree.
  const std::uint32_t bits = stats.reasons.load(std::memory_order_relaxed);
  for (const core::Reason reason : kReasons) {
    if ((bits & static_cast<std::uint32_t>(reason)) == 0) continue;
    const core::ReasonNotes::Note& note = stats.notes.notes[index_of(reason)];
    ReasonNote& shown = out.emplace_back(
        ReasonNote{core::reason_name(reason), note.cause, note.since, std::nullopt});
    const core::BackendStats::Clock::rep until =
        stats.ejected_until.load(std::memory_order_relaxed);
    if (reason == core::Reason::ejected && until != 0) {  // 0: set without record_outcome
      const core::BackendStats::Clock::duration left(until - steady_now.time_since_epoch().count());
      shown.until =
          system_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(left);
    }
  }
  return out;
}

std::uint32_t change_noted(core::BackendStats& stats, core::Reason reason, bool set,
                           std::string_view cause, std::chrono::system_clock::time_point now) {
  std::lock_guard lock(stats.notes.mutex);
  const std::uint32_t before = set ? stats.set(reason) : stats.clear(reason);
  if (set && (before & static_cast<std::uint32_t>(reason)) == 0) {
    core::ReasonNotes::Note& note = stats.notes.notes[index_of(reason)];
    note.cause.assign(cause);
    note.since = now;
  }
  return before;
}

bool update_cause(core::BackendStats& stats, core::Reason reason, std::string_view cause) {
  std::lock_guard lock(stats.notes.mutex);
  if (!stats.has(reason)) return false;
  stats.notes.notes[index_of(reason)].cause.assign(cause);
  return true;
}

std::string utc_text(std::chrono::system_clock::time_point at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace veer::health
