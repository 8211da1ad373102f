// Rate-limit policies through the admin API against a real veer: GET /api/v1/limits and
// one policy with a key's state, PUT /api/v1/limits/{policy} under the desired-state rule
// (survives SIGHUP and a restart through the state file, yields to a file that changed,
// dropped by DELETE /api/v1/overrides), refusals of bad requests, /metrics, veer ctl.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/admin_client.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;

// Policy per_client on the listener, by_key on route /api; `per_client` is its table's
// keys, so a test can edit the file's values.
std::string limits_toml(const std::string& backend, const std::string& state_file,
                        const std::string& per_client = "rate = \"100/s\"\nburst = 20\n") {
  std::string toml = "[server]\nworkers = 2\naccess_log = \"off\"\n";
  if (!state_file.empty()) toml += "state_file = \"" + state_file + "\"\n";
  toml += "[admin]\naddress = \"127.0.0.1:0\"\ntokens = [ { name = \"ops\", token = \"" + kToken +
          "\" } ]\n";
  toml += R"([listeners.public]
address = "127.0.0.1:0"
limits = ["per_client"]
  [[listeners.public.routes]]
  path_prefix = "/api"
  target = "main"
  limits = ["by_key"]
  [[listeners.public.routes]]
  target = "main"
[limits.per_client]
)" + per_client +
          R"(
[limits.by_key]
rate = "6000/m"
key = ["client_ip", "header:X-Api-Key"]
max_keys = 5000
[pools.main]
backends = [")" +
          backend + "\"]\n";
  return toml;
}

json::value get_json(Admin& admin, const std::string& path, int status = 200) {
  const auto r = admin.call("GET", path);
  EXPECT_TRUE(r.has_value()) << path;
  if (!r) return nullptr;
  EXPECT_EQ(r->status, status) << path << ": " << r->body;
  return json::parse(r->body);
}

// The policy named `name` of GET /api/v1/limits.
json::object policy(Admin& admin, const std::string& name) {
  const json::value all = get_json(admin, "/api/v1/limits");
  for (const json::value& p : all.at("policies").as_array()) {
    if (p.at("name").as_string() == name) return p.as_object();
  }
  ADD_FAILURE() << "no policy " << name << " in " << all;
  return {};
}

std::string rate_of(Admin& admin, const std::string& name) {
  const json::object p = policy(admin, name);
  return p.empty()
             ? ""
             : std::string(p.at("rate").as_string()) + " burst " + json::serialize(p.at("burst"));
}

std::uint64_t version_of(Admin& admin) {
  return get_json(admin, "/api/v1").at("version").to_number<std::uint64_t>();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(LimitsAdmin, ListsPoliciesWithSettingsWhereAttachedAndStats) {
  TestBackend backend("b");
  Admin admin = start_admin_toml(limits_toml(backend.address(), ""));
  ASSERT_NE(admin.port, 0);
  const json::value all = get_json(admin, "/api/v1/limits");
  const json::array& policies = all.at("policies").as_array();
  ASSERT_EQ(policies.size(), 2u);
  EXPECT_EQ(policies[0].at("name").as_string(), "by_key") << "sorted by name";
  const json::object per_client = policy(admin, "per_client");
  EXPECT_EQ(per_client.at("rate").as_string(), "100/s");
  EXPECT_EQ(per_client.at("burst").to_number<int>(), 20);
  EXPECT_EQ(per_client.at("delay").to_number<int>(), 0);
  EXPECT_EQ(per_client.at("scope").as_string(), "local");
  EXPECT_EQ(per_client.at("key"), json::array{"client_ip"});
  EXPECT_EQ(per_client.at("ratelimit_policy").as_string(), "\"per_client\";q=100;w=1");
  EXPECT_EQ(per_client.at("attached").at("listeners"), json::array{"public"});
  EXPECT_TRUE(per_client.at("file").is_null()) << "no runtime change";
  EXPECT_GE(per_client.at("stats").at("capacity").to_number<std::uint64_t>(), 1'000'000u);
  EXPECT_EQ(per_client.at("requests").at("allowed").to_number<int>(), 0);
  const json::object by_key = policy(admin, "by_key");
  EXPECT_EQ(by_key.at("ratelimit_policy").as_string(), "\"by_key\";q=6000;w=60");
  const json::array& routes = by_key.at("attached").at("routes").as_array();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].at("key").as_string(), "public:*/api");

  // A key's state; its text is the parts joined by '|'.
  const json::value state = get_json(admin, "/api/v1/limits/per_client?key=203.0.113.7");
  EXPECT_EQ(state.at("name").as_string(), "per_client");
  EXPECT_FALSE(state.at("key_state").at("known").as_bool());
  EXPECT_EQ(state.at("key_state").at("verdict").as_string(), "allow");
  EXPECT_EQ(state.at("key_state").at("remaining").to_number<int>(), 20)
      << "burst + 1 at once: a request now, then 20 more";
  const json::value two = get_json(admin, "/api/v1/limits/by_key?key=203.0.113.7%7Cabc");
  EXPECT_FALSE(two.at("key_state").at("known").as_bool());
  EXPECT_TRUE(get_json(admin, "/api/v1/limits/by_key").as_object().if_contains("key_state") ==
              nullptr);

  std::string endpoints = json::serialize(get_json(admin, "/api/v1").at("endpoints"));
  for (const char* path :
       {"\"GET\",\"path\":\"/api/v1/limits\"", "\"GET\",\"path\":\"/api/v1/limits/{policy}\"",
        "\"PUT\",\"path\":\"/api/v1/limits/{policy}\""})
    EXPECT_NE(endpoints.find(path), std::string::npos) << path << " in " << endpoints;

  const auto metrics = admin.call("GET", "/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_EQ(sample(metrics->body,
                   "veer_rate_limit_requests_total{policy=\"per_client\",outcome=\"allowed\"}"),
            0);
  EXPECT_GE(sample(metrics->body, "veer_rate_limit_capacity_keys{policy=\"by_key\"}").value_or(0),
            5000)
      << metrics->body;
  EXPECT_EQ(sample(metrics->body, "veer_refusals_total{reason=\"max_in_flight\"}"), 0);
  const CommandResult check = run_command("promtool check metrics < " +
                                          write_file(make_temp_dir(), "m.txt", metrics->body));
  EXPECT_EQ(check.exit_code, 0) << "is the prometheus package installed (scripts/setup)?\n"
                                << check.output;
}

TEST(LimitsAdmin, PutChangesAPolicyThatSurvivesSighupAndRestartUntilOverridesAreDropped) {
  TestBackend backend("b");
  const std::string dir = make_temp_dir();
  const std::string state = dir + "/state.json";
  const std::string toml = limits_toml(backend.address(), state);
  Admin admin = start_admin_toml(toml);
  ASSERT_NE(admin.port, 0);
  const auto put = admin.call("PUT", "/api/v1/limits/per_client", R"({"rate":"50/s","burst":10})");
  ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "");
  EXPECT_TRUE(json::parse(put->body).at("changed").as_bool());
  EXPECT_EQ(rate_of(admin, "per_client"), "50/s burst 10");
  const json::object changed = policy(admin, "per_client");
  EXPECT_EQ(changed.at("ratelimit_policy").as_string(), "\"per_client\";q=50;w=1");
  EXPECT_EQ(changed.at("file").at("rate").as_string(), "100/s");
  EXPECT_EQ(changed.at("file").at("burst").to_number<int>(), 20);
  EXPECT_NE(read_file(state).find(R"("limits":{"per_client":{"rate":"50/s","burst":10)"),
            std::string::npos)
      << "persisted before the answer: " << read_file(state);
  const json::value overrides = get_json(admin, "/api/v1/overrides");
  EXPECT_EQ(overrides.at("overrides").at("limits").at("per_client").at("rate").as_string(), "50/s");
  EXPECT_EQ(json::serialize(overrides.at("summary"))
                .find("[\"limits per_client: rate 50/s, burst 10 (the file"),
            0u)
      << overrides;
  EXPECT_TRUE(admin.veer->wait_for_log("limits per_client: rate 50/s burst 10", 5s))
      << "the audit line";
  const auto again = admin.call("PUT", "/api/v1/limits/per_client", R"({"rate":"50/s"})");
  ASSERT_TRUE(again && again->status == 200);
  EXPECT_FALSE(json::parse(again->body).at("changed").as_bool()) << "idempotent";
  const auto delay = admin.call("PUT", "/api/v1/limits/by_key", R"({"delay":3})");
  ASSERT_TRUE(delay && delay->status == 200) << (delay ? delay->body : "");
  EXPECT_EQ(policy(admin, "by_key").at("delay").to_number<int>(), 3);

  const std::uint64_t before = version_of(admin);
  admin.veer->signal(SIGHUP);
  ASSERT_TRUE(poll_until([&] { return version_of(admin) == before + 1; }))
      << admin.veer->log_text();
  EXPECT_EQ(rate_of(admin, "per_client"), "50/s burst 10") << "after SIGHUP";

  admin.veer->signal(SIGKILL);
  ASSERT_TRUE(admin.veer->wait_exit(5s).has_value());
  Admin restarted = start_admin_toml(toml);
  ASSERT_NE(restarted.port, 0);
  EXPECT_EQ(rate_of(restarted, "per_client"), "50/s burst 10") << "after kill -9 and a restart";
  EXPECT_EQ(policy(restarted, "by_key").at("delay").to_number<int>(), 3);

  const auto reset = restarted.call("DELETE", "/api/v1/overrides");
  ASSERT_TRUE(reset && reset->status == 200) << (reset ? reset->body : "");
  EXPECT_EQ(rate_of(restarted, "per_client"), "100/s burst 20");
  EXPECT_EQ(policy(restarted, "by_key").at("delay").to_number<int>(), 0);
  EXPECT_EQ(read_file(state).find("limits"), std::string::npos) << read_file(state);
}

TEST(LimitsAdmin, AFileThatChangesOrDropsThePolicyWins) {
  TestBackend backend("b");
  Admin admin = start_admin_toml(limits_toml(backend.address(), ""));
  ASSERT_NE(admin.port, 0);
  const auto put = admin.call("PUT", "/api/v1/limits/per_client", R"({"rate":"50/s"})");
  ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "");
  // The file now says burst 30: the change was made against burst 20, so it goes.
  admin.veer->rewrite_config(limits_toml(backend.address(), "", "rate = \"100/s\"\nburst = 30\n"));
  const auto reload = admin.call("POST", "/api/v1/reload");
  ASSERT_TRUE(reload && reload->status == 200) << (reload ? reload->body : "");
  EXPECT_NE(reload->body.find("dropped, the file now says rate 100/s, burst 30, delay 0"),
            std::string::npos)
      << reload->body;
  EXPECT_EQ(rate_of(admin, "per_client"), "100/s burst 30");
  EXPECT_TRUE(
      get_json(admin, "/api/v1/overrides").at("overrides").as_object().if_contains("limits") ==
      nullptr);
}

TEST(LimitsAdmin, BadRequestsAreRefusedAndChangeNothing) {
  TestBackend backend("b");
  Admin admin = start_admin_toml(limits_toml(backend.address(), ""));
  ASSERT_NE(admin.port, 0);
  const std::uint64_t version = version_of(admin);
  const std::vector<std::tuple<std::string, int, std::string>> bodies = {
      {R"({"rate":"fast"})", 400, "rate: \\\"fast\\\": expected requests per unit"},
      {R"({"rate":"0/s"})", 400, "rate: \\\"0/s\\\": the count is out of range"},
      {R"({"rate":"5/d"})", 400, "the unit after '/' is s, m or h"},
      {R"({"rate":50})", 400, "rate: expected a string"},
      {R"({"burst":-1})", 400, "burst: expected an integer from 0 to 1000000"},
      {R"({"burst":1000001})", 400, "burst: expected an integer from 0 to 1000000"},
      {R"({"delay":"2"})", 400, "delay: expected an integer"},
      {R"({"brust":3})", 400, "brust: unknown field (expected rate, burst, delay)"},
      {"{}", 400, "nothing to change"},
      {"", 400, "nothing to change"},
      {"[1]", 400, "the body must be a JSON object"},
      {R"({"rate":)", 400, "the body is not valid JSON"},
  };
  for (const auto& [body, status, fragment] : bodies) {
    const auto r = admin.call("PUT", "/api/v1/limits/per_client", body);
    ASSERT_TRUE(r.has_value()) << body;
    EXPECT_EQ(r->status, status) << body << " -> " << r->body;
    EXPECT_NE(r->body.find(fragment), std::string::npos) << body << " -> " << r->body;
  }
  const auto unknown = admin.call("PUT", "/api/v1/limits/nope", R"({"burst":1})");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  EXPECT_NE(unknown->body.find("no rate-limit policy named nope"), std::string::npos);
  EXPECT_EQ(get_json(admin, "/api/v1/limits/nope", 404).at("error").as_string(), "not found");
  const auto text = admin.call("PUT", "/api/v1/limits/per_client", R"({"burst":1})",
                               {kAuth, "Content-Type: text/plain"});
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 415) << text->body;
  const auto cross =
      admin.call("PUT", "/api/v1/limits/per_client", R"({"burst":1})",
                 {kAuth, "Content-Type: application/json", "Origin: http://evil.example"});
  ASSERT_TRUE(cross);
  EXPECT_EQ(cross->status, 403) << cross->body;
  const auto no_token = fetch(admin.port, "PUT", "/api/v1/limits/per_client", R"({"burst":1})",
                              {"Content-Type: application/json"});
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
  const auto del = admin.call("DELETE", "/api/v1/limits/per_client");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  EXPECT_EQ(del->header("Allow"), "GET, HEAD, PUT");
  for (const char* key : {"nope", "203.0.113.7%7Cextra", "", "%5B1.2.3.4"}) {
    const auto r = admin.call("GET", std::string("/api/v1/limits/per_client?key=") + key);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << key << " -> " << r->body;
    EXPECT_NE(r->body.find("key: part 1 (client_ip)"), std::string::npos) << r->body;
  }
  const auto short_key = admin.call("GET", "/api/v1/limits/by_key?key=203.0.113.7");
  ASSERT_TRUE(short_key);
  EXPECT_EQ(short_key->status, 400);
  EXPECT_NE(short_key->body.find("has 2 parts (client_ip|header:X-Api-Key)"), std::string::npos)
      << short_key->body;
  EXPECT_EQ(version_of(admin), version) << "nothing changed";
  EXPECT_EQ(rate_of(admin, "per_client"), "100/s burst 20");
}

// veer ctl limits: the table, one policy with a key's state, and a change.
TEST(LimitsAdmin, VeerCtlShowsInspectsAndChangesPolicies) {
  TestBackend backend("b");
  Admin admin = start_admin_toml(limits_toml(backend.address(), ""));
  ASSERT_NE(admin.port, 0);
  const std::string dir = make_temp_dir();
  const std::string ctl = veer_binary() + " ctl --admin 127.0.0.1:" + std::to_string(admin.port) +
                          " --token-file " + write_file(dir, "token", kToken + "\n") + " ";
  const CommandResult table = run_command(ctl + "limits");
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("POLICY"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("per_client       100/s"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("    key: client_ip|header:X-Api-Key"), std::string::npos)
      << table.output;
  EXPECT_NE(table.output.find("    on: route public:*/api"), std::string::npos) << table.output;
  const CommandResult key = run_command(ctl + "limits by_key --key '203.0.113.7|a b&c'");
  EXPECT_EQ(key.exit_code, 0) << key.output;
  EXPECT_NE(key.output.find("\"key\": \"203.0.113.7|a b&c\""), std::string::npos) << key.output;
  const CommandResult put = run_command(ctl + "limits per_client --rate 50/s --burst 10");
  EXPECT_EQ(put.exit_code, 0) << put.output;
  EXPECT_EQ(rate_of(admin, "per_client"), "50/s burst 10");
  const CommandResult bad = run_command(ctl + "limits per_client --rate 50/x");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("the unit after"), std::string::npos) << bad.output;
  const CommandResult misuse = run_command(ctl + "pools --rate 5/s");
  EXPECT_EQ(misuse.exit_code, 2) << misuse.output;
  const CommandResult both = run_command(ctl + "limits per_client --key 1.2.3.4 --burst 2");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  const CommandResult words = run_command(ctl + "limits per_client --burst many");
  EXPECT_EQ(words.exit_code, 2) << words.output;
}

}  // namespace
}  // namespace veer::test
