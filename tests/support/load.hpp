#pragma once

// Bounded parallel load for integration tests: `threads` keep-alive connections send
// GETs until `total` requests are done or `limit` passes, whichever comes first.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_client.hpp"

namespace veer::test {

struct LoadResult {
  std::map<std::string, int> by_body;  // the backends answer with their names
  int ok = 0;
  int failed = 0;

  double share(const std::string& body) const {
    const auto it = by_body.find(body);
    return ok == 0 || it == by_body.end() ? 0.0 : static_cast<double>(it->second) / ok;
  }
};

// `headers_of(i)`, when given, adds header lines to request i (distinct keys, say).
inline LoadResult run_gets(std::uint16_t port, int threads, int total,
                           std::chrono::milliseconds limit,
                           const std::vector<std::string>& headers = {},
                           const std::string& target = "/",
                           std::function<std::vector<std::string>(int)> headers_of = {}) {
  LoadResult result;
  std::mutex mutex;
  std::atomic<int> next{0};
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      std::map<std::string, int> local;
      int ok = 0, failed = 0;
      std::unique_ptr<Client> client;
      for (int i = next.fetch_add(1); i < total && std::chrono::steady_clock::now() < deadline;
           i = next.fetch_add(1)) {
        if (!client || !client->connected()) client = std::make_unique<Client>(port);
        std::vector<std::string> lines = headers;
        if (headers_of) {
          for (std::string& line : headers_of(i))
            lines.push_back(std::move(line));
        }
        const auto r = client->request("GET", target, "", lines);
        if (r && r->status == 200) {
          ++local[r->body];
          ++ok;
        } else {
          ++failed;
          client.reset();
        }
      }
      std::lock_guard lock(mutex);
      for (auto& [body, n] : local)
        result.by_body[body] += n;
      result.ok += ok;
      result.failed += failed;
    });
  }
  for (auto& w : workers)
    w.join();
  return result;
}

// A steady load: `threads` keep-alive connections, each sending its share of `rate`
// requests per second (paced, not as fast as possible) until `duration` has passed.
// Successes are counted per phase (the test moves `phase` on as it kills and
// restarts backends; -1 for requests in flight across a move) and per backend (the
// X-Backend header of the reply).
struct PacedLoad {
  std::string method = "GET";
  std::string target = "/";
  std::function<std::string(int)> body;  // request i's body; none when empty
  std::function<bool(const Response&)> ok = [](const Response& r) { return r.status == 200; };
  int rate = 300;
  int threads = 6;
  std::chrono::milliseconds duration = 10s;
  std::atomic<int>* answered = nullptr;  // when set, counts responses as they arrive
};

struct PacedResult {
  int sent = 0;
  int ok = 0;
  std::vector<std::string> failures;                   // status and body of each
  std::map<int, std::map<std::string, int>> by_phase;  // phase -> backend -> successes
};

inline PacedResult run_paced(std::uint16_t port, const PacedLoad& load,
                             const std::atomic<int>& phase) {
  PacedResult result;
  std::mutex mutex;
  std::atomic<int> counter{0};
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + load.duration;
  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(static_cast<double>(load.threads) / load.rate));
  std::vector<std::thread> workers;
  for (int t = 0; t < load.threads; ++t) {
    workers.emplace_back([&, t] {
      std::unique_ptr<Client> client;
      // Threads start spread over one period so the load is even.
      auto next = start + period * t / load.threads;
      while (next < end) {
        std::this_thread::sleep_until(next);  // pacing the load, not synchronisation
        next += period;
        if (!client || !client->connected()) client = std::make_unique<Client>(port, 5s);
        const int i = counter.fetch_add(1);
        const int current_phase = phase.load();
        const auto r = client->request(load.method, load.target, load.body ? load.body(i) : "");
        if (load.answered != nullptr && r) load.answered->fetch_add(1);
        std::lock_guard lock(mutex);
        ++result.sent;
        if (r && load.ok(*r)) {
          ++result.ok;
          // A request the test moved past a phase boundary while it was in flight belongs
          // to neither phase (a slow build sees it routed after the switch): phase -1.
          const int attributed = phase.load() == current_phase ? current_phase : -1;
          ++result.by_phase[attributed][r->header("X-Backend")];
          continue;
        }
        result.failures.push_back(r ? std::to_string(r->status) + " " + r->body.substr(0, 200)
                                    : std::string("no response"));
        client.reset();
      }
    });
  }
  for (auto& w : workers)
    w.join();
  return result;
}

}  // namespace veer::test
