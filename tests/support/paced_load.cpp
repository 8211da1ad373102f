#include "paced_load.hpp"

#include <algorithm>

namespace veer::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string key_line(const KeyedLoadOptions& how, int key) {
  return how.key_header + ": u" + std::to_string(key);
}

std::string rpc_call(const KeyedLoadOptions& how, int id) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + how.rpc_method +
         R"(","params":[]})";
}

std::optional<Response> send_request(Client& client, const KeyedLoadOptions& how, int i, int key) {
  if (how.kind == LoadKind::jsonrpc)
    return client.request("POST", how.target, rpc_call(how, i),
                          {key_line(how, key), "Content-Type: application/json"});
  return client.request("GET", how.target, "", {key_line(how, key)});
}

}  // namespace

std::string answering_pool(const Response& response, const KeyedLoadOptions& how) {
  std::string pool = response.header(how.pool_header);
  if (!pool.empty()) return pool;
  // web3_clientVersion answers "fake/NAME".
  const std::string marker = "\"result\":\"fake/";
  const std::size_t at = response.body.find(marker);
  if (at == std::string::npos) return "";
  const std::size_t from = at + marker.size();
  return response.body.substr(from, response.body.find('"', from) - from);
}

KeyedLoad::KeyedLoad(std::uint16_t port, KeyedLoadOptions options)
    : port_(port), options_(std::move(options)), start_(Clock::now()) {
  const int connections = std::max(1, options_.connections);
  active_ = connections;
  for (int c = 0; c < connections; ++c)
    threads_.emplace_back([this, c] { run_connection(c); });
}

KeyedLoad::~KeyedLoad() {
  stop();
}

void KeyedLoad::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_changed_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

Observation KeyedLoad::send_one(std::unique_ptr<Client>& client, int i) {
  const int key = options_.keys > 0 ? i % options_.keys : i;
  Observation seen{.sent = Clock::now(), .key = key};
  if (!client || !client->connected())
    client = std::make_unique<Client>(port_, options_.request_timeout);
  const auto r = send_request(*client, options_, i, key);
  if (!r) {
    client.reset();
    return seen;
  }
  seen.status = r->status;
  seen.pool = answering_pool(*r, options_);
  seen.rpc_error =
      options_.kind == LoadKind::jsonrpc && r->body.find("\"error\"") != std::string::npos;
  if (!r->keep_alive) client.reset();
  return seen;
}

void KeyedLoad::run_connection(int index) {
  const int connections = std::max(1, options_.connections);
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(static_cast<double>(connections) / options_.rate));
  const auto end = start_ + options_.duration;
  // Connections start spread over one period, so the load is even.
  auto next = start_ + period * index / connections;
  std::unique_ptr<Client> client;
  while (next < end) {
    {
      std::unique_lock lock(mutex_);
      // Pacing by deadline; stop() wakes it early.
      if (stop_changed_.wait_until(lock, next, [this] { return stopping_; })) break;
    }
    next += period;
    const int i = next_.fetch_add(1);
    if (i >= options_.max_requests) break;
    Observation seen = send_one(client, i);
    sent_.fetch_add(1);
    std::lock_guard lock(mutex_);
    observations_.push_back(std::move(seen));
  }
  active_.fetch_sub(1);
}

std::vector<Observation> KeyedLoad::observations() const {
  std::lock_guard lock(mutex_);
  return observations_;
}

LoadSummary KeyedLoad::summary() const {
  LoadSummary out;
  for (const Observation& o : observations()) {
    ++out.sent;
    if (o.status == 0) {
      ++out.no_response;
      continue;
    }
    ++out.statuses[o.status];
    if (o.status == 200 && !o.rpc_error) {
      ++out.ok;
      ++out.ok_by_pool[o.pool];
    } else if (o.status == 200) {
      ++out.rpc_errors_by_pool[o.pool];
    } else if (o.status == 500 && !o.pool.empty()) {
      ++out.status_500_by_pool[o.pool];
    } else if (out.unexplained.size() < 20) {
      out.unexplained.push_back("key u" + std::to_string(o.key) + ": status " +
                                std::to_string(o.status) + " from '" + o.pool + "'");
    }
  }
  return out;
}

std::map<int, std::vector<Observation>> by_key(const std::vector<Observation>& observations) {
  std::map<int, std::vector<Observation>> out;
  for (const Observation& o : observations)
    out[o.key].push_back(o);
  for (auto& [key, seen] : out) {
    std::stable_sort(seen.begin(), seen.end(),
                     [](const Observation& a, const Observation& b) { return a.sent < b.sent; });
  }
  return out;
}

std::map<int, std::string> sweep_keys(std::uint16_t port, int keys, const KeyedLoadOptions& how) {
  std::map<int, std::string> out;
  std::unique_ptr<Client> client;
  for (int k = 0; k < keys; ++k) {
    if (!client || !client->connected())
      client = std::make_unique<Client>(port, how.request_timeout);
    const auto r = send_request(*client, how, k, k);
    out[k] = r ? answering_pool(*r, how) : "";
    if (!r || !r->keep_alive) client.reset();
  }
  return out;
}

}  // namespace veer::test
