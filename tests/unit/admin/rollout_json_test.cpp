// Rollouts as JSON (admin/rollout_json.hpp): the POST body read field by field, the
// definition written back and read the same, evidence and progress as the state file
// keeps them, and every malformed input refused with the field it stumbled on.
#include "admin/rollout_json.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "admin/json_text.hpp"

namespace veer::admin {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const char* const kBody = R"({"name": "r1", "split": "rpc", "stable": "rpc-blue",
  "canary": "rpc-green", "steps": [1, 5, 25, 50, 100], "min_step": "30s", "max_step": "10m",
  "guards": {"error_ratio": {"tolerance": 0.01, "alpha": 0.05},
             "latency": {"quantile": 0.99, "tolerance_ms": 50, "alpha": 0.05}}})";

conf::RolloutConfig read(const std::string& text) {
  std::string why;
  const std::optional<conf::RolloutConfig> r = rollout_from_json(json::parse(text), &why);
  EXPECT_TRUE(r) << text << "\n" << why;
  return r.value_or(conf::RolloutConfig{});
}

std::string refusal(const std::string& text) {
  std::string why;
  if (rollout_from_json(json::parse(text), &why)) return "";
  return why;
}

TEST(RolloutJson, TheDocumentedBodyIsRead) {
  const conf::RolloutConfig r = read(kBody);
  EXPECT_EQ(r.name, "r1");
  EXPECT_EQ(r.split, "rpc");
  EXPECT_EQ(r.stable, "rpc-blue");
  EXPECT_EQ(r.canary, "rpc-green");
  EXPECT_EQ(r.steps, (std::vector<std::uint32_t>{100, 500, 2500, 5000, 10000}));
  EXPECT_EQ(r.min_step, 30s);
  EXPECT_EQ(r.max_step, 600s);
  EXPECT_EQ(r.error_ratio, (conf::ErrorGuardConfig{0.01, 0.05}));
  EXPECT_EQ(r.latency, (conf::LatencyGuardConfig{0.99, 50, 0.05}));
}

TEST(RolloutJson, WithoutGuardsTheErrorGuardWithItsDefaults) {
  const conf::RolloutConfig r =
      read(R"({"name": "r", "split": "s", "stable": "a", "canary": "b", "steps": [0.5, 100]})");
  EXPECT_EQ(r.steps, (std::vector<std::uint32_t>{50, 10000}));
  EXPECT_EQ(r.min_step, 30s);
  EXPECT_EQ(r.max_step, 600s);
  EXPECT_EQ(r.error_ratio, conf::ErrorGuardConfig{});
  EXPECT_FALSE(r.latency);
  const conf::RolloutConfig latency_only = read(
      R"({"name": "r", "split": "s", "stable": "a", "canary": "b", "steps": [1],
          "guards": {"latency": {}}})");
  EXPECT_FALSE(latency_only.error_ratio);
  EXPECT_EQ(latency_only.latency, conf::LatencyGuardConfig{});
}

TEST(RolloutJson, TheDefinitionIsWrittenAsItIsRead) {
  const conf::RolloutConfig r = read(kBody);
  const json::object written = rollout_config_json(r);
  EXPECT_EQ(written.at("steps"), json::parse("[1, 5, 25, 50, 100]")) << "whole percents: integers";
  EXPECT_EQ(written.at("min_step"), "30s");
  EXPECT_EQ(written.at("max_step"), "10m");
  EXPECT_EQ(read(json::serialize(written)), r);
  conf::RolloutConfig halves = r;
  halves.steps = {1, 50, 1234, 9999};
  halves.latency.reset();
  halves.min_step = 1500ms;
  const std::string text = to_json_text(rollout_config_json(halves));
  EXPECT_NE(text.find("\"steps\":[0.01,0.5,12.34,99.99]"), std::string::npos) << text;
  EXPECT_EQ(read(text), halves);
}

TEST(RolloutJson, AMalformedBodyIsRefusedNamingTheField) {
  const std::string rest = R"("split": "s", "stable": "a", "canary": "b")";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[]", "the body: expected a JSON object"},
      {R"({"nmae": "r", )" + rest + R"(, "steps": [1]})", "nmae: unknown field (expected name, "},
      {"{" + rest + R"(, "steps": [1]})", "name: missing"},
      {R"({"name": "r", "split": 1, "stable": "a", "canary": "b", "steps": [1]})",
       "split: expected a string"},
      {R"({"name": "r", )" + rest + "}", "steps: missing"},
      {R"({"name": "r", )" + rest + R"(, "steps": "1,5"})", "steps: expected an array"},
      {R"({"name": "r", )" + rest + R"(, "steps": [1, "5"]})", "steps[1]: expected a number"},
      {R"({"name": "r", )" + rest + R"(, "steps": [1.234]})",
       "steps[0]: not a percent from 0 to 100 with at most 2 decimals"},
      {R"({"name": "r", )" + rest + R"(, "steps": [101]})", "steps[0]: not a percent"},
      {R"({"name": "r", )" + rest + R"(, "steps": [1], "min_step": "soon"})",
       "min_step: bad duration \"soon\""},
      {R"({"name": "r", )" + rest + R"(, "steps": [1], "max_step": 30})",
       "max_step: expected a string"},
      {R"({"name": "r", )" + rest + R"(, "steps": [1], "guards": []})",
       "guards: expected a JSON object"},
      {R"({"name": "r", )" + rest + R"(, "steps": [1], "guards": {"latncy": {}}})",
       "guards.latncy: unknown field (expected error_ratio, latency)"},
      {R"({"name": "r", )" + rest + R"(, "steps": [1], "guards": {"latency": {"quantil": 1}}})",
       "guards.latency.quantil: unknown field"},
      {R"({"name": "r", )" + rest +
           R"(, "steps": [1], "guards": {"error_ratio": {"tolerance": "1%"}}})",
       "guards.error_ratio.tolerance: expected a number"},
  };
  for (const auto& [body, why] : cases) {
    EXPECT_EQ(refusal(body).rfind(why, 0), 0u)
        << body << "\nexpected: " << why << "\ngot: " << refusal(body);
  }
}

runtime::TargetEvidence evidence(std::uint64_t requests, std::uint64_t errors) {
  runtime::TargetEvidence e;
  e.requests = requests;
  e.errors = errors;
  return e;
}

TEST(RolloutJson, EvidenceKeepsOnlyItsNonEmptyBuckets) {
  runtime::TargetEvidence e = evidence(1000, 3);
  e.latency[0] = 1;
  e.latency[40] = 900;
  e.latency[runtime::kLatencyBuckets - 1] = 99;
  const json::object written = evidence_json(e);
  EXPECT_EQ(written.at("latency"),
            json::parse("[[0, 1], [40, 900], [" + std::to_string(runtime::kLatencyBuckets - 1) +
                        ", 99]]"));
  std::string why;
  EXPECT_EQ(evidence_from_json(json::parse(json::serialize(written)), &why), e) << why;
  EXPECT_EQ(evidence_from_json(json::parse(R"({"requests": 0, "errors": 0})"), &why),
            runtime::TargetEvidence{})
      << why;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"requests": 1})", "errors: missing"},
      {R"({"requests": 1, "errors": 2})", "errors: more errors than requests"},
      {R"({"requests": -1, "errors": 0})", "requests: expected an integer"},
      {R"({"requests": 1, "errors": 0, "latency": {}})", "latency: expected an array"},
      {R"({"requests": 1, "errors": 0, "latency": [[1, 2, 3]]})", "latency[0]: expected [bucket"},
      {R"({"requests": 1, "errors": 0, "latency": [[5, 1], [5, 1]]})",
       "latency[1][0]: buckets must increase"},
      {R"({"requests": 1, "errors": 0, "latency": [[100000, 1]]})",
       "latency[0][0]: expected an "
       "integer from 0 to"},
      {R"({"requests": 1, "errors": 0, "n": 1})", "n: unknown field"},
  };
  for (const auto& [text, expected] : cases) {
    why.clear();
    EXPECT_FALSE(evidence_from_json(json::parse(text), &why)) << text;
    EXPECT_EQ(why.rfind(expected, 0), 0u) << text << "\nexpected: " << expected << "\ngot: " << why;
  }
}

runtime::RolloutProgress a_progress() {
  runtime::RolloutProgress p;
  p.state = runtime::RolloutState::inconclusive;
  p.step = 2;
  p.step_running_ms = 600'000;
  p.stable = evidence(19'800, 20);
  p.stable.latency[60] = 19'800;
  p.canary = evidence(200, 1);
  p.canary.latency[61] = 200;
  p.reason = "step 3 (25 %) had too little traffic to judge in 10m";
  p.history = {{1'765'000'000'000, 0, 100, "started", "canary at 1 %"},
               {1'765'000'030'000, 1, 500, "passed", "n 2970/30, error ratio 0.001/0"},
               {1'765'000'600'000, 2, 2500, "inconclusive", ""}};
  return p;
}

TEST(RolloutJson, ProgressRoundTripsWithEvidenceAndHistory) {
  const runtime::RolloutProgress p = a_progress();
  const json::object written = progress_json(p);
  EXPECT_EQ(written.at("state"), "inconclusive");
  EXPECT_EQ(written.at("history").as_array()[1].at("unix_ms"), 1'765'000'030'000);
  std::string why;
  EXPECT_EQ(progress_from_json(json::parse(json::serialize(written)), &why), p) << why;
  json::object longer = written;
  json::array& history = longer["history"].as_array();
  while (history.size() < runtime::kRolloutHistory + 5)
    history.push_back(history.back());
  history.back().as_object()["event"] = "newest";
  const std::optional<runtime::RolloutProgress> capped = progress_from_json(longer, &why);
  ASSERT_TRUE(capped) << why;
  EXPECT_EQ(capped->history.size(), runtime::kRolloutHistory);
  EXPECT_EQ(capped->history.back().event, "newest");
}

TEST(RolloutJson, MalformedProgressIsRefusedNamingTheField) {
  const json::object good = progress_json(a_progress());
  const auto with = [&](std::string_view key, json::value value) {
    json::object o = good;
    o[key] = std::move(value);
    return o;
  };
  const std::vector<std::pair<json::value, std::string>> cases = {
      {with("state", "sideways"), "state: \"sideways\" is not running, paused"},
      {with("step", -1), "step: expected an integer"},
      {with("step_running_ms", -5), "step_running_ms: must not be negative"},
      {with("canary", json::parse(R"({"requests": 1, "errors": 2})")),
       "canary.errors: more errors than requests"},
      {with("history", json::parse(R"([{"unix_ms": 1, "step": 0, "weight_bp": 10001,
                                         "event": "x"}])")),
       "history[0].weight_bp: expected an integer from 0 to 10000"},
      {with("history", json::parse(R"([{"unix_ms": 1, "step": 0, "weight_bp": 1}])")),
       "history[0].event: missing"},
      {with("reasn", "x"), "reasn: unknown field"},
  };
  for (const auto& [value, expected] : cases) {
    std::string why;
    EXPECT_FALSE(progress_from_json(value, &why)) << value;
    EXPECT_EQ(why.rfind(expected, 0), 0u)
        << value << "\nexpected: " << expected << "\ngot: " << why;
  }
}

TEST(RolloutJson, ARecordChecksItsNameAndStep) {
  runtime::RolloutRecord record{read(kBody), true, a_progress()};
  std::string why;
  const json::value written = json::parse(json::serialize(rollout_record_json(record)));
  EXPECT_EQ(written.at("source"), "config");
  EXPECT_EQ(rollout_record_from_json(written, "r1", "rollouts.r1", &why), record) << why;
  EXPECT_FALSE(rollout_record_from_json(written, "r2", "rollouts.r2", &why));
  EXPECT_EQ(why, "rollouts.r2.config.name: \"r1\" is not \"r2\"");
  record.progress.step = 5;
  EXPECT_FALSE(rollout_record_from_json(rollout_record_json(record), "r1", "rollouts.r1", &why));
  EXPECT_EQ(why, "rollouts.r1.progress.step: 5 is beyond the last step (steps count from 0)");
  json::object api = rollout_record_json(record);
  api["source"] = "file";
  EXPECT_FALSE(rollout_record_from_json(api, "r1", "rollouts.r1", &why));
  EXPECT_EQ(why, "rollouts.r1.source: expected \"config\" or \"api\"");
}

// Random definitions and progress, written as the API and the state file write them,
// read back the same every time. Guard values are decimals as people write them (Boost
// 1.81's parser may miss a 17-digit double by one ulp; shorter ones it reads exactly).
TEST(RolloutJson, RandomRolloutsRoundTrip) {
  std::mt19937_64 random(17);
  const auto below = [&](std::uint64_t n) { return random() % n; };
  for (int i = 0; i < 500; ++i) {
    runtime::RolloutRecord record;
    record.from_file = below(2) == 0;
    conf::RolloutConfig& c = record.config;
    c.name = "r" + std::to_string(i);
    c.split = "s" + std::to_string(below(5));
    c.stable = "a";
    c.canary = "b";
    std::uint32_t bp = 0;
    while (bp < 10000 && c.steps.size() < 8) {
      bp = std::min<std::uint32_t>(10000, bp + 1 + static_cast<std::uint32_t>(below(4000)));
      c.steps.push_back(bp);
    }
    c.min_step = conf::Duration{below(100'000)};
    c.max_step = c.min_step + conf::Duration{below(10'000'000)};
    if (below(3) != 0)
      c.error_ratio = conf::ErrorGuardConfig{below(1000) / 1000.0, (1 + below(500)) / 1000.0};
    if (below(2) != 0)
      c.latency = conf::LatencyGuardConfig{
          (500 + below(500)) / 1000.0, static_cast<double>(below(500)), (1 + below(500)) / 1000.0};
    runtime::RolloutProgress& p = record.progress;
    p.state = static_cast<runtime::RolloutState>(below(6));
    p.step = static_cast<std::uint32_t>(below(c.steps.size()));
    p.step_running_ms = static_cast<std::int64_t>(below(1'000'000'000));
    for (runtime::TargetEvidence* e : {&p.stable, &p.canary}) {
      for (int k = 0; k < 20; ++k)
        e->latency[below(runtime::kLatencyBuckets)] += 1 + below(1000);
      e->requests = below(1'000'000'000);
      e->errors = below(e->requests + 1);
    }
    for (std::uint64_t k = below(5); k > 0; --k) {
      p.history.push_back(
          {static_cast<std::int64_t>(random() >> 1), static_cast<std::uint32_t>(below(8)),
           static_cast<std::uint32_t>(below(10001)), "passed", "d" + std::to_string(k)});
    }
    std::string why;
    const json::value again = json::parse(json::serialize(rollout_record_json(record)));
    ASSERT_EQ(rollout_record_from_json(again, c.name, "rollouts." + c.name, &why), record) << why;
    ASSERT_EQ(rollout_from_json(json::parse(to_json_text(rollout_config_json(c))), &why), c) << why;
  }
}

}  // namespace
}  // namespace veer::admin
