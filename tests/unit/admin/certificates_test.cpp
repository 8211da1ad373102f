// The operations surface of TLS with fake inputs: GET /api/v1/certificates' JSON
// (admin/views.hpp), `veer ctl certificates`' table (admin/ctl_print.hpp), and the TLS
// families of /metrics (admin/metrics.hpp), none of which needs a certificate on disk.
#include <gtest/gtest.h>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <boost/json.hpp>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "admin/api.hpp"
#include "admin/ctl_print.hpp"
#include "admin/metrics.hpp"
#include "admin/views.hpp"
#include "conf/load.hpp"
#include "runtime/metrics.hpp"
#include "runtime/snapshot.hpp"

namespace veer::admin {
namespace {

namespace json = boost::json;

constexpr std::int64_t kNow = 1'780'000'000;  // 2026-05-28T20:26:40Z
constexpr std::int64_t kDay = 86400;

tls::CertificateInfo certificate(std::string file, std::string subject, std::int64_t not_after) {
  return tls::CertificateInfo{
      std::move(file),   std::move(subject),  {"rpc.example", "*.rpc.example"},
      "CN=veer test CA", kNow - 30 * kDay,    not_after,
      "EC P-256",        std::string(64, 'a')};
}

std::vector<ListenerCertificates> two_listeners() {
  return {{"public",
           {certificate("/etc/veer/a.pem", "CN=rpc.example", kNow + 89 * kDay + 3600),
            certificate("/etc/veer/b.pem", "CN=b.example", kNow - 3600)}},
          {"internal", {certificate("/etc/veer/c.pem", "CN=c.example", kNow + 3600)}}};
}

TEST(CertificatesJson, EveryListenerWithItsCertificatesInOrder) {
  const json::object o = certificates_json(two_listeners(), kNow);
  const json::array& listeners = o.at("listeners").as_array();
  ASSERT_EQ(listeners.size(), 2u);
  EXPECT_EQ(listeners[0].at("listener"), "public");
  EXPECT_EQ(listeners[1].at("listener"), "internal");
  const json::array& certs = listeners[0].at("certificates").as_array();
  ASSERT_EQ(certs.size(), 2u);
  const json::object& a = certs[0].as_object();
  EXPECT_EQ(a.at("file"), "/etc/veer/a.pem");
  EXPECT_EQ(a.at("subject"), "CN=rpc.example");
  EXPECT_EQ(a.at("issuer"), "CN=veer test CA");
  EXPECT_EQ(json::serialize(a.at("sans")), R"(["rpc.example","*.rpc.example"])");
  EXPECT_EQ(a.at("not_before"), "2026-04-28T20:26:40Z");
  EXPECT_EQ(a.at("not_after"), "2026-08-25T21:26:40Z");
  EXPECT_EQ(a.at("days_left"), 89);
  EXPECT_EQ(a.at("key_type"), "EC P-256");
  EXPECT_EQ(a.at("fingerprint_sha256").as_string(), std::string(64, 'a'));
  EXPECT_EQ(a.size(), 9u) << "no other field: nothing of the key";
}

TEST(CertificatesJson, DaysLeftIsNegativeOnceExpiredAndZeroOnTheLastDay) {
  const json::object o = certificates_json(two_listeners(), kNow);
  const json::array& listeners = o.at("listeners").as_array();
  EXPECT_EQ(listeners[0].at("certificates").at(1).at("days_left"), -1) << "an hour ago";
  EXPECT_EQ(listeners[1].at("certificates").at(0).at("days_left"), 0) << "an hour left";
  const std::vector<ListenerCertificates> long_ago{
      {"l", {certificate("x.pem", "CN=x", kNow - 10 * kDay)}}};
  EXPECT_EQ(certificates_json(long_ago, kNow)
                .at("listeners")
                .at(0)
                .at("certificates")
                .at(0)
                .at("days_left"),
            -10);
}

TEST(CertificatesJson, NoTlsListenerIsAnEmptyList) {
  EXPECT_EQ(json::serialize(certificates_json({}, kNow)), R"({"listeners":[]})");
}

// RFC 5280's "no well-defined expiration date" is 9999-12-31T23:59:59Z: beyond what
// system_clock's nanoseconds hold.
TEST(CertificatesJson, TheLastSecondOf9999IsWrittenAsIs) {
  constexpr std::int64_t k9999 = 253402300799;
  const std::vector<ListenerCertificates> forever{{"l", {certificate("x.pem", "CN=x", k9999)}}};
  const json::object o = certificates_json(forever, kNow);
  EXPECT_EQ(o.at("listeners").at(0).at("certificates").at(0).at("not_after"),
            "9999-12-31T23:59:59Z");
}

TEST(CertificatesTable, OneRowPerCertificateThenItsNamesAndFile) {
  json::object reply = certificates_json(two_listeners(), kNow);
  reply["version"] = 7;
  const std::string table = certificates_table(reply);
  std::istringstream text(table);
  std::vector<std::string> lines;
  for (std::string line; std::getline(text, line);)
    lines.push_back(line);
  ASSERT_EQ(lines.size(), 11u) << table;
  EXPECT_TRUE(lines[0].starts_with("LISTENER")) << table;
  EXPECT_EQ(lines[1], "public           2026-08-25T21:26:40Z        89 EC P-256   CN=rpc.example");
  EXPECT_EQ(lines[2], "    names: rpc.example, *.rpc.example");
  EXPECT_EQ(lines[3], "    file: /etc/veer/a.pem");
  EXPECT_NE(lines[4].find("       -1 "), std::string::npos) << lines[4];
  EXPECT_TRUE(lines[7].starts_with("internal ")) << table;
  EXPECT_EQ(lines[10], "configuration version 7");
}

// --- /metrics ----------------------------------------------------------------------------

const prometheus::MetricFamily* find_family(const std::vector<prometheus::MetricFamily>& all,
                                            const std::string& name) {
  for (const auto& f : all) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string label(const prometheus::ClientMetric& m, const std::string& name) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value;
  }
  return "<none>";
}

// label value -> sample value, for a family with one label.
std::map<std::string, double> by_label(const prometheus::MetricFamily& f, const std::string& name) {
  std::map<std::string, double> out;
  for (const auto& m : f.metric)
    out[label(m, name)] =
        f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
  return out;
}

TEST(CertificateExpiry, OneGaugePerCertificateAtItsNotAfter) {
  const prometheus::MetricFamily f = certificate_expiry_family(two_listeners());
  EXPECT_EQ(f.name, "veer_tls_certificate_expiry_seconds");
  EXPECT_EQ(f.type, prometheus::MetricType::Gauge);
  ASSERT_EQ(f.metric.size(), 3u);
  EXPECT_EQ(label(f.metric[0], "listener"), "public");
  EXPECT_EQ(label(f.metric[0], "subject"), "CN=rpc.example");
  EXPECT_EQ(label(f.metric[0], "file"), "/etc/veer/a.pem");
  EXPECT_EQ(f.metric[0].gauge.value, static_cast<double>(kNow + 89 * kDay + 3600));
  EXPECT_EQ(label(f.metric[2], "listener"), "internal");

  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, {f});
  EXPECT_NE(text.str().find("# TYPE veer_tls_certificate_expiry_seconds gauge"), std::string::npos);
  EXPECT_NE(text.str().find("veer_tls_certificate_expiry_seconds{listener=\"public\","
                            "subject=\"CN=rpc.example\",file=\"/etc/veer/a.pem\"} 1787693200"),
            std::string::npos)
      << text.str();
}

// A snapshot whose listener and pool have TLS settings; the material itself is not
// loaded (no TlsSet), which the metrics do not need.
std::shared_ptr<const runtime::Snapshot> tls_snapshot(runtime::BackendRegistry& registry,
                                                      bool listener_tls, bool pool_tls) {
  conf::LoadResult loaded = conf::load_config_string(R"(
[listeners.public]
address = "127.0.0.1:8443"
  [[listeners.public.routes]]
  target = "secure"
[pools.secure]
backends = ["127.0.0.1:9001"]
[pools.plain]
backends = ["127.0.0.1:9002"]
[admin]
)",
                                                     "tls.toml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
  conf::Config config = std::move(*loaded.config);
  if (listener_tls) config.listeners[0].tls = conf::ListenerTlsConfig{};
  for (conf::PoolConfig& pool : config.pools) {
    if (pool_tls && pool.name == "secure") pool.tls = conf::UpstreamTlsConfig{};
  }
  return runtime::build_snapshot(std::move(config), 1, registry);
}

std::vector<prometheus::MetricFamily> collect(std::shared_ptr<const runtime::Snapshot> snapshot,
                                              std::vector<const runtime::WorkerMetrics*> workers) {
  MetricsSources sources;
  sources.snapshot = std::move(snapshot);
  sources.workers = std::move(workers);
  return MetricsCollector(sources).Collect();
}

TEST(TlsMetrics, HandshakesVersionsAndCiphersAreSummedOverWorkers) {
  runtime::BackendRegistry registry;
  runtime::WorkerMetrics w0, w1;
  w0.tls.full.add(3);
  w1.tls.full.add(2);
  w1.tls.resumed.add(4);
  w0.tls.failed[runtime::TlsCounters::timeout].add(1);
  w1.tls.failed[runtime::TlsCounters::plain_http].add(2);
  w0.tls.tls13.add(3);
  w1.tls.tls13.add(5);
  w1.tls.tls12.add(1);
  // The workers saw the ciphers in different orders: slots differ, names are summed.
  w0.tls.count_cipher("TLS_AES_128_GCM_SHA256");
  w0.tls.count_cipher("TLS_AES_256_GCM_SHA384");
  w1.tls.count_cipher("TLS_AES_256_GCM_SHA384");
  w1.tls.count_cipher("TLS_AES_128_GCM_SHA256");
  w1.tls.count_cipher("TLS_AES_128_GCM_SHA256");
  const auto families = collect(tls_snapshot(registry, true, false), {&w0, &w1});

  const auto* handshakes = find_family(families, "veer_tls_handshakes_total");
  ASSERT_NE(handshakes, nullptr);
  EXPECT_EQ(by_label(*handshakes, "result"),
            (std::map<std::string, double>{{"full", 5}, {"resumed", 4}, {"failed", 3}}));
  const auto* failures = find_family(families, "veer_tls_handshake_failures_total");
  ASSERT_NE(failures, nullptr);
  const auto reasons = by_label(*failures, "reason");
  EXPECT_EQ(reasons.size(), runtime::TlsCounters::kFailureNames.size())
      << "every reason, zeros too";
  EXPECT_EQ(reasons.at("timeout"), 1);
  EXPECT_EQ(reasons.at("plain_http"), 2);
  EXPECT_EQ(reasons.at("unknown_sni"), 0);
  const auto* versions = find_family(families, "veer_tls_connections_total");
  ASSERT_NE(versions, nullptr);
  EXPECT_EQ(by_label(*versions, "version"),
            (std::map<std::string, double>{{"TLSv1.2", 1}, {"TLSv1.3", 8}}));
  const auto* ciphers = find_family(families, "veer_tls_ciphers_total");
  ASSERT_NE(ciphers, nullptr);
  EXPECT_EQ(by_label(*ciphers, "cipher"),
            (std::map<std::string, double>{{"TLS_AES_128_GCM_SHA256", 3},
                                           {"TLS_AES_256_GCM_SHA384", 2}}));
  const auto* expiry = find_family(families, "veer_tls_certificate_expiry_seconds");
  ASSERT_NE(expiry, nullptr) << "a TLS listener: the family, empty without loaded material";
  EXPECT_TRUE(expiry->metric.empty());
}

TEST(TlsMetrics, CiphersPastTheSlotsAreCountedAsOther) {
  runtime::BackendRegistry registry;
  runtime::WorkerMetrics w;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < runtime::TlsCounters::kCipherSlots + 2; ++i)
    names.push_back("CIPHER-" + std::to_string(i));
  for (const std::string& name : names)
    w.tls.count_cipher(name.c_str());
  const auto families = collect(tls_snapshot(registry, true, false), {&w});
  const auto* ciphers = find_family(families, "veer_tls_ciphers_total");
  ASSERT_NE(ciphers, nullptr);
  const auto counts = by_label(*ciphers, "cipher");
  EXPECT_EQ(counts.size(), runtime::TlsCounters::kCipherSlots);
  EXPECT_EQ(counts.at("other"), 3);
  EXPECT_EQ(counts.at("CIPHER-0"), 1);
}

TEST(TlsMetrics, APlainConfigurationHasNoTlsFamilies) {
  runtime::BackendRegistry registry;
  runtime::WorkerMetrics w;
  const auto families = collect(tls_snapshot(registry, false, false), {&w});
  for (const auto& f : families)
    EXPECT_FALSE(f.name.starts_with("veer_tls_")) << f.name;
  const auto* failures = find_family(families, "veer_backend_tls_failures_total");
  ASSERT_NE(failures, nullptr);
  EXPECT_TRUE(failures->metric.empty());
}

TEST(TlsMetrics, HandshakesCountedBeforeTlsWasRemovedStayVisible) {
  runtime::BackendRegistry registry;
  runtime::WorkerMetrics w;
  w.tls.full.add(1);
  const auto families = collect(tls_snapshot(registry, false, false), {&w});
  EXPECT_NE(find_family(families, "veer_tls_handshakes_total"), nullptr);
  EXPECT_EQ(find_family(families, "veer_tls_certificate_expiry_seconds"), nullptr);
}

TEST(TlsMetrics, BackendTlsFailuresForTlsPoolsBesideRetries) {
  runtime::BackendRegistry registry;
  const auto snapshot = tls_snapshot(registry, false, true);
  for (const runtime::PoolRuntime& pool : snapshot->pools) {
    if (pool.name == "secure") pool.backends[0].stats->tls_failures.fetch_add(4);
  }
  const auto families = collect(snapshot, {});
  const auto* failures = find_family(families, "veer_backend_tls_failures_total");
  ASSERT_NE(failures, nullptr);
  ASSERT_EQ(failures->metric.size(), 1u) << "the plain pool's backend has no series";
  EXPECT_EQ(label(failures->metric[0], "pool"), "secure");
  EXPECT_EQ(label(failures->metric[0], "backend"), "127.0.0.1:9001");
  EXPECT_EQ(failures->metric[0].counter.value, 4);
  // Beside veer_backend_retries_total, in the order of the exposition.
  std::size_t retries = 0, tls = 0;
  for (std::size_t i = 0; i < families.size(); ++i) {
    if (families[i].name == "veer_backend_retries_total") retries = i;
    if (families[i].name == "veer_backend_tls_failures_total") tls = i;
  }
  EXPECT_EQ(tls, retries + 1);
}

// --- GET /api/v1/certificates ----------------------------------------------------------

class FakeRuntime final : public Runtime {
 public:
  FakeRuntime() {
    conf::LoadResult loaded = conf::load_config_string(
        "[listeners.public]\naddress = \"127.0.0.1:8443\"\n"
        "  [[listeners.public.routes]]\n  target = \"blue\"\n"
        "[pools.blue]\nbackends = [\"127.0.0.1:9001\"]\n",
        "admin.toml");
    EXPECT_TRUE(loaded.ok());
    file_ = *loaded.config;
    snapshot_ = runtime::build_snapshot(file_, 3, registry_);
  }
  std::shared_ptr<const runtime::Snapshot> snapshot() const override { return snapshot_; }
  const conf::Config& file_config() const override { return file_; }
  const conf::Overrides& overrides() const override { return overrides_; }
  const conf::OverrideReport& override_report() const override { return report_; }
  bool ready() const override { return true; }
  Outcome apply(conf::Overrides, std::optional<conf::Duration>) override { return {}; }
  Outcome reload() override { return {}; }
  void count_change(bool) override {}
  std::optional<std::string> metrics() override { return std::nullopt; }
  std::map<std::string, std::uint64_t> split_assignments(const std::string&) override { return {}; }
  std::map<std::string, admin::PolicyRequests> policy_requests() override { return {}; }
  const std::map<std::string, runtime::RolloutRecord>& rollouts() const override {
    return rollouts_;
  }
  RolloutResult start_rollout(conf::RolloutConfig) override { return {400, "no rollouts", 1}; }
  RolloutResult act_on_rollout(const std::string&, runtime::RolloutAction) override {
    return {404, "no rollouts", 1};
  }
  RolloutResult forget_rollout(const std::string&) override { return {404, "no rollouts", 1}; }
  std::map<std::string, runtime::RolloutRecord> rollouts_;

 private:
  runtime::BackendRegistry registry_;
  conf::Config file_;
  std::shared_ptr<const runtime::Snapshot> snapshot_;
  conf::Overrides overrides_;
  conf::OverrideReport report_;
};

AdminReply get(Api& api, const std::string& target, const std::string& authorization = "") {
  AdminRequest request;
  request.method = "GET";
  request.target = target;
  request.host = "127.0.0.1:9901";
  request.authorization = authorization;
  return api.handle(request);
}

TEST(CertificatesEndpoint, ListedAndAnsweredWithTheVersionAndAToken) {
  FakeRuntime runtime;
  conf::AdminConfig config;
  config.audit_log = "/dev/null";
  config.tokens.push_back(conf::AdminToken{"ops", "0123456789abcdef-token"});
  Api api(runtime, config);
  EXPECT_EQ(get(api, "/api/v1/certificates").status, 401u);
  const AdminReply reply = get(api, "/api/v1/certificates", "Bearer 0123456789abcdef-token");
  EXPECT_EQ(reply.status, 200u) << reply.body;
  EXPECT_EQ(reply.etag, 3u);
  EXPECT_EQ(json::parse(reply.body), json::parse(R"({"listeners": [], "version": 3})"));
  const AdminReply index = get(api, "/api/v1", "Bearer 0123456789abcdef-token");
  EXPECT_NE(index.body.find("\"/api/v1/certificates\""), std::string::npos) << index.body;
}

}  // namespace
}  // namespace veer::admin
