#pragma once

#include <cstddef>

namespace veer::core {
struct BackendStats;
}
namespace veer::runtime {
struct SplitTargetTag;
}

namespace veer::proxy {

// Something a worker must be able to drain or abort: a client session or a tunnel.
class Connection {
 public:
  // Finish what is in flight (the current exchange; a tunnel keeps going), then close.
  virtual void drain() = 0;
  // Close now (drain deadline, shutdown).
  virtual void abort() = 0;
  // Close now if this connection is using that backend (a removed backend's drain
  // deadline passed).
  virtual void abort_if_using(const core::BackendStats& backend) = 0;
  // Close now if this is a tunnel opened through that split target (its weight went to
  // 0 and the split's drain_tunnels_after passed).
  virtual void abort_if_routed_via(const runtime::SplitTargetTag& target) = 0;

 protected:
  ~Connection() = default;

 private:
  friend class ConnectionRegistry;
  Connection* prev_ = nullptr;
  Connection* next_ = nullptr;
  bool registered_ = false;
};

// The live connections of one worker, as an intrusive list (no allocation per
// connection). Worker thread only.
class ConnectionRegistry {
 public:
  void add(Connection& c) {
    c.prev_ = nullptr;
    c.next_ = head_;
    if (head_ != nullptr) head_->prev_ = &c;
    head_ = &c;
    c.registered_ = true;
    ++size_;
  }
  void remove(Connection& c) {
    if (!c.registered_) return;
    if (c.prev_ != nullptr)
      c.prev_->next_ = c.next_;
    else
      head_ = c.next_;
    if (c.next_ != nullptr) c.next_->prev_ = c.prev_;
    c.prev_ = c.next_ = nullptr;
    c.registered_ = false;
    --size_;
  }
  std::size_t size() const { return size_; }

  // Calls fn on every connection; fn may remove the connection it is given.
  template <typename Fn>
  void for_each(Fn&& fn) {
    for (Connection* c = head_; c != nullptr;) {
      Connection* next = c->next_;
      fn(*c);
      c = next;
    }
  }

 private:
  Connection* head_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace veer::proxy
