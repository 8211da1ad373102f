#include "app/server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/signal_set.hpp>

#include "admin/api.hpp"
#include "admin/http_server.hpp"
#include "admin/metrics.hpp"
#include "admin/state_file.hpp"
#include "app/certificate_watch.hpp"
#include "app/cluster_limits.hpp"
#include "app/rollout_driver.hpp"
#include "app/sd_notify.hpp"
#include "conf/load.hpp"
#include "conf/overrides.hpp"
#include "core/log.hpp"
#include "health/checker.hpp"
#include "health/transitions.hpp"
#include "proxy/listen_socket.hpp"
#include "proxy/worker.hpp"
#include "runtime/reload_plan.hpp"
#include "runtime/tls_set.hpp"
#include "tls/context.hpp"

namespace veer::app {
namespace {

// Clients with open connections the max_connections_per_client table holds: far more
// than one host serves at once (its pages are touched only as clients arrive, 16 bytes a
// slot); past it, connections are admitted uncounted (limits/client_counts.hpp).
constexpr std::uint64_t kMaxCountedClients = std::uint64_t{1} << 20;

// Each client connection takes a descriptor and each in-flight request or tunnel
// another: raise the soft limit to the hard one and return it.
std::uint64_t raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return RLIM_INFINITY;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

// Each worker's share of the open file limit for its clients and their backend
// connections (proxy::WorkerShared::descriptor_budget). The reserve is for the rest:
// listening sockets, rings, log files, health checks, the admin API, reloads, and
// connections a worker accepted in one batch before it saw the budget spent.
std::uint64_t descriptor_budget(std::uint64_t open_file_limit, unsigned workers,
                                std::uint64_t max_connections) {
  if (open_file_limit == RLIM_INFINITY) return UINT64_MAX;
  const std::uint64_t reserve = 64 + open_file_limit / 16;
  const std::uint64_t budget =
      open_file_limit > reserve ? std::max<std::uint64_t>(2, (open_file_limit - reserve) / workers)
                                : 2;
  const std::uint64_t clients = budget / 2 * workers;
  if (clients < max_connections) {
    core::log::warn("open file limit ", open_file_limit, " leaves room for about ", clients,
                    " client connections with their backends, below limits.max_connections (",
                    max_connections, "): past that, new connections wait in the listen queue; ",
                    "raise it (ulimit -n, LimitNOFILE=) to use them all");
  }
  return budget;
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class Server final : public admin::Runtime {
 public:
  explicit Server(std::string config_path)
      : config_path_(std::move(config_path)), signals_(control_) {
    for (int signal : {SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2})
      signals_.add(signal);
    rollouts_ = std::make_unique<RolloutDriver>(control_, rollout_hooks());
  }

  int run(conf::Config config, const std::string& engine_note);

  // admin::Runtime, on the control thread.
  std::shared_ptr<const runtime::Snapshot> snapshot() const override {
    return shared_.snapshots.current();
  }
  const conf::Config& file_config() const override { return file_config_; }
  const conf::Overrides& overrides() const override { return overrides_; }
  const conf::OverrideReport& override_report() const override { return report_; }
  bool ready() const override { return !shutting_down_; }
  Outcome apply(conf::Overrides next, std::optional<conf::Duration> drain) override;
  Outcome reload() override;
  void count_change(bool succeeded) override {
    ++(succeeded ? counted_.changes_succeeded : counted_.changes_failed);
  }
  std::optional<std::string> metrics() override;
  std::map<std::string, std::uint64_t> split_assignments(const std::string& split) override;
  std::map<std::string, admin::PolicyRequests> policy_requests() override;
  const std::map<std::string, runtime::RolloutRecord>& rollouts() const override {
    return rollouts_->book().records();
  }
  RolloutResult start_rollout(conf::RolloutConfig rollout) override {
    return rollouts_->start(std::move(rollout));
  }
  RolloutResult act_on_rollout(const std::string& name, runtime::RolloutAction action) override {
    return rollouts_->act(name, action);
  }
  RolloutResult forget_rollout(const std::string& name) override { return rollouts_->forget(name); }

 private:
  RolloutDriver::Hooks rollout_hooks();
  bool set_split_weights(const std::string& split,
                         const std::map<std::string, std::uint64_t>& weights, std::string* why);
  // One load: `text` (valid alone as `file`) with `kept` on top, already validated as
  // `result`. Persists the changes when they differ from the state file, then swaps.
  struct Load {
    std::string text;
    conf::Config file;
    conf::Overrides kept;
    conf::OverrideReport report;
    conf::LoadResult result;
  };
  Load plan_load(std::string text, conf::Config file, const conf::Overrides& changes);
  Outcome commit(Load load, std::optional<conf::Duration> drain, bool admin_change);
  bool persist(const conf::Overrides& changes, const std::string& state_file, std::string* why);
  bool start_with_state_file(conf::Config& config);
  void reopen_logs(const char* why);
  // `keep_tls`: an admin change keeps TLS material whose new files fail to load
  // (logged) rather than being refused for a certificate it did not touch.
  bool swap_in(conf::Config next, std::optional<conf::Duration> drain, bool keep_tls,
               std::string* why);
  void warn_restart_only(const conf::Config& next) const;
  std::vector<std::string> dropped_listeners(const conf::Config& next) const;
  void close_listeners(const std::vector<std::string>& names);
  bool start_admin(const conf::Config& config, std::string* why);
  bool bind_new_listeners(const conf::Config& config, std::vector<proxy::BoundListener>& bound,
                          std::string* why);
  void hand_to_workers(std::vector<proxy::BoundListener>& bound);
  void wait_for_signal();
  // The reload plan's parts (runtime/reload_plan.hpp), carried out.
  void apply_admin_holds(const std::vector<runtime::AdminHold>& holds);
  void drain_removed_backends(const runtime::ReloadPlan& plan);
  void announce_split_changes(const std::vector<runtime::SplitWeightChange>& changes);
  void shut_down(int signal);
  // Tells the service manager (Type=notify units) the state veer enters; a failure is
  // logged once and changes nothing else.
  enum class ServiceState { ready, reloading, stopping };
  void notify_manager(ServiceState state, const std::string& status);
  // TLS material for `config`, taking over what `previous` loaded from unchanged files.
  bool load_tls(const conf::Config& config, const runtime::TlsSet& previous, bool keep_tls,
                runtime::TlsSet& out, std::string* why);
  // A watched certificate directory changed: new material for new connections when a
  // file in force did, by the same path as an admin change (a refusal keeps the old).
  void reload_certificates();
  void rotate_ticket_keys();
  // The Limiters for `config`: `previous`'s where a policy kept its name, scope and
  // max_keys (its keys keep their state), new ones for the rest. False with *why for a
  // policy of scope = "cluster" when this process has no cluster engine.
  bool build_limiters(const conf::Config& config, const runtime::LimiterSet* previous,
                      runtime::LimiterSet& out, std::string* why) const;

  std::string config_path_;
  proxy::WorkerShared shared_;
  runtime::BackendRegistry registry_;
  health::HealthChecker health_;
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::map<std::string, std::string> listener_addresses_;  // name -> configured address
  std::string access_log_;
  std::uint64_t version_ = 0;
  unsigned worker_count_ = 0;
  conf::IoEngine io_engine_ = conf::IoEngine::automatic;
  unsigned io_uring_buffers_ = 0;
  asio::io_context control_;
  asio::signal_set signals_;
  std::thread joiner_;
  bool shutting_down_ = false;
  ServiceNotifier notifier_ = ServiceNotifier::from_environment();
  bool notify_failure_logged_ = false;
  std::string config_text_;        // the file as last loaded: API changes apply on top of it
  conf::Config file_config_;       // that file alone, which the changes are checked against
  conf::Overrides overrides_;      // the acknowledged runtime changes in force
  std::string persisted_text_;     // what the state file holds (changes and rollouts)
  conf::OverrideReport report_;    // what the last load kept and dropped
  admin::ConfigCounters counted_;  // for /metrics
  std::unique_ptr<admin::Api> api_;
  std::unique_ptr<admin::HttpServer> admin_http_;
  // Session-ticket keys of every TLS listener without a ticket_key_file: shared by all
  // workers (a client resumes on any of them) and rotated on a timer.
  std::shared_ptr<tls::TicketKeys> ticket_keys_ = tls::TicketKeys::generate();
  asio::steady_timer ticket_rotation_{control_};
  CertificateWatch certificate_watch_{control_, [this] { reload_certificates(); }};
  // The Redis link of policies of scope = "cluster" (made by the first such policy).
  ClusterLimits cluster_limits_;
  // Makes the Limiter of each policy of scope = "cluster" (the Redis engine sets it);
  // while empty, a configuration with such a policy is refused.
  runtime::ClusterLimiterFactory cluster_limiter_factory_ = cluster_limits_.factory();
  std::unique_ptr<RolloutDriver> rollouts_;  // made in the constructor: it needs `this`
};

bool Server::bind_new_listeners(const conf::Config& config,
                                std::vector<proxy::BoundListener>& bound, std::string* why) {
  for (const conf::ListenerConfig& listener : config.listeners) {
    const auto it = listener_addresses_.find(listener.name);
    if (it != listener_addresses_.end() && it->second == listener.address) continue;
    proxy::BoundListener b;
    if (!proxy::bind_listener(listener, worker_count_, b, why)) return false;
    bound.push_back(std::move(b));
  }
  return true;
}

void Server::hand_to_workers(std::vector<proxy::BoundListener>& bound) {
  for (proxy::BoundListener& b : bound) {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      workers_[i]->add_listener(b.name, b.sockets[i].release(), b.local_address.family());
    }
    listener_addresses_[b.name] = b.configured_address;
    core::log::info("listener ", b.name, " on ", b.local_address.to_string());
  }
}

int Server::run(conf::Config config, const std::string& engine_note) {
  std::signal(SIGPIPE, SIG_IGN);
  if (!start_with_state_file(config)) return 1;
  const std::uint64_t open_file_limit = raise_descriptor_limit();
  worker_count_ = config.server.workers != 0 ? config.server.workers
                                             : std::max(1u, std::thread::hardware_concurrency());
  shared_.descriptor_budget =
      descriptor_budget(open_file_limit, worker_count_, config.limits.max_connections);
  io_engine_ = config.server.io_engine;
  io_uring_buffers_ = config.server.io_uring_buffers;
  std::string why;
  if (!shared_.access_log.open(config.server.access_log, &why)) {
    core::log::error(why);
    return 1;
  }
  access_log_ = config.server.access_log;
  std::vector<proxy::BoundListener> bound;
  if (!bind_new_listeners(config, bound, &why)) {
    core::log::error(why);
    return 1;
  }
  shared_.worker_count = worker_count_;
  shared_.ejections = &health_;
  shared_.client_counts = std::make_unique<limits::ClientCounts>(kMaxCountedClients);
  if (!start_admin(config, &why)) {
    core::log::error(why);
    return 1;
  }
  runtime::TlsSet tls;
  if (!load_tls(config, {}, false, tls, &why)) {
    core::log::error(why);
    return 1;
  }
  runtime::LimiterSet limiters;
  if (!build_limiters(config, nullptr, limiters, &why)) {
    core::log::error(why);
    return 1;
  }
  shared_.snapshots.publish(
      build_snapshot(std::move(config), ++version_, registry_, std::move(tls), limiters));
  certificate_watch_.watch(shared_.snapshots.current()->tls.files());
  rotate_ticket_keys();
  apply_admin_holds(runtime::admin_holds(*shared_.snapshots.current(), overrides_));
  health_.update(shared_.snapshots.current());
  health_.start();
  try {
    for (unsigned i = 0; i < worker_count_; ++i) {
      workers_.push_back(std::make_unique<proxy::Worker>(i, shared_));
    }
  } catch (const std::exception& e) {
    // The io_context of the chosen engine could not be created (io_uring limits).
    core::log::error("cannot start workers: ", e.what());
    return 2;
  }
  hand_to_workers(bound);
  for (auto& worker : workers_)
    worker->start();
  // The file's rollouts start (or resume) once the control thread runs.
  asio::post(control_, [this] {
    rollouts_->reconcile();
    rollouts_->start_ticking();
  });
  core::log::info(engine_note);
  core::log::info("veer ready: ", worker_count_, " workers, configuration version ", version_,
                  " from ", config_path_);
  wait_for_signal();
  if (admin_http_) admin_http_->start();
  // The listeners are bound and the workers accept: a connection made from now on is
  // served (the control thread's own work starts with run() below).
  notify_manager(ServiceState::ready, "serving: " + std::to_string(worker_count_) +
                                          " workers, configuration version " +
                                          std::to_string(version_) + " from " + config_path_);
  control_.run();
  if (admin_http_) admin_http_->stop();
  if (joiner_.joinable()) joiner_.join();
  health_.stop();
  cluster_limits_.stop();
  core::log::info("veer stopped");
  return 0;
}

void Server::wait_for_signal() {
  signals_.async_wait([this](const error_code& ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      if (!shutting_down_) {
        core::log::info("SIGHUP: reloading and reopening the logs");
        notify_manager(ServiceState::reloading, "reloading " + config_path_);
        const Outcome outcome = reload();
        // A refused reload still reopens the logs: log rotation must not depend on the file.
        if (!outcome.errors.empty()) reopen_logs("SIGHUP");
        // READY=1 either way: the old configuration serves on after a refusal.
        const std::string version = std::to_string(outcome.version);
        notify_manager(ServiceState::ready,
                       outcome.errors.empty()
                           ? "serving: reloaded, configuration version " + version
                           : "serving: reload refused (" + outcome.errors.front() +
                                 "), configuration version " + version + " stays in force");
      }
    } else if (signal == SIGUSR1) {
      reopen_logs("SIGUSR1");
    } else if (signal == SIGUSR2) {
      core::log::warn(
          "SIGUSR2 ignored: veer has no binary upgrade (SIGHUP reloads, SIGUSR1 reopens "
          "logs)");
    } else {
      shut_down(signal);
    }
    wait_for_signal();
  });
}

// logrotate's convention (nginx, Envoy): the files were moved away; open them anew at
// their configured paths.
void Server::reopen_logs(const char* why) {
  std::string error;
  // The process log first, so that what follows lands in the new file.
  if (!core::log::reopen_file(&error))
    core::log::error(why, ": cannot reopen the log file: ", error);
  const std::string& access_log = shared_.snapshots.current()->config.server.access_log;
  if (!shared_.access_log.open(access_log, &error)) {
    core::log::error(why, ": cannot reopen the access log: ", error);
    return;
  }
  core::log::info(why, ": reopened the access log (", access_log, ")");
}

void Server::shut_down(int signal) {
  const char* name = signal == SIGINT ? "SIGINT" : signal == SIGQUIT ? "SIGQUIT" : "SIGTERM";
  const conf::Duration drain = shared_.snapshots.current()->config.timeouts.drain;
  if (shutting_down_) {
    core::log::warn(name, " again: closing every connection now");
    for (auto& worker : workers_)
      worker->begin_drain(proxy::Clock::now());
    return;
  }
  shutting_down_ = true;
  notify_manager(ServiceState::stopping,
                 std::string(name) + ": draining for up to " + conf::format_duration(drain));
  core::log::info(name, ": no longer accepting; draining in-flight requests for up to ",
                  conf::format_duration(drain));
  const proxy::Clock::time_point deadline = proxy::Clock::now() + drain;
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

void Server::notify_manager(ServiceState state, const std::string& status) {
  if (!notifier_.active()) return;
  std::string why;
  const bool sent = state == ServiceState::ready       ? notifier_.ready(status, &why)
                    : state == ServiceState::reloading ? notifier_.reloading(status, &why)
                                                       : notifier_.stopping(status, &why);
  if (sent || notify_failure_logged_) return;
  notify_failure_logged_ = true;
  core::log::warn("cannot notify the service manager: ", why, " (logged once)");
}

Server::Outcome Server::reload() {
  core::log::info("reloading ", config_path_);
  const std::optional<std::string> text = read_text(config_path_);
  conf::LoadResult file;
  if (!text) {
    file.errors.push_back({config_path_, 0, 0, config_path_ + ": cannot read the file"});
  } else {
    file = conf::load_config_with(*text, config_path_, {});
  }
  if (!file.ok()) {
    core::log::error("reload refused (", file.errors.size(), " errors); configuration version ",
                     version_, " stays in force");
    Outcome outcome{{}, version_, false};
    for (const conf::ConfigError& e : file.errors) {
      core::log::error(e.to_string());
      outcome.errors.push_back(e.line == 0 ? e.message : e.to_string());
    }
    ++counted_.reloads_failed;
    counted_.last_reload_ok = false;
    return outcome;
  }
  Outcome outcome =
      commit(plan_load(*text, std::move(*file.config), overrides_), std::nullopt, false);
  ++(outcome.errors.empty() ? counted_.reloads_succeeded : counted_.reloads_failed);
  counted_.last_reload_ok = outcome.errors.empty();
  return outcome;
}

// An admin change: `next` is the running changes edited by one call, checked exactly as
// a file would be; a refusal changes nothing.
Server::Outcome Server::apply(conf::Overrides next, std::optional<conf::Duration> drain) {
  conf::LoadResult result = conf::load_config_with(config_text_, config_path_, next);
  Load load{config_text_, file_config_, std::move(next), {}, std::move(result)};
  load.report.kept = conf::describe(load.kept);
  Outcome outcome{{}, version_, false};
  for (const conf::ConfigError& e : load.result.errors)
    outcome.errors.push_back(e.line == 0 ? e.message : e.to_string());
  if (outcome.errors.empty()) outcome = commit(std::move(load), drain, true);
  if (!outcome.errors.empty()) core::log::warn("admin change refused: ", outcome.errors.front());
  return outcome;
}

// The desired-state rule (docs/OPERATIONS.md, conf::load_with_changes).
Server::Load Server::plan_load(std::string text, conf::Config file,
                               const conf::Overrides& changes) {
  Load load{std::move(text), std::move(file), {}, {}, {}};
  load.result = conf::load_with_changes(load.text, config_path_, load.file, changes, &load.kept,
                                        &load.report);
  return load;
}

bool Server::persist(const conf::Overrides& changes, const std::string& state_file,
                     std::string* why) {
  if (state_file.empty()) return true;
  std::string text = admin::state_to_json(changes, rollouts_->book().to_persist());
  if (text == persisted_text_) return true;
  if (!admin::write_atomically(state_file, text, why)) return false;
  persisted_text_ = std::move(text);
  return true;
}

// Persists what will run, then swaps it in; the state file is put back if the swap
// fails, so it always equals what runs.
Server::Outcome Server::commit(Load load, std::optional<conf::Duration> drain, bool admin_change) {
  for (const conf::ConfigError& w : load.result.warnings)
    core::log::warn(w.to_string());
  std::string why;
  const std::string state_file = load.result.config->server.state_file;
  const conf::Overrides before = overrides_;
  if (!persist(load.kept, state_file, &why)) {
    core::log::error(admin_change ? "change" : "reload", " refused: state file: ", why);
    return Outcome{{"state file: " + why}, version_, true};
  }
  conf::Overrides previous = std::exchange(overrides_, load.kept);
  if (!swap_in(std::move(*load.result.config), drain, admin_change, &why)) {
    overrides_ = std::move(previous);
    std::string ignored;
    persist(before, state_file, &ignored);
    core::log::error(admin_change ? "change" : "reload", " refused: ", why,
                     "; configuration version ", version_, " stays in force");
    return Outcome{{why}, version_, false};
  }
  for (const std::string& line : load.report.dropped)
    core::log::warn("runtime change ", line);
  config_text_ = std::move(load.text);
  file_config_ = std::move(load.file);
  report_ = std::move(load.report);
  // The file may have started, changed or dropped rollouts, or a change may have undone
  // a rollout's weights.
  rollouts_->reconcile();
  return Outcome{{}, version_, false};
}

// At start: the changes of the state file on top of the file, by the same rule as a
// reload. A state file that cannot be read is refused, naming what is wrong.
bool Server::start_with_state_file(conf::Config& config) {
  config_text_ = read_text(config_path_).value_or("");
  file_config_ = config;
  const std::string state_file = config.server.state_file;
  if (state_file.empty()) return true;
  std::string why;
  std::vector<runtime::RolloutRecord> records;
  std::optional<conf::Overrides> state = admin::read_state_file(state_file, config, &why, &records);
  if (!state) {
    core::log::error("state file: ", why, "; fix or remove it");
    return false;
  }
  rollouts_->restore(std::move(records));
  persisted_text_ = read_text(state_file).value_or("");
  Load load = plan_load(config_text_, config, *state);
  for (const std::string& line : load.report.dropped)
    core::log::warn("state file ", state_file, ": runtime change ", line);
  if (!persist(load.kept, state_file, &why)) {
    core::log::error("state file: ", why);
    return false;
  }
  if (!load.kept.empty())
    core::log::info("state file ", state_file, " applied on top of ", config_path_, ": ",
                    load.report.kept.size(), " runtime changes");
  config = std::move(*load.result.config);
  overrides_ = std::move(load.kept);
  report_ = std::move(load.report);
  return true;
}

// Fields a running process cannot change: said, then left as they are.
void Server::warn_restart_only(const conf::Config& next) const {
  const unsigned wanted_workers = next.server.workers != 0
                                      ? next.server.workers
                                      : std::max(1u, std::thread::hardware_concurrency());
  if (wanted_workers != worker_count_) {
    core::log::warn("server.workers changed: takes effect at the next restart");
  }
  if (next.server.io_engine != io_engine_) {
    core::log::warn("server.io_engine changed: takes effect at the next restart");
  }
  if (next.server.io_uring_buffers != io_uring_buffers_) {
    core::log::warn("server.io_uring_buffers changed: takes effect at the next restart");
  }
}

// The listeners `next` drops or moves to another address (a moved one is bound anew).
std::vector<std::string> Server::dropped_listeners(const conf::Config& next) const {
  std::vector<std::string> dropped;
  for (const auto& [name, address] : listener_addresses_) {
    const auto kept =
        std::find_if(next.listeners.begin(), next.listeners.end(),
                     [&](const auto& l) { return l.name == name && l.address == address; });
    if (kept == next.listeners.end()) dropped.push_back(name);
  }
  return dropped;
}

void Server::close_listeners(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    for (auto& worker : workers_)
      worker->remove_listener(name);
    listener_addresses_.erase(name);
    core::log::info("listener ", name, " closed");
  }
}

bool Server::swap_in(conf::Config next, std::optional<conf::Duration> drain, bool keep_tls,
                     std::string* why) {
  warn_restart_only(next);
  // Everything that can fail happens before anything changes.
  std::vector<proxy::BoundListener> bound;
  if (!bind_new_listeners(next, bound, why)) return false;
  // Reopening even an unchanged file lets log rotation work with SIGHUP.
  if (!shared_.access_log.open(next.server.access_log, why)) return false;
  if (!core::log::open_file(next.server.log, why)) return false;
  const std::vector<std::string> dropped = dropped_listeners(next);
  const std::shared_ptr<const runtime::Snapshot> previous = shared_.snapshots.current();
  runtime::TlsSet tls;
  if (!load_tls(next, previous->tls, keep_tls, tls, why)) return false;
  runtime::LimiterSet limiters;
  if (!build_limiters(next, &previous->limiters, limiters, why)) return false;
  const std::shared_ptr<const runtime::Snapshot> snapshot =
      build_snapshot(std::move(next), ++version_, registry_, std::move(tls), limiters);
  // Holds and drains apply before the publication, so that no worker routes with the
  // new snapshot to a backend held drained or down.
  const runtime::ReloadPlan plan = runtime::plan_reload(*previous, *snapshot, overrides_, drain);
  apply_admin_holds(plan.holds);
  drain_removed_backends(plan);
  shared_.snapshots.publish(snapshot);
  announce_split_changes(plan.splits);
  health_.update(snapshot);
  close_listeners(dropped);
  hand_to_workers(bound);
  registry_.collect();
  certificate_watch_.watch(snapshot->tls.files());
  core::log::info("configuration version ", version_, " applied");
  return true;
}

bool Server::load_tls(const conf::Config& config, const runtime::TlsSet& previous, bool keep_tls,
                      runtime::TlsSet& out, std::string* why) {
  runtime::TlsLoad load = runtime::load_tls(config, previous, ticket_keys_, keep_tls);
  for (const std::string& warning : load.warnings)
    core::log::warn(warning);
  if (!load.errors.empty()) {
    for (const std::string& error : load.errors)
      core::log::error(error);
    *why = load.errors.front();
    if (load.errors.size() > 1)
      *why += " (and " + std::to_string(load.errors.size() - 1) + " more)";
    return false;
  }
  if (load.loaded > 0) core::log::info("TLS: loaded ", load.loaded, " certificate sets");
  out = std::move(load.set);
  return true;
}

bool Server::build_limiters(const conf::Config& config, const runtime::LimiterSet* previous,
                            runtime::LimiterSet& out, std::string* why) const {
  if (!cluster_limiter_factory_) {
    for (const conf::RateLimitPolicyConfig& policy : config.limits.policies) {
      if (policy.scope != conf::RateLimitPolicyConfig::Scope::cluster) continue;
      *why = "limits." + policy.name +
             ": scope = \"cluster\" is not available in this build (no cluster engine)";
      return false;
    }
  }
  try {
    out = runtime::LimiterSet::build(config, previous, cluster_limiter_factory_);
  } catch (const std::exception& e) {
    *why = e.what();
    return false;
  }
  return true;
}

void Server::reload_certificates() {
  if (shutting_down_ || !shared_.snapshots.current()->tls.files_changed()) return;
  core::log::info("certificate files changed on disk: loading them for new connections");
  conf::LoadResult result = conf::load_config_with(config_text_, config_path_, overrides_);
  if (!result.ok()) return;  // the text and changes in force were valid when applied
  std::string why;
  const bool applied = swap_in(std::move(*result.config), std::nullopt, false, &why);
  if (!applied)
    core::log::error("certificate reload refused: ", why, "; the certificates in force stay");
  // Counted as reloads: veer_config_last_reload_successful shows a refused certificate.
  ++(applied ? counted_.reloads_succeeded : counted_.reloads_failed);
  counted_.last_reload_ok = applied;
}

// Generated keys get a new current key every ticket_key_rotation (the shortest any
// listener asks for); the two before it still decrypt, so a ticket lives two periods.
void Server::rotate_ticket_keys() {
  conf::Duration period = std::chrono::hours(1);
  bool first = true;
  for (const conf::ListenerConfig& listener : shared_.snapshots.current()->config.listeners) {
    if (!listener.tls || !listener.tls->ticket_key_file.empty()) continue;
    period = first ? listener.tls->ticket_key_rotation
                   : std::min(period, listener.tls->ticket_key_rotation);
    first = false;
  }
  ticket_rotation_.expires_after(period);
  ticket_rotation_.async_wait([this](const error_code& ec) {
    if (ec) return;
    ticket_keys_->rotate();
    rotate_ticket_keys();
  });
}

bool Server::start_admin(const conf::Config& config, std::string* why) {
  if (!config.admin.enabled) return true;
  api_ = std::make_unique<admin::Api>(*this, config.admin);
  admin_http_ = std::make_unique<admin::HttpServer>(
      [this](admin::AdminRequest request, admin::HttpServer::Respond respond) {
        // Every admin call runs on the control thread: changes are serial, and reads
        // see a whole snapshot.
        asio::post(control_, [this, request = std::move(request), respond = std::move(respond)] {
          respond(api_->handle(request));
        });
      });
  if (!admin_http_->bind(config.admin.host_port, why)) return false;
  core::log::info("admin API on ", admin_http_->local_address(),
                  config.admin.tokens.empty() ? " (no tokens: loopback only)" : "");
  return true;
}

std::optional<std::string> Server::metrics() {
  admin::MetricsSources sources;
  sources.snapshot = shared_.snapshots.current();
  if (!sources.snapshot->config.admin.metrics) return std::nullopt;
  for (const auto& worker : workers_)
    sources.workers.push_back(&worker->metrics());
  sources.client_connections = shared_.client_connections.load(std::memory_order_relaxed);
  sources.config = counted_;
  sources.version = VEER_VERSION;
  sources.engine = VEER_ENGINE_NAME;
  sources.rollouts = rollouts_->book().to_persist();
  return admin::prometheus_text(admin::MetricsCollector(std::move(sources)));
}

std::map<std::string, std::uint64_t> Server::split_assignments(const std::string& split) {
  std::map<runtime::SplitTargetKey, std::uint64_t> totals;
  for (const auto& worker : workers_)
    worker->metrics().add_split_assignments(totals);
  std::map<std::string, std::uint64_t> counts;
  for (const auto& [key, n] : totals) {
    if (key.split == split) counts[key.pool] = n;
  }
  return counts;
}

std::map<std::string, admin::PolicyRequests> Server::policy_requests() {
  std::map<std::string, runtime::PolicyCounters> totals;
  for (const auto& worker : workers_)
    worker->metrics().add_policy_counters(totals);
  std::map<std::string, admin::PolicyRequests> out;
  for (const auto& [name, c] : totals) {
    out[name] = admin::PolicyRequests{c.allowed.value(), c.limited.value(), c.delayed.value(),
                                      c.dry_run_limited.value()};
  }
  return out;
}

RolloutDriver::Hooks Server::rollout_hooks() {
  RolloutDriver::Hooks hooks;
  hooks.totals = [this] {
    RolloutBook::Totals totals;
    for (const auto& worker : workers_)
      worker->metrics().add_split_evidence(totals);
    return totals;
  };
  hooks.running = [this] { return shared_.snapshots.current(); };
  hooks.file = [this]() -> const conf::Config& { return file_config_; };
  hooks.set_split = [this](const std::string& split,
                           const std::map<std::string, std::uint64_t>& weights,
                           std::string* why) { return set_split_weights(split, weights, why); };
  hooks.persist = [this](std::string* why) {
    const std::string& state_file = shared_.snapshots.current()->config.server.state_file;
    if (persist(overrides_, state_file, why)) return true;
    core::log::error("state file: rollouts not saved: ", *why);
    return false;
  };
  hooks.version = [this] { return version_; };
  return hooks;
}

// A rollout's step: the split's weights, as an admin change of the split.
bool Server::set_split_weights(const std::string& split,
                               const std::map<std::string, std::uint64_t>& weights,
                               std::string* why) {
  const conf::SplitConfig* file = file_config_.find_split(split);
  if (file == nullptr) {
    *why = "the configuration file has no split " + split;
    return false;
  }
  conf::Overrides next = overrides_;
  conf::set_split(next, *file, weights);
  conf::normalize(next);
  if (next == overrides_) return true;
  const Outcome outcome = apply(std::move(next), std::nullopt);
  if (outcome.errors.empty()) return true;
  *why = outcome.errors.front();
  return false;
}

// Logs every split whose weights moved, and schedules the closing of WebSocket tunnels
// on targets that went to weight 0 where the split asks for it.
void Server::announce_split_changes(const std::vector<runtime::SplitWeightChange>& changes) {
  for (const runtime::SplitWeightChange& change : changes) {
    core::log::info("split ", change.split->name, ": weights ", runtime::describe(change.moves));
    const auto& grace = change.split->config->drain_tunnels_after;
    if (!grace || change.emptied.empty()) continue;
    const proxy::Clock::time_point deadline = proxy::Clock::now() + *grace;
    for (auto& worker : workers_)
      worker->drain_split_targets(change.emptied, deadline);
  }
}

void Server::apply_admin_holds(const std::vector<runtime::AdminHold>& holds) {
  for (const runtime::AdminHold& hold : holds) {
    const health::BackendName who{hold.pool->name, hold.backend->address};
    core::BackendStats& stats = *hold.backend->stats;
    health::change_reason(stats, core::Reason::draining, hold.drained, who,
                          hold.drained ? "drained through the admin API" : "no longer drained");
    health::change_reason(stats, core::Reason::disabled, hold.down, who,
                          hold.down ? "set down through the admin API" : "set up");
  }
}

// Backends the new configuration no longer has take no new requests from now on
// (older snapshots still in use see them draining), and whatever still uses them is
// closed at the drain deadline.
void Server::drain_removed_backends(const runtime::ReloadPlan& plan) {
  if (plan.removed.empty()) return;
  std::string cause = "removed from the configuration; in-flight requests and tunnels have ";
  cause.append(conf::format_duration(plan.drain)).append(" to finish");
  std::vector<std::shared_ptr<core::BackendStats>> removed;
  std::vector<conf::SocketAddress> addresses;
  for (const runtime::RemovedBackend& r : plan.removed) {
    health::change_reason(*r.backend->stats, core::Reason::draining, true,
                          {r.pool->name, r.backend->address}, cause);
    removed.push_back(r.backend->stats);
    addresses.push_back(r.backend->endpoint);
  }
  const proxy::Clock::time_point deadline = proxy::Clock::now() + plan.drain;
  for (auto& worker : workers_)
    worker->drain_backends(removed, addresses, deadline);
}

}  // namespace

int run_server(const std::string& config_path, conf::Config config,
               const std::string& engine_note) {
  Server server(config_path);
  return server.run(std::move(config), engine_note);
}

}  // namespace veer::app
