// Client identity through a real veer, on both engines: forwarding headers from
// untrusted and trusted peers (what the backend sees, the access log's client, ip_hash's
// pick), and the PROXY protocol v1/v2 over raw sockets: parsed, refused when malformed,
// late or from an untrusted peer, before TLS, and across keep-alive requests.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <set>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/test_pki.hpp"
#include "support/tls_client.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string be16(unsigned v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

// A PROXY v2 header: command PROXY (0x21) or LOCAL (0x20), family, address block.
std::string proxy_v2(std::uint8_t command, std::uint8_t family, const std::string& addresses) {
  return std::string("\r\n\r\n\0\r\nQUIT\n", 12) + static_cast<char>(command) +
         static_cast<char>(family) + be16(static_cast<unsigned>(addresses.size())) + addresses;
}

// 2001:db8::7 port 40000 to 2001:db8::1 port 8443, with one TLV (ALPN).
std::string proxy_v2_tcp6() {
  std::string source(16, '\0'), destination(16, '\0');
  source[0] = 0x20, source[1] = 0x01, source[2] = 0x0d, source[3] = static_cast<char>(0xb8);
  destination = source;
  source[15] = 7;
  destination[15] = 1;
  return proxy_v2(0x21, 0x21,
                  source + destination + be16(40000) + be16(8443) + "\x01" + be16(2) + "h2");
}

constexpr const char* kProxyV1 = "PROXY TCP4 203.0.113.7 198.51.100.1 51000 8080\r\n";

class ClientIdentity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    for (TestBackend* b : {&a, &b_, &c})
      b->record(true);
    dir_ = make_temp_dir();
    log_path_ = dir_ + "/access.log";
  }

  // veer with the three backends under ip_hash, the access log in a file, and
  // `listener_keys` on the listener.
  std::unique_ptr<VeerProcess> start(const std::string& listener_keys,
                                     const std::string& timeouts = "",
                                     const std::string& listener_tls = "") {
    TestConfig config{.backends = addresses({&a, &b_, &c}),
                      .workers = 2,
                      .io_engine = GetParam(),
                      .access_log = log_path_,
                      .timeouts = timeouts,
                      .strategy = "ip_hash"};
    config.listener_keys = listener_keys;
    config.listener_tls = listener_tls;
    auto veer = std::make_unique<VeerProcess>(config.toml());
    EXPECT_TRUE(veer->wait_ready()) << veer->log_text();
    return veer;
  }

  // Every request the backends saw, in no particular order across backends.
  std::vector<BackendRequest> seen() const {
    std::vector<BackendRequest> all;
    for (const TestBackend* b : {&a, &b_, &c}) {
      const auto r = b->recorded();
      all.insert(all.end(), r.begin(), r.end());
    }
    return all;
  }

  // The access log's lines once there are `count` (flushed within 100 ms).
  std::vector<boost::json::object> log_lines(std::size_t count) {
    std::vector<boost::json::object> lines;
    poll_until([&] {
      lines.clear();
      std::ifstream in(log_path_);
      for (std::string line; std::getline(in, line);) {
        boost::system::error_code ec;
        const boost::json::value v = boost::json::parse(line, ec);
        if (!ec && v.is_object()) lines.push_back(v.as_object());
      }
      return lines.size() >= count;
    });
    EXPECT_EQ(lines.size(), count);
    return lines;
  }

  static std::string field(const boost::json::object& line, const char* name) {
    const auto* v = line.if_contains(name);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
  }

  // A raw exchange: `bytes` sent at once, one response read.
  static std::optional<Response> raw(std::uint16_t port, const std::string& bytes) {
    Client client(port);
    if (!client.send(bytes)) return std::nullopt;
    return client.read_response();
  }

  TestBackend a{"a"};
  TestBackend b_{"b"};
  TestBackend c{"c"};
  std::string dir_;
  std::string log_path_;
};

TEST_P(ClientIdentity, SpoofedHeadersFromAnUntrustedPeerChangeNothing) {
  auto veer = start("trusted_proxies = [\"10.0.0.0/8\"]");
  std::set<std::string> picked;
  for (int i = 0; i < 30; ++i) {
    const std::string forged = "203.0.113." + std::to_string(i + 1);
    const auto r = fetch(
        veer->port(), "GET", "/", "",
        {"X-Forwarded-For: " + forged, "X-Real-IP: " + forged, "Forwarded: for=" + forged,
         "X-Forwarded-Host: evil.example", "X-Forwarded-Port: 1", "X-Forwarded-Proto: https"});
    ASSERT_TRUE(r && r->status == 200);
    picked.insert(r->body);
  }
  EXPECT_EQ(picked.size(), 1u) << "ip_hash keys on 127.0.0.1 for every request";
  const auto requests = seen();
  ASSERT_EQ(requests.size(), 30u);
  for (const BackendRequest& r : requests) {
    EXPECT_EQ(r.header("X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(r.count("X-Forwarded-For"), 1u);
    EXPECT_EQ(r.header("X-Real-IP"), "127.0.0.1");
    EXPECT_EQ(r.count("Forwarded"), 0u);
    EXPECT_EQ(r.header("X-Forwarded-Host"), "127.0.0.1");
    EXPECT_EQ(r.header("X-Forwarded-Port"), std::to_string(veer->port()));
    EXPECT_EQ(r.header("X-Forwarded-Proto"), "http");
  }
  for (const auto& line : log_lines(30)) {
    EXPECT_EQ(field(line, "client"), "127.0.0.1");
    EXPECT_FALSE(line.contains("peer")) << "the peer is the client";
  }
}

TEST_P(ClientIdentity, ATrustedPeerNamesTheClient) {
  auto veer = start("trusted_proxies = [\"127.0.0.0/8\", \"10.0.0.0/8\"]");
  std::map<std::string, std::string> owner;
  std::set<std::string> backends;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 40; ++i) {
      const std::string client = "203.0.113." + std::to_string(i + 1);
      // A forged entry on the left, the client, then a trusted hop of the CDN.
      const auto r = fetch(veer->port(), "GET", "/" + client, "",
                           {"X-Forwarded-For: 6.6.6.6, " + client + ", 10.1.2.3"});
      ASSERT_TRUE(r && r->status == 200);
      if (round == 0) owner[client] = r->body;
      EXPECT_EQ(owner[client], r->body) << "ip_hash follows the forwarded client";
      backends.insert(r->body);
    }
  }
  EXPECT_EQ(backends.size(), 3u) << "40 clients spread over the pool";
  for (const BackendRequest& r : seen()) {
    const std::string client = r.target.substr(1);
    EXPECT_EQ(r.header("X-Forwarded-For"), "6.6.6.6, " + client + ", 10.1.2.3, 127.0.0.1");
    EXPECT_EQ(r.header("X-Real-IP"), client);
  }
  const auto lines = log_lines(80);
  for (const auto& line : lines) {
    EXPECT_EQ(field(line, "client"), field(line, "path").substr(1));
    EXPECT_EQ(field(line, "peer"), "127.0.0.1");
  }
  // Forwarded is read when there is no X-Forwarded-For.
  const auto r = fetch(veer->port(), "GET", "/fwd", "",
                       {"Forwarded: for=\"[2001:db8::9]:4711\";proto=https, for=10.1.2.3"});
  ASSERT_TRUE(r && r->status == 200);
  std::string forwarded_client;
  for (const auto& line : log_lines(81)) {  // workers flush their own lines: any order
    if (field(line, "path") == "/fwd") forwarded_client = field(line, "client");
  }
  EXPECT_EQ(forwarded_client, "2001:db8::9");
}

TEST_P(ClientIdentity, ARequestRefusedBeforeItsHeadIsParsedIsTheOrigins) {
  auto veer = start("trusted_proxies = [\"127.0.0.0/8\"]");
  Client client(veer->port());
  auto r = client.request("GET", "/named", "", {"X-Forwarded-For: 203.0.113.5"});
  ASSERT_TRUE(r && r->status == 200);
  // The next head on the same connection is malformed: nothing in it can name a client.
  ASSERT_TRUE(client.send("GET /bad HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"));
  r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  std::map<int, std::string> client_by_status;
  for (const auto& line : log_lines(2))
    client_by_status[line.at("status").to_number<int>()] = field(line, "client");
  EXPECT_EQ(client_by_status[200], "203.0.113.5");
  EXPECT_EQ(client_by_status[400], "127.0.0.1");
}

TEST_P(ClientIdentity, ProxyProtocolV1AndV2) {
  auto veer = start("trusted_proxies = [\"127.0.0.0/8\"]\nproxy_protocol = true");
  // v1, with the request in the same segment and a forged X-Forwarded-For (the PROXY
  // source is not a trusted proxy, so it is replaced).
  auto r = raw(veer->port(), std::string(kProxyV1) +
                                 "GET /v1 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n");
  ASSERT_TRUE(r && r->status == 200);
  // v2 over IPv6 with a TLV, the request sent separately.
  Client v2_client(veer->port());
  ASSERT_TRUE(v2_client.send(proxy_v2_tcp6()));
  r = v2_client.request("GET", "/v2");
  ASSERT_TRUE(r && r->status == 200);
  // v2 LOCAL (a load balancer's own health check): the peer is the client.
  r = raw(veer->port(), proxy_v2(0x20, 0x00, "") + "GET /local HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r && r->status == 200);
  // v1 sent a byte at a time.
  Client slow(veer->port());
  for (char ch : std::string(kProxyV1))
    ASSERT_TRUE(slow.send(std::string(1, ch)));
  r = slow.request("GET", "/slow");
  ASSERT_TRUE(r && r->status == 200);

  std::map<std::string, BackendRequest> by_path;
  for (const BackendRequest& request : seen())
    by_path[request.target] = request;
  ASSERT_EQ(by_path.size(), 4u);
  EXPECT_EQ(by_path["/v1"].header("X-Forwarded-For"), "203.0.113.7");
  EXPECT_EQ(by_path["/v1"].header("X-Real-IP"), "203.0.113.7");
  EXPECT_EQ(by_path["/v1"].header("X-Forwarded-Port"), "8080") << "the port the client used";
  EXPECT_EQ(by_path["/v2"].header("X-Forwarded-For"), "2001:db8::7");
  EXPECT_EQ(by_path["/v2"].header("X-Forwarded-Port"), "8443");
  EXPECT_EQ(by_path["/local"].header("X-Forwarded-For"), "127.0.0.1");
  EXPECT_EQ(by_path["/slow"].header("X-Forwarded-For"), "203.0.113.7");
  std::map<std::string, boost::json::object> log_by_path;
  for (const auto& line : log_lines(4))
    log_by_path[field(line, "path")] = line;
  EXPECT_EQ(field(log_by_path["/v1"], "client"), "203.0.113.7");
  EXPECT_EQ(field(log_by_path["/v1"], "peer"), "127.0.0.1");
  EXPECT_EQ(field(log_by_path["/v2"], "client"), "2001:db8::7");
  EXPECT_EQ(field(log_by_path["/local"], "client"), "127.0.0.1");
  EXPECT_FALSE(log_by_path["/local"].contains("peer"));
}

TEST_P(ClientIdentity, MalformedProxyHeadersAreClosed) {
  auto veer = start("trusted_proxies = [\"127.0.0.0/8\"]\nproxy_protocol = true");
  const std::vector<std::string> malformed = {
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",                                       // no header at all
      "PROXY TCP4 203.0.113.7 198.51.100.1 51000\r\nGET / HTTP/1.1\r\n\r\n",     // a port missing
      "PROXY TCP4 203.0.113.7 198.51.100.1 51000 8080\nGET / HTTP/1.1\r\n\r\n",  // bare LF
      "PROXY TCP6 203.0.113.7 198.51.100.1 1 2\r\nGET / HTTP/1.1\r\n\r\n",       // family mismatch
      "PROXY " + std::string(120, 'A') + "\r\n",                                 // too long
      proxy_v2(0x11, 0x11, std::string(12, '\0')),   // v2 form, version 1
      proxy_v2(0x21, 0x12, std::string(12, '\0')),   // UDP
      proxy_v2(0x21, 0x21, std::string(12, '\0')),   // too short for TCP6
      std::string("\x16\x03\x01\x00\x05hello", 10),  // TLS without a header
  };
  const std::size_t log_start = veer->log_size();
  for (const std::string& bytes : malformed) {
    Client client(veer->port(), 5s);
    ASSERT_TRUE(client.send(bytes));
    EXPECT_FALSE(client.read_response()) << "no answer, the connection closes";
    EXPECT_TRUE(client.wait_closed(5s));
  }
  EXPECT_EQ(seen().size(), 0u) << "no request reached a backend";
  EXPECT_TRUE(veer->wait_for_log("PROXY protocol:", 5s, log_start)) << veer->log_text();
  // The listener still serves well-formed connections.
  const auto r = raw(veer->port(), std::string(kProxyV1) + "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r && r->status == 200);
}

TEST_P(ClientIdentity, ALateHeaderIsClosedAfterTheTimeout) {
  auto veer = start("trusted_proxies = [\"127.0.0.0/8\"]\nproxy_protocol = true",
                    "proxy_protocol = \"300ms\"");
  Client partial(veer->port(), 10s);
  const auto started = Clock::now();
  ASSERT_TRUE(partial.send("PROXY TCP4 203.0.113.7 "));
  Client silent(veer->port(), 10s);
  EXPECT_TRUE(partial.wait_closed(5s));
  const auto waited = Clock::now() - started;
  EXPECT_GE(waited, 250ms) << "closed by the timeout, not at once";
  EXPECT_LT(waited, 3s);
  EXPECT_TRUE(silent.wait_closed(5s)) << "a connection that sends nothing too";
  EXPECT_EQ(seen().size(), 0u);
}

TEST_P(ClientIdentity, AProxyHeaderFromAnUntrustedPeerIsClosed) {
  auto veer = start("trusted_proxies = [\"10.0.0.0/8\"]\nproxy_protocol = true");
  Client client(veer->port(), 5s);
  ASSERT_TRUE(client.send(std::string(kProxyV1) + "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_FALSE(client.read_response());
  EXPECT_TRUE(client.wait_closed(5s));
  EXPECT_EQ(seen().size(), 0u);
  EXPECT_TRUE(veer->wait_for_log("not in trusted_proxies", 5s)) << veer->log_text();
}

TEST_P(ClientIdentity, ProxyHeaderBeforeTls) {
  testing::TestPki pki;
  const testing::IssuedCert server = pki.issue("server");
  auto veer = start("trusted_proxies = [\"127.0.0.0/8\"]\nproxy_protocol = true", "",
                    "{ cert = \"" + server.cert + "\", key = \"" + server.key + "\" }");
  for (const std::string& preface : {std::string(kProxyV1), proxy_v2_tcp6()}) {
    TlsClient client(veer->port(), TlsClientOptions{.ca_file = pki.ca_file(), .preface = preface});
    ASSERT_TRUE(client.handshake()) << client.error() << veer->log_text();
    for (int i = 0; i < 3; ++i) {
      const auto r = client.request("GET", "/tls");
      ASSERT_TRUE(r && r->status == 200) << client.error();
    }
  }
  // Without the header, the TLS listener refuses the ClientHello.
  TlsClient bare(veer->port(), TlsClientOptions{.ca_file = pki.ca_file()});
  EXPECT_FALSE(bare.handshake());
  const auto requests = seen();
  ASSERT_EQ(requests.size(), 6u);
  std::multiset<std::string> clients;
  for (const BackendRequest& r : requests) {
    clients.insert(r.header("X-Forwarded-For"));
    EXPECT_EQ(r.header("X-Forwarded-Proto"), "https");
  }
  EXPECT_EQ(clients.count("203.0.113.7"), 3u);
  EXPECT_EQ(clients.count("2001:db8::7"), 3u);
}

TEST_P(ClientIdentity, ProxyHeaderThenManyKeepAliveRequests) {
  auto veer = start("trusted_proxies = [\"127.0.0.0/8\"]\nproxy_protocol = true");
  Client client(veer->port());
  // The header and two pipelined requests in one segment, then 200 more one by one.
  ASSERT_TRUE(client.send(std::string(kProxyV1) + "GET /p0 HTTP/1.1\r\nHost: x\r\n\r\n" +
                          "GET /p1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (int i = 0; i < 2; ++i) {
    const auto r = client.read_response();
    ASSERT_TRUE(r && r->status == 200) << i;
  }
  std::set<std::string> backends;
  for (int i = 0; i < 200; ++i) {
    const auto r = client.request("GET", "/k" + std::to_string(i));
    ASSERT_TRUE(r && r->status == 200) << i;
    backends.insert(r->body);
  }
  EXPECT_EQ(backends.size(), 1u) << "ip_hash keeps one client on one backend";
  const auto requests = seen();
  ASSERT_EQ(requests.size(), 202u);
  for (const BackendRequest& r : requests)
    ASSERT_EQ(r.header("X-Forwarded-For"), "203.0.113.7") << r.target;
}

INSTANTIATE_TEST_SUITE_P(Engines, ClientIdentity, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
