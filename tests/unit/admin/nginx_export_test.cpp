// The nginx export (admin/nginx_export.hpp): each strategy, backup and passive health,
// split percentages against veer's bucket ranges, overrides, limits, TLS, the WebSocket
// map, gaps with their summary, and the version switch. nginx itself checks the same
// output in tests/integration/nginx_export_test.cpp.
#include "admin/nginx_export.hpp"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "conf/load.hpp"
#include "strategies/split_buckets.hpp"

namespace veer::admin {
namespace {

const char* const kListener = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  path_prefix = "/"
  target = "rpc"
)";

conf::Config load(const std::string& toml) {
  conf::LoadResult result = conf::load_config_string(toml, "test.toml");
  std::string errors;
  for (const auto& e : result.errors)
    errors += e.to_string() + "\n";
  EXPECT_TRUE(result.ok()) << errors << toml;
  return result.ok() ? std::move(*result.config) : conf::Config{};
}

NginxExport exported(const std::string& toml, NginxVersion version = {}) {
  NginxExportOptions options;
  options.version = version;
  return export_nginx(load(toml), options);
}

// The block that starts with `head` ("upstream rpc {"), up to its closing brace.
std::string block(const std::string& text, const std::string& head) {
  const std::size_t begin = text.find(head);
  if (begin == std::string::npos) return "";
  int depth = 0;
  for (std::size_t i = begin; i < text.size(); ++i) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return text.substr(begin, i + 1 - begin);
  }
  return "";
}

std::string pool(const std::string& strategy, const std::string& extra = "") {
  return std::string(kListener) + "[pools.rpc]\nstrategy = \"" + strategy + "\"\n" + extra +
         "backends = [{ address = \"127.0.0.1:19001\", weight = 1 },"
         " { address = \"127.0.0.1:19002\", weight = 3 },"
         " { address = \"127.0.0.1:19009\", backup = true }]\n";
}

bool has_gap(const NginxExport& e, const std::string& part) {
  for (const NginxExportGap& g : e.gaps) {
    if (g.what.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(NginxExport, VersionsParseAndOrder) {
  EXPECT_EQ(parse_nginx_version("1.22"), (NginxVersion{1, 22, 0}));
  EXPECT_EQ(parse_nginx_version("1.25.3"), (NginxVersion{1, 25, 3}));
  for (const char* bad :
       {"", "1", "2.0", "1.x", "1.22.1.1", "1..2", "v1.22", "1.22 ", "1.13.12", "0.8"})
    EXPECT_FALSE(parse_nginx_version(bad)) << bad;
  EXPECT_LT(*parse_nginx_version("1.17.0"), *parse_nginx_version("1.17.1"));
  EXPECT_EQ(to_string(NginxVersion{}), "1.22.0");
}

TEST(NginxExport, EachStrategyMapsToItsBalancer) {
  const std::string rr = block(exported(pool("round_robin")).text, "upstream rpc {");
  EXPECT_EQ(rr.find("least_conn"), std::string::npos);
  EXPECT_EQ(rr.find("weight="), std::string::npos) << "veer's round_robin ignores weights";
  const std::string lc = block(exported(pool("least_connections")).text, "upstream rpc {");
  EXPECT_NE(lc.find("    least_conn;"), std::string::npos) << lc;
  const std::string w = block(exported(pool("weighted")).text, "upstream rpc {");
  EXPECT_NE(w.find("server 127.0.0.1:19002 weight=3 max_fails=0;"), std::string::npos) << w;
  const std::string ip = block(exported(pool("ip_hash")).text, "upstream rpc {");
  EXPECT_NE(ip.find("hash $remote_addr consistent;"), std::string::npos) << ip;
  EXPECT_EQ(ip.find("\n    ip_hash;"), std::string::npos);
}

TEST(NginxExport, HashKeysFallBackToTheClientAddressAsVeerDoes) {
  const std::string header = exported(pool("ip_hash", "hash_key = \"header:X-Api-Key\"\n")).text;
  const std::string map = block(header, "map $http_x_api_key ");
  EXPECT_NE(map.find("\"\" $remote_addr;"), std::string::npos) << map;
  EXPECT_NE(map.find("default $http_x_api_key;"), std::string::npos) << map;
  EXPECT_NE(header.find("hash $veer_key_header_x_api_key consistent;"), std::string::npos);
  const std::string cookie = exported(pool("ip_hash", "hash_key = \"cookie:session-id\"\n")).text;
  EXPECT_NE(cookie.find("map $http_cookie $veer_cookie_session_id"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("session\\\\-id=(?<veer_c"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("hash $veer_key_cookie_session_id consistent;"), std::string::npos);
}

TEST(NginxExport, LeastResponseTimeIsAGapBefore131) {
  const NginxExport old = exported(pool("least_response_time"));
  EXPECT_NE(block(old.text, "upstream rpc {").find("least_conn;"), std::string::npos);
  EXPECT_TRUE(has_gap(old, "least_response_time"));
  const NginxExport next = exported(pool("least_response_time"), NginxVersion{1, 31, 0});
  EXPECT_NE(block(next.text, "upstream rpc {").find("least_time header;"), std::string::npos);
  EXPECT_FALSE(has_gap(next, "least_response_time"));
}

TEST(NginxExport, BackupAndPassiveHealth) {
  const std::string passive = "outlier = { consecutive_failures = 4, base_ejection = \"20s\" }\n";
  const NginxExport e = exported(pool("least_connections", passive));
  const std::string up = block(e.text, "upstream rpc {");
  EXPECT_NE(up.find("server 127.0.0.1:19001 max_fails=4 fail_timeout=20s;"), std::string::npos)
      << up;
  EXPECT_NE(up.find("server 127.0.0.1:19009 max_fails=4 fail_timeout=20s backup;"),
            std::string::npos);
  // Without an outlier table veer never ejects on failed requests; nginx would after one.
  EXPECT_NE(block(exported(pool("round_robin")).text, "upstream rpc {").find("max_fails=0"),
            std::string::npos);
  // nginx's hash takes no backup servers.
  const NginxExport hashed = exported(pool("ip_hash"));
  EXPECT_TRUE(has_gap(hashed, "backup backend 127.0.0.1:19009"));
  EXPECT_NE(block(hashed.text, "upstream rpc {").find("# server 127.0.0.1:19009"),
            std::string::npos);
}

TEST(NginxExport, ActiveHealthSlowStartAndRetryBudgetAreGaps) {
  const std::string extra =
      "health = { type = \"jsonrpc\", interval = \"2s\", max_lag_blocks = 8 }\n"
      "slow_start = \"10s\"\nretries = { attempts = 3 }\n";
  const NginxExport e = exported(pool("round_robin", extra));
  EXPECT_TRUE(has_gap(e, "active health check (jsonrpc eth_blockNumber"));
  EXPECT_TRUE(has_gap(e, "slow_start 10s"));
  EXPECT_TRUE(has_gap(e, "retry budget"));
  EXPECT_TRUE(has_gap(e, "panic_threshold 50%"));
  EXPECT_NE(e.text.find("proxy_next_upstream_tries 4;"), std::string::npos);
  const NginxExport none = exported(pool("round_robin", "retries = { attempts = 0 }\n"));
  EXPECT_NE(none.text.find("proxy_next_upstream off;"), std::string::npos);
  EXPECT_FALSE(has_gap(none, "retry budget"));
}

std::string split_config(const std::vector<std::uint64_t>& weights, const std::string& extra) {
  std::string toml = kListener;
  std::string targets;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    toml += "[pools.p" + std::to_string(i) +
            "]\nbackends = [\"127.0.0.1:" + std::to_string(19001 + i) + "\"]\n";
    targets += (i == 0 ? "" : ", ") + std::string("p") + std::to_string(i) + " = " +
               std::to_string(weights[i]);
  }
  return toml + "[splits.rpc]\ntargets = { " + targets + " }\n" + extra;
}

// The percentages of split_clients, each target's share of veer's 10,000 buckets.
TEST(NginxExport, SplitPercentagesAreVeersBucketRanges) {
  std::mt19937_64 random(15);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::uint64_t> weights(2 + random() % 5);
    for (auto& w : weights)
      w = random() % 4 == 0 ? 0 : random() % (round < 100 ? 100 : 1'000'000);
    if (std::all_of(weights.begin(), weights.end(), [](auto w) { return w == 0; })) weights[0] = 1;
    const std::string text = exported(split_config(weights, "")).text;
    const std::string clients = block(text, "split_clients");
    ASSERT_FALSE(clients.empty()) << text;
    const std::vector<std::uint32_t> ends = strategies::split_bucket_ends(weights);
    std::string expected;
    std::size_t last = 0;
    for (std::size_t i = 0; i < ends.size(); ++i)
      if (ends[i] > (i == 0 ? 0 : ends[i - 1])) last = i;
    for (std::size_t i = 0; i < ends.size(); ++i) {
      const std::uint32_t size = ends[i] - (i == 0 ? 0 : ends[i - 1]);
      if (size == 0) continue;
      char line[64];
      if (i == last) {
        std::snprintf(line, sizeof line, "        * p%zu;\n", i);
      } else {
        std::snprintf(line, sizeof line, "        %u.%02u%% p%zu;\n", size / 100, size % 100, i);
      }
      expected += line;
    }
    const std::size_t body = clients.find('\n') + 1;
    EXPECT_EQ(clients.substr(body, clients.rfind("    }") - body), expected) << clients;
  }
}

TEST(NginxExport, SplitKeysAndOverrides) {
  const std::string sticky = exported(split_config({90, 10}, "sticky = \"client_ip\"\n")).text;
  EXPECT_NE(sticky.find("split_clients $remote_addr $veer_split_rpc_bucket"), std::string::npos)
      << sticky;
  EXPECT_NE(sticky.find("proxy_pass http://$veer_split_rpc_bucket;"), std::string::npos);
  const std::string none = exported(split_config({90, 10}, "sticky = \"none\"\n")).text;
  EXPECT_NE(none.find("split_clients $request_id "), std::string::npos);
  const std::string header = exported(split_config({90, 10}, "sticky = \"header:X-User\"\n")).text;
  EXPECT_NE(header.find("split_clients $veer_key_header_x_user "), std::string::npos);
  const std::string cookie = exported(split_config({90, 10}, "sticky = \"cookie:uid\"\n")).text;
  EXPECT_NE(cookie.find("split_clients $veer_key_cookie_uid "), std::string::npos);

  const std::string both =
      exported(
          split_config({100, 0},
                       "override_header = \"X-Veer-Version\"\noverride_cookie = \"veer_version\"\n"
                       "target_header = \"X-Veer-Pool\"\n"))
          .text;
  const std::string by_cookie =
      block(both, "map $veer_cookie_veer_version $veer_split_rpc_by_cookie");
  EXPECT_NE(by_cookie.find("\"~^p1$\" p1;"), std::string::npos) << both;
  EXPECT_NE(by_cookie.find("default $veer_split_rpc_bucket;"), std::string::npos);
  const std::string by_header = block(both, "map $http_x_veer_version $veer_split_rpc_pool");
  EXPECT_NE(by_header.find("\"\" $veer_split_rpc_by_cookie;"), std::string::npos) << by_header;
  EXPECT_NE(by_header.find("\"~^p0$\" p0;"), std::string::npos);
  EXPECT_NE(by_header.find("default $veer_split_rpc_bucket;"), std::string::npos);
  EXPECT_NE(both.find("proxy_pass http://$veer_split_rpc_pool;"), std::string::npos);
  EXPECT_NE(both.find("add_header X-Veer-Pool $veer_split_rpc_pool always;"), std::string::npos);
  // 100/0: the whole range is p0's, written as "*"; p1 only by override.
  EXPECT_NE(block(both, "split_clients").find("* p0;"), std::string::npos);
  EXPECT_EQ(block(both, "split_clients").find("p1"), std::string::npos);
}

const char* const kLimits = R"(
[limits.per_client]
rate = "50/s"
burst = 100
ipv6_prefix = 128
[limits.per_key]
rate = "600/h"
burst = 20
delay = 10
key = ["client_ip", "header:X-Api-Key"]
max_keys = 100000
ipv6_prefix = 128
[limits.odd]
rate = "7/h"
dry_run = true
ipv6_prefix = 128
[listeners.public]
address = "127.0.0.1:8545"
limits = ["per_client"]
max_connections_per_client = 8
  [[listeners.public.routes]]
  path_prefix = "/archive"
  target = "rpc"
  limits = ["per_key"]
  [[listeners.public.routes]]
  path_prefix = "/"
  target = "rpc"
  [[listeners.public.routes]]
  path_prefix = "/dry"
  target = "rpc"
[pools.rpc]
backends = ["127.0.0.1:19001"]
)";

TEST(NginxExport, RateLimitsAndConnectionLimits) {
  const NginxExport e = exported(kLimits);
  EXPECT_NE(
      e.text.find("limit_req_zone $binary_remote_addr zone=veer_limit_per_client:63m rate=50r/s;"),
      std::string::npos)
      << e.text;
  EXPECT_NE(e.text.find("limit_req_zone $binary_remote_addr|$veer_key_header_x_api_key "
                        "zone=veer_limit_per_key:7m rate=10r/m;"),
            std::string::npos);
  EXPECT_NE(e.text.find("rate=1r/m;"), std::string::npos);
  EXPECT_TRUE(has_gap(e, "rate 7/h"));
  EXPECT_NE(e.text.find("limit_req_status 429;"), std::string::npos);
  const std::string archive = block(e.text, "location /archive {");
  EXPECT_NE(archive.find("limit_req zone=veer_limit_per_client burst=100 nodelay;"),
            std::string::npos)
      << archive;
  EXPECT_NE(archive.find("limit_req zone=veer_limit_per_key burst=30 delay=20;"),
            std::string::npos);
  EXPECT_NE(e.text.find("limit_conn_zone $binary_remote_addr zone=veer_conn_public:10m;"),
            std::string::npos);
  EXPECT_NE(e.text.find("limit_conn veer_conn_public 8;"), std::string::npos);
  // "/dry" comes after "/": veer never reaches it, so no location is written for it.
  EXPECT_EQ(e.text.find("location /dry"), std::string::npos);
  EXPECT_NE(e.text.find("route 3 (/dry) is never reached"), std::string::npos);
  // The default IPv6 /64 grouping has no nginx equivalent.
  std::string grouped = kLimits;
  grouped.replace(grouped.find("ipv6_prefix = 128"), 17, "ipv6_prefix = 64");
  EXPECT_TRUE(has_gap(exported(grouped), "(IPv6): nginx keys each whole address"));
}

TEST(NginxExport, DryRunNeeds1171) {
  const std::string toml = std::string(kListener) +
                           "limits = [\"trial\"]\n[limits.trial]\nrate = \"5/s\"\ndry_run = true\n"
                           "ipv6_prefix = 128\n[pools.rpc]\nbackends = [\"127.0.0.1:19001\"]\n";
  // The listener's limits key must come before its routes in TOML: rebuild the text.
  const std::string text =
      "[limits.trial]\nrate = \"5/s\"\ndry_run = true\nipv6_prefix = 128\n"
      "[listeners.public]\naddress = \"127.0.0.1:8545\"\nlimits = [\"trial\"]\n"
      "  [[listeners.public.routes]]\n  target = \"rpc\"\n"
      "[pools.rpc]\nbackends = [\"127.0.0.1:19001\"]\n";
  (void)toml;
  const NginxExport now = exported(text);
  EXPECT_NE(now.text.find("limit_req_dry_run on;"), std::string::npos) << now.text;
  const NginxExport old = exported(text, NginxVersion{1, 16, 1});
  EXPECT_EQ(old.text.find("limit_req_dry_run on"), std::string::npos);
  EXPECT_EQ(old.text.find("limit_req zone=veer_limit_trial"), std::string::npos);
  EXPECT_TRUE(has_gap(old, "limit_req_dry_run needs nginx 1.17.1"));
}

const char* const kTls = R"(
[listeners.tls]
address = "127.0.0.1:8443"
trusted_proxies = ["10.0.0.0/8"]
  [listeners.tls.tls]
  cert = "/certs/a.pem"
  key = "/certs/a.key"
  certificates = [ { cert = "/certs/a-rsa.pem", key = "/certs/a-rsa.key" },
                   { cert = "/certs/b.pem", key = "/certs/b.key" } ]
  min_version = "1.3"
  client_ca = "/certs/ca.pem"
  verify = "optional"
  client_subject_header = "X-Client-Subject"
  [[listeners.tls.routes]]
  target = "secure"
[pools.secure]
backends = ["127.0.0.1:19001"]
tls = { verify = true, ca = "/certs/upstream-ca.pem", sni = "node.internal" }
)";

TEST(NginxExport, TlsListenersAndPools) {
  NginxExportOptions options;
  options.certificate_names = [](const std::string& file) -> std::vector<std::string> {
    if (file == "/certs/b.pem") return {"b.example.org"};
    return {"a.example.org"};
  };
  const NginxExport e = export_nginx(load(kTls), options);
  const std::string first = block(e.text, "server {");
  EXPECT_NE(first.find("listen 127.0.0.1:8443 default_server ssl;"), std::string::npos) << e.text;
  // RSA and ECDSA for the same names side by side; b.example.org by SNI in its own block.
  EXPECT_NE(first.find("ssl_certificate /certs/a.pem;"), std::string::npos);
  EXPECT_NE(first.find("ssl_certificate /certs/a-rsa.pem;"), std::string::npos);
  EXPECT_EQ(first.find("/certs/b.pem"), std::string::npos);
  EXPECT_NE(e.text.find("server_name b.example.org;\n"), std::string::npos);
  EXPECT_NE(first.find("ssl_protocols TLSv1.3;"), std::string::npos);
  EXPECT_NE(first.find("ssl_verify_client optional;"), std::string::npos);
  EXPECT_NE(first.find("ssl_client_certificate /certs/ca.pem;"), std::string::npos);
  EXPECT_NE(first.find("proxy_set_header X-Client-Subject $veer_tls_client_subject;"),
            std::string::npos);
  EXPECT_NE(first.find("set_real_ip_from 10.0.0.0/8;"), std::string::npos);
  EXPECT_NE(first.find("real_ip_recursive on;"), std::string::npos);
  EXPECT_NE(first.find("proxy_pass https://secure;"), std::string::npos);
  EXPECT_NE(first.find("proxy_ssl_trusted_certificate /certs/upstream-ca.pem;"), std::string::npos);
  EXPECT_NE(first.find("proxy_ssl_name node.internal;"), std::string::npos);
  // Without the names, the SNI certificate cannot get its block: a gap.
  EXPECT_TRUE(has_gap(export_nginx(load(kTls), NginxExportOptions{}), "its names are unknown"));
}

TEST(NginxExport, WebSocketUpgradeKeepsKeepAlive) {
  const std::string text = exported(pool("round_robin")).text;
  const std::string map = block(text, "map $http_upgrade $veer_connection_upgrade");
  EXPECT_NE(map.find("\"~*^websocket$\" upgrade;"), std::string::npos) << map;
  EXPECT_NE(map.find("default \"\";"), std::string::npos);
  EXPECT_NE(text.find("proxy_set_header Connection $veer_connection_upgrade;"), std::string::npos);
  EXPECT_NE(text.find("proxy_http_version 1.1;"), std::string::npos);
  EXPECT_NE(text.find("keepalive 1024;"), std::string::npos);
}

TEST(NginxExport, EveryGapIsInTheSummaryAndWhereItApplies) {
  const std::string toml = pool("ip_hash", "health = { type = \"tcp\" }\nslow_start = \"5s\"\n") +
                           "[admin]\naddress = \"127.0.0.1:9901\"\n";
  const NginxExport e = exported(toml);
  ASSERT_GE(e.gaps.size(), 4u);
  const std::size_t http = e.text.find("\nhttp {");
  const std::string summary = e.text.substr(0, http);
  EXPECT_NE(summary.find(std::to_string(e.gaps.size()) + " gaps:"), std::string::npos) << summary;
  for (const NginxExportGap& gap : e.gaps) {
    EXPECT_NE(summary.find(gap.what), std::string::npos) << gap.what;
    EXPECT_NE(e.text.find("# GAP: " + gap.what, http), std::string::npos) << gap.what;
  }
  // An idle WebSocket outliving the response timeout is a gap (one read timeout in nginx).
  const NginxExport clean = exported("[timeouts]\ntunnel_idle = \"30s\"\n" +
                                     pool("least_connections", "retries = { attempts = 0 }\n"));
  EXPECT_TRUE(clean.gaps.empty()) << clean.gaps.front().what;
  EXPECT_NE(clean.text.find("No gaps"), std::string::npos);
}

TEST(NginxExport, HostsGetServerBlocksAndForwardedHeadersMatchVeer) {
  const std::string toml = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  host = "Archive.example.org"
  target = "archive"
  [[listeners.public.routes]]
  path_prefix = "/ws"
  target = "rpc"
[pools.rpc]
backends = ["127.0.0.1:19001"]
[pools.archive]
backends = ["127.0.0.1:19002"]
)";
  const std::string text = exported(toml).text;
  const std::string any = block(text, "server {");
  EXPECT_NE(any.find("location /ws {"), std::string::npos);
  EXPECT_NE(any.find("return 404;"), std::string::npos) << any;
  EXPECT_EQ(any.find("archive"), std::string::npos);
  const std::size_t second = text.find("server {", text.find("server {") + 1);
  const std::string host = block(text.substr(second), "server {");
  EXPECT_NE(host.find("server_name archive.example.org;"), std::string::npos) << host;
  EXPECT_NE(host.find("proxy_pass http://archive;"), std::string::npos);
  EXPECT_EQ(host.find("location /ws"), std::string::npos)
      << "the host route takes every path first";
  EXPECT_NE(any.find("proxy_set_header X-Forwarded-For $remote_addr;"), std::string::npos);
  EXPECT_NE(any.find("proxy_set_header Forwarded \"\";"), std::string::npos);
  EXPECT_NE(any.find("proxy_set_header Host $http_host;"), std::string::npos);
}

}  // namespace
}  // namespace veer::admin

namespace veer::admin {
namespace {

// Below a feature's version the export leaves it out and says so.
TEST(NginxExport, OlderNginxVersionsTurnFeaturesIntoGaps) {
  const std::string toml =
      std::string("[limits.held]\nrate = \"5/s\"\nburst = 2\ndelay = 3\nipv6_prefix = 128\n") +
      "[listeners.public]\naddress = \"127.0.0.1:8545\"\nlimits = [\"held\"]\n"
      "  [[listeners.public.routes]]\n  target = \"rpc\"\n"
      "[pools.rpc]\nbackends = [\"127.0.0.1:19001\"]\n";
  const NginxExport now = exported(toml);
  EXPECT_NE(now.text.find("limit_req zone=veer_limit_held burst=5 delay=2;"), std::string::npos)
      << now.text;
  EXPECT_NE(now.text.find("keepalive_timeout 1m;\n    }"), std::string::npos);
  const NginxExport old = exported(toml, NginxVersion{1, 14, 2});
  EXPECT_NE(old.text.find("limit_req zone=veer_limit_held burst=5;"), std::string::npos)
      << old.text;
  EXPECT_TRUE(has_gap(old, "limit_req delay= needs nginx 1.15.7"));
  EXPECT_TRUE(has_gap(old, "keepalive_timeout needs nginx 1.15.3"));
  EXPECT_NE(old.text.find("for nginx 1.14.2."), std::string::npos);
}

TEST(NginxExport, PortZeroIsAGap) {
  std::string toml = pool("round_robin");
  toml.replace(toml.find("127.0.0.1:8545"), 14, "127.0.0.1:0");
  const NginxExport e = exported(toml);
  EXPECT_NE(e.text.find("listen 127.0.0.1:80 default_server;"), std::string::npos) << e.text;
  EXPECT_TRUE(has_gap(e, "port 0"));
}

// Review of issue 15's export: each case below made nginx differ from veer, or refuse it.

// veer's "/api/" does not match "/api": that path goes to the first route that matches it,
// where nginx would redirect it to /api/.
TEST(NginxExport, APrefixEndingInASlashGetsAnExactLocationForItsBarePath) {
  const std::string toml = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  path_prefix = "/api/"
  target = "api"
  [[listeners.public.routes]]
  path_prefix = "/v1/"
  target = "api"
  [[listeners.public.routes]]
  path_prefix = "/v1"
  target = "api"
  [[listeners.public.routes]]
  path_prefix = "/"
  target = "site"
[pools.api]
backends = ["127.0.0.1:19001"]
[pools.site]
backends = ["127.0.0.1:19002"]
)";
  const std::string text = exported(toml).text;
  const std::string exact = block(text, "location = /api {");
  EXPECT_NE(exact.find("proxy_pass http://site;"), std::string::npos) << text;
  EXPECT_EQ(text.find("location = /v1 {"), std::string::npos) << "/v1 has its own route";
  // No route for the bare path: veer's 404.
  const std::string only = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  path_prefix = "/api/"
  target = "api"
[pools.api]
backends = ["127.0.0.1:19001"]
)";
  const std::string none = block(exported(only).text, "location = /api {");
  EXPECT_NE(none.find("return 404;"), std::string::npos) << exported(only).text;
}

TEST(NginxExport, NoIdleUpstreamConnectionsWritesNoKeepalive) {
  const std::string up =
      block(exported(std::string("[limits]\nmax_idle_upstream = 0\n") + pool("round_robin")).text,
            "upstream rpc {");
  ASSERT_FALSE(up.empty());
  EXPECT_EQ(up.find("        keepalive "), std::string::npos) << up;
  EXPECT_EQ(up.find("        keepalive_timeout"), std::string::npos) << up;
  EXPECT_NE(block(exported(pool("round_robin")).text, "upstream rpc {").find("keepalive 1024;"),
            std::string::npos);
}

TEST(NginxExport, BackupsWithoutAPrimaryAreWrittenAsPrimaries) {
  for (const char* strategy : {"round_robin", "ip_hash"}) {
    const std::string toml = std::string(kListener) + "[pools.rpc]\nstrategy = \"" + strategy +
                             "\"\nbackends = [{ address = \"127.0.0.1:19001\", backup = true },"
                             " { address = \"127.0.0.1:19002\", backup = true }]\n";
    const NginxExport e = exported(toml);
    const std::string up = block(e.text, "upstream rpc {");
    EXPECT_NE(up.find("server 127.0.0.1:19001 max_fails=0;"), std::string::npos) << up;
    EXPECT_NE(up.find("server 127.0.0.1:19002 max_fails=0;"), std::string::npos) << up;
    EXPECT_EQ(up.find(" backup;"), std::string::npos) << up;
    EXPECT_FALSE(has_gap(e, "backup backend"));
  }
}

// A location's proxy_hide_header replaces every inherited one.
TEST(NginxExport, ASplitsTargetHeaderStillHidesTheBackendsRequestId) {
  const std::string text =
      exported(split_config({50, 50}, "target_header = \"X-Veer-Pool\"\n")).text;
  const std::string location = block(text, "location / {");
  EXPECT_NE(location.find("proxy_hide_header X-Veer-Pool;"), std::string::npos) << location;
  EXPECT_NE(location.find("proxy_hide_header X-Request-Id;"), std::string::npos) << location;
  EXPECT_NE(location.find("add_header X-Request-Id $veer_request_id always;"), std::string::npos);
}

TEST(NginxExport, HeldBackendsAreDown) {
  NginxExportOptions options;
  options.held[{"rpc", "127.0.0.1:19001"}] = conf::AdminState::drain;
  options.held[{"rpc", "127.0.0.1:19009"}] = conf::AdminState::down;
  const std::string up =
      block(export_nginx(load(pool("weighted")), options).text, "upstream rpc {");
  EXPECT_NE(up.find("server 127.0.0.1:19001 down;"), std::string::npos) << up;
  EXPECT_NE(up.find("server 127.0.0.1:19009 down backup;"), std::string::npos) << up;
  EXPECT_NE(up.find("server 127.0.0.1:19002 weight=3 max_fails=0;"), std::string::npos) << up;
  EXPECT_NE(up.find("nginx has no drain"), std::string::npos) << up;
}

TEST(NginxExport, AnyIpv6AddressAlsoTakesIpv4AsVeerDoes) {
  std::string toml = pool("round_robin");
  toml.replace(toml.find("127.0.0.1:8545"), 14, "[::]:8545");
  toml.insert(toml.find("[pools.rpc]"),
              "  [[listeners.public.routes]]\n  host = \"a.example.org\"\n  target = \"rpc\"\n");
  const std::string text = exported(toml).text;
  EXPECT_NE(text.find("listen [::]:8545 default_server ipv6only=off;"), std::string::npos) << text;
  // Once per address: the host's server block has the plain listen.
  EXPECT_NE(text.find("listen [::]:8545;"), std::string::npos) << text;
}

TEST(NginxExport, PortZeroListenersGetDistinctPorts) {
  const std::string toml = R"(
[listeners.a]
address = "127.0.0.1:0"
  [[listeners.a.routes]]
  target = "rpc"
[listeners.b]
address = "127.0.0.1:0"
  [[listeners.b.routes]]
  target = "rpc"
[listeners.c]
address = "127.0.0.1:81"
  [[listeners.c.routes]]
  target = "rpc"
[pools.rpc]
backends = ["127.0.0.1:19001"]
)";
  const NginxExport e = exported(toml);
  EXPECT_NE(e.text.find("listen 127.0.0.1:80 default_server;"), std::string::npos) << e.text;
  EXPECT_NE(e.text.find("listen 127.0.0.1:82 default_server;"), std::string::npos) << e.text;
  EXPECT_TRUE(has_gap(e, "82 written"));
}

TEST(NginxExport, BackendHostNamesAreWrittenAsTheAddressVeerResolved) {
  std::string toml = pool("round_robin");
  toml.replace(toml.find("127.0.0.1:19002"), 15, "localhost:19002");
  const conf::Config config = load(toml);
  ASSERT_FALSE(config.pools.empty());
  const std::string resolved = config.pools[0].backends[1].resolved.to_string();
  ASSERT_FALSE(resolved.empty());
  const std::string up = block(export_nginx(config, {}).text, "upstream rpc {");
  EXPECT_NE(up.find("server " + resolved + " "), std::string::npos) << up;
  EXPECT_EQ(up.find("server localhost"), std::string::npos) << up;
  EXPECT_NE(up.find("# backend localhost:19002, resolved at load"), std::string::npos) << up;
}

TEST(NginxExport, AMixedTlsSplitsSchemeMapIsWrittenOnce) {
  const std::string toml = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  path_prefix = "/a"
  target = "rpc"
  [[listeners.public.routes]]
  path_prefix = "/b"
  target = "rpc"
[pools.plain]
backends = ["127.0.0.1:19001"]
[pools.secure]
backends = ["127.0.0.1:19002"]
tls = { verify = false }
[splits.rpc]
targets = { plain = 50, secure = 50 }
)";
  const std::string text = exported(toml).text;
  EXPECT_NE(text.find("$veer_split_rpc_scheme {"), std::string::npos) << text;
  EXPECT_EQ(text.find("_scheme_2"), std::string::npos) << text;
  std::size_t uses = 0;
  for (std::size_t at = 0;
       (at = text.find("proxy_pass $veer_split_rpc_scheme://", at)) != std::string::npos; ++at)
    ++uses;
  EXPECT_EQ(uses, 2u) << text;
}

}  // namespace
}  // namespace veer::admin
