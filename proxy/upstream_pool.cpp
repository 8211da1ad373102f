#include "proxy/upstream_pool.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace veer::proxy {

UpstreamConnection::UpstreamConnection(asio::io_context& io, UpstreamSlot& s)
    : stream(Socket(io)), slot(s) {}

void UpstreamConnection::on_timeout(Deadline&) {
  slot.pool->expire(*this);
}

UpstreamPool::~UpstreamPool() {
  close_all_idle();
}

std::uint32_t UpstreamPool::slot_id(const conf::SocketAddress& endpoint) {
  const std::string key(reinterpret_cast<const char*>(&endpoint.storage), endpoint.length);
  const auto [it, added] = slot_ids_.try_emplace(key, static_cast<std::uint32_t>(slots_.size()));
  if (added) {
    auto slot = std::make_unique<UpstreamSlot>();
    slot->endpoint = endpoint;
    slot->pool = this;
    slots_.push_back(std::move(slot));
  }
  return it->second;
}

std::unique_ptr<UpstreamConnection> UpstreamPool::create(UpstreamSlot& slot) {
  return std::make_unique<UpstreamConnection>(io_, slot);
}

void UpstreamPool::unlink(UpstreamConnection& c) {
  UpstreamSlot& slot = c.slot;
  if (c.prev_ != nullptr) {
    c.prev_->next_ = c.next_;
  } else {
    slot.newest = c.next_;
  }
  if (c.next_ != nullptr) {
    c.next_->prev_ = c.prev_;
  } else {
    slot.oldest = c.prev_;
  }
  c.prev_ = c.next_ = nullptr;
  c.idle_deadline_.disarm();
  --slot.idle;
  --idle_count_;
}

std::unique_ptr<UpstreamConnection> UpstreamPool::take(UpstreamSlot& slot, const void* tls,
                                                       Clock::duration probe_after,
                                                       Clock::time_point now) {
  UpstreamConnection* next = slot.newest;
  while (next != nullptr) {
    if (next->tls != tls) {  // another pool's settings: leave it for that pool
      next = next->next_;
      continue;
    }
    std::unique_ptr<UpstreamConnection> c(next);
    next = next->next_;
    unlink(*c);
    if (now - c->parked_at >= probe_after && idle_connection_spoke(c->stream.socket()))
      continue;  // closed (or unasked bytes): drop
    c->reused = true;
    return c;
  }
  return nullptr;
}

void UpstreamPool::park(std::unique_ptr<UpstreamConnection> c) {
  UpstreamSlot& slot = c->slot;
  buffers_.release(c->buffer);
  if (slot.idle >= max_idle_) return;  // closes it
  const Clock::time_point now = deadlines_.now();
  c->parked_at = now;
  UpstreamConnection* raw = c.release();
  raw->next_ = slot.newest;
  raw->prev_ = nullptr;
  if (slot.newest != nullptr) slot.newest->prev_ = raw;
  slot.newest = raw;
  if (slot.oldest == nullptr) slot.oldest = raw;
  ++slot.idle;
  ++idle_count_;
  deadlines_.arm(raw->idle_deadline_, idle_timeout_, now);
}

void UpstreamPool::expire(UpstreamConnection& c) {
  unlink(c);
  std::unique_ptr<UpstreamConnection> closing(&c);
}

void UpstreamPool::close_idle(UpstreamSlot& slot) {
  while (slot.newest != nullptr) {
    std::unique_ptr<UpstreamConnection> c(slot.newest);
    unlink(*c);
  }
}

void UpstreamPool::close_all_idle() {
  for (const auto& slot : slots_)
    close_idle(*slot);
}

}  // namespace veer::proxy
