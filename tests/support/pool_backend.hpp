#pragma once

// One version of a service for the rollout tests: a TestBackend that names its pool in
// the body and in X-Backend, answers 500 for a seeded share of requests and waits an
// added delay, both changeable while it runs (a canary that starts failing). It counts
// the 500s it sent, so a test can tell its own failures from the proxy's.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "test_backend.hpp"

namespace veer::test {

struct PoolBehaviour {
  double error_share = 0;  // answered 500, drawn per request from the seed
  std::chrono::milliseconds delay{0};
};

class PoolBackend {
 public:
  explicit PoolBackend(std::string pool, PoolBehaviour behaviour = {}, std::uint64_t seed = 1)
      : state_(std::make_shared<State>()), backend_(pool, handler(state_, pool)) {
    state_->seed = seed;
    set(behaviour);
  }

  void set(PoolBehaviour behaviour) {
    std::lock_guard lock(state_->mutex);
    state_->behaviour = behaviour;
  }
  std::string address() const { return backend_.address(); }
  int errors_sent() const { return state_->errors.load(); }
  int answered() const { return state_->answered.load(); }
  TestBackend& backend() { return backend_; }

 private:
  struct State {
    std::mutex mutex;
    PoolBehaviour behaviour;
    std::uint64_t seed = 1;
    std::atomic<std::uint64_t> draws{0};
    std::atomic<int> errors{0};
    std::atomic<int> answered{0};
  };

  // splitmix64: a seeded, reproducible draw in [0, 1) per request.
  static double draw(std::uint64_t seed, std::uint64_t n) {
    std::uint64_t z = seed * 0x9e3779b97f4a7c15ULL + n + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53);
  }

  static BackendHandler handler(std::shared_ptr<State> state, const std::string& pool) {
    return [state, pool](const BackendRequest&) {
      PoolBehaviour now;
      {
        std::lock_guard lock(state->mutex);
        now = state->behaviour;
      }
      BackendReply reply;
      reply.body = pool;
      reply.headers = {{"X-Backend", pool}};
      reply.delay = now.delay;
      if (draw(state->seed, state->draws.fetch_add(1)) < now.error_share) {
        reply.status = 500;
        state->errors.fetch_add(1);
      }
      state->answered.fetch_add(1);
      return reply;
    };
  }

  std::shared_ptr<State> state_;
  TestBackend backend_;
};

}  // namespace veer::test
