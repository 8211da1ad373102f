#include "tls/certificate_check.hpp"

#include "unit/tls/test_certs.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <ctime>
#include <string>
#include <vector>

namespace veer::tls {
namespace {

constexpr std::int64_t kDay = 86400;

struct Files {
  testing::TempDir dir;
  testing::TestCa ca;
  EvpPkeyPtr key = testing::make_ec_key();
  std::string key_file = dir.write_key("leaf.key", key.get());
  // Valid for 30 days from now.
  conf::CertKeyConfig pair(const std::string& stem, const std::string& san) const {
    X509Ptr leaf = ca.issue(key.get(), stem, san);
    return {dir.write_certs(stem + ".crt", {leaf.get()}), key_file, {}};
  }
};

conf::ListenerTlsConfig listener(const Files& f) {
  conf::ListenerTlsConfig c;
  c.default_certificate = f.pair("main", "DNS:api.example,DNS:*.apps.example");
  c.certificates = {f.pair("other", "DNS:other.example")};
  return c;
}

TEST(CertificateCheck, CleanListenerHasNoFindings) {
  Files f;
  const std::int64_t now = std::time(nullptr);
  CertificateReport r = check_certificates(
      listener(f), {"api.example", "", "API.example:8443", "x.apps.example", "other.example"}, now);
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
}

TEST(CertificateCheck, UncoveredRouteHostIsAWarning) {
  Files f;
  CertificateReport r =
      check_certificates(listener(f), {"a.b.apps.example", "api.example"}, std::time(nullptr));
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("\"a.b.apps.example\""), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find("main.crt"), std::string::npos) << r.warnings[0];
}

TEST(CertificateCheck, ExpiryUsesTheGivenClock) {
  Files f;
  const std::int64_t now = std::time(nullptr);
  conf::ListenerTlsConfig c = listener(f);
  EXPECT_TRUE(check_certificates(c, {}, now + 10 * kDay).errors.empty());
  CertificateReport soon = check_certificates(c, {}, now + 20 * kDay + 3600);
  EXPECT_TRUE(soon.errors.empty());
  ASSERT_EQ(soon.warnings.size(), 2u);
  EXPECT_EQ(soon.warnings[0], c.default_certificate.cert + ": the certificate expires in 9 days");
  CertificateReport late = check_certificates(c, {}, now + 31 * kDay);
  ASSERT_EQ(late.errors.size(), 2u) << "both files, not only the first";
  EXPECT_EQ(late.errors[0], c.default_certificate.cert + ": the certificate has expired");
  EXPECT_EQ(late.errors[1], c.certificates[0].cert + ": the certificate has expired");
  CertificateReport early = check_certificates(c, {}, now - 2 * kDay);
  ASSERT_EQ(early.errors.size(), 2u);
  EXPECT_NE(early.errors[0].find("not valid yet"), std::string::npos);
}

TEST(CertificateCheck, UnreadableMismatchedAndOpenKeys) {
  Files f;
  conf::ListenerTlsConfig c = listener(f);
  c.default_certificate.cert = f.dir.file("missing.crt");
  EvpPkeyPtr other = testing::make_ec_key();
  c.certificates[0].key = f.dir.write_key("other.key", other.get());
  CertificateReport r = check_certificates(c, {}, std::time(nullptr));
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0], f.dir.file("missing.crt") + ": cannot open: No such file or directory");
  EXPECT_NE(r.errors[1].find("other.key"), std::string::npos) << r.errors[1];
  EXPECT_NE(r.errors[1].find("other.crt"), std::string::npos) << r.errors[1];
  EXPECT_NE(r.errors[1].find("does not match"), std::string::npos) << r.errors[1];

  c = listener(f);
  ::chmod(f.key_file.c_str(), 0640);
  r = check_certificates(c, {}, std::time(nullptr));
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.warnings.size(), 2u) << "the key file serves both certificates";
  EXPECT_EQ(r.warnings[0], f.key_file + ": readable by other users (mode 0640); chmod 600");
}

TEST(CertificateCheck, ChainMustGoLeafFirstThenEachIssuer) {
  Files f;
  testing::TestCa intermediate("intermediate", &f.ca);
  X509Ptr leaf = intermediate.issue(f.key.get(), "leaf", "DNS:api.example");
  conf::ListenerTlsConfig c;
  c.default_certificate = {
      f.dir.write_certs("good.crt", {leaf.get(), intermediate.cert(), f.ca.cert()}),
      f.key_file,
      {}};
  EXPECT_TRUE(check_certificates(c, {"api.example"}, std::time(nullptr)).errors.empty());
  c.default_certificate.cert =
      f.dir.write_certs("bad.crt", {leaf.get(), f.ca.cert(), intermediate.cert()});
  CertificateReport r = check_certificates(c, {"api.example"}, std::time(nullptr));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], c.default_certificate.cert +
                             ": certificate 2 did not issue certificate 1 (the leaf first, then "
                             "each issuer in order)");
}

TEST(CertificateCheck, ClientCaMustBeReadable) {
  Files f;
  conf::ListenerTlsConfig c = listener(f);
  c.verify = conf::ListenerTlsConfig::Verify::optional;
  c.client_ca = f.dir.file("no-ca.crt");
  CertificateReport r = check_certificates(c, {}, std::time(nullptr));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], c.client_ca + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace veer::tls
