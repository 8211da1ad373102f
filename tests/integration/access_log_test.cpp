// The access log through a real veer, on both engines: the upstream fields operators
// read nginx's $upstream_* variables for, and lines that stay valid JSON for any bytes.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;

class AccessLogFields : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    log_path_ = dir_ + "/access.log";
    const std::string toml = R"([server]
workers = 1
io_engine = ")" + GetParam() +
                             R"("
access_log = ")" + log_path_ +
                             R"("
[listeners.public]
address = "127.0.0.1:0"
  [[listeners.public.routes]]
  host = "rpc.example.com"
  path_prefix = "/ws"
  target = "main"
  [[listeners.public.routes]]
  path_prefix = "/api"
  target = "main"
[pools.main]
backends = [")" + backend_.address() +
                             R"("]
)";
    veer_ = std::make_unique<VeerProcess>(toml);
    ASSERT_TRUE(veer_->wait_ready()) << veer_->log_text();
  }

  // Waits until the log holds `count` lines, each a JSON object, and returns them.
  // Lines are flushed at most 100 ms after they are written; each round waits on a
  // socket read instead of sleeping.
  std::vector<boost::json::object> entries(std::size_t count) {
    std::vector<boost::json::object> parsed;
    const auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      parsed.clear();
      raw_.clear();
      std::ifstream in(log_path_);
      bool all_valid = true;
      for (std::string line; std::getline(in, line);) {
        raw_ += line + "\n";
        boost::system::error_code ec;
        const boost::json::value v = boost::json::parse(line, ec);  // checks UTF-8 too
        if (ec || !v.is_object()) {
          all_valid = false;
          ADD_FAILURE() << "not a JSON object (" << ec.message() << "): " << line;
          break;
        }
        parsed.push_back(v.as_object());
      }
      if (!all_valid || parsed.size() >= count) break;
      Client(veer_->port()).wait_closed(20ms);
    }
    EXPECT_EQ(parsed.size(), count) << raw_;
    return parsed;
  }

  // Sends raw bytes on `client` and reads the answer's status.
  static int exchange(Client& client, const std::string& request) {
    if (!client.send(request)) return -1;
    const auto r = client.read_response();
    return r ? r->status : -1;
  }

  TestBackend backend_{"b"};
  std::string dir_;
  std::string log_path_;
  std::string raw_;  // the file as last read
  std::unique_ptr<VeerProcess> veer_;
};

double number(const boost::json::value& v) {
  return v.to_number<double>();
}

TEST_P(AccessLogFields, UpstreamFieldsFollowEachExchange) {
  Client client(veer_->port());
  const std::string first =
      "GET /ws/x HTTP/1.1\r\nHost: rpc.example.com:8545\r\nUser-Agent: probe/1\r\n\r\n";
  ASSERT_EQ(exchange(client, first), 200);
  // Same client connection, same upstream connection (PUT is idempotent: reused
  // without a probe).
  const std::string second_head =
      "PUT /api/b HTTP/1.1\r\nHost: other.example\r\nContent-Length: 5\r\n\r\n";
  ASSERT_EQ(exchange(client, second_head + "hello"), 200);
  ASSERT_EQ(exchange(client, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"), 404);
  backend_.set_handler([](const BackendRequest&) { return BackendReply{.status = 503}; });
  ASSERT_EQ(exchange(client, "GET /api/c HTTP/1.1\r\nHost: x\r\n\r\n"), 503);
  backend_.set_handler(
      [](const BackendRequest&) { return BackendReply{.raw = "nonsense\r\n\r\n"}; });
  ASSERT_EQ(exchange(client, "GET /api/d HTTP/1.1\r\nHost: x\r\n\r\n"), 502);

  const auto lines = entries(5);
  ASSERT_EQ(lines.size(), 5u);
  const auto& fresh = lines[0];
  EXPECT_EQ(fresh.at("listener").as_string(), "public");
  EXPECT_EQ(fresh.at("route").as_string(), "rpc.example.com/ws");
  EXPECT_EQ(fresh.at("host").as_string(), "rpc.example.com:8545");
  EXPECT_EQ(fresh.at("user_agent").as_string(), "probe/1");
  EXPECT_EQ(fresh.at("bytes_in").to_number<std::size_t>(), first.size());
  EXPECT_EQ(fresh.at("upstream_status").to_number<int>(), 200);
  EXPECT_GE(number(fresh.at("upstream_connect_ms")), 0.0) << "a new connection";
  EXPECT_GE(number(fresh.at("upstream_header_ms")), 0.0);
  EXPECT_LE(number(fresh.at("upstream_header_ms")), number(fresh.at("upstream_ms")));

  const auto& reused = lines[1];
  EXPECT_EQ(reused.at("route").as_string(), "/api");
  EXPECT_EQ(reused.at("host").as_string(), "other.example");
  EXPECT_TRUE(reused.at("user_agent").is_null());
  EXPECT_EQ(reused.at("bytes_in").to_number<std::size_t>(), second_head.size() + 5);
  EXPECT_TRUE(reused.at("upstream_connect_ms").is_null()) << "a pooled connection";
  EXPECT_GE(number(reused.at("upstream_header_ms")), 0.0);
  EXPECT_EQ(reused.at("upstream_status").to_number<int>(), 200);

  const auto& unrouted = lines[2];
  EXPECT_EQ(unrouted.at("status").to_number<int>(), 404);
  EXPECT_TRUE(unrouted.at("route").is_null());
  EXPECT_EQ(unrouted.at("host").as_string(), "x");
  for (const char* key : {"upstream_status", "upstream_connect_ms", "upstream_header_ms"}) {
    EXPECT_TRUE(unrouted.at(key).is_null()) << key;
  }

  EXPECT_EQ(lines[3].at("status").to_number<int>(), 503);
  EXPECT_EQ(lines[3].at("upstream_status").to_number<int>(), 503) << "the backend's own 503";

  const auto& garbage = lines[4];
  EXPECT_EQ(garbage.at("status").to_number<int>(), 502);
  EXPECT_TRUE(garbage.at("upstream_status").is_null()) << "no valid head came back";
  EXPECT_TRUE(garbage.at("upstream_header_ms").is_null());
  EXPECT_EQ(garbage.at("backend").as_string(), backend_.address());
}

TEST_P(AccessLogFields, RequestIdOfARefusedRequestIsLogged) {
  Client client(veer_->port());
  ASSERT_TRUE(client.send("GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  const auto lines = entries(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("request_id").as_string(), r->header("X-Request-Id"));
  EXPECT_EQ(lines[0].at("listener").as_string(), "public");
  EXPECT_TRUE(lines[0].at("route").is_null());
}

TEST_P(AccessLogFields, LinesStayValidJsonForAnyBytes) {
  backend_.record(true);
  // Valid UTF-8 (é, €, 🚀), bytes that are not UTF-8 (a lone continuation byte, an
  // overlong '/', a surrogate, 0xff) and a tab, in the path and the User-Agent.
  const std::string path =
      "/api/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x9a\x80/\xff\x80/\xc0\xaf/\xed\xa0\x80";
  const std::string agent = "bot\t\xc3\xa9\xfe \"quoted\" back\\slash";
  Client client(veer_->port());
  ASSERT_TRUE(
      client.send("GET " + path + " HTTP/1.1\r\nHost: x\r\nUser-Agent: " + agent + "\r\n\r\n"));
  ASSERT_TRUE(client.read_response());  // whatever the backend thinks of such a path
  ASSERT_TRUE(client.send("GET /api/plain HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n"));
  ASSERT_TRUE(client.read_response());

  const auto lines = entries(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].at("path").as_string(),
            "/api/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x9a\x80/\\xff\\x80/\\xc0\\xaf/\\xed\\xa0\\x80");
  EXPECT_EQ(lines[0].at("user_agent").as_string(), "bot\t\xc3\xa9\\xfe \"quoted\" back\\slash");
  // Valid UTF-8 is written as is, not as \u escapes.
  EXPECT_NE(raw_.find("caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x9a\x80"), std::string::npos) << raw_;
  EXPECT_EQ(lines[1].at("status").to_number<int>(), 400) << "a non-ASCII Host is refused";
}

INSTANTIATE_TEST_SUITE_P(Engines, AccessLogFields, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
