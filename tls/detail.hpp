#pragma once

// Internals shared by the files of tls/ (not for other folders): reading PEM files with
// errors that name the file, inspecting certificates, and the settings every server
// context gets. Error strings never contain key material.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tls/context.hpp"

namespace veer::tls::detail {

// The one protocol veer speaks on both sides, in ALPN's wire format.
inline constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// "PATH: what", the form of every file error in tls/.
std::string file_error(const std::string& path, std::string_view what);

// OpenSSL's reason for the last error (or `fallback`), and clears the error queue.
std::string openssl_reason(std::string_view fallback = "unknown reason");

// Reads a whole file; on failure "PATH: cannot open: <strerror>".
bool read_file(const std::string& path, std::string& out, std::string& error);

// The leaf and then the chain, in file order.
bool load_certs(const std::string& path, std::vector<X509Ptr>& certs, std::string& error);
bool load_key(const std::string& path, EvpPkeyPtr& key, std::string& error);

// A warning when a private key file is readable by group or others, else "".
std::string key_permission_warning(const std::string& key_file);

// One certificate chain with its key, checked at `now` (Unix time): key matches the
// leaf, each certificate issued by the next, valid now. Expiring within
// kExpiryWarning is a warning. Used by ServerTls::load and check_certificates alike,
// so that `veer check` refuses exactly what a load would.
struct LoadedPair {
  std::string cert_file;
  std::string key_file;
  std::vector<X509Ptr> certs;
  EvpPkeyPtr key;
};
inline constexpr std::int64_t kExpiryWarning = 14 * 86400;  // the 14 days
bool load_pair(const std::string& cert_file, const std::string& key_file, std::int64_t now,
               LoadedPair& out, std::vector<std::string>& warnings, std::string& error);

// Certificate facts.
std::vector<std::string> dns_names(X509* cert);  // DNS SANs, else the CN; lower-case
std::string name_rfc2253(const X509_NAME* name);
std::string fingerprint_sha256(X509* cert);  // lower-case hex
std::string key_type(const EVP_PKEY* key);   // "RSA 2048", "EC P-256"
std::int64_t unix_time(const ASN1_TIME* t);

// Lower-case, one trailing dot removed: the form names are compared in.
std::string normalize_host(std::string_view host);
// A certificate name (exact, or "*.example.com" covering exactly one more label)
// against a normalized host.
bool name_matches(std::string_view pattern, std::string_view host);

// veer's fixed server settings (context.cpp): versions, no renegotiation, no
// compression, server cipher preference, RELEASE_BUFFERS, session id context, ALPN,
// and the ticket callback reading `keys` (which must outlive the context).
bool parse_min_version(const std::string& v, int& out, std::string& error);
void apply_server_settings(SSL_CTX* ctx, int min_version, TicketKeys* keys);
// The leaf, its chain and its key into `ctx` (in the leaf key type's slot).
bool install_chain(SSL_CTX* ctx, const std::vector<X509Ptr>& certs, EVP_PKEY* key);

}  // namespace veer::tls::detail
