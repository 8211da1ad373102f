// The nginx export against the real nginx (Debian's, /usr/sbin/nginx): `nginx -t`
// accepts the export of every example config in the repository and of test configs with
// every strategy, split shape, health kind, TLS on both sides, rate and connection
// limits; and GET /api/v1/export/nginx serves the running configuration, runtime
// changes included. Skipped (with the reason) where nginx is not installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "admin/nginx_export.hpp"
#include "conf/load.hpp"
#include "support/admin_client.hpp"
#include "support/test_pki.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

constexpr const char* kNginx = "/usr/sbin/nginx";

#define SKIP_WITHOUT_NGINX()                    \
  if (access(kNginx, X_OK) != 0)                \
  GTEST_SKIP() << kNginx                        \
               << " is not installed (apt-get " \
                  "install nginx-light): nginx -t not run"

// Every file the configuration names, replaced by one in `dir` (certificates issued by
// `pki`), so that nginx -t can open them: the examples name /etc/letsencrypt and the like.
void localize(conf::Config& config, testing::TestPki& pki, const std::string& dir) {
  if (config.server.access_log != "stdout" && config.server.access_log != "off")
    config.server.access_log = dir + "/access.log";
  int n = 0;
  for (conf::ListenerConfig& listener : config.listeners) {
    if (!listener.tls) continue;
    conf::ListenerTlsConfig& tls = *listener.tls;
    auto replace = [&](conf::CertKeyConfig& pair, std::vector<std::string> names,
                       testing::KeyType key) {
      testing::IssueOptions options;
      options.names = std::move(names);
      options.key = key;
      const testing::IssuedCert issued = pki.issue("cert" + std::to_string(++n), options);
      pair.cert = issued.cert;
      pair.key = issued.key;
    };
    replace(tls.default_certificate, {"localhost"}, testing::KeyType::ecdsa);
    for (std::size_t i = 0; i < tls.certificates.size(); ++i) {
      // An "-rsa" certificate pairs with the default's names (RSA and ECDSA side by side).
      const bool rsa = tls.certificates[i].cert.find("rsa") != std::string::npos;
      replace(tls.certificates[i],
              rsa ? std::vector<std::string>{"localhost"}
                  : std::vector<std::string>{"sni" + std::to_string(i) + ".test"},
              rsa ? testing::KeyType::rsa : testing::KeyType::ecdsa);
    }
    if (!tls.client_ca.empty()) tls.client_ca = pki.ca_file();
  }
  for (conf::PoolConfig& pool : config.pools) {
    if (!pool.tls) continue;
    if (!pool.tls->ca.empty()) pool.tls->ca = pki.ca_file();
    if (!pool.tls->cert.empty()) {
      testing::IssueOptions options;
      options.client = true;
      const testing::IssuedCert issued = pki.issue("client" + std::to_string(++n), options);
      pool.tls->cert = issued.cert;
      pool.tls->key = issued.key;
    }
  }
}

// nginx -t on `text`; the output on failure, with the config's lines numbered.
::testing::AssertionResult nginx_accepts(const std::string& text) {
  const std::string dir = make_temp_dir();
  std::filesystem::create_directories(dir + "/logs");
  const std::string file = write_file(dir, "nginx.conf", text);
  const CommandResult result =
      run_command(std::string(kNginx) + " -t -q -p " + dir + "/ -e stderr -c " + file + " 2>&1");
  if (result.exit_code == 0) return ::testing::AssertionSuccess();
  std::string numbered;
  int line = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = text.find('\n', at);
    numbered += std::to_string(++line) + ": " + text.substr(at, end - at) + "\n";
    at = end == std::string::npos ? text.size() : end + 1;
  }
  return ::testing::AssertionFailure() << result.output << numbered;
}

::testing::AssertionResult exports_cleanly(conf::Config config, admin::NginxVersion version = {}) {
  testing::TestPki pki;
  const std::string dir = make_temp_dir();
  localize(config, pki, dir);
  admin::NginxExportOptions options;
  options.version = version;
  options.certificate_names = admin::certificate_file_names;
  return nginx_accepts(admin::export_nginx(config, options).text);
}

// An example file as veer would load it where it is meant to run: docker/'s configs
// name a secret and compose's host names, replaced here as docker_configs_test does.
conf::Config load_file(const std::string& path) {
  std::ifstream in(path);
  std::string toml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string token = write_file(make_temp_dir(), "token", "0123456789abcdef-export\n");
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"/run/secrets/veer_admin_token", token},
        {"\"blue:8080\"", "\"127.0.0.2:8080\""},
        {"\"veer-demo-green-1:8080\"", "\"127.0.0.3:8080\""}}) {
    for (std::size_t at; (at = toml.find(from)) != std::string::npos;)
      toml.replace(at, from.size(), to);
  }
  conf::LoadResult result = conf::load_config_string(toml, path);
  EXPECT_TRUE(result.ok()) << path << ": "
                           << (result.errors.empty() ? "" : result.errors[0].to_string());
  return result.ok() ? std::move(*result.config) : conf::Config{};
}

conf::Config load_text(const std::string& toml) {
  conf::LoadResult result = conf::load_config_string(toml, "test.toml");
  EXPECT_TRUE(result.ok()) << (result.errors.empty() ? "" : result.errors[0].to_string()) << toml;
  return result.ok() ? std::move(*result.config) : conf::Config{};
}

TEST(NginxExportCheck, EveryExampleConfigPassesNginxT) {
  SKIP_WITHOUT_NGINX();
  // conf/veer.toml, docs/examples/ and docker/ (the image's and compose's configs).
  const std::string root = VEER_SOURCE_DIR;
  std::vector<std::string> files{root + "/conf/veer.toml"};
  for (const std::string folder : {"/docs/examples", "/docker"}) {
    if (!std::filesystem::exists(root + folder)) continue;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root + folder)) {
      if (entry.path().extension() == ".toml") files.push_back(entry.path().string());
    }
  }
  ASSERT_GE(files.size(), 3u);
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    EXPECT_TRUE(exports_cleanly(load_file(file)));
    EXPECT_TRUE(exports_cleanly(load_file(file), admin::NginxVersion{1, 16, 1}))
        << "nginx 1.16 features";
  }
}

// Every strategy and health kind, each split shape, TLS on both sides, rate limits of
// every key kind and connection limits, in one file.
const char* const kEverything = R"(
[server]
workers = 2
access_log = "off"

[limits.per_client]
rate = "50/s"
burst = 100
[limits.per_key]
rate = "600/h"
burst = 20
delay = 10
key = ["client_ip", "header:X-Api-Key", "cookie:session-id", "route"]
[limits.odd]
rate = "7/h"
dry_run = true
scope = "cluster"
[cluster]
redis = "127.0.0.1:6379"

[listeners.public]
address = "127.0.0.1:18545"
trusted_proxies = ["10.0.0.0/8", "2001:db8::/32"]
max_connections_per_client = 16
limits = ["per_client"]
  [[listeners.public.routes]]
  host = "rr.example.org"
  target = "rr"
  limits = ["per_key", "odd"]
  [[listeners.public.routes]]
  path_prefix = "/lc"
  target = "lc"
  max_in_flight = 10
  [[listeners.public.routes]]
  path_prefix = "/w"
  target = "weighted"
  [[listeners.public.routes]]
  path_prefix = "/ip"
  target = "by_ip"
  [[listeners.public.routes]]
  path_prefix = "/header"
  target = "by_header"
  [[listeners.public.routes]]
  path_prefix = "/cookie"
  target = "by_cookie"
  [[listeners.public.routes]]
  path_prefix = "/lrt"
  target = "lrt"
  [[listeners.public.routes]]
  path_prefix = "/split-ip"
  target = "split_ip"
  [[listeners.public.routes]]
  path_prefix = "/split-header"
  target = "split_header"
  [[listeners.public.routes]]
  path_prefix = "/split-cookie"
  target = "split_cookie"
  [[listeners.public.routes]]
  path_prefix = "/split-none"
  target = "split_none"
  [[listeners.public.routes]]
  path_prefix = "/"
  target = "split_mixed_tls"

[listeners.proxied]
address = "127.0.0.1:18546"
proxy_protocol = true
trusted_proxies = ["127.0.0.1/32"]
max_connections_per_client = 4
  [[listeners.proxied.routes]]
  target = "rr"

[pools.rr]
strategy = "round_robin"
backends = ["127.0.0.1:19001", { address = "127.0.0.1:19002", backup = true }]
health = { type = "http", path = "/health", interval = "2s" }
[pools.lc]
strategy = "least_connections"
backends = ["127.0.0.1:19003", "127.0.0.1:19004"]
health = { type = "tcp" }
outlier = { consecutive_failures = 3, base_ejection = "10s" }
[pools.weighted]
strategy = "weighted"
backends = [{ address = "127.0.0.1:19005", weight = 3 }, { address = "127.0.0.1:19006", weight = 0 }]
health = { type = "jsonrpc", max_lag_blocks = 8 }
slow_start = "10s"
[pools.by_ip]
strategy = "ip_hash"
backends = ["127.0.0.1:19007", { address = "[::1]:19008", backup = true }]
[pools.by_header]
strategy = "ip_hash"
hash_key = "header:X-Api_Key"
backends = ["127.0.0.1:19009"]
[pools.by_cookie]
strategy = "ip_hash"
hash_key = "cookie:session.id"
backends = ["127.0.0.1:19010"]
[pools.lrt]
strategy = "least_response_time"
backends = ["127.0.0.1:19011"]
retries = { attempts = 0 }
[pools.blue]
backends = ["127.0.0.1:19012"]
[pools.green]
backends = ["127.0.0.1:19013"]
[pools.secure]
backends = ["127.0.0.1:19014"]
tls = { verify = true, ca = "/nowhere/ca.pem", sni = "node.internal", cert = "/nowhere/c.pem", key = "/nowhere/c.key" }
[pools.secure_system_ca]
backends = ["127.0.0.1:19015"]
tls = { verify = true }

[splits.split_ip]
targets = { blue = 90, green = 10 }
sticky = "client_ip"
override_header = "X-Veer-Version"
target_header = "X-Veer-Pool"
[splits.split_header]
targets = { blue = 1, green = 2, lc = 3 }
sticky = "header:X-User"
override_cookie = "veer-version"
[splits.split_cookie]
targets = { blue = 0, green = 100 }
sticky = "cookie:uid"
override_header = "X-Veer-Version"
override_cookie = "veer_version"
failover = false
[splits.split_none]
targets = { blue = 1, green = 1 }
sticky = "none"
drain_tunnels_after = "30s"
[splits.split_mixed_tls]
targets = { blue = 50, secure = 50 }

[listeners.tls]
address = "127.0.0.1:18443"
  [listeners.tls.tls]
  cert = "/nowhere/a.pem"
  key = "/nowhere/a.key"
  certificates = [ { cert = "/nowhere/a-rsa.pem", key = "/nowhere/a-rsa.key" },
                   { cert = "/nowhere/b.pem", key = "/nowhere/b.key" } ]
  min_version = "1.3"
  ciphersuites = "TLS_AES_128_GCM_SHA256"
  curves = "X25519:P-256"
  client_ca = "/nowhere/ca.pem"
  verify = "required"
  client_subject_header = "X-Client-Subject"
  client_fingerprint_header = "X-Client-Fingerprint"
  session_cache = 0
  [[listeners.tls.routes]]
  path_prefix = "/secure"
  target = "secure"
  [[listeners.tls.routes]]
  target = "secure_system_ca"

[admin]
address = "127.0.0.1:0"
)";

TEST(NginxExportCheck, EveryStrategySplitHealthTlsAndLimitPassesNginxT) {
  SKIP_WITHOUT_NGINX();
  const conf::Config config = load_text(kEverything);
  EXPECT_TRUE(exports_cleanly(config));
  EXPECT_TRUE(exports_cleanly(config, admin::NginxVersion{1, 16, 1}));
  EXPECT_TRUE(exports_cleanly(config, admin::NginxVersion{1, 14, 0}));
}

// The shapes a review found nginx -t refusing or answering differently: a prefix ending
// in '/', no idle upstream connections, backups only, [::] and several port-0 listeners,
// a backend by host name, a mixed-TLS split with a target header on two routes.
const char* const kReviewed = R"(
[limits]
max_idle_upstream = 0
[listeners.public]
address = "[::]:18545"
  [[listeners.public.routes]]
  path_prefix = "/api/"
  target = "backups"
  [[listeners.public.routes]]
  path_prefix = "/only/"
  host = "a.example.org"
  target = "named"
  [[listeners.public.routes]]
  path_prefix = "/mixed/"
  target = "mixed"
  [[listeners.public.routes]]
  path_prefix = "/"
  target = "mixed"
[listeners.a]
address = "127.0.0.1:0"
  [[listeners.a.routes]]
  path_prefix = "/x/"
  target = "named"
[listeners.b]
address = "127.0.0.1:0"
  [[listeners.b.routes]]
  target = "named"
[pools.backups]
backends = [{ address = "127.0.0.1:19001", backup = true }]
[pools.hashed_backups]
strategy = "ip_hash"
backends = [{ address = "127.0.0.1:19002", backup = true }]
[pools.named]
backends = ["localhost:19003"]
[pools.plain]
backends = ["127.0.0.1:19004"]
[pools.secure]
backends = ["127.0.0.1:19005"]
tls = { verify = false }
[splits.mixed]
targets = { plain = 50, secure = 50 }
target_header = "X-Veer-Pool"
)";

TEST(NginxExportCheck, ReviewedShapesPassNginxT) {
  SKIP_WITHOUT_NGINX();
  const conf::Config config = load_text(kReviewed);
  EXPECT_TRUE(exports_cleanly(config));
  EXPECT_TRUE(exports_cleanly(config, admin::NginxVersion{1, 14, 0}));
  admin::NginxExportOptions options;
  options.held[{"plain", "127.0.0.1:19004"}] = conf::AdminState::drain;
  options.held[{"backups", "127.0.0.1:19001"}] = conf::AdminState::down;
  EXPECT_TRUE(nginx_accepts(admin::export_nginx(config, options).text));
}

TEST(NginxExportCheck, TheAdminEndpointServesTheRunningConfiguration) {
  SKIP_WITHOUT_NGINX();
  const std::string toml =
      std::string("[admin]\naddress = \"127.0.0.1:0\"\ntokens = [ { name = \"t\", token = \"") +
      kToken + R"(" } ]
[listeners.public]
address = "127.0.0.1:0"
  [[listeners.public.routes]]
  target = "rpc"
[pools.blue]
backends = ["127.0.0.1:19001"]
[pools.green]
backends = ["127.0.0.1:19002"]
[splits.rpc]
targets = { blue = 90, green = 10 }
override_header = "X-Veer-Version"
)";
  Admin admin = start_admin_toml(toml);
  ASSERT_NE(admin.port, 0);
  auto before = admin.call("GET", "/api/v1/export/nginx");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);
  EXPECT_NE(before->header("Content-Type").find("text/plain"), std::string::npos);
  EXPECT_NE(before->body.find("90.00% blue;"), std::string::npos) << before->body;
  EXPECT_EQ(before->body.find("127.0.0.1:19077"), std::string::npos);

  auto put = admin.call("PUT", "/api/v1/pools/green/backends/127.0.0.1:19077", R"({"weight": 2})");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200) << put->body;
  put = admin.call("PUT", "/api/v1/splits/rpc", R"({"targets": {"blue": 25, "green": 75}})");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200) << put->body;

  auto after = admin.call("GET", "/api/v1/export/nginx?nginx_version=1.25.3");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_NE(after->body.find("server 127.0.0.1:19077"), std::string::npos) << after->body;
  EXPECT_NE(after->body.find("25.00% blue;"), std::string::npos) << after->body;
  EXPECT_NE(after->body.find("* green;"), std::string::npos);
  EXPECT_NE(after->body.find("for nginx 1.25.3"), std::string::npos);
  EXPECT_TRUE(nginx_accepts(after->body));

  // Drain and down are runtime holds: the export writes those backends down.
  auto patch =
      admin.call("PATCH", "/api/v1/pools/blue/backends/127.0.0.1:19001", R"({"state": "drain"})");
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->status, 200) << patch->body;
  patch =
      admin.call("PATCH", "/api/v1/pools/green/backends/127.0.0.1:19002", R"({"state": "down"})");
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->status, 200) << patch->body;
  auto held = admin.call("GET", "/api/v1/export/nginx");
  ASSERT_TRUE(held);
  EXPECT_NE(held->body.find("server 127.0.0.1:19001 down;"), std::string::npos) << held->body;
  EXPECT_NE(held->body.find("server 127.0.0.1:19002 down;"), std::string::npos) << held->body;
  EXPECT_NE(held->body.find("server 127.0.0.1:19077 max_fails=0;"), std::string::npos)
      << held->body;
  EXPECT_TRUE(nginx_accepts(held->body));

  auto bad = admin.call("GET", "/api/v1/export/nginx?nginx_version=one");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  auto anonymous = admin.call("GET", "/api/v1/export/nginx", "", {});
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
}

// `veer export nginx FILE`: the text on stdout, gaps on stderr, --strict and bad input.
TEST(NginxExportCheck, TheCommandLine) {
  const std::string dir = make_temp_dir();
  const std::string clean = write_file(dir, "clean.toml", R"(
[timeouts]
tunnel_idle = "30s"
[listeners.public]
address = "127.0.0.1:18545"
  [[listeners.public.routes]]
  target = "rpc"
[pools.rpc]
strategy = "least_connections"
backends = ["127.0.0.1:19001"]
retries = { attempts = 0 }
)");
  const std::string gappy = write_file(dir, "gappy.toml", R"(
[listeners.public]
address = "127.0.0.1:18545"
  [[listeners.public.routes]]
  target = "rpc"
[pools.rpc]
backends = ["127.0.0.1:19001"]
slow_start = "5s"
)");
  const std::string veer = veer_binary();
  CommandResult r = run_command(veer + " export nginx " + clean + " --strict 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("upstream rpc {"), std::string::npos);
  r = run_command(veer + " export nginx " + gappy + " 2>&1 >/dev/null");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("not exported: upstream rpc: slow_start 5s"), std::string::npos)
      << r.output;
  r = run_command(veer + " export nginx " + gappy + " --strict >/dev/null 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  r = run_command(veer + " export nginx " + gappy + " --nginx-version 2 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--nginx-version"), std::string::npos) << r.output;
  r = run_command(veer + " export nginx " + dir + "/missing.toml 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  r = run_command(veer + " export haproxy " + clean + " 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  if (access(kNginx, X_OK) == 0) {
    r = run_command(veer + " export nginx " + clean + " > " + dir + "/nginx.conf && mkdir -p " +
                    dir + "/logs && " + kNginx + " -t -q -p " + dir + "/ -e stderr -c " + dir +
                    "/nginx.conf 2>&1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
}

}  // namespace
}  // namespace veer::test
