#include "tls/context.hpp"

#include "unit/tls/test_certs.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace veer::tls {
namespace {

using testing::TempDir;

TlsContextResult load(const std::string& cert, const std::string& key,
                      const std::string& min_version = "1.2") {
  TlsServerOptions o;
  o.cert_file = cert;
  o.key_file = key;
  o.min_version = min_version;
  return TlsContext::load(o, TicketKeys::generate());
}

TEST(TlsContext, LoadsEcdsaAndRsaPairs) {
  TempDir dir;
  auto ec = testing::make_ec_key();
  auto rsa = testing::make_rsa_key();
  auto ec_files = testing::write_pair(dir, "ec", ec.get());
  auto rsa_files = testing::write_pair(dir, "rsa", rsa.get());
  for (const auto& f : {ec_files, rsa_files}) {
    TlsContextResult r = load(f.cert, f.key);
    ASSERT_TRUE(r.context) << r.error;
    EXPECT_TRUE(r.error.empty());
    EXPECT_EQ(SSL_CTX_get_min_proto_version(r.context->native()), TLS1_2_VERSION);
    EXPECT_TRUE(SSL_CTX_get_options(r.context->native()) & SSL_OP_NO_RENEGOTIATION);
    EXPECT_TRUE(SSL_CTX_get_options(r.context->native()) & SSL_OP_NO_COMPRESSION);
    EXPECT_TRUE(SSL_CTX_get_options(r.context->native()) & SSL_OP_CIPHER_SERVER_PREFERENCE);
    EXPECT_EQ(SSL_CTX_get_max_proto_version(r.context->native()), TLS1_3_VERSION);
    EXPECT_EQ(SSL_CTX_get_session_cache_mode(r.context->native()), SSL_SESS_CACHE_OFF);
  }
  TlsContextResult r13 = load(ec_files.cert, ec_files.key, "1.3");
  ASSERT_TRUE(r13.context) << r13.error;
  EXPECT_EQ(SSL_CTX_get_min_proto_version(r13.context->native()), TLS1_3_VERSION);
}

TEST(TlsContext, MissingFileNamesFileAndCause) {
  TempDir dir;
  auto ec = testing::make_ec_key();
  auto f = testing::write_pair(dir, "ec", ec.get());
  TlsContextResult r = load(dir.file("absent.crt"), f.key);
  EXPECT_FALSE(r.context);
  EXPECT_NE(r.error.find("absent.crt"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("No such file"), std::string::npos) << r.error;
  r = load(f.cert, dir.file("absent.key"));
  EXPECT_FALSE(r.context);
  EXPECT_NE(r.error.find("absent.key"), std::string::npos) << r.error;
}

TEST(TlsContext, NotPemIsRefused) {
  TempDir dir;
  auto ec = testing::make_ec_key();
  auto f = testing::write_pair(dir, "ec", ec.get());
  std::ofstream(dir.file("junk.pem")) << "not a certificate\n";
  TlsContextResult r = load(dir.file("junk.pem"), f.key);
  EXPECT_FALSE(r.context);
  EXPECT_NE(r.error.find("no PEM certificate"), std::string::npos) << r.error;
  r = load(f.cert, dir.file("junk.pem"));
  EXPECT_FALSE(r.context);
  EXPECT_NE(r.error.find("no unencrypted PEM private key"), std::string::npos) << r.error;
  // A certificate where the key should be is not a key either.
  r = load(f.cert, f.cert);
  EXPECT_FALSE(r.context);
}

TEST(TlsContext, KeyNotMatchingCertificateIsRefusedWithoutKeyMaterial) {
  TempDir dir;
  auto ec = testing::make_ec_key();
  auto other = testing::make_ec_key();
  auto f = testing::write_pair(dir, "ec", ec.get());
  std::string wrong_key = dir.write_key("other.key", other.get());
  TlsContextResult r = load(f.cert, wrong_key);
  EXPECT_FALSE(r.context);
  EXPECT_NE(r.error.find("does not match"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("PRIVATE KEY"), std::string::npos) << r.error;
}

TEST(TlsContext, ExpiredAndNotYetValidCertificatesAreRefused) {
  TempDir dir;
  auto ec = testing::make_ec_key();
  std::string key = dir.write_key("ec.key", ec.get());
  auto expired = testing::make_cert(ec.get(), -2 * 86400, -86400);
  TlsContextResult r = load(dir.write_cert("expired.crt", expired.get()), key);
  EXPECT_FALSE(r.context);
  EXPECT_NE(r.error.find("expired"), std::string::npos) << r.error;
  auto future = testing::make_cert(ec.get(), 86400, 2 * 86400);
  r = load(dir.write_cert("future.crt", future.get()), key);
  EXPECT_FALSE(r.context);
  EXPECT_NE(r.error.find("not valid yet"), std::string::npos) << r.error;
}

TEST(TlsContext, MinVersionOnlyTwelveOrThirteen) {
  TempDir dir;
  auto ec = testing::make_ec_key();
  auto f = testing::write_pair(dir, "ec", ec.get());
  for (const char* v : {"1.1", "1.0", "", "tls1.2"}) {
    TlsContextResult r = load(f.cert, f.key, v);
    EXPECT_FALSE(r.context) << v;
    EXPECT_NE(r.error.find("min_version"), std::string::npos) << r.error;
  }
}

TEST(TicketKeys, RotationKeepsOldKeysForDecryptionThenDropsThem) {
  auto keys = TicketKeys::generate();
  TicketKeys::Key first = keys->current();
  bool current = false;
  ASSERT_TRUE(keys->find(first.name.data(), &current));
  EXPECT_TRUE(current);
  keys->rotate();
  EXPECT_NE(keys->current().name, first.name);
  ASSERT_TRUE(keys->find(first.name.data(), &current));
  EXPECT_FALSE(current) << "an old key still decrypts, and the ticket is renewed";
  for (std::size_t i = 1; i < TicketKeys::kMaxKeys; ++i)
    keys->rotate();
  EXPECT_FALSE(keys->find(first.name.data(), &current));
}

TEST(TicketKeys, FromFileReadsNginxFormats) {
  TempDir dir;
  std::string key80(80, '\0');
  for (std::size_t i = 0; i < key80.size(); ++i)
    key80[i] = static_cast<char>(i);
  std::ofstream(dir.file("80.key"), std::ios::binary) << key80;
  std::string error;
  auto keys = TicketKeys::from_file(dir.file("80.key"), &error);
  ASSERT_TRUE(keys) << error;
  TicketKeys::Key k = keys->current();
  EXPECT_EQ(k.key_size, 32u);
  EXPECT_EQ(k.name[0], 0);
  EXPECT_EQ(k.hmac[0], 16) << "name, then HMAC, then AES";
  EXPECT_EQ(k.aes[0], 48);
  EXPECT_EQ(k.aes[31], 79);

  std::ofstream(dir.file("48.key"), std::ios::binary) << key80.substr(0, 48);
  keys = TicketKeys::from_file(dir.file("48.key"), &error);
  ASSERT_TRUE(keys) << error;
  k = keys->current();
  EXPECT_EQ(k.key_size, 16u);
  EXPECT_EQ(k.aes[0], 16) << "legacy: name, then AES-128, then HMAC";
  EXPECT_EQ(k.hmac[0], 32);

  std::ofstream(dir.file("bad.key"), std::ios::binary) << key80.substr(0, 50);
  EXPECT_FALSE(TicketKeys::from_file(dir.file("bad.key"), &error));
  EXPECT_EQ(error, dir.file("bad.key") + ": a ticket key file must be 80 or 48 bytes, not 50");
  EXPECT_FALSE(TicketKeys::from_file(dir.file("absent.key"), &error));
  EXPECT_EQ(error, dir.file("absent.key") + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace veer::tls
