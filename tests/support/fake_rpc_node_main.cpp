// veer-fake-rpc-node: a scripted fake Ethereum JSON-RPC node for the tests
// (tests/support/fake_rpc_node.hpp is its contract). HTTP/1.1 keep-alive JSON-RPC on
// POST, WebSocket on the same port, /__control, /__stats, /__reset_stats; one thread,
// one io_context, Boost.Beast. Clarity over speed: it is a test tool.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/program_options.hpp>
#include <deque>
#include <iostream>
#include <memory>

#include "fake_rpc_service.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using veer::test::fake_rpc::Peer;
using veer::test::fake_rpc::Service;

// A WebSocket connection: reads calls, answers them (after delay_ms), and pushes
// notifications; writes go out one at a time from a queue.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket socket, Service& service, std::uint64_t id)
      : ws_(std::move(socket)), service_(service), id_(id) {}

  void start(http::request<http::string_body> request) {
    ws_.read_message_max(16 << 20);
    // Like a node with compression on (geth's gorilla/websocket can): permessage-deflate
    // is accepted when the client offers it.
    websocket::permessage_deflate deflate;
    deflate.server_enable = true;
    ws_.set_option(deflate);
    ws_.async_accept(request, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->service_.peer_opened();
      self->read();
    });
  }

 private:
  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      std::string text = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      self->answer(std::move(text));
      self->read();
    });
  }

  void answer(std::string text) {
    std::weak_ptr<WsSession> weak = weak_from_this();
    Peer peer{.id = id_, .send = [weak](std::string message) {
                if (auto self = weak.lock()) self->send(std::move(message));
              }};
    std::string reply = service_.call(text, &peer);
    if (service_.delay_ms() == 0) return send(std::move(reply));
    auto timer = std::make_shared<asio::steady_timer>(
        ws_.get_executor(), std::chrono::milliseconds(service_.delay_ms()));
    timer->async_wait([self = shared_from_this(), timer, reply = std::move(reply)](
                          beast::error_code) mutable { self->send(std::move(reply)); });
  }

  void send(std::string message) {
    if (closed_) return;
    queue_.push_back(std::move(message));
    if (queue_.size() == 1) write();
  }

  void write() {
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (ec) return self->close();
                      self->queue_.pop_front();
                      if (!self->queue_.empty()) self->write();
                    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    queue_.clear();
    service_.peer_closed(id_);
  }

  websocket::stream<tcp::socket> ws_;
  Service& service_;
  std::uint64_t id_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  bool closed_ = false;
};

// An HTTP/1.1 connection: JSON-RPC on POST, the control endpoints, or an upgrade.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Service& service, std::uint64_t& next_peer)
      : socket_(std::move(socket)), service_(service), next_peer_(next_peer) {}

  void read() {
    request_ = {};
    http::async_read(socket_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec) self->route();
                     });
  }

 private:
  void route() {
    if (websocket::is_upgrade(request_)) {
      std::make_shared<WsSession>(std::move(socket_), service_, ++next_peer_)
          ->start(std::move(request_));
      return;
    }
    const std::string_view target = request_.target();
    const bool post = request_.method() == http::verb::post;
    if (target == "/__stats" && request_.method() == http::verb::get)
      return reply(http::status::ok, service_.stats());
    if (target == "/__reset_stats" && post) {
      service_.reset_stats();
      return reply(http::status::ok, "{}");
    }
    if (target == "/__control" && post) {
      std::string error;
      if (!service_.control(request_.body(), error))
        return reply(http::status::bad_request, R"({"error":")" + error + "\"}");
      return reply(http::status::ok, "{}");
    }
    if (!post) return reply(http::status::ok, "fake/" + service_.name() + "\n", "text/plain");
    json_rpc();
  }

  void json_rpc() {
    if (service_.http_status() != 0) {
      const auto status = static_cast<http::status>(service_.http_status());
      return later([self = shared_from_this(), status] {
        self->reply(status, "fake status\n", "text/plain");
      });
    }
    std::string answer = service_.call(request_.body(), nullptr);
    later([self = shared_from_this(), answer = std::move(answer)]() mutable {
      self->reply(http::status::ok, std::move(answer));
    });
  }

  template <typename Then>
  void later(Then then) {
    if (service_.delay_ms() == 0) return then();
    auto timer = std::make_shared<asio::steady_timer>(
        socket_.get_executor(), std::chrono::milliseconds(service_.delay_ms()));
    timer->async_wait([timer, then = std::move(then)](beast::error_code) mutable { then(); });
  }

  void reply(http::status status, std::string body, std::string_view type = "application/json") {
    auto response = std::make_shared<http::response<http::string_body>>(status, 11);
    response->set(http::field::content_type, type);
    response->set("X-Fake-Node", service_.name());
    response->keep_alive(request_.keep_alive());
    response->body() = std::move(body);
    response->prepare_payload();
    http::async_write(socket_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, std::size_t) {
                        if (!ec && response->keep_alive()) self->read();
                      });
  }

  tcp::socket socket_;
  Service& service_;
  std::uint64_t& next_peer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
};

class Server {
 public:
  Server(asio::io_context& io, Service& service, std::uint16_t port)
      : acceptor_(io), timer_(io), service_(service) {
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));  // restarts on the same port
    acceptor_.bind(endpoint);
    acceptor_.listen();
    service_.on_block_ms_change = [this] { schedule(true); };
    schedule(true);
    accept();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (!ec) {
        socket.set_option(tcp::no_delay(true));
        std::make_shared<HttpSession>(std::move(socket), service_, next_peer_)->read();
      }
      accept();
    });
  }

  // The next block at a fixed cadence from the last one (or from now after a change).
  void schedule(bool restart) {
    timer_.cancel();
    if (service_.block_ms() == 0) return;
    const auto period = std::chrono::milliseconds(service_.block_ms());
    timer_.expires_at((restart ? std::chrono::steady_clock::now() : timer_.expiry()) + period);
    timer_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      service_.grow();
      schedule(false);
    });
  }

  tcp::acceptor acceptor_;
  asio::steady_timer timer_;
  Service& service_;
  std::uint64_t next_peer_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  veer::test::fake_rpc::Settings settings;
  std::uint16_t port = 0;
  po::options_description options("veer-fake-rpc-node");
  options.add_options()("name", po::value(&settings.name), "node name")(
      "port", po::value(&port), "port on 127.0.0.1 (0: any)")("head", po::value(&settings.head),
                                                              "first head block")(
      "chain-id", po::value(&settings.chain_id), "eth_chainId")(
      "block-ms", po::value(&settings.block_ms), "a new block every N ms (0: none)")(
      "index", po::value(&settings.index), "eth_getBalance's answer");
  try {
    po::variables_map values;
    po::store(po::parse_command_line(argc, argv, options), values);
    po::notify(values);
    asio::io_context io;
    Service service(settings);
    Server server(io, service, port);
    std::cerr << "fake-rpc-node " << settings.name << " listening on 127.0.0.1:" << server.port()
              << std::endl;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) { io.stop(); });
    io.run();
  } catch (const std::exception& error) {
    std::cerr << "veer-fake-rpc-node: " << error.what() << "\n" << options;
    return 2;
  }
  return 0;
}
