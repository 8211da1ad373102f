// veer and nginx running veer's nginx export of the same configuration, in front of the
// same test backends (issue 15): round robin and weighted pools give the same shares per
// backend, a split sends every sticky key to the same target pool in both (veer's split
// hashes as nginx's split_clients does: strategies/split_buckets.hpp), the override
// header picks the named pool in both, and a WebSocket upgrade goes through nginx.
// Skipped where nginx is not installed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/murmur_hash2.hpp"
#include "strategies/split_buckets.hpp"
#include "support/backend_process.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/nginx_process.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"
#include "support/ws_client.hpp"

namespace veer::test {
namespace {

// The backends both proxies share; each answers with its name.
struct Backends {
  TestBackend a{"a"};
  TestBackend b{"b"};
  TestBackend c{"c"};
  TestBackend blue{"blue"};
  TestBackend green{"green"};
  TestBackend echo{"echo"};
};

constexpr int kBlueWeight = 70;
constexpr int kGreenWeight = 30;

// One listener with a route per case. `address` is the listener's: veer's test copy
// takes port 0, the copy exported for nginx a free port of its own (nginx needs one).
std::string veer_config(const Backends& k, const std::string& address) {
  std::string text = "[server]\nworkers = 2\naccess_log = \"off\"\n";
  text += "[listeners.public]\naddress = \"" + address + "\"\n";
  for (const char* route : {"rr", "weighted", "split", "ws"}) {
    text += "  [[listeners.public.routes]]\n  path_prefix = \"/";
    text += route;
    text += "\"\n  target = \"";
    text += route;
    text += "\"\n";
  }
  text += "[pools.rr]\nbackends = [\"" + k.a.address() + "\", \"" + k.b.address() + "\", \"" +
          k.c.address() + "\"]\n";
  text += "[pools.weighted]\nstrategy = \"weighted\"\nbackends = [{ address = \"" + k.a.address() +
          "\", weight = 5 }, { address = \"" + k.b.address() + "\", weight = 3 }, { address = \"" +
          k.c.address() + "\", weight = 2 }]\n";
  text += "[pools.blue]\nbackends = [\"" + k.blue.address() + "\"]\n";
  text += "[pools.green]\nbackends = [\"" + k.green.address() + "\"]\n";
  text += "[pools.ws]\nbackends = [\"" + k.echo.address() + "\"]\n";
  text += "[splits.split]\ntargets = { blue = " + std::to_string(kBlueWeight) +
          ", green = " + std::to_string(kGreenWeight) +
          " }\nsticky = \"header:X-User\"\noverride_header = \"X-Veer-Version\"\n";
  return text;
}

// `veer export nginx` of `toml` (its stdout; the gaps it lists on stderr are dropped).
std::string exported(const std::string& toml) {
  const std::string dir = make_temp_dir();
  const std::string path = write_file(dir, "veer.toml", toml);
  const CommandResult result =
      run_command(veer_binary() + " export nginx " + path + " 2>/dev/null");
  std::filesystem::remove_all(dir);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return result.exit_code == 0 ? result.output : std::string();
}

// The export as nginx runs it in a test: no access log in /var/log/nginx (veer's test
// config says access_log "off", which the export carries over).
std::string for_test(std::string config) {
  const std::size_t http = config.find("http {");
  if (http != std::string::npos && config.find("access_log") == std::string::npos)
    config.insert(http + 6, "\naccess_log off;\n");
  return config;
}

struct Pair {
  Backends backends;
  std::unique_ptr<VeerProcess> veer;
  std::unique_ptr<NginxProcess> nginx;
  std::uint16_t veer_port = 0;
  std::uint16_t nginx_port = 0;

  void start() {
    veer = std::make_unique<VeerProcess>(veer_config(backends, "127.0.0.1:0"));
    ASSERT_TRUE(veer->wait_ready()) << veer->log_text();
    veer_port = veer->port("public");
    nginx_port = free_port();
    const std::string config =
        exported(veer_config(backends, "127.0.0.1:" + std::to_string(nginx_port)));
    ASSERT_FALSE(config.empty());
    nginx = std::make_unique<NginxProcess>(for_test(config));
    ASSERT_TRUE(nginx->wait_listening(nginx_port)) << nginx->log_text() << "\n" << config;
  }
};

double percent(const LoadResult& r, const std::string& name) {
  return 100.0 * r.share(name);
}

void expect_same_shares(const char* path, const std::map<std::string, double>& expected) {
  VEER_SKIP_WITHOUT_NGINX();
  Pair p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  // 8 connections: none makes nginx's keepalive_requests (1000), after which nginx closes
  // it under the next request, which run_gets would count as failed.
  constexpr int kRequests = 3000;
  const LoadResult v = run_gets(p.veer_port, 8, kRequests, 30s, {}, path);
  const LoadResult n = run_gets(p.nginx_port, 8, kRequests, 30s, {}, path);
  ASSERT_EQ(v.ok, kRequests) << "veer failed " << v.failed;
  ASSERT_EQ(n.ok, kRequests) << "nginx failed " << n.failed << "\n" << p.nginx->log_text();
  for (const auto& [name, share] : expected) {
    std::printf("%s backend %s: veer %.2f%%, nginx %.2f%% (configured %.2f%%)\n", path,
                name.c_str(), percent(v, name), percent(n, name), share);
    EXPECT_NEAR(percent(v, name), percent(n, name), 2.0) << path << " backend " << name;
    EXPECT_NEAR(percent(v, name), share, 2.0) << "veer " << path << " backend " << name;
  }
}

TEST(NginxEquivalence, RoundRobinGivesTheSameSharesInBoth) {
  expect_same_shares("/rr", {{"a", 100.0 / 3}, {"b", 100.0 / 3}, {"c", 100.0 / 3}});
}

TEST(NginxEquivalence, WeightsGiveTheSameSharesInBoth) {
  expect_same_shares("/weighted", {{"a", 50.0}, {"b", 30.0}, {"c", 20.0}});
}

// The pool each key reaches through `port`, "" when the request failed.
std::vector<std::string> pools_of(std::uint16_t port, const std::vector<std::string>& keys,
                                  const std::string& extra_header = "") {
  std::vector<std::string> pools(keys.size());
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::unique_ptr<Client> client;
      for (std::size_t i = next++; i < keys.size(); i = next++) {
        std::vector<std::string> headers{"X-User: " + keys[i]};
        if (!extra_header.empty()) headers.push_back(extra_header);
        // Once more on a new connection when a kept-alive one was closed under the
        // request (nginx closes one after keepalive_requests, 1000).
        for (int attempt = 0; attempt < 2 && pools[i].empty(); ++attempt) {
          if (!client || !client->connected() || attempt > 0)
            client = std::make_unique<Client>(port);
          const auto r = client->request("GET", "/split", "", headers);
          if (r && r->status == 200) pools[i] = r->body;
        }
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  return pools;
}

TEST(NginxEquivalence, EveryStickyKeyReachesTheSamePoolInBoth) {
  VEER_SKIP_WITHOUT_NGINX();
  Pair p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  // Keys of every length 1-40 (each tail length of the hash), as clients send them.
  std::vector<std::string> keys;
  for (int i = 0; i < 10'000; ++i) {
    std::string key = "user-" + std::to_string(i * 7919);
    key.append(static_cast<std::size_t>(i % 36), static_cast<char>('a' + i % 26));
    keys.push_back(key.substr(0, 1 + static_cast<std::size_t>(i % 40)) + std::to_string(i));
  }
  const std::vector<std::string> in_veer = pools_of(p.veer_port, keys);
  const std::vector<std::string> in_nginx = pools_of(p.nginx_port, keys);
  int agree = 0, blue = 0, failed = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    failed += in_veer[i].empty() || in_nginx[i].empty();
    agree += !in_veer[i].empty() && in_veer[i] == in_nginx[i];
    blue += in_veer[i] == "blue";
  }
  std::printf(
      "sticky keys in the same pool in veer and nginx: %d of %zu (%d failed); "
      "blue %.2f%% (configured %d%%)\n",
      agree, keys.size(), failed, 100.0 * blue / static_cast<double>(keys.size()), kBlueWeight);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(agree, static_cast<int>(keys.size()));
  EXPECT_NEAR(100.0 * blue / static_cast<double>(keys.size()), kBlueWeight, 2.0);
}

TEST(NginxEquivalence, TheOverrideHeaderPicksTheNamedPoolInBoth) {
  VEER_SKIP_WITHOUT_NGINX();
  Pair p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i)
    keys.push_back("override-" + std::to_string(i));
  for (const char* pool : {"blue", "green"}) {
    const std::string header = std::string("X-Veer-Version: ") + pool;
    const std::vector<std::string> in_veer = pools_of(p.veer_port, keys, header);
    const std::vector<std::string> in_nginx = pools_of(p.nginx_port, keys, header);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      ASSERT_EQ(in_veer[i], pool) << "veer, key " << keys[i];
      ASSERT_EQ(in_nginx[i], pool) << "nginx, key " << keys[i];
    }
  }
  // Not a pool's name: ignored by both, the key decides.
  EXPECT_EQ(pools_of(p.veer_port, keys, "X-Veer-Version: purple"), pools_of(p.veer_port, keys));
  EXPECT_EQ(pools_of(p.nginx_port, keys, "X-Veer-Version: purple"), pools_of(p.veer_port, keys));
}

TEST(NginxEquivalence, AClientWithoutTheHeaderIsKeyedByItsAddressInBoth) {
  VEER_SKIP_WITHOUT_NGINX();
  Pair p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  // Linux routes all of 127/8 to lo: 200 client addresses, $remote_addr in nginx.
  int agree = 0;
  for (int i = 1; i <= 200; ++i) {
    const std::string source = "127.0." + std::to_string(i / 100) + "." + std::to_string(i);
    auto via = [&](std::uint16_t port) {
      Client client(port, 10s, source);
      const auto r = client.get("/split");
      return r && r->status == 200 ? r->body : std::string("failed");
    };
    const std::string in_veer = via(p.veer_port);
    EXPECT_EQ(via(p.nginx_port), in_veer) << "client " << source;
    agree += via(p.nginx_port) == in_veer;
  }
  std::printf("client addresses in the same pool in veer and nginx: %d of 200\n", agree);
}

TEST(NginxEquivalence, AWebSocketUpgradeGoesThroughNginx) {
  VEER_SKIP_WITHOUT_NGINX();
  Pair p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  for (std::uint16_t port : {p.veer_port, p.nginx_port}) {
    WsClient ws(port);
    EXPECT_EQ(ws.echo("hello through " + std::to_string(port)),
              "hello through " + std::to_string(port));
    EXPECT_EQ(ws.echo(std::string(100'000, 'x'), true), std::string(100'000, 'x'));
    // The echo came from the ws pool's backend, over a tunnel open now.
    EXPECT_GE(p.backends.echo.open_websockets(), 1) << "port " << port;
  }
}

// nginx's own split_clients in 10,000 parts of 0.01% names the part each key's hash
// falls in: veer's MurmurHash2 and thresholds must name the same part, for keys of
// every tail length and bytes above 0x7f (raw in a header value).
TEST(NginxEquivalence, NginxSplitClientsAndVeersHashAgreeAtOneBasisPoint) {
  VEER_SKIP_WITHOUT_NGINX();
  const std::uint16_t port = free_port();
  std::string config = "worker_processes 1;\nevents { worker_connections 64; }\nhttp {\n";
  config += "access_log off;\nsplit_clients \"$http_x_k\" $part {\n";
  std::vector<std::uint32_t> ends;
  for (std::uint32_t i = 0; i + 1 < strategies::kSplitBuckets; ++i) {
    config += "0.01% " + std::to_string(i) + ";\n";
    ends.push_back(i + 1);
  }
  config += "* " + std::to_string(strategies::kSplitBuckets - 1) + ";\n}\n";
  ends.push_back(strategies::kSplitBuckets);
  config += "server { listen 127.0.0.1:" + std::to_string(port) +
            "; location / { return 200 \"$part\"; } }\n}\n";
  NginxProcess nginx(config);
  ASSERT_TRUE(nginx.wait_listening(port)) << nginx.log_text();
  const std::vector<std::uint64_t> thresholds = strategies::split_hash_ends(ends);
  auto client = std::make_unique<Client>(port);
  int agree = 0, total = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string key = "k" + std::to_string(i * 2654435761u);
    key.resize(1 + static_cast<std::size_t>(i % 23), static_cast<char>(0x80 + i % 0x7f));
    auto r = client->request("GET", "/", "", {"X-K: " + key});
    if (!r) {  // nginx closes a connection after keepalive_requests (1000)
      client = std::make_unique<Client>(port);
      r = client->request("GET", "/", "", {"X-K: " + key});
    }
    ASSERT_TRUE(r.has_value()) << nginx.log_text();
    ASSERT_EQ(r->status, 200) << r->body << nginx.log_text();
    const std::uint32_t expected =
        strategies::split_target_of_hash(thresholds, core::murmur_hash2(key));
    EXPECT_EQ(r->body, std::to_string(expected)) << "key of " << key.size() << " bytes";
    agree += r->body == std::to_string(expected);
    ++total;
  }
  std::printf("nginx's split_clients part = veer's for %d of %d keys\n", agree, total);
}

}  // namespace
}  // namespace veer::test
