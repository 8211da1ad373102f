#pragma once

// Bounded parallel load for integration tests: `threads` keep-alive connections send
// GETs until `total` requests are done or `limit` passes, whichever comes first.

#include <atomic>
#include <chrono>
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

inline LoadResult run_gets(std::uint16_t port, int threads, int total,
                           std::chrono::milliseconds limit,
                           const std::vector<std::string>& headers = {}) {
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
      while (next.fetch_add(1) < total && std::chrono::steady_clock::now() < deadline) {
        if (!client || !client->connected()) client = std::make_unique<Client>(port);
        const auto r = client->request("GET", "/", "", headers);
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

}  // namespace veer::test
