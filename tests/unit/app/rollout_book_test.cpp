// The process's rollouts (app/rollout_book.hpp) against a model over long random
// sequences of API calls, ticks of simulated traffic, reloads that add, change and drop
// the file's rollout, and restarts from the persisted records.

#include "app/rollout_book.hpp"

#include <gtest/gtest.h>

#include <random>

#include "conf/load.hpp"
#include "conf/rollout_rules.hpp"
#include "tests/unit/runtime/rollout_sim.hpp"

namespace veer {
namespace {

using namespace std::chrono_literals;
using runtime::RolloutState;

// Two splits; the file's rollout r-file on "rpc" comes in two definitions (or none).
std::string file_text(int variant) {
  std::string text = R"(
[admin]
address = "127.0.0.1:0"
[listeners.main]
address = "127.0.0.1:0"
  [[listeners.main.routes]]
  path_prefix = "/a"
  target = "rpc"
  [[listeners.main.routes]]
  path_prefix = "/b"
  target = "web"
[pools.blue]
backends = ["127.0.0.1:9001"]
[pools.green]
backends = ["127.0.0.1:9002"]
[pools.gray]
backends = ["127.0.0.1:9003"]
[splits.rpc]
targets = { blue = 100, green = 0 }
[splits.web]
targets = { blue = 90, green = 5, gray = 5 }
)";
  if (variant == 1)
    text +=
        "[rollouts.r-file]\nsplit = \"rpc\"\nstable = \"blue\"\ncanary = \"green\"\n"
        "steps = [10, 50]\nmin_step = \"1s\"\nmax_step = \"20s\"\n";
  if (variant == 2)
    text +=
        "[rollouts.r-file]\nsplit = \"rpc\"\nstable = \"blue\"\ncanary = \"green\"\n"
        "steps = [5, 25, 100]\nmin_step = \"2s\"\nmax_step = \"30s\"\n";
  return text;
}

conf::Config load(int variant) {
  conf::LoadResult r = conf::load_config_string(file_text(variant), "model.toml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  return *r.config;
}

conf::RolloutConfig api_rollout(const std::string& name, const std::string& split,
                                std::mt19937_64& random) {
  conf::RolloutConfig c;
  c.name = name;
  c.split = split;
  c.stable = random() % 2 ? "blue" : "gray";
  c.canary = "green";
  c.steps = {100, 2500, 10000};
  if (random() % 2) c.steps = {1000, 5000};
  c.min_step = 1s;
  c.max_step = std::chrono::milliseconds(5000 + random() % 20000);
  c.error_ratio = conf::ErrorGuardConfig{random() % 2 ? 0.001 : 0.05, 0.05};
  return c;
}

// The server's part: a split takes the weights a decision asks for, which name exactly
// its targets (a change names the whole table: a pool it adds would join the split).
void carry_out(const app::RolloutEffects& effects, conf::Config& running) {
  for (const auto& [name, weights] : effects.split_weights) {
    for (conf::SplitConfig& split : running.splits) {
      if (split.name != name) continue;
      ASSERT_EQ(weights.size(), split.targets.size()) << name;
      for (conf::SplitTargetConfig& t : split.targets)
        t.weight = weights.at(t.pool);
    }
  }
}

struct Model {
  // What the model knows of each rollout on record.
  struct Entry {
    bool from_file = false;
    bool finished = false;
    RolloutState final_state{};
    std::uint32_t last_canary_bp = 0;
    std::uint32_t last_step = 0;
  };
  std::map<std::string, Entry> entries;
};

void check(const app::RolloutBook& book, const conf::Config& running, const conf::Config& file,
           Model& model, const std::string& op) {
  std::map<std::string, int> unfinished_per_split;
  for (const auto& [name, r] : book.records()) {
    SCOPED_TRACE(op + ": rollout " + name);
    auto& e = model.entries[name];
    const std::uint32_t bp = runtime::canary_weight(r.config, r.progress);
    if (runtime::finished(r.progress.state)) {
      if (e.finished) {
        EXPECT_EQ(r.progress.state, e.final_state) << "a finished rollout never moves";
      }
      e.finished = true;
      e.final_state = r.progress.state;
      continue;
    }
    ASSERT_FALSE(e.finished) << "a finished rollout never runs again under its record";
    ++unfinished_per_split[r.config.split];
    EXPECT_GE(bp, e.last_canary_bp) << "a canary's share only grows until it finishes";
    EXPECT_GE(r.progress.step, e.last_step);
    e.last_canary_bp = bp;
    e.last_step = r.progress.step;
    // The split runs with the rollout's weights.
    const conf::SplitConfig* split = running.find_split(r.config.split);
    ASSERT_NE(split, nullptr);
    EXPECT_EQ(app::rollout_weights(*split, r.config, bp).at(r.config.canary), bp);
    for (const conf::SplitTargetConfig& t : split->targets)
      EXPECT_EQ(t.weight, app::rollout_weights(*split, r.config, bp).at(t.pool)) << t.pool;
    EXPECT_LE(r.progress.history.size(), runtime::kRolloutHistory);
  }
  for (const auto& [split, n] : unfinished_per_split)
    EXPECT_EQ(n, 1) << op << ": one unfinished rollout per split";
  // The file's rollout is on record exactly while the file names it.
  for (const auto& [name, r] : book.records()) {
    if (r.from_file) {
      EXPECT_NE(file.find_rollout(name), nullptr) << op;
    }
  }
  for (const conf::RolloutConfig& defined : file.rollouts) {
    const auto it = book.records().find(defined.name);
    ASSERT_NE(it, book.records().end()) << op;
    EXPECT_TRUE(it->second.from_file) << op;
  }
}

TEST(RolloutBookModel, LongRandomSequencesKeepEveryPromise) {
  std::mt19937_64 random(20261207);
  const std::array<conf::Config, 3> files = {load(0), load(1), load(2)};
  for (int run = 0; run < 20; ++run) {
    int variant = 1;
    conf::Config running = files[variant];
    app::RolloutBook book;
    Model model;
    app::RolloutBook::Totals totals;
    std::int64_t now = 0;
    app::RolloutEffects effects;
    book.reconcile(files[variant], running, now, effects);
    carry_out(effects, running);
    std::array<test::SimulatedTraffic, 2> traffic = {
        test::SimulatedTraffic({300, {0.001, 1ms}, {0.001, 1ms}}, run),
        test::SimulatedTraffic({300, {0.001, 1ms}, {0.08, 1ms}}, run + 100)};
    for (int step = 0; step < 1500; ++step) {
      app::RolloutEffects fx;
      std::string op;
      const int dice = static_cast<int>(random() % 100);
      const std::string name = random() % 3 == 0 ? "r-file" : random() % 2 ? "a1" : "a2";
      if (dice < 70) {
        op = "tick";
        // Each split's traffic at the weights it runs with now.
        for (const conf::SplitConfig& split : running.splits) {
          std::uint64_t green = 0, total = 0;
          for (const conf::SplitTargetConfig& t : split.targets) {
            total += t.weight;
            if (t.pool == "green") green = t.weight;
          }
          runtime::TargetEvidence blue_more, green_more;
          const auto share = static_cast<std::uint32_t>(total == 0 ? 0 : green * 10000 / total);
          traffic[split.name == "web"].run(100, share, blue_more, green_more);
          totals[{split.name, "blue"}].add(blue_more);
          totals[{split.name, "gray"}].add(blue_more);
          totals[{split.name, "green"}].add(green_more);
        }
        if (random() % 200 == 0) totals.clear();  // series that restarted from zero
        now += 100;
        book.tick(totals, running, 100, now, fx);
      } else if (dice < 78) {
        op = "start " + name;
        const auto before = book.records().find(name);
        const bool unfinished =
            before != book.records().end() && !runtime::finished(before->second.progress.state);
        const bool file_named = before != book.records().end() && before->second.from_file;
        const std::string split = random() % 2 ? "rpc" : "web";
        const app::RolloutReply reply =
            book.start(api_rollout(name, split, random), running, now, fx);
        if (unfinished || file_named) {
          EXPECT_EQ(reply.status, 409u) << op << ": " << reply.why;
        }
        if (reply.status == 201) {
          model.entries[name] = {};
          EXPECT_FALSE(book.records().at(name).from_file);
        }
      } else if (dice < 88) {
        const auto action = static_cast<runtime::RolloutAction>(random() % 4);
        op = "act " + name;
        const bool known = book.records().contains(name);
        const app::RolloutReply reply = book.act(name, action, running, now, fx);
        if (!known) {
          EXPECT_EQ(reply.status, 404u) << op;
        }
      } else if (dice < 92) {
        op = "forget " + name;
        const auto before = book.records().find(name);
        const bool known = before != book.records().end();
        const bool from_file = known && before->second.from_file;
        const app::RolloutReply reply = book.forget(name, running, now, fx);
        EXPECT_EQ(reply.status, known ? 200u : 404u) << op;
        if (known && !from_file) {
          EXPECT_FALSE(book.records().contains(name)) << op;
          model.entries.erase(name);
        }
        if (from_file) {
          EXPECT_TRUE(runtime::finished(book.records().at(name).progress.state));
        }
      } else if (dice < 97) {
        const int next = static_cast<int>(random() % 3);
        op = "reload to variant " + std::to_string(next);
        if (next != variant) model.entries.erase("r-file");  // replaced or dropped
        variant = next;
        // A reload keeps the running changes (the splits' weights) on top of the file.
        conf::Config reloaded = files[variant];
        reloaded.splits = running.splits;
        running = reloaded;
        book.reconcile(files[variant], running, now, fx);
      } else {
        op = "restart";
        app::RolloutBook again;
        again.restore(book.to_persist(), now, fx);
        again.baseline(totals);
        again.reconcile(files[variant], running, now, fx);
        book = std::move(again);
      }
      carry_out(fx, running);
      check(book, running, files[variant], model, op);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(RolloutBook, EvidenceSinceACounterRestartCountsFromZero) {
  runtime::TargetEvidence before, now;
  before.requests = 100;
  before.errors = 3;
  now.requests = 140;
  now.errors = 5;
  EXPECT_EQ(app::evidence_since(now, before).requests, 40u);
  EXPECT_EQ(app::evidence_since(now, before).errors, 2u);
  runtime::TargetEvidence restarted;
  restarted.requests = 7;
  EXPECT_EQ(app::evidence_since(restarted, before).requests, 7u);
}

TEST(RolloutBook, OperatorsCannotStartASecondRolloutOnASteeredSplit) {
  const conf::Config file = load(0);
  conf::Config running = file;
  app::RolloutBook book;
  std::mt19937_64 random(1);
  app::RolloutEffects fx;
  conf::RolloutConfig first = api_rollout("a1", "rpc", random);
  first.stable = "blue";  // gray is no target of rpc
  ASSERT_EQ(book.start(first, running, 0, fx).status, 201u) << book.records().size();
  carry_out(fx, running);
  conf::RolloutConfig another = api_rollout("a2", "rpc", random);
  another.stable = "blue";
  const app::RolloutReply second = book.start(another, running, 0, fx);
  EXPECT_EQ(second.status, 409u);
  EXPECT_NE(second.why.find("a1"), std::string::npos) << second.why;
  ASSERT_NE(book.steering("rpc"), nullptr);
  EXPECT_EQ(book.steering("rpc")->config.name, "a1");
  conf::RolloutConfig bad = api_rollout("a3", "nowhere", random);
  EXPECT_EQ(book.start(bad, running, 0, fx).status, 400u);
}

// A load that took the rollout away and changed its split has the last word on the
// split's weights; one that only took the rollout away rolls the canary back.
TEST(RolloutBook, EndingARolloutLeavesASplitTheLoadChangedAlone) {
  const conf::Config with_rollout = load(1);
  conf::Config running = with_rollout;
  app::RolloutBook book;
  app::RolloutEffects fx;
  book.reconcile(with_rollout, running, 0, fx);
  carry_out(fx, running);
  ASSERT_EQ(running.find_split("rpc")->targets[1].weight, 1000u);  // green at 10 %

  // The file drops the rollout and sends everyone to green itself.
  conf::Config edited = load(0);
  for (conf::SplitTargetConfig& t : edited.splits[0].targets)
    t.weight = t.pool == "green" ? 100 : 0;
  app::RolloutEffects ended;
  book.reconcile(edited, edited, 1, ended);
  EXPECT_TRUE(ended.split_weights.empty()) << "the file's new weights stay";
  EXPECT_FALSE(book.records().contains("r-file"));

  // Dropped alone, with the split as the rollout left it: back to stable.
  app::RolloutBook again;
  conf::Config steered = with_rollout;
  app::RolloutEffects started;
  again.reconcile(with_rollout, steered, 0, started);
  carry_out(started, steered);
  conf::Config without = load(0);
  without.splits = steered.splits;  // the load kept the rollout's weights (a runtime change)
  app::RolloutEffects dropped;
  again.reconcile(load(0), without, 1, dropped);
  ASSERT_TRUE(dropped.split_weights.contains("rpc"));
  EXPECT_EQ(dropped.split_weights.at("rpc").at("green"), 0u);
  EXPECT_EQ(dropped.split_weights.at("rpc").at("blue"), 10000u);
}

TEST(RolloutBook, ARolloutWhoseCanaryLeftTheSplitEndsWithoutTouchingIt) {
  const conf::Config file = load(0);
  conf::Config running = file;
  app::RolloutBook book;
  std::mt19937_64 random(3);
  conf::RolloutConfig r = api_rollout("a1", "web", random);
  r.stable = "blue";
  app::RolloutEffects fx;
  ASSERT_EQ(book.start(r, running, 0, fx).status, 201u);
  carry_out(fx, running);
  // A reload takes green out of the split.
  conf::Config reloaded = file;
  auto& targets = reloaded.splits[1].targets;
  std::erase_if(targets, [](const conf::SplitTargetConfig& t) { return t.pool == "green"; });
  app::RolloutEffects ended;
  book.reconcile(reloaded, reloaded, 1, ended);
  EXPECT_EQ(book.records().at("a1").progress.state, RolloutState::aborted);
  EXPECT_NE(book.records().at("a1").progress.reason.find("canary"), std::string::npos)
      << book.records().at("a1").progress.reason;
  EXPECT_TRUE(ended.split_weights.empty()) << "green must not come back into the split";
}

TEST(RolloutRules, AFirstStepOf100IsRefused) {
  const conf::Config file = load(0);
  std::mt19937_64 random(4);
  conf::RolloutConfig r = api_rollout("a1", "rpc", random);
  r.stable = "blue";
  r.steps = {10000};
  const std::vector<std::string> problems = conf::check_rollout(r, file);
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].find("first step"), std::string::npos) << problems[0];
}

}  // namespace
}  // namespace veer
