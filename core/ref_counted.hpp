#pragma once

#include <cstdint>
#include <memory>
#include <utility>

namespace veer::core {

// Intrusive reference counting for objects confined to one worker thread (sessions,
// tunnels, worker views). Asio completion handlers hold a Ref to keep their object
// alive; a plain integer suffices because every handler of an object runs on the
// worker that owns it, and it spares the locked instructions of std::shared_ptr on
// every I/O operation.
template <typename T>
class RefCounted {
 public:
  RefCounted() = default;
  RefCounted(const RefCounted&) = delete;
  RefCounted& operator=(const RefCounted&) = delete;

 protected:
  ~RefCounted() = default;

 private:
  template <typename U>
  friend class Ref;
  std::uint32_t refs_ = 0;
};

template <typename T>
class Ref {
 public:
  Ref() = default;
  explicit Ref(T* p) : p_(p) { acquire(); }
  Ref(const Ref& other) : p_(other.p_) { acquire(); }
  Ref(Ref&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
  Ref& operator=(Ref other) noexcept {
    std::swap(p_, other.p_);
    return *this;
  }
  ~Ref() { release(); }

  T* get() const { return p_; }
  T* operator->() const { return p_; }
  T& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  void acquire() {
    if (p_ != nullptr) ++p_->refs_;
  }
  void release() {
    if (p_ != nullptr && --p_->refs_ == 0) std::default_delete<T>{}(p_);
  }
  T* p_ = nullptr;
};

// Creates a reference-counted object; the last Ref deletes it.
template <typename T, typename... Args>
Ref<T> make_ref(Args&&... args) {
  return Ref<T>(std::make_unique<T>(std::forward<Args>(args)...).release());
}

}  // namespace veer::core
