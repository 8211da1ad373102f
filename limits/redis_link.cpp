#include "limits/redis_link.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <deque>
#include <random>
#include <thread>
#include <vector>

#include "core/asio.hpp"
#include "core/log.hpp"
#include "limits/cluster_limiter.hpp"
#include "limits/hiredis_asio.hpp"
#include "limits/lease_script.hpp"
#include "limits/redis_reply.hpp"

namespace veer::limits {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Where and how to reach Redis. Outside the anonymous namespace because RedisLink::Thread
// (a class of the header's) holds one.
struct RedisLinkSettings {
  std::string host;
  std::uint16_t port = 0;
  std::chrono::nanoseconds timeout = std::chrono::milliseconds(250);
  std::string prefix = "veer:";
  friend bool operator==(const RedisLinkSettings&, const RedisLinkSettings&) = default;
};

namespace {

using Settings = RedisLinkSettings;

Settings settings_of(const conf::ClusterConfig& config) {
  Settings s;
  conf::HostPort where = config.redis_host_port;
  if (where.host.empty()) {
    std::string why;
    if (auto parsed = conf::parse_host_port(config.redis, &why)) where = *parsed;
  }
  s.host = where.host;
  s.port = where.port;
  s.timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(config.timeout);
  s.prefix = config.key_prefix;
  return s;
}

std::string make_instance_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device random;
  const std::uint64_t nonce = (std::uint64_t{random()} << 32) | random();
  char text[64];
  std::snprintf(text, sizeof text, ":%d:%016llx", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(nonce));
  return std::string(host) + text;
}

// A heartbeat every second; a member not seen for three is no longer counted, so one
// lost beat does not change N.
constexpr auto kHeartbeatEvery = 1s;
constexpr long long kLiveMs = 3000;
// Reconnection: soon after a blip, at most once a second while Redis stays away.
constexpr auto kFirstBackoff = 50ms;
constexpr auto kMaxBackoff = 1s;

}  // namespace

// Everything below runs on the cluster thread, except the constructor, reconfigure and
// the destructor (main thread), which only post to it and join it.
class RedisLink::Thread {
 public:
  Thread(std::shared_ptr<ClusterChannel> channel, std::string instance_id, Settings settings);
  ~Thread();
  void reconfigure(Settings settings);

 private:
  enum class Kind { ping, load_lease, load_heartbeat, lease, heartbeat };
  enum class State { starting, connecting, up, down };
  // One command in flight: hiredis's privdata, owned again by the reply callback.
  struct Command {
    Thread* thread = nullptr;
    std::uint64_t epoch = 0;
    Kind kind = Kind::ping;
    bool by_sha = false;
    std::shared_ptr<ClusterLimiter> limiter;
    RefillRequest request;
    LeaseAsk ask;
    std::vector<std::string> script_args;  // key and arguments, for a resend by EVAL
  };

  static void on_reply(redisAsyncContext* context, void* reply, void* privdata);
  static void on_connect(const redisAsyncContext* context, int status);
  static void on_disconnect(const redisAsyncContext* context, int status);

  void connect();
  void probe();
  void became_up();
  void lost(const std::string& why);
  void context_gone(const redisAsyncContext* context, const char* why);
  void drop_connection();
  void schedule_reconnect();
  void arm_tick();
  void tick();
  void wait_wake();
  void drain_refills();
  void send_lease(std::shared_ptr<ClusterLimiter> limiter, const RefillRequest& request,
                  const LeaseAsk& ask);
  void send_heartbeat();
  void send_script(std::unique_ptr<Command> command, bool by_sha);
  bool send(std::unique_ptr<Command> command, const std::vector<std::string>& argv);
  void handle(std::unique_ptr<Command> command, const redisReply* reply);
  void handle_lease(Command& command, const redisReply& reply);
  void fail(Command& command);
  void shutdown();
  std::string where() const { return settings_.host + ":" + std::to_string(settings_.port); }

  std::shared_ptr<ClusterChannel> channel_;
  std::string instance_id_;
  Settings settings_;
  asio::io_context io_{1};
  asio::posix::stream_descriptor wake_;
  asio::steady_timer tick_timer_;
  asio::steady_timer reconnect_timer_;
  redisAsyncContext* context_ = nullptr;
  std::uint64_t epoch_ = 0;             // connection number; older replies only fail
  std::deque<std::int64_t> deadlines_;  // of the commands in flight, in order (FIFO replies)
  State state_ = State::starting;
  std::chrono::milliseconds backoff_ = kFirstBackoff;
  std::int64_t next_heartbeat_ = 0;
  std::string lease_sha_;
  std::string heartbeat_sha_;
  bool stopping_ = false;
  bool counted_ = false;  // a heartbeat has counted the instances (logged once, then on change)
  std::thread thread_;
};

RedisLink::Thread::Thread(std::shared_ptr<ClusterChannel> channel, std::string instance_id,
                          Settings settings)
    : channel_(std::move(channel)),
      instance_id_(std::move(instance_id)),
      settings_(std::move(settings)),
      wake_(io_, ::dup(channel_->wake_fd())),
      tick_timer_(io_),
      reconnect_timer_(io_) {
  asio::post(io_, [this] {
    wait_wake();
    arm_tick();
    connect();
  });
  thread_ = std::thread([this] {
    // A handler that throws (allocation failure) is logged; the thread keeps serving.
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        core::log::error("cluster thread: ", e.what());
      }
    }
  });
}

RedisLink::Thread::~Thread() {
  asio::post(io_, [this] { shutdown(); });
  thread_.join();
}

void RedisLink::Thread::shutdown() {
  stopping_ = true;
  drop_connection();
  tick_timer_.cancel();
  reconnect_timer_.cancel();
  core::interrupt_socket(wake_);
  channel_->set_shared(false, /*count=*/false);
  RefillRequest request;
  while (channel_->pop(request)) {
    if (auto limiter = channel_->find(request.limiter)) limiter->lease_failed(request);
  }
  io_.stop();
}

void RedisLink::Thread::reconfigure(Settings settings) {
  asio::post(io_, [this, settings = std::move(settings)]() mutable {
    const bool moved = settings.host != settings_.host || settings.port != settings_.port;
    settings_ = std::move(settings);
    if (!moved || stopping_) return;
    core::log::info("cluster: Redis is now ", where(), "; reconnecting");
    drop_connection();
    reconnect_timer_.cancel();
    backoff_ = kFirstBackoff;
    connect();
  });
}

void RedisLink::Thread::connect() {
  if (stopping_ || context_ != nullptr) return;
  redisAsyncContext* context = redisAsyncConnect(settings_.host.c_str(), settings_.port);
  if (context == nullptr || context->err != 0) {
    const std::string why = context ? context->errstr : "cannot allocate a context";
    if (context) redisAsyncFree(context);
    lost("cannot connect: " + why);
    return;
  }
  if (!attach_to_asio(context, io_)) {
    redisAsyncFree(context);
    lost("cannot watch the socket");
    return;
  }
  context->data = this;
  redisAsyncSetConnectCallback(context, on_connect);
  redisAsyncSetDisconnectCallback(context, on_disconnect);
  context_ = context;
  ++epoch_;
  if (state_ != State::down) state_ = State::connecting;
  // Queued until connected; its deadline bounds the connect too.
  auto ping = std::make_unique<Command>();
  ping->kind = Kind::ping;
  send(std::move(ping), {"PING"});
}

void RedisLink::Thread::on_connect(const redisAsyncContext* context, int status) {
  if (status != REDIS_OK) {
    static_cast<Thread*>(context->data)->context_gone(context, context->errstr);
  }
}

void RedisLink::Thread::on_disconnect(const redisAsyncContext* context, int status) {
  static_cast<Thread*>(context->data)
      ->context_gone(context, status == REDIS_OK ? "connection closed" : context->errstr);
}

// hiredis is freeing `context` itself (a failed connect, a dropped connection).
void RedisLink::Thread::context_gone(const redisAsyncContext* context, const char* why) {
  if (context != context_) return;  // one we dropped already
  context_ = nullptr;
  ++epoch_;
  deadlines_.clear();
  lost(why ? why : "connection lost");
}

// The connection goes (if any): every command in flight fails, now or, from inside a
// hiredis callback, as soon as it returns (redisAsyncFree defers itself).
void RedisLink::Thread::drop_connection() {
  redisAsyncContext* context = context_;
  context_ = nullptr;
  ++epoch_;
  deadlines_.clear();
  if (context != nullptr) redisAsyncFree(context);
}

void RedisLink::Thread::lost(const std::string& why) {
  drop_connection();
  if (stopping_) return;
  if (state_ != State::down) {
    core::log::warn("cluster: Redis at ", where(), " unavailable (", why,
                    "): cluster rate limits fall back to rate / ", channel_->instances(),
                    " per instance until it answers");
    state_ = State::down;
  }
  channel_->set_shared(false);
  schedule_reconnect();
}

void RedisLink::Thread::schedule_reconnect() {
  reconnect_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(kMaxBackoff));
  reconnect_timer_.async_wait([this](const error_code& ec) {
    if (!ec) connect();
  });
}

// PING answered: load the scripts and beat once. Redis counts as up only when that
// heartbeat (a script that writes) succeeds, so a server that answers PING but refuses
// work (out of memory, read-only replica) does not flap between up and down.
void RedisLink::Thread::probe() {
  auto load_lease = std::make_unique<Command>();
  load_lease->kind = Kind::load_lease;
  send(std::move(load_lease), {"SCRIPT", "LOAD", std::string(kLeaseScript)});
  auto load_heartbeat = std::make_unique<Command>();
  load_heartbeat->kind = Kind::load_heartbeat;
  send(std::move(load_heartbeat), {"SCRIPT", "LOAD", std::string(kHeartbeatScript)});
  send_heartbeat();
}

void RedisLink::Thread::became_up() {
  backoff_ = kFirstBackoff;
  if (state_ == State::down) {
    core::log::info("cluster: Redis at ", where(),
                    " answers again: cluster rate limits are shared");
  } else {
    core::log::info("cluster: rate limits shared through Redis at ", where(), " as ", instance_id_);
  }
  state_ = State::up;
  channel_->set_shared(true);
  drain_refills();
}

void RedisLink::Thread::arm_tick() {
  // A fifth of the timeout: a silent Redis is noticed within 1.2 x timeout.
  const auto period = std::clamp<std::chrono::nanoseconds>(settings_.timeout / 5, 2ms, 100ms);
  tick_timer_.expires_after(period);
  tick_timer_.async_wait([this](const error_code& ec) {
    if (ec || stopping_) return;
    tick();
    arm_tick();
  });
}

void RedisLink::Thread::tick() {
  const std::int64_t now = now_ns();
  if (!deadlines_.empty() && now > deadlines_.front()) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout);
    lost("no reply within " + std::to_string(ms.count()) + " ms");
    return;
  }
  if (state_ == State::up && now >= next_heartbeat_) send_heartbeat();
}

void RedisLink::Thread::wait_wake() {
  wake_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const error_code& ec) {
    if (ec || stopping_) return;
    channel_->woken();
    drain_refills();
    wait_wake();
  });
}

void RedisLink::Thread::drain_refills() {
  RefillRequest request;
  while (channel_->pop(request)) {
    std::shared_ptr<ClusterLimiter> limiter = channel_->find(request.limiter);
    if (!limiter) continue;
    if (state_ != State::up || context_ == nullptr) {
      limiter->lease_failed(request);
      continue;
    }
    if (auto ask = limiter->lease_ask(request)) send_lease(std::move(limiter), request, *ask);
  }
}

void RedisLink::Thread::send_lease(std::shared_ptr<ClusterLimiter> limiter,
                                   const RefillRequest& request, const LeaseAsk& ask) {
  auto command = std::make_unique<Command>();
  command->kind = Kind::lease;
  command->script_args = {lease_key_name(settings_.prefix, limiter->policy(), ask.key),
                          std::to_string(ask.interval), std::to_string(ask.tolerance),
                          std::to_string(ask.amount)};
  command->limiter = std::move(limiter);
  command->request = request;
  command->ask = ask;
  send_script(std::move(command), !lease_sha_.empty());
}

void RedisLink::Thread::send_heartbeat() {
  next_heartbeat_ = now_ns() + std::chrono::nanoseconds(kHeartbeatEvery).count();
  auto command = std::make_unique<Command>();
  command->kind = Kind::heartbeat;
  command->script_args = {instances_key_name(settings_.prefix), instance_id_,
                          std::to_string(kLiveMs)};
  send_script(std::move(command), !heartbeat_sha_.empty());
}

void RedisLink::Thread::send_script(std::unique_ptr<Command> command, bool by_sha) {
  const bool lease = command->kind == Kind::lease;
  std::vector<std::string> argv;
  argv.reserve(command->script_args.size() + 3);
  argv.emplace_back(by_sha ? "EVALSHA" : "EVAL");
  argv.emplace_back(by_sha ? (lease ? lease_sha_ : heartbeat_sha_)
                           : std::string(lease ? kLeaseScript : kHeartbeatScript));
  argv.emplace_back("1");  // one key
  for (const std::string& a : command->script_args)
    argv.push_back(a);
  command->by_sha = by_sha;
  send(std::move(command), argv);
}

bool RedisLink::Thread::send(std::unique_ptr<Command> command,
                             const std::vector<std::string>& argv) {
  if (context_ == nullptr) {
    fail(*command);
    return false;
  }
  std::vector<const char*> parts;
  std::vector<size_t> lengths;
  for (const std::string& a : argv) {
    parts.push_back(a.data());
    lengths.push_back(a.size());
  }
  command->thread = this;
  command->epoch = epoch_;
  Command* raw = command.release();
  if (redisAsyncCommandArgv(context_, on_reply, raw, static_cast<int>(parts.size()), parts.data(),
                            lengths.data()) != REDIS_OK) {
    std::unique_ptr<Command> back(raw);
    fail(*back);
    return false;
  }
  deadlines_.push_back(now_ns() + settings_.timeout.count());
  return true;
}

void RedisLink::Thread::on_reply(redisAsyncContext*, void* reply, void* privdata) {
  std::unique_ptr<Command> command(static_cast<Command*>(privdata));
  Thread* self = command->thread;
  const bool current = command->epoch == self->epoch_;
  if (current && !self->deadlines_.empty()) self->deadlines_.pop_front();
  if (reply == nullptr || !current) {
    // The connection is going (its commands are failed as hiredis frees it) or went.
    self->fail(*command);
    return;
  }
  self->handle(std::move(command), static_cast<const redisReply*>(reply));
}

void RedisLink::Thread::handle(std::unique_ptr<Command> command, const redisReply* reply) {
  if (reply->type == REDIS_REPLY_ERROR) {
    const std::string text(reply->str, reply->len);
    if (command->by_sha && text.starts_with("NOSCRIPT")) {
      // Redis restarted or its script cache was flushed: the whole text, which also
      // caches it again for the next EVALSHA.
      send_script(std::move(command), false);
      return;
    }
    fail(*command);
    lost("error reply: " + text);
    return;
  }
  switch (command->kind) {
    case Kind::ping:
      probe();
      break;
    case Kind::load_lease:
    case Kind::load_heartbeat:
      if (reply->type == REDIS_REPLY_STRING) {
        (command->kind == Kind::load_lease ? lease_sha_ : heartbeat_sha_) =
            std::string(reply->str, reply->len);
      }
      break;
    case Kind::lease:
      handle_lease(*command, *reply);
      break;
    case Kind::heartbeat:
      if (const std::optional<std::uint64_t> counted = heartbeat_reply(*reply)) {
        const std::uint64_t live = *counted;
        if (live != channel_->discovered_instances() || !counted_) {
          core::log::info("cluster: ", live, " veer instance", live == 1 ? "" : "s",
                          " live through Redis (the fallback's N when [cluster] instances is 0)");
        }
        counted_ = true;
        channel_->set_discovered_instances(live);
        if (state_ != State::up) became_up();
      } else {
        lost("unexpected reply to the heartbeat");
      }
      break;
  }
}

void RedisLink::Thread::handle_lease(Command& command, const redisReply& reply) {
  const std::optional<LeaseGrant> grant = lease_reply(reply, command.ask.amount);
  if (!grant) {
    fail(command);
    lost("unexpected reply to the lease script");
    return;
  }
  command.limiter->lease_granted(command.request, command.ask, *grant, now_ns());
}

void RedisLink::Thread::fail(Command& command) {
  if (command.kind == Kind::lease && command.limiter)
    command.limiter->lease_failed(command.request);
}

// --- RedisLink ---------------------------------------------------------------------------

RedisLink::RedisLink()
    : channel_(std::make_shared<ClusterChannel>()), instance_id_(make_instance_id()) {}

RedisLink::~RedisLink() {
  stop();
}

void RedisLink::configure(const conf::ClusterConfig& config) {
  channel_->configure(config.instances, config.lease);
  config_ = config;
  if (thread_) thread_->reconfigure(settings_of(config_));
}

void RedisLink::start() {
  if (!thread_) thread_ = std::make_unique<Thread>(channel_, instance_id_, settings_of(config_));
}

void RedisLink::stop() {
  thread_.reset();
}

bool RedisLink::running() const {
  return thread_ != nullptr;
}

}  // namespace veer::limits
