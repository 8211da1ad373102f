#pragma once

// A paced, bounded load of sticky keys for the rollout tests: `rate` requests per second
// spread over `connections` keep-alive connections, until `duration` passes, `max_requests`
// were sent or stop() is called from another thread. Each request carries a sticky key
// (`key_header: u<k>`): request i gets key i, or key i % `keys` when the test follows a
// fixed set of keys across steps. Every answer is recorded with its key, its status and
// the pool that answered (the backend's `pool_header`, or for JSON-RPC the result
// "fake/NAME" of web3_clientVersion), so a test can say which version each key saw when.
// Pacing waits on steady_clock deadlines (a condition variable, so stop() is prompt);
// nothing here waits for a state by sleeping.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http_client.hpp"

namespace veer::test {

using namespace std::chrono_literals;

enum class LoadKind : std::uint8_t {
  get,      // GET `target`
  jsonrpc,  // POST `target` with one JSON-RPC call of `rpc_method`
};

struct KeyedLoadOptions {
  LoadKind kind = LoadKind::get;
  int rate = 200;  // requests per second, all connections together
  int connections = 16;
  std::chrono::milliseconds duration = 60s;  // at most
  int max_requests = 1'000'000;              // at most
  int keys = 0;                              // 0: request i carries key u<i>; N: key u<i % N>
  std::string key_header = "X-User";
  std::string pool_header = "X-Backend";
  std::string target = "/";
  std::string rpc_method = "web3_clientVersion";
  std::chrono::milliseconds request_timeout = 5s;
};

struct Observation {
  std::chrono::steady_clock::time_point sent;
  int key = 0;
  int status = 0;          // 0: no response (connection failed, timeout)
  bool rpc_error = false;  // a JSON-RPC answer carrying an `error` object
  std::string pool;        // who answered; "" when nobody did
};

struct LoadSummary {
  int sent = 0;
  int ok = 0;                   // 200 (and for JSON-RPC, no error object)
  int no_response = 0;          // connection failures and timeouts
  std::map<int, int> statuses;  // every status seen, 200 included
  std::map<std::string, int> ok_by_pool;
  std::map<std::string, int> status_500_by_pool;  // 500s naming the pool that sent them
  std::map<std::string, int> rpc_errors_by_pool;
  std::vector<std::string> unexplained;  // non-200s that no backend claims (first 20)
};

class KeyedLoad {
 public:
  // Starts sending at once.
  KeyedLoad(std::uint16_t port, KeyedLoadOptions options);
  ~KeyedLoad();
  KeyedLoad(const KeyedLoad&) = delete;
  KeyedLoad& operator=(const KeyedLoad&) = delete;

  // Ends the load (from any thread) and waits for the requests in flight to finish.
  void stop();
  // True until every connection has ended (duration, count or stop).
  bool running() const { return active_.load() > 0; }
  int sent() const { return sent_.load(); }
  std::vector<Observation> observations() const;
  LoadSummary summary() const;

 private:
  void run_connection(int index);
  Observation send_one(std::unique_ptr<Client>& client, int i);

  std::uint16_t port_;
  KeyedLoadOptions options_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<int> next_{0};
  std::atomic<int> sent_{0};
  std::atomic<int> active_{0};
  mutable std::mutex mutex_;
  std::condition_variable stop_changed_;
  bool stopping_ = false;
  std::vector<Observation> observations_;
  std::vector<std::thread> threads_;
};

// Each key's observations in the order they were sent.
std::map<int, std::vector<Observation>> by_key(const std::vector<Observation>& observations);

// Which pool each of keys 0..keys-1 reaches now: one request per key, over one
// keep-alive connection (the pool that answered, a 500 too; "" when none did).
std::map<int, std::string> sweep_keys(std::uint16_t port, int keys, const KeyedLoadOptions& how);

// The pool named in an answer: the pool header, else JSON-RPC's "fake/NAME" result.
std::string answering_pool(const Response& response, const KeyedLoadOptions& how);

}  // namespace veer::test
