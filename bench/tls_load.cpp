// tls_load: new-TLS-connection load for bench/tls.py.
//
// Each of CONNS slots loops: connect to 127.0.0.1:PORT, TLS handshake (full, or resuming),
// one
// "GET / HTTP/1.1" with "Connection: close", read the whole response, close. One thread,
// non-blocking sockets under epoll, OpenSSL's socket BIO. Bounded by --duration and
// --count. Prints one line of JSON: transactions done, how many resumed, errors, seconds.
//
//   tls_load --port P [--conns 32] [--duration 10] [--count 1000000] [--resume|--resume-same]
//            [--tls 1.2|1.3] [--ciphers LIST] [--ciphersuites LIST]
//   tls_load --port P --hold N [--tls ...]   hold N idle keep-alive TLS connections (each
//            after one request) and print "held N"; exit when stdin closes or after 120 s
//
// --resume offers the newest ticket the server issued, each ticket once, as browsers do
// (OpenSSL's client, too, uses a TLS 1.3 session once): a server that sends no fresh
// ticket after a resumption gets a full handshake next. --resume-same offers the first
// ticket it got, again and again (a copy for each connection): the server's cost of a
// resumption alone, whether or not it renews tickets.
//
// Built by bench/tls.py: g++ -O2 -std=c++20 bench/tls_load.cpp -lssl -lcrypto
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  int conns = 32;
  double duration = 10;
  long count = 1'000'000;
  bool resume = false;
  bool resume_same = false;
  int hold = 0;
  std::string tls = "1.3";
  std::string ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
  std::string ciphersuites = "TLS_AES_128_GCM_SHA256";
};

constexpr char kRequestClose[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
constexpr char kRequestKeep[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

SSL_SESSION* g_session = nullptr;  // newest session the server issued (for --resume)
std::string g_first;               // the first one, DER (for --resume-same)

int on_new_session(SSL*, SSL_SESSION* s) {
  if (g_first.empty()) {
    int n = i2d_SSL_SESSION(s, nullptr);
    g_first.resize(n > 0 ? n : 0);
    unsigned char* p = reinterpret_cast<unsigned char*>(g_first.data());
    if (n > 0) i2d_SSL_SESSION(s, &p);
  }
  if (g_session != nullptr) SSL_SESSION_free(g_session);
  g_session = s;
  return 1;  // we keep the reference
}

enum class State { connecting, handshaking, writing, reading, idle };

struct Slot {
  int fd = -1;
  SSL* ssl = nullptr;
  State state = State::connecting;
  std::string in;
  std::size_t written = 0;
};

struct Stats {
  long done = 0, resumed = 0, errors = 0;
};

// A complete response: headers and Content-Length bytes of body.
bool response_complete(const std::string& in, bool* ok) {
  std::size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::size_t length = 0;
  std::size_t p = 0;
  while ((p = in.find('\n', p)) != std::string::npos && p < end) {
    ++p;
    if (strncasecmp(in.c_str() + p, "content-length:", 15) == 0) {
      length = std::strtoul(in.c_str() + p + 15, nullptr, 10);
    }
  }
  *ok = in.compare(0, 12, "HTTP/1.1 200") == 0;
  return in.size() >= end + 4 + length;
}

class Load {
 public:
  Load(const Options& o) : o_(o) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    const int v = o.tls == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx_, v);
    SSL_CTX_set_max_proto_version(ctx_, v);
    SSL_CTX_set_cipher_list(ctx_, o.ciphers.c_str());
    SSL_CTX_set_ciphersuites(ctx_, o.ciphersuites.c_str());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    if (o.resume || o.resume_same) {
      SSL_CTX_set_session_cache_mode(ctx_,
                                     SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(ctx_, on_new_session);
    } else {
      // Full handshakes: offer no ticket (the server still issues its TLS 1.3 tickets,
      // as it would to any new client).
      SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
    }
    ep_ = epoll_create1(0);
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<uint16_t>(o.port));
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }

  void run_load() {
    const int n = o_.conns;
    slots_.resize(n);
    started_ = Clock::now();
    const auto deadline = started_ + std::chrono::duration<double>(o_.duration);
    for (int i = 0; i < n; ++i)
      start(i);
    std::vector<epoll_event> events(n);
    while (Clock::now() < deadline && stats_.done + stats_.errors < o_.count) {
      int k = epoll_wait(ep_, events.data(), n, 100);
      for (int e = 0; e < k; ++e)
        step(static_cast<int>(events[e].data.u32));
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    std::printf("{\"done\": %ld, \"resumed\": %ld, \"errors\": %ld, \"seconds\": %.3f}\n",
                stats_.done, stats_.resumed, stats_.errors, elapsed);
  }

  void run_hold() {
    const int n = o_.hold;
    slots_.resize(n);
    hold_ = true;
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    std::vector<epoll_event> events(256);
    int next = 0, open = 0;
    while (Clock::now() < deadline) {
      // Open in batches of 100: the proxy's accept queue is finite.
      while (next < n && open < 100) {
        start(next++);
        ++open;
      }
      if (idle_ + stats_.errors >= n) break;
      int k = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 100);
      for (int e = 0; e < k; ++e) {
        int i = static_cast<int>(events[e].data.u32);
        State before = slots_[i].state;
        step(i);
        if (before != State::idle && (slots_[i].state == State::idle || slots_[i].fd < 0)) --open;
      }
    }
    std::printf("held %d errors %ld\n", idle_, stats_.errors);
    std::fflush(stdout);
    // Wait for stdin to close (the parent's signal that measuring is over), bounded.
    pollfd p{0, POLLIN, 0};
    poll(&p, 1, 120'000);
  }

 private:
  void start(int i) {
    Slot& s = slots_[i];
    s.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s.state = State::connecting;
    s.in.clear();
    s.written = 0;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep_, EPOLL_CTL_ADD, s.fd, &ev);
    if (connect(s.fd, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_) != 0 &&
        errno != EINPROGRESS) {
      fail(i);
    }
  }

  void want(int i, uint32_t what) {
    epoll_event ev{};
    ev.events = what;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep_, EPOLL_CTL_MOD, slots_[i].fd, &ev);
  }

  void finish(int i) {
    Slot& s = slots_[i];
    if (s.ssl != nullptr) {
      // No close_notify on the wire (the server closes first, with "Connection: close"),
      // but a shutdown as far as OpenSSL knows: SSL_free would otherwise mark the
      // connection's session, the newest ticket, as not resumable.
      SSL_set_shutdown(s.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
      SSL_free(s.ssl);
    }
    s.ssl = nullptr;
    close(s.fd);  // also leaves the epoll set
    s.fd = -1;
  }

  void fail(int i) {
    ++stats_.errors;
    if (stats_.errors <= 3) {
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      std::fprintf(stderr, "tls_load: slot %d failed in state %d: %s (errno %d)\n", i,
                   static_cast<int>(slots_[i].state), buf, errno);
    }
    ERR_clear_error();
    finish(i);
    if (!hold_) start(i);
  }

  // Advances slot i as far as it goes without blocking.
  void step(int i) {
    Slot& s = slots_[i];
    if (s.fd < 0) return;
    for (;;) {
      switch (s.state) {
        case State::connecting: {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) return fail(i);
          s.ssl = SSL_new(ctx_);
          SSL_set_fd(s.ssl, s.fd);
          SSL_set_connect_state(s.ssl);
          if (o_.resume && g_session != nullptr) SSL_set_session(s.ssl, g_session);
          if (o_.resume_same && !g_first.empty()) {
            const unsigned char* p = reinterpret_cast<const unsigned char*>(g_first.data());
            SSL_SESSION* copy = d2i_SSL_SESSION(nullptr, &p, static_cast<long>(g_first.size()));
            if (copy != nullptr) {
              SSL_set_session(s.ssl, copy);
              SSL_SESSION_free(copy);
            }
          }
          s.state = State::handshaking;
          break;
        }
        case State::handshaking: {
          int r = SSL_do_handshake(s.ssl);
          if (r != 1) {
            int e = SSL_get_error(s.ssl, r);
            if (e == SSL_ERROR_WANT_READ) return want(i, EPOLLIN);
            if (e == SSL_ERROR_WANT_WRITE) return want(i, EPOLLOUT);
            return fail(i);
          }
          if (SSL_session_reused(s.ssl)) ++stats_.resumed;
          s.state = State::writing;
          break;
        }
        case State::writing: {
          const char* req = hold_ ? kRequestKeep : kRequestClose;
          const std::size_t len = std::strlen(req);
          std::size_t n = 0;
          int r = SSL_write_ex(s.ssl, req + s.written, len - s.written, &n);
          if (r != 1) {
            int e = SSL_get_error(s.ssl, r);
            if (e == SSL_ERROR_WANT_READ) return want(i, EPOLLIN);
            if (e == SSL_ERROR_WANT_WRITE) return want(i, EPOLLOUT);
            return fail(i);
          }
          s.written += n;
          if (s.written == len) {
            s.state = State::reading;
            want(i, EPOLLIN);
          }
          break;
        }
        case State::reading: {
          char buf[4096];
          std::size_t n = 0;
          int r = SSL_read_ex(s.ssl, buf, sizeof buf, &n);
          if (r == 1) {
            s.in.append(buf, n);
            bool ok = false;
            if (response_complete(s.in, &ok)) {
              if (!ok) return fail(i);
              if (hold_) {
                s.state = State::idle;
                ++idle_;
                ++stats_.done;
                return want(i, EPOLLIN);
              }
              ++stats_.done;
              finish(i);
              if (stats_.done + stats_.errors < o_.count) start(i);
              return;
            }
            break;
          }
          int e = SSL_get_error(s.ssl, r);
          if (e == SSL_ERROR_WANT_READ) return;
          if (e == SSL_ERROR_WANT_WRITE) return want(i, EPOLLOUT);
          return fail(i);  // closed before the whole response
        }
        case State::idle: {
          // A held connection the server closed (an idle timeout): count it lost.
          char buf[256];
          std::size_t n = 0;
          if (SSL_read_ex(s.ssl, buf, sizeof buf, &n) == 1) return;
          if (SSL_get_error(s.ssl, 0) == SSL_ERROR_WANT_READ) return;
          --idle_;
          ++stats_.errors;
          finish(i);
          return;
        }
      }
    }
  }

  Options o_;
  SSL_CTX* ctx_ = nullptr;
  int ep_ = -1;
  sockaddr_in addr_{};
  std::vector<Slot> slots_;
  Stats stats_;
  Clock::time_point started_;
  bool hold_ = false;
  int idle_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tls_load: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port")
      o.port = std::atoi(value().c_str());
    else if (a == "--conns")
      o.conns = std::atoi(value().c_str());
    else if (a == "--duration")
      o.duration = std::atof(value().c_str());
    else if (a == "--count")
      o.count = std::atol(value().c_str());
    else if (a == "--resume")
      o.resume = true;
    else if (a == "--resume-same")
      o.resume_same = true;
    else if (a == "--hold")
      o.hold = std::atoi(value().c_str());
    else if (a == "--tls")
      o.tls = value();
    else if (a == "--ciphers")
      o.ciphers = value();
    else if (a == "--ciphersuites")
      o.ciphersuites = value();
    else {
      std::fprintf(stderr, "tls_load: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (o.port <= 0 || o.conns <= 0) {
    std::fprintf(stderr, "tls_load: --port is required\n");
    return 2;
  }
  Load load(o);
  if (o.hold > 0) {
    load.run_hold();
  } else {
    load.run_load();
  }
  return 0;
}
