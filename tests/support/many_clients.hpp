#pragma once

// Thousands of HTTP/1.1 client connections driven together by one thread with poll(),
// for tests of an I/O engine under many connections at once (a thread or a blocking
// Client each would cost more than the proxy under test). Every connection connects,
// sends its request bytes, and reads one response framed by Content-Length (or by the
// peer's close); or it ends because the peer closed or reset it. Every wait is bounded.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace veer::test {

struct ManyOutcome {
  enum class State { connecting, sending, reading, answered, closed };
  State state = State::connecting;
  int status = 0;    // the response's status code, once its head arrived
  std::string body;  // the whole body (tests keep responses small)
  int error = 0;     // errno when the connection failed (refused, reset); 0 on EOF
};

class ManyClients {
 public:
  // Starts `count` non-blocking connects to 127.0.0.1:`port`, all at once.
  ManyClients(std::uint16_t port, std::size_t count);
  ~ManyClients();  // closes every connection that is still open, at once
  ManyClients(const ManyClients&) = delete;
  ManyClients& operator=(const ManyClients&) = delete;

  std::size_t size() const { return conns_.size(); }
  // The bytes connection `i` sends once connected (one request).
  void set_request(std::size_t i, std::string bytes);
  // Drives the connects only; true when every connection is connected (or has failed)
  // within `timeout`. Lets a test send every request at the same moment afterwards.
  bool connect_all(std::chrono::milliseconds timeout);
  // Drives every connection until each is answered or closed; false at the deadline.
  bool run(std::chrono::milliseconds timeout);
  // After run(): waits until every connection still open sees EOF or a reset; returns
  // how many connections are closed by the peer (all of them on success).
  std::size_t wait_all_closed(std::chrono::milliseconds timeout);

  const ManyOutcome& outcome(std::size_t i) const { return conns_[i].outcome; }
  std::size_t count(ManyOutcome::State state) const;
  std::size_t answered_with(int status) const;

 private:
  struct Conn {
    int fd = -1;
    std::string out;
    std::size_t sent = 0;
    std::string in;
    std::size_t head_end = 0;  // bytes of the head, once complete
    std::int64_t length = -1;  // Content-Length; -1 = until the peer closes
    bool peer_closed = false;  // seen by wait_all_closed
    ManyOutcome outcome;
  };
  // One poll() over the connections still active (only those connecting when
  // `connect_only`), then their I/O; false when none is active any more.
  bool step(std::chrono::milliseconds timeout, bool connect_only);
  void on_connected(Conn& c);
  void on_writable(Conn& c);
  void on_readable(Conn& c);
  void parse(Conn& c);
  void finish(Conn& c, ManyOutcome::State state, int error);

  std::vector<Conn> conns_;
};

// Raises this process's soft RLIMIT_NOFILE to its hard limit (thousands of client
// sockets); returns the soft limit now in force.
std::uint64_t raise_open_file_limit();

}  // namespace veer::test
