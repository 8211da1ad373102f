#pragma once

// One connection counted against its client's max_connections_per_client in the
// process-wide table: given back when the connection closes, whichever object holds it
// then (the session, or the WebSocket tunnel it turned into). Move-only.

#include <cstdint>
#include <utility>

#include "limits/client_counts.hpp"

namespace veer::proxy {

class ClientSlot {
 public:
  ClientSlot() = default;
  ClientSlot(limits::ClientCounts& counts, std::uint64_t key) : counts_(&counts), key_(key) {}
  ClientSlot(ClientSlot&& other) noexcept
      : counts_(std::exchange(other.counts_, nullptr)), key_(other.key_) {}
  ClientSlot& operator=(ClientSlot&& other) noexcept {
    if (this != &other) {
      release();
      counts_ = std::exchange(other.counts_, nullptr);
      key_ = other.key_;
    }
    return *this;
  }
  ~ClientSlot() { release(); }

  void release() {
    if (counts_ != nullptr) std::exchange(counts_, nullptr)->release(key_);
  }

 private:
  limits::ClientCounts* counts_ = nullptr;
  std::uint64_t key_ = 0;
};

}  // namespace veer::proxy
