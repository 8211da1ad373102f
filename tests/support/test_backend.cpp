#include "test_backend.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <future>
#include <set>
#include <thread>

namespace veer::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
// The TLS stream borrows the socket, so stop() can still close it.
using TlsStream = asio::ssl::stream<tcp::socket&>;

std::uint64_t fnv1a(std::string_view data, std::uint64_t state) {
  for (unsigned char c : data) {
    state ^= c;
    state *= 1099511628211ULL;
  }
  return state;
}

void fill_pattern(std::uint64_t offset, char* out, std::size_t n) {
  std::uint64_t value = offset % 251;
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<char>(value);
    if (++value == 251) value = 0;
  }
}

std::uint64_t pattern_hash(std::uint64_t size) {
  std::uint64_t state = kFnvOffset;
  char block[65536];
  for (std::uint64_t offset = 0; offset < size;) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(sizeof block, size - offset));
    fill_pattern(offset, block, n);
    state = fnv1a(std::string_view(block, n), state);
    offset += n;
  }
  return state;
}

namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

constexpr std::uint64_t kKeepBody = 4 << 20;

}  // namespace

std::string BackendRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequal(k, name)) return v;
  }
  return "";
}

std::size_t BackendRequest::count(std::string_view name) const {
  std::size_t n = 0;
  for (const auto& [k, v] : headers)
    n += iequal(k, name) ? 1 : 0;
  return n;
}

struct TestBackend::Impl {
  TestBackend& owner;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::set<std::shared_ptr<tcp::socket>> sockets;  // io thread only
  std::unique_ptr<asio::ssl::context> ssl;         // TLS mode only
  std::thread thread;

  explicit Impl(TestBackend& o) : owner(o) {}

  void use_tls(const BackendTls& tls) {
    ssl = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ssl->use_certificate_chain_file(tls.cert);
    ssl->use_private_key_file(tls.key, asio::ssl::context::pem);
    if (!tls.client_ca.empty()) {
      ssl->load_verify_file(tls.client_ca);
      ssl->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    }
  }

  void note_handshake(TlsStream& stream) {
    SSL* native = stream.native_handle();
    TlsHandshakeSeen seen;
    if (const char* sni = SSL_get_servername(native, TLSEXT_NAMETYPE_host_name)) seen.sni = sni;
    if (X509* peer = SSL_get0_peer_certificate(native)) {
      char name[256] = {};
      if (X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name,
                                    sizeof name) > 0) {
        seen.client_subject = name;
      }
    }
    std::lock_guard lock(owner.mutex_);
    owner.handshakes_seen_.push_back(std::move(seen));
  }

  asio::awaitable<void> serve_tls(std::shared_ptr<tcp::socket> socket) {
    TlsStream stream(*socket, *ssl);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                asio::as_tuple(use_awaitable));
    if (ec) {
      ++owner.tls_failures_;
      co_return;
    }
    ++owner.tls_handshakes_;
    note_handshake(stream);
    co_await serve(socket, stream);
  }

  BackendReply decide(const BackendRequest& request) {
    BackendHandler handler;
    {
      std::lock_guard lock(owner.mutex_);
      handler = owner.handler_;
      if (owner.record_.load()) owner.recorded_.push_back(request);
    }
    if (handler) return handler(request);
    BackendReply reply;
    reply.body = owner.name_;
    reply.headers = {{"X-Backend", owner.name_}};
    return reply;
  }

  template <typename Stream>
  asio::awaitable<void> write_reply(Stream& socket, const BackendReply& reply, bool head_request) {
    if (reply.delay.count() > 0) {
      asio::steady_timer timer(io, reply.delay);
      co_await timer.async_wait(use_awaitable);
    }
    if (reply.hang) {
      char byte;
      // Never answer; return once veer gives up and closes.
      co_await socket.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
      throw std::runtime_error("hung request ended");
    }
    if (!reply.raw.empty()) {
      co_await asio::async_write(socket, asio::buffer(reply.raw), use_awaitable);
      co_return;
    }
    const std::uint64_t length = reply.stream_bytes > 0 ? reply.stream_bytes : reply.body.size();
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                       std::string(http::obsolete_reason(static_cast<http::status>(reply.status))) +
                       "\r\n";
    for (const auto& [k, v] : reply.headers)
      head += k + ": " + v + "\r\n";
    if (reply.chunked) {
      head += "Transfer-Encoding: chunked\r\n";
    } else if (!reply.close_delimited) {
      head += "Content-Length: " + std::to_string(length) + "\r\n";
    }
    if (reply.close_delimited || reply.close_after) head += "Connection: close\r\n";
    head += "\r\n";
    co_await asio::async_write(socket, asio::buffer(head), use_awaitable);
    if (head_request) co_return;
    std::vector<char> block(std::max<std::size_t>(reply.chunk_size, 1));
    for (std::uint64_t offset = 0; offset < length;) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), length - offset));
      if (reply.stream_bytes > 0) {
        fill_pattern(offset, block.data(), n);
      } else {
        std::memcpy(block.data(), reply.body.data() + offset, n);
      }
      if (reply.chunked) {
        char size_line[32];
        const int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
        const std::array<asio::const_buffer, 3> pieces{
            asio::buffer(size_line, static_cast<std::size_t>(len)), asio::buffer(block.data(), n),
            asio::buffer("\r\n", 2)};
        co_await asio::async_write(socket, pieces, use_awaitable);
      } else {
        co_await asio::async_write(socket, asio::buffer(block.data(), n), use_awaitable);
      }
      offset += n;
    }
    if (reply.chunked)
      co_await asio::async_write(socket, asio::buffer("0\r\n\r\n", 5), use_awaitable);
  }

  template <typename Stream>
  asio::awaitable<void> echo_websocket(websocket::stream<Stream&>& ws) {
    ++owner.websockets_;
    struct Count {
      TestBackend& b;
      ~Count() { --b.websockets_; }
    } count{owner};
    ws.read_message_max(64 << 20);
    ws.auto_fragment(false);
    beast::flat_buffer buffer;
    while (true) {
      auto [ec, n] = co_await ws.async_read(buffer, asio::as_tuple(use_awaitable));
      if (ec == websocket::error::closed) ++owner.websocket_closes_;
      if (ec) co_return;
      ws.text(ws.got_text());
      co_await ws.async_write(buffer.data(), use_awaitable);
      buffer.consume(buffer.size());
    }
  }

  // `stream` is the socket itself, or a TLS stream over it.
  template <typename Stream>
  asio::awaitable<void> serve(std::shared_ptr<tcp::socket> socket, Stream& stream) {
    beast::flat_buffer buffer;
    while (true) {
      http::request_parser<http::buffer_body> parser;
      parser.body_limit(boost::none);
      parser.header_limit(1 << 20);
      co_await http::async_read_header(stream, buffer, parser, use_awaitable);
      BackendRequest request;
      const auto& head = parser.get();
      request.method = std::string(head.method_string());
      request.target = std::string(head.target());
      request.version = head.version();
      for (const auto& field : head) {
        request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      request.chunked = parser.chunked();
      if (websocket::is_upgrade(head)) {
        ++owner.requests_;
        // The stream borrows the socket, so stop() can still close it.
        websocket::stream<Stream&> ws(stream);
        co_await ws.async_accept(parser.release(), use_awaitable);
        co_await echo_websocket(ws);
        co_return;
      }
      request.body_hash = kFnvOffset;
      std::vector<char> chunk(64 * 1024);
      while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        auto [ec, n] =
            co_await http::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
        if (ec == http::error::need_buffer) ec = {};
        if (ec) throw boost::system::system_error(ec);
        const std::size_t got = chunk.size() - parser.get().body().size;
        request.body_hash = fnv1a(std::string_view(chunk.data(), got), request.body_hash);
        request.body_size += got;
        if (request.body_size <= kKeepBody) request.body.append(chunk.data(), got);
      }
      ++owner.requests_;
      const BackendReply reply = decide(request);
      if (reply.drop) {
        boost::system::error_code ignored;
        socket->close(ignored);
        co_return;
      }
      co_await write_reply(stream, reply, request.method == "HEAD");
      if (reply.close_delimited || reply.close_after || !raw_keep_alive(reply) ||
          !parser.keep_alive()) {
        boost::system::error_code ignored;
        socket->shutdown(tcp::socket::shutdown_send, ignored);
        socket->close(ignored);
        co_return;
      }
    }
  }

  static bool raw_keep_alive(const BackendReply& reply) {
    return reply.raw.empty() || reply.raw.find("Connection: close") == std::string::npos;
  }

  asio::awaitable<void> accept_loop() {
    while (true) {
      auto socket = std::make_shared<tcp::socket>(co_await acceptor.async_accept(use_awaitable));
      // Head and body go out as separate writes: without this, Nagle plus delayed ACKs
      // add 40 ms to every response.
      socket->set_option(tcp::no_delay(true));
      ++owner.accepted_;
      sockets.insert(socket);
      asio::co_spawn(io, ssl ? serve_tls(socket) : serve(socket, *socket),
                     [this, socket](std::exception_ptr) { sockets.erase(socket); });
    }
  }
};

TestBackend::TestBackend(std::string name, BackendHandler handler, std::uint16_t port)
    : name_(std::move(name)), handler_(std::move(handler)), impl_(std::make_unique<Impl>(*this)) {
  start(port);
}

TestBackend::TestBackend(BackendTls tls, std::string name, BackendHandler handler)
    : name_(std::move(name)), handler_(std::move(handler)), impl_(std::make_unique<Impl>(*this)) {
  impl_->use_tls(tls);
  start(0);
}

void TestBackend::start(std::uint16_t port) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

TestBackend::~TestBackend() {
  stop();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void TestBackend::set_handler(BackendHandler handler) {
  std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
}

void TestBackend::stop() {
  std::promise<void> done;
  auto finished = done.get_future();
  asio::post(impl_->io, [this, &done] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    for (const auto& socket : impl_->sockets)
      socket->close(ignored);
    done.set_value();
  });
  if (impl_->thread.joinable() && !impl_->io.stopped()) finished.wait_for(5s);
}

std::vector<BackendRequest> TestBackend::recorded() const {
  std::lock_guard lock(mutex_);
  return recorded_;
}

std::vector<TlsHandshakeSeen> TestBackend::handshakes_seen() const {
  std::lock_guard lock(mutex_);
  return handshakes_seen_;
}

}  // namespace veer::test
