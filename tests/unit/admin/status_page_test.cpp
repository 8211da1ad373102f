// The status page's text (admin/status_page.cpp): self-contained (nothing fetched from
// anywhere but its own /api/v1), small, API strings never parsed as markup, and the
// policy it is served with. tests/integration/status_page_test.cpp runs it in Chromium.
#include "admin/status_page.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace veer::admin {
namespace {

const std::string kPage(status_page_html());

std::vector<std::string> matches(const std::string& text, const std::regex& pattern,
                                 int group = 0) {
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern);
       it != std::sregex_iterator(); ++it)
    out.push_back((*it)[group].str());
  return out;
}

TEST(StatusPage, IsOneSmallHtmlDocument) {
  EXPECT_TRUE(kPage.starts_with("<!doctype html>"));
  EXPECT_TRUE(kPage.ends_with("</html>\n"));
  EXPECT_LT(kPage.size(), 40u * 1024) << "the page is served from memory on every GET /";
  EXPECT_EQ(matches(kPage, std::regex("<script>")).size(), 1u);
  EXPECT_EQ(matches(kPage, std::regex("<style>")).size(), 1u);
}

// The only absolute URL is the SVG namespace's name, which no browser fetches.
TEST(StatusPage, NamesNoExternalUrl) {
  EXPECT_EQ(kPage.find("https://"), std::string::npos);
  const std::vector<std::string> urls = matches(kPage, std::regex(R"(http://[^'"\s)]*)"));
  ASSERT_EQ(urls.size(), 1u);
  EXPECT_EQ(urls[0], "http://www.w3.org/2000/svg");
  EXPECT_EQ(kPage.find("@import"), std::string::npos);
  EXPECT_EQ(kPage.find("url("), std::string::npos);
  EXPECT_EQ(kPage.find("<iframe"), std::string::npos);
  EXPECT_EQ(kPage.find("<img"), std::string::npos);
  // src and href, in markup or set from the script: only data: URLs.
  const std::vector<std::string> refs =
      matches(kPage, std::regex(R"((src|href|action)\s*=\s*["']([^"']*))"), 2);
  ASSERT_EQ(refs.size(), 1u) << "the favicon";
  for (const std::string& ref : refs) {
    EXPECT_TRUE(ref.starts_with("data:")) << ref;
    EXPECT_FALSE(ref.starts_with("//")) << ref;
  }
  EXPECT_EQ(matches(kPage, std::regex(R"(['"]//)")).size(), 0u) << "no scheme-relative URL";
  EXPECT_EQ(matches(kPage, std::regex(R"(setAttribute\(['"](src|href))")).size(), 0u);
}

// What the script reads: its own origin's /api/v1, through one function.
TEST(StatusPage, FetchesOnlyItsOwnApi) {
  EXPECT_EQ(matches(kPage, std::regex(R"(\bfetch\()")).size(), 1u);
  const std::vector<std::string> paths = matches(kPage, std::regex(R"(api\('([^']*)')"), 1);
  EXPECT_EQ(paths,
            (std::vector<std::string>{"/api/v1/pools", "/api/v1/splits", "/api/v1/rollouts"}));
  EXPECT_EQ(kPage.find("XMLHttpRequest"), std::string::npos);
  EXPECT_EQ(kPage.find("WebSocket"), std::string::npos);
  EXPECT_EQ(kPage.find("localStorage"), std::string::npos)
      << "the token lives in sessionStorage: gone with the tab";
}

// API strings (names, reasons, causes, details) go in as text nodes and attributes.
TEST(StatusPage, NeverParsesMarkup) {
  for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                           "eval(", "new Function", "createContextualFragment", "DOMParser"})
    EXPECT_EQ(kPage.find(sink), std::string::npos) << sink;
  EXPECT_NE(kPage.find("document.createTextNode"), std::string::npos);
}

TEST(StatusPage, ItsPolicyAllowsOnlyItsOwnInlineCodeAndOrigin) {
  EXPECT_EQ(content_security_policy("text/html; charset=utf-8"), kStatusPagePolicy);
  EXPECT_EQ(content_security_policy("application/json"), "");
  EXPECT_EQ(content_security_policy("text/plain; charset=utf-8"), "");
  const std::string policy(kStatusPagePolicy);
  for (const char* directive :
       {"default-src 'none'", "script-src 'unsafe-inline'", "style-src 'unsafe-inline'",
        "connect-src 'self'", "img-src data:", "frame-ancestors 'none'", "form-action 'none'"})
    EXPECT_NE(policy.find(directive), std::string::npos) << directive;
  EXPECT_EQ(policy.find("unsafe-eval"), std::string::npos);
  EXPECT_EQ(policy.find("http"), std::string::npos);
  EXPECT_EQ(policy.find('*'), std::string::npos);
}

// Every figure the integration test compares with the API has a data-test name.
TEST(StatusPage, NamesEveryFigureItShows) {
  for (const char* name :
       {"backend-weight", "backend-state", "backend-in_flight", "backend-latency_ewma_ms",
        "split-weight", "rollout-state", "rollout-step", "rollout-weight", "rollout-reason",
        "evidence-requests", "evidence-error_ratio", "guard-verdict", "guard-low", "guard-high",
        "rollout-overall", "rollout-chart", "history-event", "token-form"})
    EXPECT_NE(kPage.find(std::string("'") + name + "'"), std::string::npos) << name;
}

}  // namespace
}  // namespace veer::admin
