#include "proxy/server.hpp"

#include <sys/resource.h>

#include <csignal>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/signal_set.hpp>

#include "conf/load.hpp"
#include "health/checker.hpp"
#include "health/transitions.hpp"
#include "proxy/listen_socket.hpp"
#include "proxy/log.hpp"
#include "proxy/worker.hpp"

namespace veer::proxy {
namespace {

// Each client connection takes a descriptor and each in-flight request or tunnel
// another: raise the soft limit to the hard one and say when max_connections cannot fit.
void raise_descriptor_limit(std::uint64_t max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 2 * max_connections + 64) {
    log::warn("open file limit ", limit.rlim_cur, " is below 2 x limits.max_connections (",
              max_connections, "); raise it (ulimit -n, LimitNOFILE=) to use them all");
  }
}

class Server {
 public:
  explicit Server(std::string config_path)
      : config_path_(std::move(config_path)), signals_(control_, SIGHUP, SIGTERM, SIGINT) {}

  int run(conf::Config config, const std::string& engine_note);

 private:
  bool bind_new_listeners(const conf::Config& config, std::vector<BoundListener>& bound,
                          std::string* why);
  void hand_to_workers(std::vector<BoundListener>& bound);
  void wait_for_signal();
  void reload();
  void drain_removed_backends(const Snapshot& previous, const Snapshot& next);
  void announce_split_changes(const Snapshot& previous, const Snapshot& next);
  void shut_down(int signal);

  std::string config_path_;
  WorkerShared shared_;
  BackendRegistry registry_;
  health::HealthChecker health_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::map<std::string, std::string> listener_addresses_;  // name -> configured address
  std::string access_log_;
  std::uint64_t version_ = 0;
  unsigned worker_count_ = 0;
  conf::IoEngine io_engine_ = conf::IoEngine::automatic;
  asio::io_context control_;
  asio::signal_set signals_;
  std::thread joiner_;
  bool shutting_down_ = false;
};

bool Server::bind_new_listeners(const conf::Config& config, std::vector<BoundListener>& bound,
                                std::string* why) {
  for (const conf::ListenerConfig& listener : config.listeners) {
    const auto it = listener_addresses_.find(listener.name);
    if (it != listener_addresses_.end() && it->second == listener.address) continue;
    BoundListener b;
    if (!bind_listener(listener, worker_count_, b, why)) return false;
    bound.push_back(std::move(b));
  }
  return true;
}

void Server::hand_to_workers(std::vector<BoundListener>& bound) {
  for (BoundListener& b : bound) {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      workers_[i]->add_listener(b.name, b.sockets[i].release(), b.local_address.family());
    }
    listener_addresses_[b.name] = b.configured_address;
    log::info("listener ", b.name, " on ", b.local_address.to_string());
  }
}

int Server::run(conf::Config config, const std::string& engine_note) {
  std::signal(SIGPIPE, SIG_IGN);
  raise_descriptor_limit(config.limits.max_connections);
  worker_count_ = config.server.workers != 0 ? config.server.workers
                                             : std::max(1u, std::thread::hardware_concurrency());
  io_engine_ = config.server.io_engine;
  std::string why;
  if (!shared_.access_log.open(config.server.access_log, &why)) {
    log::error(why);
    return 1;
  }
  access_log_ = config.server.access_log;
  std::vector<BoundListener> bound;
  if (!bind_new_listeners(config, bound, &why)) {
    log::error(why);
    return 1;
  }
  shared_.worker_count = worker_count_;
  shared_.ejections = &health_;
  shared_.snapshots.publish(build_snapshot(std::move(config), ++version_, registry_));
  health_.update(shared_.snapshots.current());
  health_.start();
  try {
    for (unsigned i = 0; i < worker_count_; ++i) {
      workers_.push_back(std::make_unique<Worker>(i, shared_));
    }
  } catch (const std::exception& e) {
    // The io_context of the chosen engine could not be created (io_uring limits).
    log::error("cannot start workers: ", e.what());
    return 2;
  }
  hand_to_workers(bound);
  for (auto& worker : workers_)
    worker->start();
  log::info(engine_note);
  log::info("veer ready: ", worker_count_, " workers, configuration version ", version_, " from ",
            config_path_);
  wait_for_signal();
  control_.run();
  if (joiner_.joinable()) joiner_.join();
  health_.stop();
  log::info("veer stopped");
  return 0;
}

void Server::wait_for_signal() {
  signals_.async_wait([this](const error_code& ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      if (!shutting_down_) reload();
    } else {
      shut_down(signal);
    }
    wait_for_signal();
  });
}

void Server::shut_down(int signal) {
  const char* name = signal == SIGINT ? "SIGINT" : "SIGTERM";
  const conf::Duration drain = shared_.snapshots.current()->config.timeouts.drain;
  if (shutting_down_) {
    log::warn(name, " again: closing every connection now");
    for (auto& worker : workers_)
      worker->begin_drain(Clock::now());
    return;
  }
  shutting_down_ = true;
  log::info(name, ": no longer accepting; draining in-flight requests for up to ",
            conf::format_duration(drain));
  const Clock::time_point deadline = Clock::now() + drain;
  for (auto& worker : workers_)
    worker->begin_drain(deadline);
  joiner_ = std::thread([this] {
    for (auto& worker : workers_)
      worker->join();
    asio::post(control_, [this] {
      signals_.cancel();
      control_.stop();
    });
  });
}

void Server::reload() {
  log::info("SIGHUP: reloading ", config_path_);
  conf::LoadResult result = conf::load_config_file(config_path_);
  for (const conf::ConfigError& w : result.warnings)
    log::warn(w.to_string());
  if (!result.ok()) {
    log::error("reload refused (", result.errors.size(), " errors); configuration version ",
               version_, " stays in force");
    for (const conf::ConfigError& e : result.errors)
      log::error(e.to_string());
    return;
  }
  conf::Config& next = *result.config;
  const unsigned wanted_workers = next.server.workers != 0
                                      ? next.server.workers
                                      : std::max(1u, std::thread::hardware_concurrency());
  if (wanted_workers != worker_count_) {
    log::warn("server.workers changed: takes effect at the next restart");
  }
  if (next.server.io_engine != io_engine_) {
    log::warn("server.io_engine changed: takes effect at the next restart");
  }
  // Everything that can fail happens before anything changes.
  std::string why;
  std::vector<BoundListener> bound;
  if (!bind_new_listeners(next, bound, &why)) {
    log::error("reload refused: ", why, "; configuration version ", version_, " stays in force");
    return;
  }
  // Reopening even an unchanged file lets log rotation work with SIGHUP.
  if (!shared_.access_log.open(next.server.access_log, &why)) {
    log::error("reload refused: ", why, "; configuration version ", version_, " stays in force");
    return;
  }
  std::vector<std::string> removed;
  for (const auto& [name, address] : listener_addresses_) {
    const auto kept =
        std::find_if(next.listeners.begin(), next.listeners.end(),
                     [&](const auto& l) { return l.name == name && l.address == address; });
    if (kept == next.listeners.end()) removed.push_back(name);
  }
  const std::shared_ptr<const Snapshot> previous = shared_.snapshots.current();
  const std::shared_ptr<const Snapshot> snapshot =
      build_snapshot(std::move(next), ++version_, registry_);
  drain_removed_backends(*previous, *snapshot);
  shared_.snapshots.publish(snapshot);
  announce_split_changes(*previous, *snapshot);
  health_.update(snapshot);
  for (const std::string& name : removed) {
    for (auto& worker : workers_)
      worker->remove_listener(name);
    listener_addresses_.erase(name);
    log::info("listener ", name, " closed");
  }
  hand_to_workers(bound);
  registry_.collect();
  log::info("configuration version ", version_, " applied");
}

// Logs every split whose weights moved, and schedules the closing of WebSocket tunnels
// on targets that went to weight 0 where the split asks for it.
void Server::announce_split_changes(const Snapshot& previous, const Snapshot& next) {
  for (const SplitRuntime& split : next.splits) {
    const SplitRuntime* before = previous.find_split(split.name);
    std::string moves;
    std::vector<std::shared_ptr<const SplitTargetTag>> emptied;
    for (std::size_t i = 0; i < split.tags.size(); ++i) {
      std::uint64_t old_weight = 0;
      if (before != nullptr) {
        for (std::size_t j = 0; j < before->tags.size(); ++j) {
          if (before->tags[j] == split.tags[i]) old_weight = before->weights[j];
        }
      }
      if (before != nullptr && old_weight == split.weights[i]) continue;
      if (!moves.empty()) moves += ", ";
      moves += split.tags[i]->pool + " " + std::to_string(old_weight) + " -> " +
               std::to_string(split.weights[i]);
      if (split.weights[i] == 0 && old_weight > 0) emptied.push_back(split.tags[i]);
    }
    if (before == nullptr || moves.empty()) continue;
    log::info("split ", split.name, ": weights ", moves);
    const auto& grace = split.config->drain_tunnels_after;
    if (!grace || emptied.empty()) continue;
    const Clock::time_point deadline = Clock::now() + *grace;
    for (auto& worker : workers_)
      worker->drain_split_targets(emptied, deadline);
  }
}

// Backends the new configuration no longer has take no new requests from now on
// (older snapshots still in use see them draining), and whatever still uses them is
// closed at the drain deadline. Backends it brings back stop draining.
void Server::drain_removed_backends(const Snapshot& previous, const Snapshot& next) {
  std::set<const health::BackendStats*> kept;
  for (const PoolRuntime& pool : next.pools) {
    for (const BackendRuntime& backend : pool.backends) {
      kept.insert(backend.stats.get());
      health::change_reason(*backend.stats, health::Reason::draining, false,
                            {pool.name, backend.address}, "back in the configuration");
    }
  }
  const conf::Duration drain = next.config.timeouts.drain;
  std::vector<std::shared_ptr<health::BackendStats>> removed;
  std::vector<conf::SocketAddress> addresses;
  for (const PoolRuntime& pool : previous.pools) {
    for (const BackendRuntime& backend : pool.backends) {
      if (kept.contains(backend.stats.get())) continue;
      health::change_reason(*backend.stats, health::Reason::draining, true,
                            {pool.name, backend.address},
                            "removed from the configuration; in-flight requests and tunnels "
                            "have " +
                                conf::format_duration(drain) + " to finish");
      removed.push_back(backend.stats);
      addresses.push_back(backend.endpoint);
    }
  }
  if (removed.empty()) return;
  const Clock::time_point deadline = Clock::now() + drain;
  for (auto& worker : workers_)
    worker->drain_backends(removed, addresses, deadline);
}

}  // namespace

int run_server(const std::string& config_path, conf::Config config,
               const std::string& engine_note) {
  Server server(config_path);
  return server.run(std::move(config), engine_note);
}

}  // namespace veer::proxy
