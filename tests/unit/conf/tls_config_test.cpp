// Loading the tls tables of listeners and pools and timeouts.tls_handshake
// (conf/load_tls.cpp): every key, the defaults, and each refusal with its message. Files
// are only named here; tests/unit/tls/ covers loading them.
#include <gtest/gtest.h>

#include <string>

#include "conf/load.hpp"

namespace veer::conf {
namespace {

using namespace std::chrono_literals;
using Verify = ListenerTlsConfig::Verify;
using UnknownSni = ListenerTlsConfig::UnknownSni;

// A complete file whose listener gets `listener_tls` (a whole `tls = ...` line or a
// [listeners.public.tls] table) and whose pool gets `pool_tls` the same way. The listener
// lines come first, so line numbers in errors are those of `listener_tls` plus 3.
std::string file_with(const std::string& listener_tls, const std::string& pool_tls = "") {
  return "[listeners.public]\n"
         "address = \"127.0.0.1:8443\"\n"
         "routes = [ { target = \"rpc\" } ]\n" +
         listener_tls +
         "\n"
         "[pools.rpc]\n"
         "backends = [\"127.0.0.1:19001\"]\n" +
         pool_tls + "\n";
}

LoadResult load(const std::string& text) {
  return load_config_string(text, "test.toml");
}

std::string errors_of(const LoadResult& r) {
  std::string all;
  for (const auto& e : r.errors)
    all += e.to_string() + "\n";
  return all;
}

// The single error of `text`, as "test.toml:LINE:COL: message".
std::string only_error(const std::string& text) {
  const LoadResult r = load(text);
  if (r.errors.size() != 1) return "expected one error, got:\n" + errors_of(r);
  return r.errors[0].to_string();
}

std::string listener_error(const std::string& tls_line) {
  return only_error(file_with(tls_line));
}

std::string pool_error(const std::string& tls_line) {
  return only_error(file_with("", tls_line));
}

const ListenerTlsConfig& listener_tls(const LoadResult& r) {
  static const ListenerTlsConfig none;
  if (!r.ok() || !r.config->listeners[0].tls) return none;
  return *r.config->listeners[0].tls;
}

constexpr const char* kCertKey = R"(tls = { cert = "/etc/veer/a.pem", key = "/etc/veer/a.key" })";

TEST(TlsConfig, NoTableIsPlainHttp) {
  const LoadResult r = load(file_with(""));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_FALSE(r.config->listeners[0].tls);
  EXPECT_FALSE(r.config->pools[0].tls);
}

TEST(TlsConfig, CertAndKeyAloneTakeEveryDefault) {
  const LoadResult r = load(file_with(kCertKey));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  ASSERT_TRUE(r.config->listeners[0].tls);
  const ListenerTlsConfig& tls = *r.config->listeners[0].tls;
  EXPECT_EQ(tls.default_certificate.cert, "/etc/veer/a.pem");
  EXPECT_EQ(tls.default_certificate.key, "/etc/veer/a.key");
  EXPECT_EQ(tls.default_certificate.pos.line, 4u);
  EXPECT_TRUE(tls.certificates.empty());
  EXPECT_EQ(tls.unknown_sni, UnknownSni::use_default);
  EXPECT_EQ(tls.min_version, "1.2");
  EXPECT_EQ(tls.ciphers, "");
  EXPECT_EQ(tls.ciphersuites, "");
  EXPECT_EQ(tls.curves, "");
  EXPECT_EQ(tls.client_ca, "");
  EXPECT_EQ(tls.verify, Verify::off);
  EXPECT_EQ(tls.client_subject_header, "");
  EXPECT_EQ(tls.client_fingerprint_header, "");
  EXPECT_TRUE(tls.session_tickets);
  EXPECT_EQ(tls.ticket_key_file, "");
  EXPECT_EQ(tls.ticket_key_rotation, 1h);
  EXPECT_EQ(tls.session_cache, 20480u);
  ListenerTlsConfig defaults;
  defaults.default_certificate = tls.default_certificate;
  EXPECT_EQ(tls, defaults);
}

TEST(TlsConfig, SubTableReadsEveryKey) {
  const LoadResult r = load(file_with(R"(
[listeners.public.tls]
cert = "certs/a.pem"
key = "certs/a.key"
certificates = [ { cert = "/etc/veer/b.pem", key = "/etc/veer/b.key" },
                 { cert = "/etc/veer/c-rsa.pem", key = "/etc/veer/c-rsa.key" } ]
unknown_sni = "refuse"
min_version = "1.3"
ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"
ciphersuites = "TLS_AES_128_GCM_SHA256"
curves = "X25519:P-256"
client_ca = "/etc/veer/clients.pem"
verify = "required"
client_subject_header = "X-Client-Subject"
client_fingerprint_header = "X-Client-Fingerprint"
session_tickets = false
ticket_key_file = "/run/veer/tickets.key"
ticket_key_rotation = "12h"
session_cache = 0
)"));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const ListenerTlsConfig& tls = listener_tls(r);
  // Relative paths are kept as written: like access_log, relative to the working directory.
  EXPECT_EQ(tls.default_certificate.cert, "certs/a.pem");
  EXPECT_EQ(tls.default_certificate.key, "certs/a.key");
  ASSERT_EQ(tls.certificates.size(), 2u);
  EXPECT_EQ(tls.certificates[0].cert, "/etc/veer/b.pem");
  EXPECT_EQ(tls.certificates[0].key, "/etc/veer/b.key");
  EXPECT_EQ(tls.certificates[0].pos.line, 8u);
  EXPECT_EQ(tls.certificates[1].cert, "/etc/veer/c-rsa.pem");
  EXPECT_EQ(tls.certificates[1].key, "/etc/veer/c-rsa.key");
  EXPECT_EQ(tls.unknown_sni, UnknownSni::refuse);
  EXPECT_EQ(tls.min_version, "1.3");
  EXPECT_EQ(tls.ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(tls.ciphersuites, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(tls.curves, "X25519:P-256");
  EXPECT_EQ(tls.client_ca, "/etc/veer/clients.pem");
  EXPECT_EQ(tls.verify, Verify::required);
  EXPECT_EQ(tls.client_subject_header, "X-Client-Subject");
  EXPECT_EQ(tls.client_fingerprint_header, "X-Client-Fingerprint");
  EXPECT_FALSE(tls.session_tickets);
  EXPECT_EQ(tls.ticket_key_file, "/run/veer/tickets.key");
  EXPECT_EQ(tls.ticket_key_rotation, 12h);
  EXPECT_EQ(tls.session_cache, 0u);
}

TEST(TlsConfig, InlineTableAsInTheContract) {
  // One line: TOML 1.0 (and toml++ 3.3.0) has no newlines inside an inline table.
  const LoadResult r = load(
      file_with(R"(tls = { cert = "/etc/veer/a.pem", key = "/etc/veer/a.key", )"
                R"(certificates = [ { cert = "/etc/veer/b.pem", key = "/etc/veer/b.key" } ], )"
                R"(min_version = "1.2", client_ca = "/etc/veer/clients.pem", verify = "optional", )"
                R"(client_subject_header = "X-Client-Subject", )"
                R"(client_fingerprint_header = "X-Client-Fingerprint" })"));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const ListenerTlsConfig& tls = listener_tls(r);
  EXPECT_EQ(tls.certificates.size(), 1u);
  EXPECT_EQ(tls.verify, Verify::optional);
  EXPECT_EQ(tls.client_subject_header, "X-Client-Subject");
}

TEST(TlsConfig, VerifyOffIsAccepted) {
  const LoadResult r = load(file_with(
      R"(tls = { cert = "a.pem", key = "a.key", verify = "off", session_cache = 10000000 })"));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(listener_tls(r).verify, Verify::off);
  EXPECT_EQ(listener_tls(r).session_cache, 10'000'000u);
  EXPECT_TRUE(r.warnings.empty());
}

// Reloads compare what is loaded: the same settings written another way are equal.
TEST(TlsConfig, LayoutDoesNotChangeEquality) {
  const LoadResult inline_table = load(file_with(kCertKey));
  const LoadResult sub_table =
      load(file_with("\n\n[listeners.public.tls]\ncert = \"/etc/veer/a.pem\"\n"
                     "key = \"/etc/veer/a.key\""));
  ASSERT_TRUE(inline_table.ok() && sub_table.ok()) << errors_of(sub_table);
  EXPECT_EQ(listener_tls(inline_table), listener_tls(sub_table));
}

TEST(TlsConfig, CertAndKeyAreRequired) {
  EXPECT_EQ(listener_error(R"(tls = { key = "a.key" })"),
            "test.toml:4:7: listeners.public.tls: missing key \"cert\" (the certificate chain, a "
            "PEM file)");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem" })"),
            "test.toml:4:7: listeners.public.tls: missing key \"key\" (its private key, a PEM "
            "file)");
  EXPECT_EQ(listener_error(R"(tls = { cert = "", key = "a.key" })"),
            "test.toml:4:16: listeners.public.tls.cert: expected a file path, not \"\"");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = 7 })"),
            "test.toml:4:31: listeners.public.tls.key: expected a string");
}

TEST(TlsConfig, TlsMustBeATable) {
  EXPECT_EQ(listener_error(R"(tls = true)"),
            "test.toml:4:7: listeners.public.tls: expected a table such as { cert = "
            "\"/etc/veer/a.pem\", key = \"/etc/veer/a.key\" }");
  EXPECT_EQ(pool_error(R"(tls = "on")"),
            "test.toml:7:7: pools.rpc.tls: expected a table such as { verify = true, ca = "
            "\"/etc/veer/upstream-ca.pem\" }");
}

TEST(TlsConfig, EachCertificateNeedsCertAndKey) {
  EXPECT_EQ(listener_error(
                R"(tls = { cert = "a.pem", key = "a.key", )"
                R"(certificates = [ { cert = "b.pem", key = "b.key" }, { cert = "c.pem" } ] })"),
            "test.toml:4:92: listeners.public.tls.certificates[1]: missing key \"key\" (its "
            "private key, a PEM file)");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", certificates = ["b.pem"] })"),
            "test.toml:4:56: listeners.public.tls.certificates[0]: expected a table such as { "
            "cert = \"...\", key = \"...\" }");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", certificates = "b.pem" })"),
            "test.toml:4:55: listeners.public.tls.certificates: expected [ { cert = \"...\", key "
            "= \"...\" }, ... ]");
}

TEST(TlsConfig, MinVersionNeverBelowTls12) {
  for (const char* old : {"1.0", "1.1"}) {
    const std::string error = listener_error(
        std::string(R"(tls = { cert = "a.pem", key = "a.key", min_version = ")") + old + "\" }");
    EXPECT_EQ(error, std::string("test.toml:4:54: listeners.public.tls.min_version: TLS ") + old +
                         " is never allowed (RFC 8996 deprecates 1.0 and 1.1); use \"1.2\" or "
                         "\"1.3\"");
  }
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", min_version = "TLSv1.2" })"),
            "test.toml:4:54: listeners.public.tls.min_version: \"TLSv1.2\" is not one of 1.2, 1.3");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", min_version = 1.2 })"),
            "test.toml:4:54: listeners.public.tls.min_version: expected a string");
}

TEST(TlsConfig, ChoicesNameTheirValues) {
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", verify = "yes" })"),
            "test.toml:4:49: listeners.public.tls.verify: \"yes\" is not one of off, optional, "
            "required");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", unknown_sni = "drop" })"),
            "test.toml:4:54: listeners.public.tls.unknown_sni: \"drop\" is not one of default, "
            "refuse");
}

TEST(TlsConfig, VerifyNeedsClientCa) {
  for (const char* mode : {"optional", "required"}) {
    EXPECT_EQ(listener_error(std::string(R"(tls = { cert = "a.pem", key = "a.key", verify = ")") +
                             mode + "\" }"),
              "test.toml:4:49: listeners.public.tls.verify: needs client_ca (the CA bundle client "
              "certificates must chain to)");
  }
  EXPECT_EQ(listener_error(
                R"(tls = { cert = "a.pem", key = "a.key", client_ca = "", verify = "required" })"),
            "test.toml:4:52: listeners.public.tls.client_ca: expected a file path, not \"\"");
}

TEST(TlsConfig, ClientCaWithoutVerifyIsAWarning) {
  const LoadResult r =
      load(file_with(R"(tls = { cert = "a.pem", key = "a.key", client_ca = "ca.pem" })"));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].to_string(),
            "test.toml:4:52: listeners.public.tls.client_ca: unused while verify is \"off\"");
}

TEST(TlsConfig, ClientHeadersNeedVerification) {
  for (const char* key : {"client_subject_header", "client_fingerprint_header"}) {
    const std::string error = listener_error(
        std::string(R"(tls = { cert = "a.pem", key = "a.key", )") + key + " = \"X-Client\" }");
    EXPECT_NE(error.find(std::string("listeners.public.tls.") + key +
                         ": needs a client certificate; set verify = \"optional\" or "
                         "\"required\""),
              std::string::npos)
        << error;
  }
}

TEST(TlsConfig, ClientHeadersAreHeaderNames) {
  const std::string mtls =
      R"(tls = { cert = "a.pem", key = "a.key", client_ca = "ca.pem", verify = "required", )";
  EXPECT_EQ(listener_error(mtls + R"(client_subject_header = "X Subject" })"),
            "test.toml:4:107: listeners.public.tls.client_subject_header: \"X Subject\" is not a "
            "header name");
  EXPECT_EQ(listener_error(mtls + R"(client_fingerprint_header = "" })"),
            "test.toml:4:111: listeners.public.tls.client_fingerprint_header: \"\" is not a header "
            "name");
  EXPECT_EQ(listener_error(mtls +
                           R"(client_subject_header = "X-C", client_fingerprint_header = "x-c" })"),
            "test.toml:4:142: listeners.public.tls.client_fingerprint_header: the same header as "
            "client_subject_header");
}

TEST(TlsConfig, ClientHeadersMayNotBeHeadersVeerSets) {
  const std::string mtls =
      R"(tls = { cert = "a.pem", key = "a.key", client_ca = "ca.pem", verify = "required", )";
  for (const char* name : {"X-Forwarded-For", "host", "Content-Length", "X-REQUEST-ID", "X-Real-IP",
                           "x-forwarded-port", "Forwarded"}) {
    const std::string error = listener_error(mtls + "client_subject_header = \"" + name + "\" }");
    EXPECT_NE(error.find(std::string("\"") + name + "\" is a header veer sets or frames with"),
              std::string::npos)
        << error;
  }
}

TEST(TlsConfig, OpenSslStringsMayNotBeEmpty) {
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", ciphers = "" })"),
            "test.toml:4:50: listeners.public.tls.ciphers: expected an OpenSSL cipher list, not "
            "\"\"");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", ciphersuites = "" })"),
            "test.toml:4:55: listeners.public.tls.ciphersuites: expected an OpenSSL list of TLS "
            "1.3 suites, not \"\"");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", curves = "" })"),
            "test.toml:4:49: listeners.public.tls.curves: expected a list of groups such as "
            "\"X25519:P-256\", not \"\"");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", ticket_key_file = "" })"),
            "test.toml:4:58: listeners.public.tls.ticket_key_file: expected a file path, not \"\"");
}

TEST(TlsConfig, ResumptionBounds) {
  EXPECT_EQ(
      listener_error(R"(tls = { cert = "a.pem", key = "a.key", ticket_key_rotation = "59s" })"),
      "test.toml:4:62: listeners.public.tls.ticket_key_rotation: must be at least 1m");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", session_cache = 10000001 })"),
            "test.toml:4:56: listeners.public.tls.session_cache: 10000001 is out of range "
            "(0-10000000)");
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", session_tickets = "no" })"),
            "test.toml:4:58: listeners.public.tls.session_tickets: expected true or false");
  const LoadResult r =
      load(file_with(R"(tls = { cert = "a.pem", key = "a.key", ticket_key_rotation = "1m" })"));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(listener_tls(r).ticket_key_rotation, 1min);
}

TEST(TlsConfig, MisspeltKeysSuggestTheRightOne) {
  EXPECT_EQ(listener_error(R"(tls = { cert = "a.pem", key = "a.key", min_verison = "1.3" })"),
            "test.toml:4:40: listeners.public.tls.min_verison: unknown key (did you mean "
            "\"min_version\"?)");
  EXPECT_EQ(
      listener_error(R"(tls = { cert = "a.pem", key = "a.key", )"
                     R"(certificates = [ { cert = "b.pem", key = "b.key", kye = "c.key" } ] })"),
      "test.toml:4:90: listeners.public.tls.certificates[0].kye: unknown key (did you mean "
      "\"key\"?)");
  EXPECT_EQ(pool_error(R"(tls = { verfy = false })"),
            "test.toml:7:9: pools.rpc.tls.verfy: unknown key (did you mean \"verify\"?)");
}

TEST(UpstreamTlsConfig, EmptyTableVerifiesWithTheSystemStore) {
  const LoadResult r = load(file_with("", "tls = {}"));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  ASSERT_TRUE(r.config->pools[0].tls);
  const UpstreamTlsConfig& tls = *r.config->pools[0].tls;
  EXPECT_TRUE(tls.verify);
  EXPECT_EQ(tls.ca, "");
  EXPECT_EQ(tls.sni, "");
  EXPECT_EQ(tls.cert, "");
  EXPECT_EQ(tls.key, "");
  EXPECT_EQ(tls.pos.line, 7u);
}

TEST(UpstreamTlsConfig, EveryKey) {
  const LoadResult r = load(file_with("", R"(
[pools.rpc.tls]
verify = true
ca = "/etc/veer/upstream-ca.pem"
sni = "node.internal"
cert = "client.pem"
key = "client.key"
)"));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const UpstreamTlsConfig& tls = *r.config->pools[0].tls;
  EXPECT_TRUE(tls.verify);
  EXPECT_EQ(tls.ca, "/etc/veer/upstream-ca.pem");
  EXPECT_EQ(tls.sni, "node.internal");
  EXPECT_EQ(tls.cert, "client.pem");
  EXPECT_EQ(tls.key, "client.key");

  const LoadResult off = load(file_with("", "tls = { verify = false }"));
  ASSERT_TRUE(off.ok()) << errors_of(off);
  EXPECT_FALSE(off.config->pools[0].tls->verify);
  EXPECT_TRUE(off.warnings.empty());
}

TEST(UpstreamTlsConfig, Refusals) {
  EXPECT_EQ(pool_error(R"(tls = { cert = "client.pem" })"),
            "test.toml:7:16: pools.rpc.tls.cert: cert and key go together (a client certificate "
            "and its private key)");
  EXPECT_EQ(pool_error(R"(tls = { key = "client.key" })"),
            "test.toml:7:15: pools.rpc.tls.key: cert and key go together (a client certificate "
            "and its private key)");
  EXPECT_EQ(pool_error(R"(tls = { ca = "" })"),
            "test.toml:7:14: pools.rpc.tls.ca: expected a file path, not \"\"");
  EXPECT_EQ(pool_error(R"(tls = { sni = "" })"),
            "test.toml:7:15: pools.rpc.tls.sni: expected a host name, not \"\"");
  for (const char* sni : {"10.0.0.1", "[::1]", "node:8545", "no de"}) {
    EXPECT_EQ(pool_error(std::string(R"(tls = { sni = ")") + sni + "\" }"),
              std::string("test.toml:7:15: pools.rpc.tls.sni: \"") + sni +
                  "\" is not a host name (SNI sends names only)");
  }
  EXPECT_EQ(pool_error(R"(tls = { verify = "yes" })"),
            "test.toml:7:18: pools.rpc.tls.verify: expected true or false");
}

TEST(UpstreamTlsConfig, CaWithoutVerifyIsAWarning) {
  const LoadResult r = load(file_with("", R"(tls = { verify = false, ca = "ca.pem" })"));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].to_string(),
            "test.toml:7:30: pools.rpc.tls.ca: unused while verify is false");
}

TEST(TlsHandshakeTimeout, DefaultAndValue) {
  const LoadResult defaults = load(file_with(""));
  ASSERT_TRUE(defaults.ok()) << errors_of(defaults);
  EXPECT_EQ(defaults.config->timeouts.tls_handshake, 10s);
  const LoadResult set = load("[timeouts]\ntls_handshake = \"3s\"\n" + file_with(""));
  ASSERT_TRUE(set.ok()) << errors_of(set);
  EXPECT_EQ(set.config->timeouts.tls_handshake, 3s);
  EXPECT_EQ(only_error("[timeouts]\ntls_handshake = \"0s\"\n" + file_with("")),
            "test.toml:2:17: timeouts.tls_handshake: must be at least 1ms");
  EXPECT_EQ(only_error("[timeouts]\ntls_handshak = \"5s\"\n" + file_with("")),
            "test.toml:2:1: timeouts.tls_handshak: unknown key (did you mean \"tls_handshake\"?)");
}

// The example in docs/examples loads as written (its files are only named).
TEST(TlsConfig, TheJsonRpcExampleLoads) {
  const LoadResult r = load_config_file(VEER_SOURCE_DIR "/docs/examples/jsonrpc-tls.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  ASSERT_EQ(r.config->listeners.size(), 2u);
  ASSERT_TRUE(r.config->listeners[0].tls.has_value());
  EXPECT_EQ(r.config->listeners[0].tls->certificates.size(), 2u);
  EXPECT_EQ(r.config->find_pool("archive")->tls->sni, "archive.provider.net");
}

}  // namespace
}  // namespace veer::conf
