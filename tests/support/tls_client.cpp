#include "support/tls_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/beast/http.hpp>

namespace veer::test {
namespace {

namespace http = boost::beast::http;

std::string last_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no OpenSSL error";
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

int connect_to(std::uint16_t port, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

struct TlsClient::Impl {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  std::string pending;  // bytes read past the last response
  ~Impl() {
    // A close_notify, as curl and browsers send: without it OpenSSL marks the session
    // not resumable when the SSL is freed.
    if (ssl != nullptr && SSL_is_init_finished(ssl)) SSL_shutdown(ssl);
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }
};

TlsClient::TlsClient(std::uint16_t port, TlsClientOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX* ctx = impl_->ctx;
  // Old versions need the lowest security level to be offered at all.
  if (options.max_version != 0 && options.max_version < TLS1_2_VERSION)
    SSL_CTX_set_security_level(ctx, 0);
  if (options.min_version != 0) SSL_CTX_set_min_proto_version(ctx, options.min_version);
  if (options.max_version != 0) SSL_CTX_set_max_proto_version(ctx, options.max_version);
  if (!options.sigalgs.empty()) SSL_CTX_set1_sigalgs_list(ctx, options.sigalgs.c_str());
  if (!options.ca_file.empty()) {
    SSL_CTX_load_verify_file(ctx, options.ca_file.c_str());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (!options.cert_file.empty()) {
    SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str());
    SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM);
  }
  static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn);
  impl_->fd = connect_to(port, options.timeout);
  if (impl_->fd >= 0 && !options.preface.empty())
    ::send(impl_->fd, options.preface.data(), options.preface.size(), MSG_MORE | MSG_NOSIGNAL);
  impl_->ssl = SSL_new(ctx);
  if (!options.sni.empty()) SSL_set_tlsext_host_name(impl_->ssl, options.sni.c_str());
  if (!options.sni.empty() && !options.ca_file.empty())
    SSL_set1_host(impl_->ssl, options.sni.c_str());
  if (options.session) SSL_set_session(impl_->ssl, options.session.get());
  SSL_set_fd(impl_->ssl, impl_->fd);
}

TlsClient::~TlsClient() = default;

bool TlsClient::handshake() {
  if (impl_->fd < 0) {
    error_ = "cannot connect";
    return false;
  }
  ERR_clear_error();
  if (SSL_connect(impl_->ssl) == 1) return true;
  error_ = last_error();
  return false;
}

bool TlsClient::send(std::string_view bytes) {
  ERR_clear_error();
  std::size_t written = 0;
  return SSL_write_ex(impl_->ssl, bytes.data(), bytes.size(), &written) == 1 &&
         written == bytes.size();
}

std::optional<Response> TlsClient::read_response() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  boost::beast::error_code ec;
  std::string& data = impl_->pending;
  while (true) {
    // Beast's put() takes the head alone first: a response whose head and body came in
    // one record needs a second call before more is read.
    while (!data.empty() && !parser.is_done()) {
      const std::size_t used = parser.put(boost::asio::buffer(data), ec);
      data.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec) return std::nullopt;
      if (used == 0) break;
    }
    if (parser.is_done()) break;
    char chunk[16384];
    std::size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(impl_->ssl, chunk, sizeof chunk, &n) != 1) {
      error_ = last_error();
      return std::nullopt;
    }
    data.append(chunk, n);
  }
  Response response;
  const auto& message = parser.get();
  response.status = static_cast<int>(message.result_int());
  response.reason = std::string(message.reason());
  for (const auto& field : message)
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  response.body = message.body();
  response.body_size = response.body.size();
  response.keep_alive = message.keep_alive();
  response.chunked = message.chunked();
  return response;
}

std::optional<Response> TlsClient::request(const std::string& method, const std::string& target,
                                           const std::vector<std::string>& extra_headers) {
  std::string text = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  for (const std::string& header : extra_headers)
    text += header + "\r\n";
  text += "\r\n";
  if (!send(text)) return std::nullopt;
  return read_response();
}

bool TlsClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{impl_->fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char chunk[4096];
    std::size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(impl_->ssl, chunk, sizeof chunk, &n) != 1) {
      const int e = SSL_get_error(impl_->ssl, 0);
      if (e != SSL_ERROR_WANT_READ) return true;
    }
  }
  return false;
}

std::string TlsClient::version() const {
  return SSL_get_version(impl_->ssl);
}
bool TlsClient::resumed() const {
  return SSL_session_reused(impl_->ssl) == 1;
}

std::string TlsClient::peer_common_name() const {
  X509* cert = SSL_get0_peer_certificate(impl_->ssl);
  if (cert == nullptr) return "";
  char name[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
  return name;
}

std::string TlsClient::peer_fingerprint_sha256() const {
  X509* cert = SSL_get0_peer_certificate(impl_->ssl);
  if (cert == nullptr) return "";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  X509_digest(cert, EVP_sha256(), digest, &length);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string TlsClient::peer_key_type() const {
  X509* cert = SSL_get0_peer_certificate(impl_->ssl);
  if (cert == nullptr) return "";
  EVP_PKEY* key = X509_get0_pubkey(cert);
  return EVP_PKEY_is_a(key, "EC") ? "EC" : EVP_PKEY_is_a(key, "RSA") ? "RSA" : "other";
}

std::string TlsClient::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(impl_->ssl, &data, &length);
  return std::string(reinterpret_cast<const char*>(data), length);
}

std::shared_ptr<SSL_SESSION> TlsClient::session() const {
  SSL_SESSION* session = SSL_get1_session(impl_->ssl);
  return std::shared_ptr<SSL_SESSION>(session, [](SSL_SESSION* s) {
    if (s != nullptr) SSL_SESSION_free(s);
  });
}

}  // namespace veer::test
