#include "health/reasons.hpp"

#include <bit>
#include <ctime>

namespace veer::health {
namespace {

constexpr Reason kReasons[kReasonCount] = {Reason::down, Reason::ejected, Reason::draining,
                                           Reason::disabled};

std::size_t index_of(Reason reason) {
  return static_cast<std::size_t>(std::countr_zero(static_cast<std::uint32_t>(reason)));
}

}  // namespace

const char* reason_name(Reason reason) {
  switch (reason) {
    case Reason::down:
      return "down";
    case Reason::ejected:
      return "ejected";
    case Reason::draining:
      return "draining";
    case Reason::disabled:
      return "disabled";
  }
  return "unknown";
}

std::vector<ReasonNote> reasons_of(const BackendStats& stats) {
  return reasons_of(stats, std::chrono::steady_clock::now(), std::chrono::system_clock::now());
}

std::vector<ReasonNote> reasons_of(const BackendStats& stats,
                                   std::chrono::steady_clock::time_point steady_now,
                                   std::chrono::system_clock::time_point system_now) {
  std::vector<ReasonNote> out;
  std::lock_guard lock(stats.notes.mutex);
  // Read under the lock: change_noted flips bits under it too, so bits and notes agree.
  const std::uint32_t bits = stats.reasons.load(std::memory_order_relaxed);
  for (const Reason reason : kReasons) {
    if ((bits & static_cast<std::uint32_t>(reason)) == 0) continue;
    const ReasonNotes::Note& note = stats.notes.notes[index_of(reason)];
    ReasonNote& shown =
        out.emplace_back(ReasonNote{reason_name(reason), note.cause, note.since, std::nullopt});
    const BackendStats::Clock::rep until = stats.ejected_until.load(std::memory_order_relaxed);
    if (reason == Reason::ejected && until != 0) {  // 0: set without record_outcome
      const BackendStats::Clock::duration left(until - steady_now.time_since_epoch().count());
      shown.until =
          system_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(left);
    }
  }
  return out;
}

std::uint32_t change_noted(BackendStats& stats, Reason reason, bool set, std::string_view cause,
                           std::chrono::system_clock::time_point now) {
  std::lock_guard lock(stats.notes.mutex);
  const std::uint32_t before = set ? stats.set(reason) : stats.clear(reason);
  if (set && (before & static_cast<std::uint32_t>(reason)) == 0) {
    ReasonNotes::Note& note = stats.notes.notes[index_of(reason)];
    note.cause.assign(cause);
    note.since = now;
  }
  return before;
}

bool update_cause(BackendStats& stats, Reason reason, std::string_view cause) {
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
