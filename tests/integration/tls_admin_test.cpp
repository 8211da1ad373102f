// The operations surface of TLS through the real binary: `veer check` on certificates
// from a throw-away CA (support/test_pki), and GET /api/v1/certificates, the TLS
// families of /metrics and `veer ctl certificates` against a running veer.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>
#include <regex>
#include <sstream>

#include "support/admin_client.hpp"
#include "support/config_builder.hpp"
#include "support/test_backend.hpp"
#include "support/test_pki.hpp"
#include "support/tls_client.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;
using testing::IssuedCert;
using testing::IssueOptions;
using testing::TestPki;

constexpr std::int64_t kDay = 86400;

std::string tls_table(const std::string& cert, const std::string& key,
                      const std::string& more = "") {
  return "{ cert = \"" + cert + "\", key = \"" + key + "\"" + (more.empty() ? "" : ", " + more) +
         " }";
}

// `veer check` on a file with one TLS listener (and whatever `config` adds).
class CheckTls : public ::testing::Test {
 protected:
  CommandResult check(TestConfig config) {
    config.backends = {"127.0.0.1:9"};
    const std::string path = write_file(dir_, "veer.toml", config.toml());
    CommandResult r = run_command(veer_binary() + " check " + path + " 2>&1");
    // Whatever went wrong, the key's text is never printed.
    EXPECT_EQ(r.output.find("PRIVATE KEY"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("-----BEGIN"), std::string::npos) << r.output;
    return r;
  }
  static TestConfig with(const IssuedCert& pair, const std::string& host = "rpc.example",
                         const std::string& more = "") {
    return TestConfig{.listener_tls = tls_table(pair.cert, pair.key, more), .route_host = host};
  }
  static IssueOptions names(std::int64_t valid_to_s, std::int64_t valid_from_s = -3600) {
    return IssueOptions{
        .names = {"rpc.example"}, .valid_from_s = valid_from_s, .valid_to_s = valid_to_s};
  }

  TestPki pki;
  std::string dir_ = make_temp_dir();
};

TEST_F(CheckTls, AGoodCertificateIsValid) {
  const CommandResult r = check(with(pki.issue("good", names(90 * kDay))));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("configuration is valid"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("warning"), std::string::npos) << r.output;
}

TEST_F(CheckTls, AnExpiredCertificateIsAnErrorNamingTheFileAndListener) {
  const IssuedCert pair = pki.issue("expired", names(-kDay, -100 * kDay));
  const CommandResult r = check(with(pair));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("listeners.public.tls: " + pair.cert), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("expired"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("configuration is valid"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" error"), std::string::npos) << "the count line\n" << r.output;
}

TEST_F(CheckTls, ACertificateExpiringInFiveDaysIsAWarning) {
  const IssuedCert pair = pki.issue("soon", names(5 * kDay));
  const CommandResult r = check(with(pair));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  int warnings = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(pair.cert) == std::string::npos) continue;
    EXPECT_NE(line.find("listeners.public.tls"), std::string::npos) << line;
    EXPECT_TRUE(line.ends_with("(warning)")) << line;
    ++warnings;
  }
  EXPECT_EQ(warnings, 1) << "once, though the check and the load both see it\n" << r.output;
  EXPECT_NE(r.output.find("configuration is valid"), std::string::npos) << r.output;
}

TEST_F(CheckTls, AKeyThatDoesNotMatchTheCertificateIsAnError) {
  const IssuedCert a = pki.issue("a", names(90 * kDay));
  const IssuedCert b = pki.issue("b", names(90 * kDay));
  const CommandResult r = check(TestConfig{.listener_tls = tls_table(a.cert, b.key)});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("listeners.public.tls"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(b.key), std::string::npos) << r.output;
}

TEST_F(CheckTls, ARouteHostNoCertificateCoversIsAWarning) {
  const CommandResult r = check(with(pki.issue("good", names(90 * kDay)), "other.example"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::size_t at = r.output.find("other.example");
  ASSERT_NE(at, std::string::npos) << r.output;
  const std::size_t end = r.output.find('\n', at);
  EXPECT_NE(r.output.substr(0, end).rfind("listeners.public.tls"), std::string::npos) << r.output;
  EXPECT_NE(r.output.substr(at, end - at).find("(warning)"), std::string::npos) << r.output;
}

TEST_F(CheckTls, AKeyFileOthersCanReadIsAWarning) {
  const IssuedCert pair = pki.issue("open", names(90 * kDay));
  ASSERT_EQ(::chmod(pair.key.c_str(), 0644), 0);
  const CommandResult r = check(with(pair));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(pair.key), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(warning)"), std::string::npos) << r.output;
}

TEST_F(CheckTls, WhatVeerRunWouldRefuseIsAnErrorToo) {
  const IssuedCert pair = pki.issue("good", names(90 * kDay));
  const CommandResult cipher = check(with(pair, "rpc.example", "ciphers = \"NO-SUCH-CIPHER\""));
  EXPECT_EQ(cipher.exit_code, 1) << cipher.output;
  EXPECT_NE(cipher.output.find("listeners.public.tls: ciphers"), std::string::npos)
      << cipher.output;
  const CommandResult missing = check(TestConfig{
      .listener_tls = tls_table(pair.cert, dir_ + "/missing.key"), .route_host = "rpc.example"});
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find(dir_ + "/missing.key"), std::string::npos) << missing.output;
  TestConfig pool = with(pair);
  pool.extra = "tls = { ca = \"" + dir_ + "/missing-ca.pem\" }\n";
  const CommandResult upstream = check(pool);
  EXPECT_EQ(upstream.exit_code, 1) << upstream.output;
  EXPECT_NE(upstream.output.find("pools.main.tls: "), std::string::npos) << upstream.output;
  EXPECT_NE(upstream.output.find("missing-ca.pem"), std::string::npos) << upstream.output;
}

// --- a running veer -------------------------------------------------------------------

// The value of the sample whose line starts with `series` ("name{labels}"), or -1.
double sample(const std::string& metrics, const std::string& series) {
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// The samples whose lines start with `prefix` and contain `fragment`, summed; -1 if none.
double sum_of(const std::string& metrics, const std::string& prefix,
              const std::string& fragment = "") {
  std::istringstream lines(metrics);
  double sum = -1;
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(prefix) || line.find(fragment) == std::string::npos) continue;
    sum = std::max(sum, 0.0) + std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

class RunningTls : public ::testing::Test {
 protected:
  // An hour short of 30 days, so that days_left is 29 whatever second the test runs in.
  static constexpr std::int64_t kValidFor = 30 * kDay - 3600;

  void SetUp() override {
    pair = pki.issue("server", IssueOptions{.valid_to_s = kValidFor});
    admin = start_with_admin(TestConfig{.backends = {backend.address()},
                                        .listener_tls = tls_table(pair.cert, pair.key)});
    ASSERT_NE(admin.port, 0);
  }

  TestPki pki;
  TestBackend backend{"tls-admin-backend"};
  IssuedCert pair;
  Admin admin;
};

TEST_F(RunningTls, CertificatesEndpointShowsWhatTheListenerServes) {
  TlsClient client(admin.veer->port(), TlsClientOptions{.ca_file = pki.ca_file()});
  ASSERT_TRUE(client.handshake()) << client.error() << admin.veer->log_text();

  const auto anonymous = admin.call("GET", "/api/v1/certificates", "", {});
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_EQ(anonymous->status, 401);
  const auto r = admin.call("GET", "/api/v1/certificates");
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->status, 200) << r->body;
  const json::value body = json::parse(r->body);
  const json::array& listeners = body.at("listeners").as_array();
  ASSERT_EQ(listeners.size(), 1u) << r->body;
  EXPECT_EQ(listeners[0].at("listener"), "public");
  const json::array& certs = listeners[0].at("certificates").as_array();
  ASSERT_EQ(certs.size(), 1u) << r->body;
  const json::object& c = certs[0].as_object();
  EXPECT_EQ(c.at("file").as_string(), pair.cert);
  EXPECT_NE(c.at("subject").as_string().find("CN=localhost"), std::string::npos) << r->body;
  EXPECT_EQ(json::serialize(c.at("sans")), R"(["localhost"])") << "IP SANs are not DNS names";
  EXPECT_EQ(c.at("days_left"), 29) << "whole days, rounded down";
  EXPECT_EQ(c.at("key_type"), "EC P-256");
  EXPECT_EQ(c.at("fingerprint_sha256").as_string(), client.peer_fingerprint_sha256());
  const std::regex utc(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
  EXPECT_TRUE(std::regex_match(std::string(c.at("not_after").as_string()), utc)) << r->body;
  EXPECT_TRUE(std::regex_match(std::string(c.at("not_before").as_string()), utc)) << r->body;
  EXPECT_EQ(r->body.find("PRIVATE"), std::string::npos);
}

TEST_F(RunningTls, MetricsCountHandshakesAndShowTheExpiry) {
  for (int i = 0; i < 2; ++i) {
    TlsClient client(admin.veer->port(), TlsClientOptions{.ca_file = pki.ca_file()});
    ASSERT_TRUE(client.handshake()) << client.error();
    const auto r = client.request("GET", "/");
    ASSERT_TRUE(r.has_value()) << client.error();
    EXPECT_EQ(r->status, 200);
  }
  const auto m = admin.call("GET", "/metrics");
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->status, 200);
  const std::string& text = m->body;
  EXPECT_EQ(sample(text, "veer_tls_handshakes_total{result=\"full\"}"), 2) << text;
  EXPECT_EQ(sample(text, "veer_tls_handshakes_total{result=\"failed\"}"), 0) << text;
  EXPECT_EQ(sample(text, "veer_tls_handshake_failures_total{reason=\"plain_http\"}"), 0) << text;
  EXPECT_EQ(sample(text, "veer_tls_connections_total{version=\"TLSv1.3\"}"), 2) << text;
  EXPECT_EQ(sum_of(text, "veer_tls_ciphers_total{cipher=\"TLS_"), 2) << text;
  const double expiry = sum_of(text, "veer_tls_certificate_expiry_seconds{listener=\"public\"",
                               "file=\"" + pair.cert + "\"}");
  const double expected = static_cast<double>(std::time(nullptr) + kValidFor);
  EXPECT_NEAR(expiry, expected, 120) << text;
}

TEST_F(RunningTls, CtlCertificatesPrintsATable) {
  const CommandResult r =
      run_command("env -u VEER_ADMIN VEER_ADMIN_TOKEN=" + kToken + " " + veer_binary() +
                  " ctl --admin 127.0.0.1:" + std::to_string(admin.port) + " certificates 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.output.starts_with("LISTENER")) << r.output;
  EXPECT_NE(r.output.find("\npublic "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CN=localhost"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("    file: " + pair.cert + "\n"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace veer::test
