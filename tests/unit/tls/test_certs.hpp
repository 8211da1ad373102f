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
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

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
  // The leaf first, then its issuers: a full chain in one file.
  std::string write_certs(const std::string& name, std::initializer_list<X509*> certs) const {
    std::string p = file(name);
    BioPtr bio(BIO_new_file(p.c_str(), "w"));
    if (!bio) throw std::runtime_error(p);
    for (X509* c : certs) {
      if (PEM_write_bio_X509(bio.get(), c) != 1) throw std::runtime_error(p);
    }
    return p;
  }
  // Mode 0600, as a key file should be (ServerTls warns otherwise).
  std::string write_key(const std::string& name, EVP_PKEY* key) const {
    std::string p = file(name);
    {
      BioPtr bio(BIO_new_file(p.c_str(), "w"));
      if (!bio ||
          PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        throw std::runtime_error(p);
      }
    }
    ::chmod(p.c_str(), 0600);
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

// Writes `bytes` to `path` (binary), for key files of other formats.
inline void write_bytes(const std::string& path, const std::string& bytes) {
  BioPtr bio(BIO_new_file(path.c_str(), "wb"));
  if (!bio || BIO_write(bio.get(), bytes.data(), static_cast<int>(bytes.size())) !=
                  static_cast<int>(bytes.size())) {
    throw std::runtime_error(path);
  }
}

// A certificate authority for tests: a root (self-signed) or an intermediate (signed by
// another TestCa), issuing leaf certificates with the given subjectAltName.
class TestCa {
 public:
  explicit TestCa(const std::string& cn = "veer test CA", const TestCa* parent = nullptr)
      : key_(make_ec_key()) {
    cert_ = parent != nullptr
                ? parent->issue(key_.get(), cn, "", -86400, 365 * 86400, true)
                : sign(key_.get(), cn, "", -86400, 365 * 86400, true, nullptr, key_.get());
  }
  X509* cert() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }

  // `san`: OpenSSL's syntax, "DNS:a.example,DNS:*.b.example,IP:127.0.0.1"; "" for none.
  X509Ptr issue(EVP_PKEY* subject_key, const std::string& cn, const std::string& san,
                long not_before_s = -3600, long not_after_s = 30 * 86400, bool ca = false) const {
    return sign(subject_key, cn, san, not_before_s, not_after_s, ca, cert_.get(), key_.get());
  }

 private:
  static void add_ext(X509* x, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) throw std::runtime_error("extension " + value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  static X509Ptr sign(EVP_PKEY* subject_key, const std::string& cn, const std::string& san,
                      long not_before_s, long not_after_s, bool ca, X509* issuer,
                      EVP_PKEY* issuer_key) {
    static std::atomic<long> serial{1000};
    X509Ptr x(X509_new());
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), not_after_s);
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("veer tests"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(x.get(), subject_key);
    add_ext(x.get(), issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    add_ext(x.get(), issuer, NID_subject_key_identifier, "hash");
    if (issuer != nullptr) add_ext(x.get(), issuer, NID_authority_key_identifier, "keyid");
    if (ca) add_ext(x.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (!san.empty()) add_ext(x.get(), issuer, NID_subject_alt_name, san);
    if (X509_sign(x.get(), issuer_key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign");
    return x;
  }

  EvpPkeyPtr key_;
  X509Ptr cert_;
};

// Moves what each session has to send to the other; returns how many bytes moved.
inline std::size_t pump(TlsSession& a, TlsSession& b) {
  std::size_t moved = 0;
  for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    auto out = from->pending_output();
    if (out.empty()) continue;
    to->feed(out);
    moved += out.size();
    from->consume_output(out.size());
  }
  return moved;
}

// Drives two TlsSessions' handshakes until both are done, one failed, or nothing moves.
// Returns {client, server}.
inline std::pair<TlsSession::Handshake, TlsSession::Handshake> handshake_pair(TlsSession& client,
                                                                              TlsSession& server) {
  using Hs = TlsSession::Handshake;
  Hs c = Hs::want_input;
  Hs s = Hs::want_input;
  for (int round = 0; round < 50; ++round) {
    if (c == Hs::want_input) c = client.handshake();
    std::size_t moved = pump(client, server);
    if (s == Hs::want_input) s = server.handshake();
    moved += pump(client, server);
    if (moved == 0 && (c != Hs::want_input || s != Hs::want_input)) break;
    if (moved == 0 && round > 0) break;
  }
  return {c, s};
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
