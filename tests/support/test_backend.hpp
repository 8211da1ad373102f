#pragma once

// An HTTP/1.1 + WebSocket backend for integration tests, on 127.0.0.1 with an
// ephemeral port and its own thread. Written with Beast, independently of veer's
// parser, so each checks the other. A handler decides each reply; replies can stream
// large bodies, use chunked or close-delimited framing, send raw bytes (quirks),
// wait, or never answer. Optionally it speaks TLS (Asio's OpenSSL stream, kept out of
// this header), to test veer's upstream TLS.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace veer::test {

using namespace std::chrono_literals;

struct BackendRequest {
  std::string method;
  std::string target;
  unsigned version = 11;                                     // 10 or 11
  std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
  bool chunked = false;
  std::uint64_t body_size = 0;
  std::uint64_t body_hash = 0;  // fnv1a of the whole body
  std::string body;             // kept only when at most 4 MiB

  std::string header(std::string_view name) const;  // first match, any case; "" if none
  std::size_t count(std::string_view name) const;
};

struct BackendReply {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::uint64_t stream_bytes = 0;  // send this many pattern bytes instead of `body`
  bool chunked = false;            // Transfer-Encoding: chunked
  std::size_t chunk_size = 16384;
  bool close_delimited = false;  // no length: the body ends when the backend closes
  std::string raw;               // send exactly these bytes and nothing else
  std::chrono::milliseconds delay{0};
  bool hang = false;         // read the request, never answer
  bool drop = false;         // read the request, close the connection without answering
  bool close_after = false;  // close the connection after replying
};

using BackendHandler = std::function<BackendReply(const BackendRequest&)>;

// A backend that speaks TLS: PEM files of its certificate (chain) and key; with
// `client_ca`, a client certificate signed by that CA is required.
struct BackendTls {
  std::string cert;
  std::string key;
  std::string client_ca;
};

// What a TLS client presented in a handshake that succeeded.
struct TlsHandshakeSeen {
  std::string sni;             // "" when the client sent none
  std::string client_subject;  // the client certificate's common name; "" when none
};

class TestBackend {
 public:
  // The default handler answers 200 with the backend's name as the body and in
  // X-Backend (what run_paced counts per backend, as `veer demo-backend` does). `port` 0
  // takes a free one; another reuses a port (a backend coming back).
  explicit TestBackend(std::string name = "backend", BackendHandler handler = {},
                       std::uint16_t port = 0);
  // The same over TLS: every connection starts with a TLS handshake.
  explicit TestBackend(BackendTls tls, std::string name = "backend", BackendHandler handler = {});
  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  const std::string& name() const { return name_; }
  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  void set_handler(BackendHandler handler);
  // Closes the listener and every connection, as a crashed backend would.
  void stop();

  int connections_accepted() const { return accepted_.load(); }
  int requests() const { return requests_.load(); }
  int open_websockets() const { return websockets_.load(); }
  int websocket_closes_seen() const { return websocket_closes_.load(); }
  // Requests recorded so far (when record is on).
  void record(bool on) { record_.store(on); }
  std::vector<BackendRequest> recorded() const;

  // TLS mode: handshakes completed and failed (a client that refused our certificate,
  // or spoke plain HTTP), and what each completed one presented.
  int tls_handshakes() const { return tls_handshakes_.load(); }
  int tls_failures() const { return tls_failures_.load(); }
  std::vector<TlsHandshakeSeen> handshakes_seen() const;

 private:
  struct Impl;
  friend struct Impl;
  void start(std::uint16_t port);
  std::string name_;
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> websockets_{0};
  std::atomic<int> websocket_closes_{0};
  std::atomic<bool> record_{false};
  std::atomic<int> tls_handshakes_{0};
  std::atomic<int> tls_failures_{0};
  mutable std::mutex mutex_;
  BackendHandler handler_;
  std::vector<BackendRequest> recorded_;
  std::vector<TlsHandshakeSeen> handshakes_seen_;
  std::unique_ptr<Impl> impl_;
};

// FNV-1a, continued from `state` (start with kFnvOffset).
inline constexpr std::uint64_t kFnvOffset = 1469598103934665603ULL;
std::uint64_t fnv1a(std::string_view data, std::uint64_t state = kFnvOffset);
// Deterministic body content: byte i of a pattern stream is i % 251.
void fill_pattern(std::uint64_t offset, char* out, std::size_t n);
std::uint64_t pattern_hash(std::uint64_t size);

}  // namespace veer::test
