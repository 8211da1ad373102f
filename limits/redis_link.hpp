#pragma once

// The process's link to Redis for rate limits of scope = "cluster": one dedicated thread
// (the cluster thread) with its own io_context, running hiredis's asynchronous client
// (limits/hiredis_asio.hpp). Workers never call it: they read ClusterChannel's atomics
// and queue lease refills there; this thread sends them as EVALSHA of the lease script
// (EVAL when Redis answers NOSCRIPT), adds the grants to the limiters' tables, beats the
// instance heartbeat every second (counting live instances for the fallback's N) and
// decides whether Redis is up:
// - down when a connection fails or drops, a reply is an error, or any command has no
//   reply within [cluster] timeout; the connection is then dropped, limiters fall back
//   to their local limit, one log line says why;
// - up again when a new connection answers PING and then a heartbeat (a script that
//   writes, so a Redis that answers PING but refuses work stays down rather than
//   flapping), reconnecting with a backoff of 50 ms doubling to 1 s; one log line says so.
// Compiled with each engine (Asio).

#include <cstdint>
#include <memory>
#include <string>

#include "conf/config.hpp"
#include "limits/cluster_channel.hpp"

namespace veer::limits {

class RedisLink {
 public:
  RedisLink();
  ~RedisLink();  // stop()
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // Main thread. Applies [cluster] (at start and on each reload): the address (a change
  // reconnects), timeout and key prefix on the cluster thread; instances and lease at once.
  void configure(const conf::ClusterConfig& config);
  // Starts the cluster thread (idempotent); it connects at once.
  void start();
  // Ends the cluster thread: the connection is closed, queued refills are dropped and
  // limiters stay in (local) fallback. Idempotent.
  void stop();
  bool running() const;

  const std::shared_ptr<ClusterChannel>& channel() const { return channel_; }
  // "host:pid:random", this process's member in the instances set.
  const std::string& instance_id() const { return instance_id_; }

 private:
  class Thread;
  std::shared_ptr<ClusterChannel> channel_;
  std::string instance_id_;
  conf::ClusterConfig config_;
  std::unique_ptr<Thread> thread_;
};

}  // namespace veer::limits
