#pragma once

// One backend's active health check: every interval (plus up to jitter), start to
// start, connect, do the TLS handshake when the pool speaks TLS to its backends (the
// same ClientTls as requests, so a check fails exactly when requests would), send the
// check request, read the answer until the backend closes, judge it
// (health/evaluate.hpp) and report. Each probe is its own chain of callbacks with its
// own timeout, so a hung backend only delays its own checks. Runs on the health
// thread. A timeout interrupts the socket (asio.hpp: never a cancel on io_uring) and
// the pending operation's handler finishes the check, so the socket is only closed
// when nothing uses it.

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "conf/config.hpp"
#include "core/asio.hpp"
#include "core/backend_stats.hpp"
#include "core/random.hpp"
#include "health/evaluate.hpp"
#include "health/heads.hpp"
#include "health/rise_fall.hpp"
#include "tls/client_tls.hpp"
#include "tls/stream.hpp"

namespace veer::health {

struct ProbeTarget {
  std::string pool;
  std::string address;
  conf::SocketAddress endpoint;
  std::shared_ptr<core::BackendStats> stats;
  std::shared_ptr<core::PoolStats> pool_stats;
  conf::HealthConfig config;
  std::shared_ptr<const tls::ClientTls> tls;  // null: plain TCP
  std::string tls_host;                       // the backend's configured host (SNI, name)
};

class Probe : public std::enable_shared_from_this<Probe> {
 public:
  // Judges a result; returns true while a change of state is being confirmed (the
  // next check then comes sooner).
  using Report = std::function<bool(Probe&, CheckResult)>;

  // `tls_scratch`: ciphertext in transit during TLS checks, shared by the probes of one
  // thread (a Stream holds it only inside a synchronous call, never across a wait).
  Probe(asio::io_context& io, ProbeTarget target, Report report, std::uint64_t seed,
        std::span<char> tls_scratch);
  void start();
  void stop();
  const ProbeTarget& target() const { return target_; }
  // Reloaded TLS material (certificates replaced, same settings): the next check uses
  // it, and the rise/fall counts carry on.
  void set_tls(std::shared_ptr<const tls::ClientTls> tls, std::string host);

  // Consecutive results, for rise and fall (health thread only).
  CheckStreak streak;
  // Head tracking (health thread only): the head over time, and whether the next check
  // also asks eth_chainId (after the start and after each failed check).
  HeadWatch head_watch;
  bool ask_chain_id = true;

 private:
  void schedule(std::chrono::steady_clock::time_point when);
  std::chrono::milliseconds jitter();
  void check();
  void on_connected(const error_code& ec);
  void on_handshake(const error_code& ec);
  void send_check();
  void on_sent(const error_code& ec);
  void read();
  void on_read(const error_code& ec, std::size_t n);
  void done(CheckResult result);
  std::string failure(const error_code& ec, std::string_view during) const;
  std::string tls_failure(const error_code& ec) const;
  void count_late_tls_failure(const error_code& ec);

  ProbeTarget target_;
  Report report_;
  tls::Stream stream_;  // a new one (plain until start_tls) for each check
  std::span<char> tls_scratch_;
  asio::steady_timer wait_;      // between checks
  asio::steady_timer deadline_;  // of the check in progress
  std::string request_;
  std::string request_with_chain_;  // head tracking: request_ plus eth_chainId
  std::string answer_;
  std::array<char, 4096> chunk_{};
  core::Random random_;
  std::chrono::steady_clock::time_point check_started_{};
  std::uint64_t check_id_ = 0;  // which check a deadline belongs to
  bool timed_out_ = false;
  bool stopped_ = false;
};

}  // namespace veer::health
