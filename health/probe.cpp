#include "health/probe.hpp"

namespace veer::health {
namespace {

// An answer larger than this is not a health check answer: judge what arrived.
constexpr std::size_t kMaxAnswer = 64 * 1024;

}  // namespace

Probe::Probe(asio::io_context& io, ProbeTarget target, Report report, std::uint64_t seed,
             std::span<char> tls_scratch)
    : target_(std::move(target)),
      report_(std::move(report)),
      stream_(tcp::socket(io)),
      tls_scratch_(tls_scratch),
      wait_(io),
      deadline_(io),
      random_(seed) {
  if (target_.config.type != conf::HealthConfig::Type::tcp) {
    request_ = check_request(target_.config, target_.address);
    request_with_chain_ = tracks_heads(target_.config)
                              ? check_request(target_.config, target_.address, true)
                              : request_;
  }
}

std::chrono::milliseconds Probe::jitter() {
  const auto jitter = target_.config.jitter.count();
  return std::chrono::milliseconds(
      jitter > 0 ? random_.below(static_cast<std::uint32_t>(jitter) + 1) : 0);
}

void Probe::start() {
  // Spread the first checks of many backends over the jitter.
  schedule(std::chrono::steady_clock::now() + jitter());
}

void Probe::set_tls(std::shared_ptr<const tls::ClientTls> tls, std::string host) {
  target_.tls = std::move(tls);
  target_.tls_host = std::move(host);
}

void Probe::stop() {
  stopped_ = true;
  wait_.cancel();
  deadline_.cancel();
  if (stream_.is_open()) core::interrupt_socket(stream_.socket());
}

void Probe::schedule(std::chrono::steady_clock::time_point when) {
  wait_.expires_at(when);
  wait_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec && !self->stopped_) self->check();
  });
}

void Probe::check() {
  check_started_ = std::chrono::steady_clock::now();
  timed_out_ = false;
  answer_.clear();
  // The last check's TLS session goes with its stream; nothing is pending on it.
  stream_ = tls::Stream(tcp::socket(wait_.get_executor()));
  const std::uint64_t id = ++check_id_;
  deadline_.expires_after(target_.config.timeout);
  deadline_.async_wait([self = shared_from_this(), id](const error_code& ec) {
    // Finished in time (cancelled), or a later check already started.
    if (ec || id != self->check_id_ || !self->stream_.is_open()) return;
    self->timed_out_ = true;
    core::interrupt_socket(self->stream_.socket());  // the pending operation ends the check
  });
  stream_.socket().async_connect(
      core::to_endpoint(target_.endpoint.data(), target_.endpoint.length),
      [self = shared_from_this()](const error_code& ec) { self->on_connected(ec); });
}

std::string Probe::failure(const error_code& ec, std::string_view during) const {
  if (timed_out_) {
    return std::string(during) + " timed out after " +
           conf::format_duration(target_.config.timeout);
  }
  if (ec == tls::tls_error() && stream_.tls() != nullptr) {
    return std::string(during) + ": tls: " + stream_.tls()->error();
  }
  return std::string(during) + ": " + ec.message();
}

// "tls: certificate verify failed: Hostname mismatch": the words of the proxy's 502
// (proxy/session_upstream.cpp), so the pools view and the access log agree.
std::string Probe::tls_failure(const error_code& ec) const {
  if (timed_out_) {
    return "tls: handshake timed out after " + conf::format_duration(target_.config.timeout);
  }
  if (ec == tls::tls_error() && stream_.tls() != nullptr) return "tls: " + stream_.tls()->error();
  if (ec == asio::error::eof) return "tls: connection closed during the handshake";
  return "tls: " + ec.message();
}

// An alert after the handshake (TLS 1.3: the backend refused our client certificate).
void Probe::count_late_tls_failure(const error_code& ec) {
  if (ec == tls::tls_error() && !timed_out_) {
    target_.stats->tls_failures.fetch_add(1, std::memory_order_relaxed);
  }
}

void Probe::on_connected(const error_code& ec) {
  if (ec || timed_out_) {
    done(CheckResult{false, failure(ec, "connect"), {}, {}});
    return;
  }
  if (target_.tls) {
    stream_.start_tls(target_.tls->new_session(target_.tls_host), tls_scratch_);
    stream_.async_handshake(
        [self = shared_from_this()](const error_code& e) { self->on_handshake(e); });
    return;
  }
  send_check();
}

void Probe::on_handshake(const error_code& ec) {
  if (ec || timed_out_) {
    // Counted as the data plane counts them (veer_backend_tls_failures_total): a
    // backend's broken certificate shows there even while checks keep traffic away.
    target_.stats->tls_failures.fetch_add(1, std::memory_order_relaxed);
    done(CheckResult{false, tls_failure(ec), {}, {}});
    return;
  }
  send_check();
}

// Connected (and TLS established, when the pool has tls): for a tcp check that is the
// whole check.
void Probe::send_check() {
  if (target_.config.type == conf::HealthConfig::Type::tcp) {
    done(CheckResult{true, target_.tls ? "connected, tls handshake done" : "connected", {}, {}});
    return;
  }
  stream_.async_write(
      asio::buffer(ask_chain_id ? request_with_chain_ : request_),
      [self = shared_from_this()](const error_code& e, std::size_t) { self->on_sent(e); });
}

void Probe::on_sent(const error_code& ec) {
  count_late_tls_failure(ec);
  if (ec || timed_out_) {
    done(CheckResult{false, failure(ec, "sending the check"), {}, {}});
    return;
  }
  read();
}

void Probe::read() {
  stream_.async_read_some(
      asio::buffer(chunk_),
      [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
}

void Probe::on_read(const error_code& ec, std::size_t n) {
  answer_.append(chunk_.data(), n);
  count_late_tls_failure(ec);
  if (timed_out_) {
    done(CheckResult{false, failure(ec, "waiting for the answer"), {}, {}});
  } else if (ec == asio::error::eof || answer_.size() >= kMaxAnswer) {
    done(evaluate_answer(target_.config, answer_));  // asked with Connection: close
  } else if (ec) {
    done(CheckResult{false, failure(ec, "waiting for the answer"), {}, {}});
  } else {
    read();
  }
}

void Probe::done(CheckResult result) {
  deadline_.cancel();
  stream_.close_notify();  // TLS backends then see an orderly end, not a lost peer
  error_code ignored;
  stream_.socket().close(ignored);  // nothing is pending on it any more
  if (stopped_) return;
  const bool confirming = report_(*this, std::move(result));
  // Checks start every interval, however long each took, so a backend that dies is
  // down within interval x fall + timeout (when timeout < interval). Once a check
  // disagrees with the backend's state, the checks that confirm it come every
  // quarter interval (HAProxy's fastinter), so one that returns is up within
  // interval + (rise - 1) x interval / 4: under interval x rise.
  const auto spacing =
      confirming ? target_.config.interval / 4 : target_.config.interval + jitter();
  schedule(check_started_ + spacing);
}

}  // namespace veer::health
