#pragma once

// A throw-away public key infrastructure for integration tests: a CA made with the
// OpenSSL API when the object is built, and leaf certificates it signs on request
// (names as DNS or IP SANs, ECDSA P-256 or RSA 2048, any validity window), all as PEM
// files in a temporary directory removed with the object. No openssl CLI, no files in
// the repository.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace veer::testing {

enum class KeyType { ecdsa, rsa };

struct IssuedCert {
  std::string cert;  // PEM: the leaf (then the CA when with_chain)
  std::string key;   // PEM private key, mode 0600
};

struct IssueOptions {
  std::vector<std::string> names = {"localhost", "127.0.0.1"};  // SANs; IPs as IP SANs
  KeyType key = KeyType::ecdsa;
  std::int64_t valid_from_s = -3600;  // relative to now
  std::int64_t valid_to_s = 86400;    // relative to now
  bool client = false;                // extendedKeyUsage clientAuth instead of serverAuth
  bool with_chain = false;            // append the CA certificate after the leaf
  std::string common_name;            // "" = the first name
};

class TestPki {
 public:
  // `ca_name`: the CA's common name (two TestPki objects are two unrelated CAs).
  explicit TestPki(const std::string& ca_name = "veer test CA");
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& ca_file() const { return ca_file_; }
  std::string dir() const { return dir_.string(); }
  // Writes `stem`.crt and `stem`.key (replacing earlier ones by rename, as certbot does).
  IssuedCert issue(const std::string& stem, const IssueOptions& options = {});
  // A file of `bytes` bytes of text that is not a certificate (broken replacements).
  std::string write_file(const std::string& name, const std::string& text) const;

 private:
  struct Ca;
  std::filesystem::path dir_;
  std::string ca_file_;
  std::unique_ptr<Ca> ca_;  // OpenSSL objects, kept out of this header
  std::uint64_t serial_ = 1;
};

}  // namespace veer::testing
