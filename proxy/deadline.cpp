#include "proxy/deadline.hpp"

namespace veer::proxy {

void Deadline::disarm() {
  if (list_ == nullptr) return;
  if (prev_ != nullptr) {
    prev_->next_ = next_;
  } else {
    list_->head = next_;
  }
  if (next_ != nullptr) {
    next_->prev_ = prev_;
  } else {
    list_->tail = prev_;
  }
  --list_->queue->armed_;
  list_ = nullptr;
  prev_ = next_ = nullptr;
}

DeadlineQueue::~DeadlineQueue() {
  for (auto& list : lists_) {
    while (list->head != nullptr)
      list->head->disarm();
  }
}

Deadline::List& DeadlineQueue::list_for(Clock::duration duration) {
  for (auto& list : lists_) {
    if (list->duration == duration) return *list;
  }
  auto list = std::make_unique<Deadline::List>();
  list->duration = duration;
  list->queue = this;
  lists_.push_back(std::move(list));
  return *lists_.back();
}

void DeadlineQueue::arm(Deadline& d, Clock::duration after, Clock::time_point now) {
  d.disarm();
  Deadline::List& list = list_for(after);
  // A list's entries share one duration, so a newcomer expires last in its list: only
  // the first entry of an empty list can become the earliest deadline of all.
  const bool may_be_earliest = list.head == nullptr;
  const Clock::time_point before = may_be_earliest ? earliest() : Clock::time_point::min();
  d.when_ = now + after;
  d.list_ = &list;
  d.prev_ = list.tail;
  d.next_ = nullptr;
  if (list.tail != nullptr) {
    list.tail->next_ = &d;
  } else {
    list.head = &d;
  }
  list.tail = &d;
  ++armed_;
  if (may_be_earliest && d.when_ < before) waker_.wake_at(d.when_);
}

Clock::time_point DeadlineQueue::earliest() const {
  Clock::time_point first = Clock::time_point::max();
  for (const auto& list : lists_) {
    if (list->head != nullptr && list->head->when_ < first) first = list->head->when_;
  }
  return first;
}

Clock::time_point DeadlineQueue::expire(Clock::time_point now) {
  for (auto& list : lists_) {
    // A handler may arm or disarm other deadlines, in this list too: re-read the head.
    while (list->head != nullptr && list->head->when_ <= now) {
      Deadline& due = *list->head;
      due.disarm();
      due.owner_->on_timeout(due);
    }
  }
  return earliest();
}

}  // namespace veer::proxy
