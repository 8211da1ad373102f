// The JSON-RPC routes' series (runtime/metrics.hpp).
#include <algorithm>

#include "http/jsonrpc_methods.hpp"
#include "runtime/metrics.hpp"
#include "runtime/snapshot.hpp"

namespace veer::runtime {

JsonRpcSeries::JsonRpcSeries()
    : requests(http::jsonrpc::known_method_count()),
      durations(http::jsonrpc::known_method_count()),
      duration_sum_ns(http::jsonrpc::known_method_count()) {}

void JsonRpcSeries::count_call(std::size_t method, Outcome outcome,
                               std::chrono::nanoseconds elapsed) {
  if (method >= requests.size()) method = requests.size() - 1;  // "other" is last
  requests[method][outcome].add();
  const double seconds = std::chrono::duration<double>(elapsed).count();
  std::size_t bucket = 0;
  while (bucket < kResponseSecondsBounds.size() && seconds > kResponseSecondsBounds[bucket])
    ++bucket;
  durations[method][bucket].add();
  duration_sum_ns[method].add(
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, elapsed.count())));
}

std::string_view JsonRpcSeries::method_name(std::size_t index) {
  return http::jsonrpc::method_by_index(index).name;
}

void JsonRpcSeries::count_error(std::int64_t code) {
  std::size_t slot = 0;
  while (slot < kCodes.size() && kCodes[slot] != code)
    ++slot;
  errors[slot].add();
}

void JsonRpcSeries::count_batch(std::size_t items) {
  std::size_t bucket = 0;
  while (bucket < kBatchBounds.size() && static_cast<double>(items) > kBatchBounds[bucket])
    ++bucket;
  batch_sizes[bucket].add();
  batch_size_sum.add(items);
}

std::shared_ptr<JsonRpcSeries> JsonRpcMetrics::series(const std::string& route) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<JsonRpcSeries>& found = series_[route];
  if (!found) found = std::make_shared<JsonRpcSeries>();
  return found;
}

void JsonRpcMetrics::forget_unused() {
  std::lock_guard lock(mutex_);
  std::erase_if(series_, [](const auto& entry) { return entry.second.use_count() == 1; });
}

}  // namespace veer::runtime
