#include "support/test_pki.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <stdexcept>

#include "tls/context.hpp"

namespace veer::testing {
namespace {

tls::EvpPkeyPtr make_key(KeyType type) {
  return tls::EvpPkeyPtr(type == KeyType::rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
}

void set_name(X509_NAME* name, const std::string& common_name) {
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("veer tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) throw std::runtime_error("extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string san_list(const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& name : names) {
    in6_addr probe{};
    const bool ip = inet_pton(AF_INET, name.c_str(), &probe) == 1 ||
                    inet_pton(AF_INET6, name.c_str(), &probe) == 1;
    if (!list.empty()) list += ",";
    list += (ip ? "IP:" : "DNS:") + name;
  }
  return list;
}

void write_pem(const std::string& path, X509* cert, X509* chain) {
  const std::string temp = path + ".tmp";
  tls::BioPtr bio(BIO_new_file(temp.c_str(), "w"));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1 ||
      (chain != nullptr && PEM_write_bio_X509(bio.get(), chain) != 1)) {
    throw std::runtime_error("cannot write " + path);
  }
  bio.reset();
  std::filesystem::rename(temp, path);
}

void write_key(const std::string& path, EVP_PKEY* key) {
  const std::string temp = path + ".tmp";
  tls::BioPtr bio(BIO_new_file(temp.c_str(), "w"));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw std::runtime_error("cannot write " + path);
  }
  bio.reset();
  ::chmod(temp.c_str(), 0600);
  std::filesystem::rename(temp, path);
}

}  // namespace

struct TestPki::Ca {
  tls::EvpPkeyPtr key;
  tls::X509Ptr cert;
};

TestPki::TestPki(const std::string& ca_name) : ca_(std::make_unique<Ca>()) {
  static std::atomic<int> counter{0};
  dir_ = std::filesystem::temp_directory_path() /
         ("veer-pki-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir_);
  ca_->key = make_key(KeyType::ecdsa);
  ca_->cert.reset(X509_new());
  X509* cert = ca_->cert.get();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1000);
  X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 86400);
  set_name(X509_get_subject_name(cert), ca_name);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_set_pubkey(cert, ca_->key.get());
  add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert, cert, NID_subject_key_identifier, "hash");
  if (X509_sign(cert, ca_->key.get(), EVP_sha256()) == 0) throw std::runtime_error("CA sign");
  ca_file_ = (dir_ / "ca.crt").string();
  write_pem(ca_file_, cert, nullptr);
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

IssuedCert TestPki::issue(const std::string& stem, const IssueOptions& options) {
  tls::EvpPkeyPtr key = make_key(options.key);
  tls::X509Ptr holder(X509_new());
  X509* cert = holder.get();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(++serial_));
  X509_gmtime_adj(X509_getm_notBefore(cert), static_cast<long>(options.valid_from_s));
  X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(options.valid_to_s));
  const std::string cn = !options.common_name.empty() ? options.common_name
                         : options.names.empty()      ? stem
                                                      : options.names.front();
  set_name(X509_get_subject_name(cert), cn);
  X509_set_issuer_name(cert, X509_get_subject_name(ca_->cert.get()));
  X509_set_pubkey(cert, key.get());
  if (!options.names.empty())
    add_extension(cert, ca_->cert.get(), NID_subject_alt_name, san_list(options.names));
  add_extension(cert, ca_->cert.get(), NID_ext_key_usage,
                options.client ? "clientAuth" : "serverAuth");
  add_extension(cert, ca_->cert.get(), NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert, ca_->key.get(), EVP_sha256()) == 0) throw std::runtime_error("leaf sign");
  IssuedCert out{(dir_ / (stem + ".crt")).string(), (dir_ / (stem + ".key")).string()};
  write_key(out.key, key.get());
  write_pem(out.cert, cert, options.with_chain ? ca_->cert.get() : nullptr);
  return out;
}

std::string TestPki::write_file(const std::string& name, const std::string& text) const {
  const std::string path = (dir_ / name).string();
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(temp, path);
  return path;
}

}  // namespace veer::testing
