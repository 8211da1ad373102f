#pragma once

// Test certificates made with the OpenSSL API (no openssl CLI, no files in the repo),
// written to a temporary directory that is removed with the object, and an in-memory
// OpenSSL client to drive a TlsSession.

#include "tls/context.hpp"
#include "tls/session.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace veer::tls::testing {

inline EvpPkeyPtr make_ec_key() {
  return EvpPkeyPtr(EVP_EC_gen("P-256"));
}
inline EvpPkeyPtr make_rsa_key() {
  return EvpPkeyPtr(EVP_RSA_gen(2048));
}

// A self-signed certificate for "localhost", valid from now+not_before_s to
// now+not_after_s (seconds; negative values are in the past).
inline X509Ptr make_cert(EVP_PKEY* key, long not_before_s, long not_after_s) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), not_after_s);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509_set_pubkey(x.get(), key);
  if (X509_sign(x.get(), key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign");
  return x;
}

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::string leaf = "veer-tls-test-";
    leaf += std::to_string(::getpid());
    leaf += "-";
    leaf += std::to_string(counter++);
    path_ = std::filesystem::temp_directory_path() / leaf;
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }

  std::string write_cert(const std::string& name, X509* cert) const {
    std::string p = file(name);
    BioPtr bio(BIO_new_file(p.c_str(), "w"));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) throw std::runtime_error(p);
    return p;
  }
  std::string write_key(const std::string& name, EVP_PKEY* key) const {
    std::string p = file(name);
    BioPtr bio(BIO_new_file(p.c_str(), "w"));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      throw std::runtime_error(p);
    }
    return p;
  }

 private:
  std::filesystem::path path_;
};

// One certificate and key on disk, valid for a day.
struct CertFiles {
  std::string cert;
  std::string key;
};
inline CertFiles write_pair(const TempDir& dir, const std::string& stem, EVP_PKEY* key) {
  X509Ptr cert = make_cert(key, -3600, 86400);
  return {dir.write_cert(stem + ".crt", cert.get()), dir.write_key(stem + ".key", key)};
}

// An OpenSSL client over two memory BIOs, the other end of a TlsSession.
class MemClient {
 public:
  explicit MemClient(SSL_CTX* ctx) : ssl_(SSL_new(ctx)) {
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_.get(), in_, out_);
    SSL_set_connect_state(ssl_.get());
  }
  SSL* ssl() const { return ssl_.get(); }

  // Moves bytes both ways between the client and the server once; returns how many.
  std::size_t exchange(TlsSession& server) {
    std::size_t moved = 0;
    char buf[16384];
    int n;
    while ((n = BIO_read(out_, buf, sizeof buf)) > 0) {
      server.feed({buf, static_cast<std::size_t>(n)});
      moved += static_cast<std::size_t>(n);
    }
    auto out = server.pending_output();
    if (!out.empty()) {
      BIO_write(in_, out.data(), static_cast<int>(out.size()));
      moved += out.size();
      server.consume_output(out.size());
    }
    return moved;
  }

 private:
  SslPtr ssl_;
  BIO* in_;
  BIO* out_;
};

// Drives both handshakes until each side is done or failed, or nothing moves.
// Returns the server's final handshake state.
inline TlsSession::Handshake run_handshake(MemClient& client, TlsSession& server,
                                           int* client_ret = nullptr) {
  TlsSession::Handshake s = TlsSession::Handshake::want_input;
  int c = -1;
  for (int round = 0; round < 50; ++round) {
    ERR_clear_error();
    if (c != 1) c = SSL_do_handshake(client.ssl());
    client.exchange(server);
    if (s == TlsSession::Handshake::want_input) s = server.handshake();
    std::size_t moved = client.exchange(server);
    bool client_stuck = c != 1 && SSL_get_error(client.ssl(), c) != SSL_ERROR_WANT_READ;
    if ((c == 1 || client_stuck) && s != TlsSession::Handshake::want_input && moved == 0) {
      break;
    }
    if (client_stuck && moved == 0) break;
  }
  ERR_clear_error();
  if (client_ret != nullptr) *client_ret = c;
  return s;
}

}  // namespace veer::tls::testing
