#include "admin/http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "admin/status_page.hpp"
#include "core/asio.hpp"
#include "core/bind_retry.hpp"
#include "core/log.hpp"

namespace veer::admin {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxBody = 1 << 20;  // an admin call is a few hundred bytes
constexpr std::chrono::seconds kIdle{30};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServer::Dispatch& dispatch)
      : stream_(std::move(socket)), dispatch_(dispatch) {}

  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(kIdle);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout) return close();
    const bool too_large = ec == http::error::body_limit;
    if (ec && !too_large) {
      // Malformed: say so and close.
      return respond(
          AdminReply{400, "{\"error\":\"bad request\",\"detail\":\"malformed HTTP request\"}",
                     "application/json", 0, ""},
          false, false);
    }
    // A body over the limit still goes to the API with its head, which answers 413
    // (after its other checks); the connection then closes, as the rest is unread.
    const auto& message = parser_->get();
    AdminRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.authorization = std::string(message[http::field::authorization]);
    request.if_match = std::string(message[http::field::if_match]);
    request.content_type = std::string(message[http::field::content_type]);
    request.host = std::string(message[http::field::host]);
    request.origin = std::string(message[http::field::origin]);
    request.sec_fetch_site = std::string(message["Sec-Fetch-Site"]);
    request.body_too_large = too_large;
    if (!too_large) request.body = message.body();
    const bool keep_alive = message.keep_alive() && !too_large;
    const bool head = message.method() == http::verb::head;
    auto self = shared_from_this();
    dispatch_(std::move(request), [self, keep_alive, head](AdminReply reply) {
      asio::post(self->stream_.get_executor(),
                 [self, keep_alive, head, reply = std::move(reply)]() mutable {
                   self->respond(std::move(reply), keep_alive, head);
                 });
    });
  }

  // `head`: a HEAD request gets the GET answer's head, without its body.
  void respond(AdminReply reply, bool keep_alive, bool head) {
    response_.emplace(static_cast<http::status>(reply.status), 11);
    response_->set(http::field::server, "veer-admin");
    response_->set(http::field::content_type, reply.content_type);
    response_->set(http::field::cache_control, "no-store");
    if (const std::string_view policy = content_security_policy(reply.content_type);
        !policy.empty())
      response_->set("Content-Security-Policy", policy);
    if (reply.etag != 0)
      response_->set(http::field::etag, "\"" + std::to_string(reply.etag) + "\"");
    if (reply.status == 401) response_->set(http::field::www_authenticate, "Bearer realm=\"veer\"");
    if (!reply.allow.empty()) response_->set(http::field::allow, reply.allow);
    response_->keep_alive(keep_alive);
    if (head) {
      response_->content_length(reply.body.size());
    } else {
      response_->body() = std::move(reply.body);
      response_->prepare_payload();
    }
    stream_.expires_after(kIdle);
    http::async_write(stream_, *response_,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        if (ec || !keep_alive) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const HttpServer::Dispatch& dispatch_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
};

}  // namespace

struct HttpServer::Impl {
  explicit Impl(Dispatch d) : dispatch(std::move(d)) {}
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer stop_deadline{io};
  Dispatch dispatch;
  std::thread thread;
  bool stopping = false;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (stopping) {
        io.stop();
        return;
      }
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), dispatch)->read();
      accept();
    });
  }
};

HttpServer::HttpServer(Dispatch dispatch) : impl_(std::make_unique<Impl>(std::move(dispatch))) {}

HttpServer::~HttpServer() {
  stop();
}

bool HttpServer::bind(const conf::HostPort& address, std::string* why) {
  beast::error_code ec;
  const auto ip =
      asio::ip::make_address(address.host == "localhost" ? "127.0.0.1" : address.host, ec);
  if (ec) {
    *why = "admin.address: " + address.host + " is not an IP address";
    return false;
  }
  const tcp::endpoint endpoint(ip, address.port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) {
    const int error = core::bind_when_released(
        endpoint.address().to_string() + ":" + std::to_string(endpoint.port()), [&] {
          impl_->acceptor.bind(endpoint, ec);
          return ec ? ec.value() : 0;
        });
    if (error != 0) ec.assign(error, boost::system::system_category());
  }
  if (!ec) impl_->acceptor.listen(128, ec);
  if (ec) {
    *why = "admin listener on " + address.host + ":" + std::to_string(address.port) + ": " +
           ec.message();
    return false;
  }
  return true;
}

std::string HttpServer::local_address() const {
  beast::error_code ec;
  const tcp::endpoint e = impl_->acceptor.local_endpoint(ec);
  return e.address().to_string() + ":" + std::to_string(e.port());
}

void HttpServer::start() {
  impl_->accept();
  impl_->thread = std::thread([this] {
    try {
      impl_->io.run();
    } catch (const std::exception& e) {
      core::log::error("admin listener stopped: ", e.what());
    }
  });
}

void HttpServer::stop() {
  if (!impl_->thread.joinable()) return;
  // The pending accept must complete before the io_context goes: Asio 1.81 on io_uring
  // frees a socket's state under an operation still in the kernel (core/asio.hpp), so
  // the listener is shut down, not closed, and the loop stops from the accept's handler.
  asio::post(impl_->io, [this] {
    impl_->stopping = true;
    core::close_socket(impl_->acceptor);
    impl_->stop_deadline.expires_after(std::chrono::seconds(1));
    impl_->stop_deadline.async_wait([this](const beast::error_code&) { impl_->io.stop(); });
  });
  impl_->thread.join();
}

}  // namespace veer::admin
