// What an active check sends and how its answer is judged (health/evaluate.hpp).
#include "health/evaluate.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "unit/health/fixture.hpp"

namespace veer::health {
namespace {

using unit::http_check;

conf::HealthConfig jsonrpc_check() {
  conf::HealthConfig config;
  config.type = conf::HealthConfig::Type::jsonrpc;
  return config;
}

TEST(HealthCheck, HttpRequestCarriesMethodPathHostAndHeaders) {
  conf::HealthConfig config = http_check();
  config.http_method = "HEAD";
  config.headers = {{"X-Probe", "veer"}};
  const std::string request = check_request(config, "127.0.0.1:9001");
  EXPECT_EQ(request.rfind("HEAD /health HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("\r\nX-Probe: veer\r\n"), std::string::npos);
  EXPECT_NE(request.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(request.substr(request.size() - 4), "\r\n\r\n") << "no body";
  config.host = "rpc.internal";
  EXPECT_NE(check_request(config, "127.0.0.1:9001").find("Host: rpc.internal\r\n"),
            std::string::npos);
}

TEST(HealthCheck, JsonRpcRequestPostsTheMethod) {
  conf::HealthConfig config = jsonrpc_check();
  config.rpc_method = "net_version";  // eth_blockNumber: a batch (heads_test.cpp)
  const std::string request = check_request(config, "127.0.0.1:8545");
  const std::string body = R"({"jsonrpc":"2.0","id":1,"method":"net_version","params":[]})";
  EXPECT_EQ(request.rfind("POST / HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(request.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(request.find("Content-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  EXPECT_EQ(request.substr(request.size() - body.size()), body);
}

TEST(HealthCheck, HttpVerdicts) {
  conf::HealthConfig config = http_check();
  EXPECT_TRUE(evaluate_answer(config, "HTTP/1.1 204 No Content\r\n\r\n").ok);
  CheckResult result =
      evaluate_answer(config, "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.cause, "status 503, expected 200-299");
  EXPECT_EQ(evaluate_answer(config, "").cause, "no answer");
  EXPECT_EQ(evaluate_answer(config, "HTTP/1.1 200 OK\r\nContent-Le").cause, "incomplete answer");
  EXPECT_FALSE(evaluate_answer(config, "SMTP ready\r\n\r\n").ok);

  config.expect_min = 200;
  config.expect_max = 399;
  config.body = "\"status\":\"ok\"";
  EXPECT_TRUE(
      evaluate_answer(config, "HTTP/1.1 302 Found\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}")
          .ok);
  result = evaluate_answer(config,
                           "HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n{\"status\":\"broken\"}");
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.cause.find("body does not contain"), std::string::npos);
  EXPECT_TRUE(evaluate_answer(config,
                              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "6\r\n{\"stat\r\n9\r\nus\":\"ok\"}\r\n0\r\n\r\n")
                  .ok)
      << "chunked bodies are decoded before the substring search";
}

TEST(HealthCheck, JsonRpcVerdictsAndBlockNumbers) {
  const conf::HealthConfig config = jsonrpc_check();
  const auto answer = [](std::string_view body) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  };
  CheckResult result =
      evaluate_answer(config, answer(R"({"jsonrpc":"2.0","id":1,"result":"0x1b4"})"));
  EXPECT_TRUE(result.ok);
  ASSERT_TRUE(result.block.has_value());
  EXPECT_EQ(*result.block, 0x1b4u);

  result = evaluate_answer(
      config, answer(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"syncing"}})"));
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.cause.find("JSON-RPC error"), std::string::npos);
  EXPECT_FALSE(evaluate_answer(config, answer(R"({"jsonrpc":"2.0","id":1,"result":null})")).ok);
  EXPECT_FALSE(evaluate_answer(config, answer(R"({"result":"latest"})")).ok);
  EXPECT_FALSE(evaluate_answer(config, answer(R"({"result":"0x"})")).ok);
  EXPECT_FALSE(evaluate_answer(config, answer("not json")).ok);
  EXPECT_FALSE(evaluate_answer(config, answer("[1,2]")).ok);
  EXPECT_FALSE(evaluate_answer(config, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n").ok);

  conf::HealthConfig other = config;
  other.rpc_method = "net_version";
  result = evaluate_answer(other, answer(R"({"jsonrpc":"2.0","id":1,"result":"1"})"));
  EXPECT_TRUE(result.ok) << "other methods need a result, not a block number";
  EXPECT_FALSE(result.block.has_value());
}

}  // namespace
}  // namespace veer::health
