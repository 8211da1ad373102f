#pragma once

// A completion handler kept inside the socket that waits for it: type-erased like
// std::function, but in place (no allocation per operation) and move-only, as Asio's
// handlers are. Every handler the data plane passes fits (a Ref, a pointer and a
// buffer, wrapped once more by tls::BasicStream); one that does not is a compile error,
// not a hidden allocation.

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace veer::proxy::uring {

template <typename... Args>
class InlineHandler {
 public:
  static constexpr std::size_t kCapacity = 96;

  InlineHandler() = default;
  InlineHandler(const InlineHandler&) = delete;
  InlineHandler& operator=(const InlineHandler&) = delete;
  ~InlineHandler() { reset(); }

  template <typename Fn>
  void emplace(Fn&& fn) {
    using F = std::decay_t<Fn>;
    static_assert(sizeof(F) <= kCapacity, "handler too large for InlineHandler");
    static_assert(alignof(F) <= alignof(std::max_align_t));
    reset();
    ::new (static_cast<void*>(storage_)) F(std::forward<Fn>(fn));
    call_ = [](void* p, Args... args) {
      F& f = *std::launder(static_cast<F*>(p));
      F local(std::move(f));  // the slot is free again before the handler runs
      f.~F();
      local(args...);
    };
    destroy_ = [](void* p) { std::launder(static_cast<F*>(p))->~F(); };
  }

  explicit operator bool() const { return call_ != nullptr; }

  // Calls the handler once and empties the slot (the handler may refill it).
  void operator()(Args... args) {
    auto* call = call_;
    call_ = nullptr;
    destroy_ = nullptr;
    call(storage_, args...);
  }

  void reset() {
    if (destroy_ != nullptr) destroy_(storage_);
    call_ = nullptr;
    destroy_ = nullptr;
  }

 private:
  alignas(std::max_align_t) unsigned char storage_[kCapacity];
  void (*call_)(void*, Args...) = nullptr;
  void (*destroy_)(void*) = nullptr;
};

}  // namespace veer::proxy::uring
