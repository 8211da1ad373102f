// libFuzzer target: a server TlsSession (tls/session.hpp) from a ServerTls built once
// with two generated certificates (SNI), client certificates optional (so a TLS 1.2
// client Certificate message, sent in the clear, reaches X.509 parsing) and session
// tickets (a PSK or ticket extension reaches the ticket-key callback). The first byte
// chooses the piece size (0: all at once, else 1-255 bytes); the rest is ciphertext
// from the client, fed piece by piece, each followed by handshake() and, once done,
// read_plain() until it wants input.
//
// Invariants, each a __builtin_trap(): a read never returns more than the buffer; a
// failure has a reason (the proxy logs and counts it). Any input that is not a real
// client's is expected to fail: what matters is how (ASan/UBSan, no hang, no leak).
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "tls/server_tls.hpp"

namespace {

using veer::tls::EvpPkeyPtr;
using veer::tls::X509Ptr;

X509Ptr self_signed(EVP_PKEY* key, const char* cn, const char* san) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 10L * 365 * 86400);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509_set_pubkey(x.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san);
  X509_add_ext(x.get(), ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x.get(), key, EVP_sha256());
  return x;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) __builtin_trap();
  if (cert != nullptr) PEM_write_X509(f, cert);
  if (key != nullptr) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

// Built once: key generation and loading would dwarf one input's work. The files live
// only while loading.
std::shared_ptr<const veer::tls::ServerTls> make_server() {
  char dir_template[] = "/tmp/veer-fuzz-tls-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) __builtin_trap();
  const std::string d = dir;
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr main_cert = self_signed(key.get(), "fuzz.example", "DNS:fuzz.example");
  X509Ptr wild_cert = self_signed(key.get(), "wild", "DNS:*.w.example,DNS:other.example");
  write_pem(d + "/main.crt", main_cert.get(), nullptr);
  write_pem(d + "/wild.crt", wild_cert.get(), nullptr);
  write_pem(d + "/key.pem", nullptr, key.get());
  veer::conf::ListenerTlsConfig config;
  config.default_certificate.cert = d + "/main.crt";
  config.default_certificate.key = d + "/key.pem";
  config.certificates.push_back({d + "/wild.crt", d + "/key.pem", {}});
  config.client_ca = d + "/main.crt";
  config.verify = veer::conf::ListenerTlsConfig::Verify::optional;
  config.session_cache = 0;  // no state carried from one input to the next
  veer::tls::ServerTlsResult r =
      veer::tls::ServerTls::load(config, veer::tls::TicketKeys::generate());
  std::filesystem::remove_all(d);
  if (!r.tls) {
    std::fprintf(stderr, "fuzz_tls_handshake: %s\n", r.error.c_str());
    __builtin_trap();
  }
  return r.tls;
}

const veer::tls::ServerTls& server() {
  static const std::shared_ptr<const veer::tls::ServerTls> s = make_server();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using veer::tls::TlsSession;
  if (size == 0) return 0;
  const std::size_t step = data[0] == 0 ? size : data[0];
  const char* in = reinterpret_cast<const char*>(data + 1);
  const std::size_t n = size - 1;
  std::unique_ptr<TlsSession> session = server().new_session();
  TlsSession::Handshake hs = TlsSession::Handshake::want_input;
  TlsSession::Io io = TlsSession::Io::want_input;
  char plain[512];
  for (std::size_t off = 0; off < n; off += step) {
    session->feed({in + off, std::min(step, n - off)});
    hs = session->handshake();
    if (hs == TlsSession::Handshake::failed && session->error().empty()) __builtin_trap();
    session->consume_output(session->pending_output().size());  // the "socket" takes all
    while (hs == TlsSession::Handshake::done && io != TlsSession::Io::failed) {
      TlsSession::IoResult r = session->read_plain(plain);
      io = r.status;
      if (r.bytes > sizeof plain) __builtin_trap();
      if (io == TlsSession::Io::failed && session->error().empty()) __builtin_trap();
      if (io != TlsSession::Io::ok) break;
    }
    if (hs == TlsSession::Handshake::failed) break;  // the proxy closes here
  }
  session->close_notify();
  return 0;
}
