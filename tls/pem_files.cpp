// Reading certificates and keys from PEM files, and the checks every chain and key pass
// before use (detail.hpp).

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "tls/detail.hpp"

namespace veer::tls::detail {

namespace {

// Never lets OpenSSL prompt on the terminal for a passphrase: encrypted keys fail.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

std::string format_mode(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777U);
  return buf;
}

// Each certificate must be issued by the next one in the file, or clients that do not
// reorder (most) fail to build the chain.
bool check_chain_order(const std::string& path, const std::vector<X509Ptr>& certs,
                       std::string& error) {
  for (std::size_t i = 0; i + 1 < certs.size(); ++i) {
    if (X509_check_issued(certs[i + 1].get(), certs[i].get()) != X509_V_OK) {
      error = file_error(path, "certificate " + std::to_string(i + 2) +
                                   " did not issue certificate " + std::to_string(i + 1) +
                                   " (the leaf first, then each issuer in order)");
      return false;
    }
  }
  return true;
}

bool check_validity(const std::string& path, X509* leaf, std::int64_t now,
                    std::vector<std::string>& warnings, std::string& error) {
  const std::int64_t not_after = unix_time(X509_get0_notAfter(leaf));
  if (not_after <= now) {
    error = file_error(path, "the certificate has expired");
    return false;
  }
  if (unix_time(X509_get0_notBefore(leaf)) > now) {
    error = file_error(path, "the certificate is not valid yet");
    return false;
  }
  if (not_after - now < kExpiryWarning) {
    warnings.push_back(file_error(
        path, "the certificate expires in " + std::to_string((not_after - now) / 86400) + " days"));
  }
  return true;
}

}  // namespace

std::string file_error(const std::string& path, std::string_view what) {
  std::string e = path;
  e += ": ";
  e += what;
  return e;
}

std::string openssl_reason(std::string_view fallback) {
  unsigned long e = ERR_peek_last_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? std::string(reason) : std::string(fallback);
}

// Reads with stdio rather than a file BIO: OpenSSL would say only "system lib".
bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = file_error(path, std::string("cannot open: ") + std::strerror(errno));
    return false;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    out.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  OPENSSL_cleanse(buf, sizeof buf);  // may hold the end of a private key
  if (failed) error = file_error(path, "cannot read");
  return !failed;
}

bool load_certs(const std::string& path, std::vector<X509Ptr>& certs, std::string& error) {
  std::string pem;
  if (!read_file(path, pem, error)) return false;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::bad_alloc();
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) {
    certs.emplace_back(x);
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (certs.empty()) {
    error = file_error(path, "no PEM certificate in the file");
    return false;
  }
  return true;
}

bool load_key(const std::string& path, EvpPkeyPtr& key, std::string& error) {
  std::string pem;
  if (!read_file(path, pem, error)) return false;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::bad_alloc();
  key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  OPENSSL_cleanse(pem.data(), pem.size());  // key material should not linger on the heap
  ERR_clear_error();
  if (!key) {
    error = file_error(path, "no unencrypted PEM private key in the file");
    return false;
  }
  return true;
}

std::string key_permission_warning(const std::string& key_file) {
  struct stat st {};
  if (::stat(key_file.c_str(), &st) != 0) return {};  // reading it reports the error
  if ((st.st_mode & (S_IRGRP | S_IROTH)) == 0) return {};
  return file_error(key_file,
                    "readable by other users (mode " + format_mode(st.st_mode) + "); chmod 600");
}

bool load_pair(const std::string& cert_file, const std::string& key_file, std::int64_t now,
               LoadedPair& out, std::vector<std::string>& warnings, std::string& error) {
  out.cert_file = cert_file;
  out.key_file = key_file;
  if (!load_certs(cert_file, out.certs, error) || !load_key(key_file, out.key, error)) {
    return false;
  }
  if (std::string w = key_permission_warning(key_file); !w.empty()) warnings.push_back(w);
  if (X509_check_private_key(out.certs.front().get(), out.key.get()) != 1) {
    ERR_clear_error();
    error = file_error(key_file, "the private key does not match the certificate in " + cert_file);
    return false;
  }
  return check_chain_order(cert_file, out.certs, error) &&
         check_validity(cert_file, out.certs.front().get(), now, warnings, error);
}

}  // namespace veer::tls::detail
