#include "admin/ctl_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <exception>
#include <utility>

namespace veer::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// One connection on an io_context of its own, used in phases: each phase starts one
// asynchronous operation and runs the context until that operation completes or the
// timeout passes. A timeout shuts the socket down, which completes the pending
// operation (with an error or EOF) on either engine. Not beast::tcp_stream's timeouts,
// which close the socket: Boost 1.81's io_uring backend loses an operation cancelled in
// flight, and run() would never return in veer-io_uring (see close_socket in asio.hpp).
class Connection {
 public:
  explicit Connection(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  tcp::socket& socket() { return socket_; }

  // `start(socket, handler)` starts the operation. Returns its error, or
  // asio::error::timed_out when the timer fired first (whatever the operation then got:
  // an answer that ends with the connection would look complete after the shutdown).
  template <typename Start>
  error_code phase(Start start) {
    bool done = false;
    bool timed_out = false;
    error_code result;
    timer_.expires_after(timeout_);
    timer_.async_wait([this, &done, &timed_out](error_code ec) {
      if (ec || done) return;  // cancelled, or the operation's handler already ran
      timed_out = true;
      error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
    });
    start(socket_, [this, &done, &result](error_code ec, auto&&...) {
      done = true;
      result = ec;
      timer_.cancel();
    });
    io_.restart();
    io_.run();
    return timed_out ? error_code(asio::error::timed_out) : result;
  }

 private:
  std::chrono::milliseconds timeout_;
  asio::io_context io_{1};
  tcp::socket socket_{io_};
  asio::steady_timer timer_{io_};
};

std::string duration_text(std::chrono::milliseconds timeout) {
  std::string text;
  if (timeout.count() % 1000 == 0) {
    text.append(std::to_string(timeout.count() / 1000)).append(" s");
  } else {
    text.append(std::to_string(timeout.count())).append(" ms");
  }
  return text;
}

// "timed out after 10 s" or the system's words for the error.
std::string reason(const error_code& ec, std::chrono::milliseconds timeout) {
  if (ec == asio::error::timed_out) return "timed out after " + duration_text(timeout);
  return ec.message();
}

std::optional<tcp::endpoint> endpoint_of(const conf::SocketAddress& address) {
  tcp::endpoint endpoint;
  if (address.length > endpoint.capacity() ||
      (address.family() != AF_INET && address.family() != AF_INET6))
    return std::nullopt;
  std::memcpy(endpoint.data(), address.data(), address.length);
  endpoint.resize(address.length);
  return endpoint;
}

http::request<http::string_body> request_message(const CtlRequest& request,
                                                 const std::string& token) {
  http::request<http::string_body> message;
  message.version(11);
  message.method_string(request.method);
  message.target(request.target);
  message.set(http::field::host, "veer");
  if (!token.empty()) message.set(http::field::authorization, "Bearer " + token);
  if (request.method != "GET" && request.method != "HEAD")
    message.set(http::field::content_type, "application/json");
  // Always, 0 too: prepare_payload() would leave it out of a bodiless DELETE.
  message.content_length(request.body.size());
  message.keep_alive(false);
  message.body() = request.body;
  return message;
}

std::string receive_problem(const error_code& ec, const std::string& peer,
                            std::chrono::milliseconds timeout) {
  if (ec == http::error::body_limit) {
    std::string text = "the answer from " + peer;
    text.append(" is larger than ")
        .append(std::to_string(CtlClient::kMaxBody >> 20))
        .append(" MiB, more than veer ctl reads");
    return text;
  }
  if (ec == http::error::end_of_stream) return peer + " closed the connection without answering";
  if (ec == http::error::partial_message) return "the answer from " + peer + " was cut short";
  // Beast's other errors are what its parser refused.
  if (ec.category() == make_error_code(http::error::bad_version).category())
    return "not an HTTP answer from " + peer + ": " + ec.message();
  return "no complete answer from " + peer + ": " + reason(ec, timeout);
}

std::optional<CtlReply> exchange(const conf::SocketAddress& address, const std::string& token,
                                 std::chrono::milliseconds timeout, const CtlRequest& request,
                                 std::string* why) {
  const std::string peer = address.to_string();
  const std::optional<tcp::endpoint> endpoint = endpoint_of(address);
  Connection connection(timeout);
  if (!endpoint) {
    *why = "cannot connect to " + peer + ": not an IP address";
    return std::nullopt;
  }
  error_code ec;
  connection.socket().open(endpoint->protocol(), ec);
  if (!ec) {
    ec = connection.phase(
        [&](tcp::socket& s, auto handler) { s.async_connect(*endpoint, std::move(handler)); });
  }
  if (ec) {
    *why = "cannot connect to " + peer + ": " + reason(ec, timeout);
    return std::nullopt;
  }
  const http::request<http::string_body> message = request_message(request, token);
  ec = connection.phase(
      [&](tcp::socket& s, auto handler) { http::async_write(s, message, std::move(handler)); });
  if (ec) {
    *why = "cannot send the request to " + peer + ": " + reason(ec, timeout);
    return std::nullopt;
  }
  // Beast's parser knows each framing: Content-Length and chunked answers end where
  // they say (the server may keep the connection open), others when it closes.
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(CtlClient::kMaxBody);
  parser.skip(request.method == "HEAD");  // a HEAD answer's length describes no body
  ec = connection.phase([&](tcp::socket& s, auto handler) {
    http::async_read(s, buffer, parser, std::move(handler));
  });
  if (ec) {
    *why = receive_problem(ec, peer, timeout);
    return std::nullopt;
  }
  return CtlReply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

bool has_control_character(std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

std::optional<CtlReply> CtlClient::call(const CtlRequest& request, std::string* why) const {
  // A CR or LF in a path or token typed by the operator would end the header line and
  // let the rest be read as another header: refused before anything is sent.
  if (has_control_character(request.target) || has_control_character(token_)) {
    *why = "the path and the token may not contain control characters";
    return std::nullopt;
  }
  // Asio and Beast throw on what their error codes do not cover (no memory, an
  // io_context that cannot start): a message for the operator, as any other failure.
  try {
    return exchange(address_, token_, wait_timeout_, request, why);
  } catch (const std::exception& e) {
    *why = "cannot call " + address_.to_string() + ": " + e.what();
    return std::nullopt;
  }
}

}  // namespace veer::admin
