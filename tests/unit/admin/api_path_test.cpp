// The admin API's paths as Api::handle reads them (admin/api.cpp): Boost.URL's origin
// form, each segment percent-decoded before it is matched against the endpoint table,
// so "%2F" stays inside its segment and a malformed escape is a 400.
#include "admin/api.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin/status_page.hpp"
#include "conf/load.hpp"
#include "runtime/snapshot.hpp"

namespace veer::admin {
namespace {

namespace json = boost::json;

constexpr const char* kFile = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  target = "blue"
[pools.blue]
backends = ["127.0.0.1:9001", "[::1]:9002"]
)";

// The server's side of the API, without a server: a snapshot of kFile, and every
// change accepted and kept.
class FakeRuntime final : public Runtime {
 public:
  FakeRuntime() {
    conf::LoadResult loaded = conf::load_config_string(kFile, "admin.toml");
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
    file_ = *loaded.config;
    snapshot_ = runtime::build_snapshot(file_, 1, registry_);
  }
  std::shared_ptr<const runtime::Snapshot> snapshot() const override { return snapshot_; }
  const conf::Config& file_config() const override { return file_; }
  const conf::Overrides& overrides() const override { return overrides_; }
  const conf::OverrideReport& override_report() const override { return report_; }
  bool ready() const override { return true; }
  Outcome apply(conf::Overrides next, std::optional<conf::Duration>) override {
    overrides_ = std::move(next);
    return Outcome{{}, snapshot_->version + 1, false};
  }
  Outcome reload() override { return Outcome{{}, snapshot_->version, false}; }
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

class ApiPath : public ::testing::Test {
 protected:
  // No tokens (loopback), the audit lines out of the test's output.
  ApiPath()
      : api_(runtime_, [] {
          conf::AdminConfig config;
          config.audit_log = "/dev/null";
          return config;
        }()) {}

  AdminReply call(const std::string& method, const std::string& target,
                  const std::string& body = "") {
    AdminRequest request;
    request.method = method;
    request.target = target;
    request.host = "127.0.0.1:9901";
    request.body = body;
    if (method != "GET") request.content_type = "application/json";
    return api_.handle(request);
  }
  // The "detail" of an error reply.
  static std::string detail(const AdminReply& reply) {
    const json::value v = json::parse(reply.body);
    return std::string(v.as_object().at("detail").as_string());
  }

  FakeRuntime runtime_;
  Api api_;
};

TEST_F(ApiPath, EscapesAreDecodedBeforeTheTableIsMatched) {
  for (const char* target :
       {"/api/v1/pools/blue", "/api/v1/pools/bl%75e", "/api/v1/pools/%62%6C%75%65",
        "/api/v1/pools/%62%6c%75%65", "/api/v1/pool%73/blue", "/%61pi/v1/pools/blue"}) {
    const AdminReply reply = call("GET", target);
    ASSERT_EQ(reply.status, 200u) << target << "\n" << reply.body;
    EXPECT_EQ(json::parse(reply.body).as_object().at("name").as_string(), "blue") << target;
  }
}

TEST_F(ApiPath, MalformedEscapesAreABadRequest) {
  for (const char* target :
       {"/api/v1/pools/%zz", "/api/v1/pools/blue%4", "/api/v1/pools/%", "/api/v1/pools/%%41",
        "/api/v1/pools/%g0", "/api/v1/pools/%4g", "/api/v1/pools?x=%zz"}) {
    const AdminReply reply = call("GET", target);
    EXPECT_EQ(reply.status, 400u) << target;
    EXPECT_EQ(detail(reply), "the request target is not a valid path") << target;
  }
}

// A control character in a path segment can name nothing (the loader refuses them in
// names): not found, and said so, not "no pool named blue" for "blue%00" (a NUL cut
// the name short in the detail).
TEST_F(ApiPath, AnEncodedControlCharacterNamesNothing) {
  for (const char* target :
       {"/api/v1/pools/%00", "/api/v1/pools/blue%00", "/api/v1/pools/blue%00x",
        "/api/v1/pools/blue%0D%0AX-A:%201", "/api/v1/pools/blue/backends/127.0.0.1:9001%7F"}) {
    const AdminReply reply = call("GET", target);
    EXPECT_EQ(reply.status, 404u) << target;
    EXPECT_EQ(detail(reply), "no name has a control character, as this path's does") << target;
  }
}

TEST_F(ApiPath, AnEncodedSlashStaysInsideItsSegment) {
  AdminReply reply = call("GET", "/api/v1/pools/blue%2Fbackends%2F127.0.0.1:9001");
  EXPECT_EQ(reply.status, 404u) << "one segment: the {pool} of GET /api/v1/pools/{pool}";
  EXPECT_EQ(detail(reply), "no pool named blue/backends/127.0.0.1:9001");
  reply = call("GET", "/api/v1/pools/blue/backends/127.0.0.1:9001");
  EXPECT_EQ(reply.status, 405u) << "three segments: the backend endpoints, which take no GET";
  EXPECT_EQ(reply.allow, "PUT, DELETE, PATCH");
  reply = call("GET", "/api%2Fv1/pools/blue");
  EXPECT_EQ(reply.status, 404u) << "\"api/v1\" is no segment of the table";
}

// IPv6 backends: veer ctl sends the brackets encoded, the colons as they are; either way
// the handler sees the address.
TEST_F(ApiPath, BackendAddressesArriveDecoded) {
  for (const char* target : {"/api/v1/pools/blue/backends/%5B::1%5D:9002",
                             "/api/v1/pools/blue/backends/%5B%3A%3A1%5D%3A9002"}) {
    const AdminReply reply = call("PATCH", target, R"({"state": "drain"})");
    ASSERT_EQ(reply.status, 200u) << target << "\n" << reply.body;
    const conf::BackendChange* change = runtime_.overrides().find("blue", "[::1]:9002");
    ASSERT_NE(change, nullptr) << target;
    EXPECT_EQ(change->state, conf::AdminState::drain);
  }
  const AdminReply added = call("PUT", "/api/v1/pools/blue/backends/127.0.0.1%3A9009", "{}");
  ASSERT_EQ(added.status, 200u) << added.body;
  const conf::BackendChange* change = runtime_.overrides().find("blue", "127.0.0.1:9009");
  ASSERT_NE(change, nullptr);
  EXPECT_TRUE(change->added);
}

TEST_F(ApiPath, QueryValuesAreDecodedToo) {
  const AdminReply reply = call("DELETE", "/api/v1/pools/blue/backends/127.0.0.1:9001?drain=1%30s");
  ASSERT_EQ(reply.status, 202u) << reply.body;
  EXPECT_EQ(json::parse(reply.body).as_object().at("drain").as_string(), "10s");
}

// "/" is the table's row with no segment: the status page, HTML with its policy, open
// without a token (it is static; its script sends the token), HEAD like GET, and no
// other method. "//" and "/x" stay unknown.
TEST_F(ApiPath, TheRootIsTheStatusPage) {
  conf::AdminConfig config;
  config.audit_log = "/dev/null";
  config.tokens = {{"ops", "a-token-of-some-length"}};
  Api guarded(runtime_, config);
  for (Api* api : {&api_, &guarded}) {
    for (const char* method : {"GET", "HEAD"}) {
      for (const char* target : {"/", "/?refresh=1"}) {
        AdminRequest request;
        request.method = method;
        request.target = target;
        request.host = "127.0.0.1:9901";
        const AdminReply reply = api->handle(request);
        ASSERT_EQ(reply.status, 200u) << method << " " << target << "\n" << reply.body;
        EXPECT_EQ(reply.content_type, "text/html; charset=utf-8");
        EXPECT_EQ(reply.body, status_page_html()) << "HEAD's body is cut by the transport";
        EXPECT_EQ(content_security_policy(reply.content_type), kStatusPagePolicy);
      }
    }
  }
  AdminReply reply = call("POST", "/", "{}");
  EXPECT_EQ(reply.status, 405u);
  EXPECT_EQ(reply.allow, "GET, HEAD");
  for (const char* target : {"//", "/x", "/index.html"}) {
    reply = call("GET", target);
    EXPECT_EQ(reply.status, 404u) << target;
    EXPECT_TRUE(content_security_policy(reply.content_type).empty()) << target;
  }
  reply = call("GET", "/api/v1");
  ASSERT_EQ(reply.status, 200u);
  EXPECT_NE(reply.body.find(R"re("path":"/","help":"the status page (HTML)")re"), std::string::npos)
      << reply.body;
}

}  // namespace
}  // namespace veer::admin
