#include "health/probe.hpp"

namespace veer::health {
namespace {

// An answer larger than this is not a health check answer: judge what arrived.
constexpr std::size_t kMaxAnswer = 64 * 1024;

}  // namespace

Probe::Probe(asio::io_context& io, ProbeTarget target, Report report, std::uint64_t seed)
    : target_(std::move(target)),
      report_(std::move(report)),
      socket_(io),
      wait_(io),
      deadline_(io),
      random_(seed) {
  if (target_.config.type != conf::HealthConfig::Type::tcp) {
    request_ = check_request(target_.config, target_.address);
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

void Probe::stop() {
  stopped_ = true;
  wait_.cancel();
  deadline_.cancel();
  if (socket_.is_open()) core::interrupt_socket(socket_);
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
  const std::uint64_t id = ++check_id_;
  deadline_.expires_after(target_.config.timeout);
  deadline_.async_wait([self = shared_from_this(), id](const error_code& ec) {
    // Finished in time (cancelled), or a later check already started.
    if (ec || id != self->check_id_ || !self->socket_.is_open()) return;
    self->timed_out_ = true;
    core::interrupt_socket(self->socket_);  // the pending operation ends the check
  });
  socket_.async_connect(
      core::to_endpoint(target_.endpoint.data(), target_.endpoint.length),
      [self = shared_from_this()](const error_code& ec) { self->on_connected(ec); });
}

std::string Probe::failure(const error_code& ec, std::string_view during) const {
  if (timed_out_) {
    return std::string(during) + " timed out after " +
           conf::format_duration(target_.config.timeout);
  }
  return std::string(during) + ": " + ec.message();
}

void Probe::on_connected(const error_code& ec) {
  if (ec || timed_out_) {
    done(CheckResult{false, failure(ec, "connect"), {}});
    return;
  }
  if (target_.config.type == conf::HealthConfig::Type::tcp) {
    done(CheckResult{true, "connected", {}});
    return;
  }
  asio::async_write(
      socket_, asio::buffer(request_),
      [self = shared_from_this()](const error_code& e, std::size_t) { self->on_sent(e); });
}

void Probe::on_sent(const error_code& ec) {
  if (ec || timed_out_) {
    done(CheckResult{false, failure(ec, "sending the check"), {}});
    return;
  }
  read();
}

void Probe::read() {
  socket_.async_read_some(
      asio::buffer(chunk_),
      [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
}

void Probe::on_read(const error_code& ec, std::size_t n) {
  answer_.append(chunk_.data(), n);
  if (timed_out_) {
    done(CheckResult{false, failure(ec, "waiting for the answer"), {}});
  } else if (ec == asio::error::eof || answer_.size() >= kMaxAnswer) {
    done(evaluate_answer(target_.config, answer_));  // asked with Connection: close
  } else if (ec) {
    done(CheckResult{false, failure(ec, "waiting for the answer"), {}});
  } else {
    read();
  }
}

void Probe::done(CheckResult result) {
  deadline_.cancel();
  error_code ignored;
  socket_.close(ignored);  // nothing is pending on it any more
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
