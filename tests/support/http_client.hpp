#pragma once

// Blocking HTTP/1.1 clients for integration tests. Every operation has a timeout
// (SO_RCVTIMEO/SO_SNDTIMEO), so a test can fail but never hang. Raw bytes can be sent
// for framing tests; responses are parsed with Beast and bodies are hashed as they
// stream, so a 200 MB body is checked without being kept.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace veer::test {

using namespace std::chrono_literals;

struct Response {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // kept when at most 4 MiB
  std::uint64_t body_size = 0;
  std::uint64_t body_hash = 0;  // fnv1a of the whole body
  bool keep_alive = false;
  bool chunked = false;

  std::string header(std::string_view name) const;
  std::size_t count(std::string_view name) const;
};

class Client {
 public:
  explicit Client(std::uint16_t port, std::chrono::milliseconds timeout = 10s);
  // From another local address ("127.0.0.2": Linux routes all of 127/8 to lo), so that
  // veer sees another client.
  Client(std::uint16_t port, std::chrono::milliseconds timeout, const std::string& source);
  ~Client();
  Client(Client&&) noexcept;

  bool connected() const;
  bool send(std::string_view bytes);
  // Reads one response (a 1xx is returned as is). nullopt on error, timeout or close.
  std::optional<Response> read_response(bool head_request = false);
  // Sends a request with Host and (when a body is given) Content-Length.
  std::optional<Response> request(const std::string& method, const std::string& target,
                                  const std::string& body = "",
                                  const std::vector<std::string>& extra_headers = {});
  std::optional<Response> get(const std::string& target) { return request("GET", target); }
  // True when the peer closes (EOF or reset) within `timeout`; bytes are discarded.
  bool wait_closed(std::chrono::milliseconds timeout);
  int fd() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a new connection.
std::optional<Response> fetch(std::uint16_t port, const std::string& method,
                              const std::string& target, const std::string& body = "",
                              const std::vector<std::string>& extra_headers = {});

}  // namespace veer::test
