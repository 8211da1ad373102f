// The status page (GET / on the admin listener) in a real browser: headless Chromium
// (Debian's `chromium`) loads it from a real veer, runs its script against the JSON API,
// and dumps the DOM; every figure the page shows (data-test, data-value) must equal what
// GET /api/v1/pools, /api/v1/splits and /api/v1/rollouts answer. Screenshots go to the
// build folder (tests/status_page*.png). Skipped where Chromium is not installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "admin/status_page.hpp"
#include "support/admin_client.hpp"
#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;
using Attributes = std::map<std::string, std::string>;

std::string chromium_binary() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path == nullptr ? "/usr/bin" : path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      const std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "";
}

#define SKIP_WITHOUT_CHROMIUM()                                                       \
  if (chromium_binary().empty())                                                      \
  GTEST_SKIP() << "no chromium on PATH: the status page is not checked in a browser " \
                  "(scripts/setup installs Debian's chromium)"

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Headless Chromium, one fresh profile per run, each run bounded by `timeout`.
class Chromium {
 public:
  // The DOM after the page ran for 6 s of virtual time (its refreshes included; the
  // clock waits for the API's answers).
  std::string dump_dom(const std::string& url) {
    const std::string out = dir_ + "/dom" + std::to_string(++runs_) + ".html";
    run("--virtual-time-budget=6000 --dump-dom '" + url + "' >" + out);
    return read_file(out);
  }
  void screenshot(const std::string& url, const std::string& png) {
    run("--virtual-time-budget=6000 --window-size=1280,1000 --hide-scrollbars --screenshot=" + png +
        " '" + url + "' >/dev/null");
  }

 private:
  void run(const std::string& args) {
    const std::string profile = dir_ + "/profile" + std::to_string(++runs_);
    const std::string log = dir_ + "/chromium.log";
    // stderr to a file: Chromium's "ERROR:" lines about D-Bus are not sanitizer reports.
    const CommandResult r =
        run_command("timeout -k 5 90 " + chromium_binary() +
                    " --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions"
                    " --user-data-dir=" +
                    profile + " " + args + " 2>" + log);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.output << read_file(log);
  }

  std::string dir_ = make_temp_dir();
  int runs_ = 0;
};

std::string unescape(std::string text) {
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"&quot;", "\""},
                                                        {"&lt;", "<"},
                                                        {"&gt;", ">"},
                                                        {"&#39;", "'"},
                                                        {"&nbsp;", "\xc2\xa0"},
                                                        {"&amp;", "&"}}) {
    for (std::size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  }
  return text;
}

// One element the page marked with data-test: its attributes and its first text.
struct Tagged {
  Attributes attributes;
  std::string text;
};

// The dumped DOM's data-test elements.
class Page {
 public:
  explicit Page(const std::string& dom) : dom_(dom) {
    static const std::regex element(R"re(<[a-zA-Z]+\s([^>]*\bdata-test="[^"]*"[^>]*)>([^<]*))re");
    static const std::regex attribute(R"re(([-a-zA-Z0-9_:.]+)(="([^"]*)")?)re");
    for (auto it = std::sregex_iterator(dom.begin(), dom.end(), element);
         it != std::sregex_iterator(); ++it) {
      Tagged tagged{{}, unescape((*it)[2].str())};
      const std::string attributes = (*it)[1].str();
      for (auto a = std::sregex_iterator(attributes.begin(), attributes.end(), attribute);
           a != std::sregex_iterator(); ++a)
        tagged.attributes[(*a)[1].str()] = unescape((*a)[3].str());
      elements_.push_back(std::move(tagged));
    }
  }

  // The elements named `test` whose attributes include `keys`.
  std::vector<const Tagged*> all(const std::string& test, const Attributes& keys = {}) const {
    std::vector<const Tagged*> out;
    for (const Tagged& t : elements_) {
      bool fits = t.attributes.at("data-test") == test;
      for (const auto& [key, value] : keys) {
        const auto found = t.attributes.find(key);
        fits = fits && found != t.attributes.end() && found->second == value;
      }
      if (fits) out.push_back(&t);
    }
    return out;
  }
  // The one such element; nullptr (and a failure) when there is none or several.
  const Tagged* one(const std::string& test, const Attributes& keys = {}) const {
    const std::vector<const Tagged*> found = all(test, keys);
    EXPECT_EQ(found.size(), 1u) << test << describe(keys) << "\n" << dom_.substr(0, 4000);
    return found.size() == 1 ? found[0] : nullptr;
  }
  static std::string describe(const Attributes& keys) {
    std::string out;
    for (const auto& [key, value] : keys)
      out += " " + key + "=" + value;
    return out;
  }

 private:
  std::string dom_;
  std::vector<Tagged> elements_;
};

// The page's data-value of `test` for `keys` is the API's `value`.
void expect_shows(const Page& page, const std::string& test, const Attributes& keys,
                  const json::value& value) {
  const Tagged* tagged = page.one(test, keys);
  if (tagged == nullptr) return;
  const std::string shown = tagged->attributes.at("data-value");
  const std::string where = test + Page::describe(keys);
  if (value.is_number()) {
    ASSERT_NE(shown, "null") << where;
    const double expected = value.to_number<double>();
    EXPECT_NEAR(std::stod(shown), expected, 1e-9 * std::max(1.0, std::fabs(expected))) << where;
  } else if (value.is_string()) {
    EXPECT_EQ(shown, std::string(value.as_string())) << where;
  } else if (value.is_null()) {
    EXPECT_EQ(shown, "null") << where;
  } else if (value.is_bool()) {
    EXPECT_EQ(shown, value.as_bool() ? "true" : "false") << where;
  } else {
    ADD_FAILURE() << where << ": the API's value is no scalar: " << json::serialize(value);
  }
}

json::value get_json(Admin& admin, const std::string& path) {
  const auto r = admin.call("GET", path);
  EXPECT_TRUE(r.has_value() && r->status == 200) << path << (r ? "\n" + r->body : "");
  return r && r->status == 200 ? json::parse(r->body) : json::value(nullptr);
}

std::string page_url(const Admin& admin, const std::string& fragment = "") {
  return "http://127.0.0.1:" + std::to_string(admin.port) + "/" + fragment;
}

std::string with_token() {
  return "#token=" + kToken;
}

// Every backend's figures. The latency EWMA decays between the page's read and ours:
// only whether there is one is compared.
void expect_pools_match(const Page& page, const json::value& api) {
  std::size_t backends = 0;
  for (const json::value& pool : api.at("pools").as_array()) {
    const std::string name(pool.at("name").as_string());
    for (const json::value& b : pool.at("backends").as_array()) {
      ++backends;
      const Attributes keys{{"data-pool", name},
                            {"data-backend", std::string(b.at("address").as_string())}};
      for (const char* field :
           {"weight", "state", "in_flight", "active_connections", "requests_total"})
        expect_shows(page, std::string("backend-") + field, keys, b.at(field));
      const Tagged* latency = page.one("backend-latency_ewma_ms", keys);
      if (latency != nullptr) {
        EXPECT_EQ(latency->attributes.at("data-value") == "null",
                  b.at("latency_ewma_ms").is_null());
      }
    }
  }
  EXPECT_EQ(page.all("backend-weight").size(), backends);
}

void expect_splits_match(const Page& page, const json::value& api) {
  std::size_t targets = 0;
  for (const json::value& split : api.at("splits").as_array()) {
    const std::string name(split.at("name").as_string());
    for (const auto& [target, figures] : split.at("targets").as_object()) {
      ++targets;
      const Attributes keys{{"data-split", name}, {"data-target", std::string(target)}};
      for (const char* field :
           {"weight", "in_flight", "active_connections", "requests_total", "assignments_total"})
        expect_shows(page, std::string("split-") + field, keys, figures.at(field));
    }
  }
  EXPECT_EQ(page.all("split-weight").size(), targets);
}

// A rollout at rest (inconclusive, no traffic): everything but the time it has run.
void expect_rollouts_match(const Page& page, const json::value& api) {
  for (const json::value& r : api.at("rollouts").as_array()) {
    const std::string name(r.at("name").as_string());
    const Attributes keys{{"data-rollout", name}};
    for (const char* field : {"state", "step", "weight", "reason"})
      expect_shows(page, std::string("rollout-") + field, keys, r.at(field));
    for (const auto& [target, evidence] : r.at("evidence").as_object()) {
      Attributes of_target = keys;
      of_target["data-target"] = std::string(target);
      for (const char* field : {"requests", "errors", "error_ratio", "latency_ms"})
        expect_shows(page, std::string("evidence-") + field, of_target, evidence.at(field));
    }
    const json::object& judgement = r.at("judgement").as_object();
    expect_shows(page, "rollout-overall", keys, judgement.at("overall"));
    for (const auto& [guard, figures] : judgement) {
      if (!figures.is_object()) continue;
      Attributes of_guard = keys;
      of_guard["data-guard"] = std::string(guard);
      for (const auto& [field, value] : figures.as_object())
        expect_shows(page, "guard-" + std::string(field), of_guard, value);
    }
    const std::size_t history = r.at("history").as_array().size();
    expect_shows(page, "rollout-history", keys, json::value(history));
    EXPECT_EQ(page.all("history-event", keys).size(), std::min<std::size_t>(history, 15));
    const Tagged* chart = page.one("rollout-chart", keys);
    if (chart != nullptr) {
      EXPECT_EQ(chart->attributes.at("data-points"), std::to_string(history + 1));
    }
  }
  EXPECT_EQ(page.all("rollout").size(), api.at("rollouts").as_array().size());
}

void expect_png(const std::string& path) {
  const std::string png = read_file(path);
  ASSERT_GT(png.size(), 1000u) << path;
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << path;
}

// Pools blue (two backends) and green behind split rpc; requests spread per request.
TestConfig blue_green(const TestBackend& main, const TestBackend& blue1, const TestBackend& blue2,
                      const TestBackend& green, const std::string& more = "") {
  return TestConfig{.backends = {main.address()},
                    .extra = "\n[pools.blue]\nbackends = [\"" + blue1.address() +
                             "\", { address = \"" + blue2.address() +
                             "\", weight = 3 }]\n[pools.green]\nbackends = [\"" + green.address() +
                             "\"]\n[splits.rpc]\ntargets = { blue = 90, green = 10 }\n"
                             "sticky = \"none\"\n" +
                             more,
                    .route_target = "rpc"};
}

void send_requests(const Admin& admin, int n) {
  Client client(admin.veer->port());
  for (int i = 0; i < n; ++i) {
    const auto r = client.get("/status-page-test/" + std::to_string(i));
    ASSERT_TRUE(r.has_value() && r->status == 200) << i;
  }
}

TEST(StatusPage, IsServedOpenAsHtmlWithItsPolicy) {
  TestBackend b("b");
  Admin admin = start_with_admin(TestConfig{.backends = {b.address()}});
  Client client(admin.port);
  const auto page = client.get("/");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->status, 200) << "open: the page holds no data, its script sends the token";
  EXPECT_EQ(page->header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->header("Content-Security-Policy"), std::string(admin::kStatusPagePolicy));
  EXPECT_EQ(page->header("Cache-Control"), "no-store");
  EXPECT_EQ(page->body, std::string(admin::status_page_html()));
  const auto head = client.request("HEAD", "/");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Length"), std::to_string(page->body.size()));
  EXPECT_EQ(head->body_size, 0u);
  EXPECT_EQ(head->header("Content-Security-Policy"), std::string(admin::kStatusPagePolicy));
  const auto json_reply = client.request("GET", "/api/v1/pools", "", {kAuth});
  ASSERT_TRUE(json_reply.has_value());
  EXPECT_EQ(json_reply->count("Content-Security-Policy"), 0u) << "the page's policy only";
}

TEST(StatusPage, WithoutAValidTokenItAsksForOne) {
  SKIP_WITHOUT_CHROMIUM();
  TestBackend main("main"), blue1("blue1"), blue2("blue2"), green("green");
  Admin admin = start_with_admin(blue_green(main, blue1, blue2, green));
  Chromium chromium;
  for (const auto& [fragment, note] : std::vector<std::pair<std::string, std::string>>{
           {"", "the admin API needs a token"},
           {"#token=not-the-token", "the admin API refused this token"}}) {
    const Page page(chromium.dump_dom(page_url(admin, fragment)));
    const Tagged* form = page.one("token-form");
    ASSERT_NE(form, nullptr) << fragment;
    EXPECT_EQ(form->attributes.count("hidden"), 0u) << fragment << ": the token field shows";
    const Tagged* said = page.one("token-note");
    ASSERT_NE(said, nullptr);
    EXPECT_EQ(said->text, note) << fragment;
    EXPECT_TRUE(page.all("backend-weight").empty()) << fragment << ": no figure without a token";
  }
}

TEST(StatusPage, ShowsWhatTheApiAnswers) {
  SKIP_WITHOUT_CHROMIUM();
  TestBackend main("main"), blue1("blue1"), blue2("blue2"), green("green");
  Admin admin = start_with_admin(blue_green(main, blue1, blue2, green));
  send_requests(admin, 40);
  // Nothing in flight any more: the figures hold still while the page and the test read.
  ASSERT_TRUE(poll_until([&] {
    const json::value pools = get_json(admin, "/api/v1/pools");
    if (!pools.is_object()) return false;
    for (const json::value& pool : pools.at("pools").as_array())
      for (const json::value& b : pool.at("backends").as_array())
        if (b.at("in_flight").to_number<std::int64_t>() != 0) return false;
    return true;
  }));
  Chromium chromium;
  const Page page(chromium.dump_dom(page_url(admin, with_token())));
  const json::value pools = get_json(admin, "/api/v1/pools");
  const json::value splits = get_json(admin, "/api/v1/splits");
  expect_pools_match(page, pools);
  expect_splits_match(page, splits);
  const Tagged* form = page.one("token-form");
  ASSERT_NE(form, nullptr);
  EXPECT_EQ(form->attributes.count("hidden"), 1u) << "the token from #token= was used";
  const Tagged* version = page.one("config-version");
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(version->text, std::to_string(pools.at("version").to_number<std::uint64_t>()));
  const std::string png = std::string(VEER_STATUS_PAGE_DIR) + "/status_page.png";
  std::filesystem::remove(png);
  chromium.screenshot(page_url(admin, with_token()), png);
  expect_png(png);
}

// A rollout that gets too little traffic to judge: inconclusive after max_step, said so
// with its reason, and every figure of its evidence and judgement as the API gives them.
TEST(StatusPage, ShowsARolloutWithItsEvidenceAndJudgement) {
  SKIP_WITHOUT_CHROMIUM();
  TestBackend main("main"), blue1("blue1"), blue2("blue2"), green("green");
  Admin admin = start_with_admin(
      blue_green(main, blue1, blue2, green,
                 "[rollouts.r1]\nsplit = \"rpc\"\nstable = \"blue\"\ncanary = \"green\"\n"
                 "steps = [10, 50, 100]\nmin_step = \"1s\"\nmax_step = \"3s\"\n"));
  send_requests(admin, 30);
  const auto endpoint = admin.call("GET", "/api/v1/rollouts");
  ASSERT_TRUE(endpoint.has_value());
  ASSERT_EQ(endpoint->status, 200) << "GET /api/v1/rollouts is not served by this build";
  json::value rollouts;
  const bool inconclusive = poll_until(
      [&] {
        const auto r = admin.call("GET", "/api/v1/rollouts");
        if (!r || r->status != 200) return false;
        rollouts = json::parse(r->body);
        const json::array& list = rollouts.at("rollouts").as_array();
        return list.size() == 1 && list[0].at("state").is_string() &&
               list[0].at("state").as_string() == "inconclusive";
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(inconclusive) << json::serialize(rollouts);
  Chromium chromium;
  const Page page(chromium.dump_dom(page_url(admin, with_token())));
  rollouts = get_json(admin, "/api/v1/rollouts");
  expect_rollouts_match(page, rollouts);
  expect_splits_match(page, get_json(admin, "/api/v1/splits"));
  const Tagged* state = page.one("rollout-state", {{"data-rollout", "r1"}});
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->text, "inconclusive") << "said in words, not only as a colour";
  const Tagged* reason = page.one("rollout-reason", {{"data-rollout", "r1"}});
  ASSERT_NE(reason, nullptr);
  EXPECT_FALSE(reason->text.empty());
  EXPECT_EQ(reason->text, std::string(rollouts.at("rollouts").at(0).at("reason").as_string()));
  const std::string png = std::string(VEER_STATUS_PAGE_DIR) + "/status_page_rollout.png";
  std::filesystem::remove(png);
  chromium.screenshot(page_url(admin, with_token()), png);
  expect_png(png);
}

}  // namespace
}  // namespace veer::test
