#include "http_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "test_backend.hpp"

namespace veer::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void set_timeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequal(k, name)) return v;
  }
  return "";
}

std::size_t Response::count(std::string_view name) const {
  std::size_t n = 0;
  for (const auto& [k, v] : headers)
    n += iequal(k, name) ? 1 : 0;
  return n;
}

struct Client::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  beast::flat_buffer buffer;
  std::uint16_t port = 0;
  bool ok = false;
};

Client::Client(std::uint16_t port, std::chrono::milliseconds timeout) : Client(port, timeout, "") {}

Client::Client(std::uint16_t port, std::chrono::milliseconds timeout, const std::string& source)
    : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  boost::system::error_code ec;
  if (!source.empty()) {
    impl_->socket.open(tcp::v4(), ec);
    if (!ec) impl_->socket.bind(tcp::endpoint(asio::ip::make_address(source), 0), ec);
    if (ec) return;
  }
  impl_->socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  impl_->ok = !ec;
  if (impl_->ok) {
    set_timeouts(impl_->socket.native_handle(), timeout);
    impl_->socket.set_option(tcp::no_delay(true), ec);
  }
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;

bool Client::connected() const {
  return impl_->ok;
}
int Client::fd() const {
  return impl_->socket.native_handle();
}

bool Client::send(std::string_view bytes) {
  boost::system::error_code ec;
  asio::write(impl_->socket, asio::buffer(bytes.data(), bytes.size()), ec);
  return !ec;
}

std::optional<Response> Client::read_response(bool head_request) {
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  parser.header_limit(1 << 20);
  parser.skip(head_request);
  boost::system::error_code ec;
  http::read_header(impl_->socket, impl_->buffer, parser, ec);
  if (ec) return std::nullopt;
  Response response;
  const auto& head = parser.get();
  response.status = static_cast<int>(head.result_int());
  response.reason = std::string(head.reason());
  for (const auto& field : head) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.chunked = parser.chunked();
  response.body_hash = kFnvOffset;
  std::vector<char> chunk(256 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    http::read(impl_->socket, impl_->buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return std::nullopt;
    const std::size_t got = chunk.size() - parser.get().body().size;
    response.body_hash = fnv1a(std::string_view(chunk.data(), got), response.body_hash);
    response.body_size += got;
    if (response.body_size <= (4u << 20)) response.body.append(chunk.data(), got);
  }
  response.keep_alive = parser.keep_alive();
  return response;
}

std::optional<Response> Client::request(const std::string& method, const std::string& target,
                                        const std::string& body,
                                        const std::vector<std::string>& extra_headers) {
  std::string text = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const std::string& h : extra_headers)
    text += h + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  text += "\r\n" + body;
  if (!send(text)) return std::nullopt;
  return read_response(method == "HEAD");
}

bool Client::wait_closed(std::chrono::milliseconds timeout) {
  set_timeouts(impl_->socket.native_handle(), timeout);
  impl_->buffer.consume(impl_->buffer.size());
  char sink[4096];
  while (true) {
    const ssize_t n = ::recv(impl_->socket.native_handle(), sink, sizeof sink, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;  // EAGAIN: timed out, still open
  }
}

std::optional<Response> fetch(std::uint16_t port, const std::string& method,
                              const std::string& target, const std::string& body,
                              const std::vector<std::string>& extra_headers) {
  Client client(port);
  if (!client.connected()) return std::nullopt;
  return client.request(method, target, body, extra_headers);
}

}  // namespace veer::test
