// Issue 11's model-based test: a seeded random sequence of admin calls (valid and
// invalid), config file edits with SIGHUP or POST /api/v1/reload, DELETE
// /api/v1/overrides, kill -9 and restart, and If-Match races, against 2 pools, a split,
// a rate-limit policy (issue 14's PUT /api/v1/limits/{policy}) and 6 real backends.
// After every step veer must agree with the model of the desired-state rule
// (support/desired_state.hpp): GET /api/v1/pools, GET /api/v1/splits/rpc, GET
// /api/v1/limits, the state file, GET /api/v1/overrides, the version, and which
// backends answer real requests.
//
// VEER_MODEL_SEED=N replays a sequence (the seed is printed at the start and with every
// failure); VEER_MODEL_STEPS=N runs more steps than the default 1,000; VEER_MODEL_TRACE=1
// prints every step. Runs on both engines (epoll, io_uring).
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "support/admin_client.hpp"
#include "support/desired_state.hpp"
#include "support/http_client.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;
using namespace model;
using Clock = std::chrono::steady_clock;

const std::string kSplit = "rpc";
// Dry run: the policy counts but never refuses, so it cannot change which backends the
// traffic checks see answer.
const std::string kPolicy = "per_client";
const std::string kOverrideHeader = "X-Veer-Version";
constexpr int kBackends = 6;
constexpr int kDefaultSteps = 1000;

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : fallback;
}

std::optional<json::value> parse(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

// The version in an ETag ("7" -> 7); 0 when there is none.
std::uint64_t etag_number(const Response& r) {
  const std::string etag = r.header("ETag");
  return etag.size() > 2 ? std::strtoull(etag.c_str() + 1, nullptr, 10) : 0;
}

std::string describe(const std::map<std::string, std::uint64_t>& targets) {
  std::string out;
  for (const auto& [pool, weight] : targets)
    out += (out.empty() ? "" : " ") + pool + "=" + std::to_string(weight);
  return out;
}

// One admin call and how the model predicts its answer. `predict` runs on the model
// before the call is sent (it applies the change when it predicts success).
struct Call {
  std::string method;
  std::string path;
  std::string body;
  std::function<Outcome(DesiredState&)> predict;
  std::string names;  // a 400 must name this (a field), when set
  std::string text() const { return method + " " + path + (body.empty() ? "" : " " + body); }
};

// Invalid config files, refused whole (the file alone is invalid).
enum class BrokenFile { syntax, unknown_key, duplicate_backend, unknown_route_target };

class ModelRun {
 public:
  ModelRun(std::uint64_t seed, std::string engine)
      : seed_(seed),
        engine_(std::move(engine)),
        rng_(seed),
        dir_(make_temp_dir()),
        model_(kSplit, initial_file()) {
    state_path_ = dir_ + "/state.json";
  }

  void run(int steps);

 private:
  // --- the world ------------------------------------------------------------
  ConfigFile initial_file();
  std::string address(int i) const { return backends_[static_cast<std::size_t>(i)]->address(); }
  std::string render(const ConfigFile& file, std::optional<BrokenFile> broken = {}) const;
  bool start();
  void kill_and_restart(bool edit);

  // --- steps ----------------------------------------------------------------
  void step();
  void perform(const Call& call, const std::vector<std::string>& extra_headers = {});
  Call valid_put_backend();
  Call valid_patch_backend();
  Call valid_delete_backend();
  Call valid_put_split();
  Call valid_put_limit();
  Call invalid_limit_call();
  Call delete_overrides();
  Call invalid_call();
  Call any_valid_call();
  void stale_if_match();
  void if_match_race();
  ConfigFile edited_file();
  void reload(bool by_signal, const ConfigFile& next);
  void refused_reload(bool by_signal);
  void after_load(const LoadReport& report, std::size_t mark);

  // --- checks ---------------------------------------------------------------
  void check_everything();
  void check_pools();
  void check_split();
  void check_limits();
  void check_state_file();
  void check_traffic();
  std::optional<Response> admin(const std::string& method, const std::string& path,
                                const std::string& body = "",
                                std::vector<std::string> headers = {kAuth});

  // --- randomness -----------------------------------------------------------
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(int percent) { return below(100) < static_cast<std::uint64_t>(percent); }
  template <typename T>
  T one_of(const std::vector<T>& items) {
    return items[below(items.size())];
  }
  std::string running_pool();
  // In backend order (b0..b5), not by address: ports differ from run to run, and the
  // same seed must make the same choices.
  std::vector<std::string> by_backend(const std::set<std::string>& addresses) const;
  // `text` with backend addresses replaced by the backends' names (b0..b5).
  std::string named(std::string text) const;
  std::vector<std::string> running_addresses(const std::string& pool) const;
  std::uint64_t backend_weight();
  std::uint64_t split_weight();

  std::uint64_t seed_;
  std::string engine_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<TestBackend>> backends_ = [] {
    std::vector<std::unique_ptr<TestBackend>> out;
    for (int i = 0; i < kBackends; ++i) {
      std::string name = "b";  // not "b" + std::string: GCC 12 misreads it (-Wrestrict)
      name += std::to_string(i);
      out.push_back(std::make_unique<TestBackend>(name));
    }
    return out;
  }();
  std::string dir_;
  std::string state_path_;
  DesiredState model_;
  ConfigFile disk_;  // the file on disk; equal to model_.file() between steps
  std::unique_ptr<VeerProcess> veer_;
  std::uint16_t admin_port_ = 0;
  std::unique_ptr<Client> traffic_;
  std::uint64_t version_ = 0;  // the version veer must be at
  std::optional<Call> last_valid_;
  std::deque<std::string> history_;
  std::string now_;  // the step being run
  std::map<std::string, int> counts_;
  bool dead_ = false;
};

ConfigFile ModelRun::initial_file() {
  // Backends exist before the model; member order guarantees it.
  return ConfigFile{
      {FilePool{"alpha", {{address(0), 1, false}, {address(1), 1, false}, {address(2), 2, false}}},
       FilePool{"beta", {{address(3), 1, false}, {address(4), 1, true}}}},
      std::map<std::string, std::uint64_t>{{"alpha", 100}, {"beta", 0}},
      {{kPolicy, PolicyValues{"100/s", 20, 0}}}};
}

std::string ModelRun::render(const ConfigFile& file, std::optional<BrokenFile> broken) const {
  std::string t = "[server]\nworkers = 2\nio_engine = \"" + engine_ + "\"\naccess_log = \"off\"\n";
  t += "state_file = \"" + state_path_ + "\"\n";
  t += "[admin]\naddress = \"127.0.0.1:0\"\ntokens = [ { name = \"model\", token = \"" + kToken +
       "\" } ]\n";
  for (const auto& [name, v] : file.policies) {
    t += "[limits." + name + "]\nrate = \"" + v.rate + "\"\nburst = " + std::to_string(v.burst) +
         "\ndelay = " + std::to_string(v.delay) + "\ndry_run = true\n";
  }
  t += "[listeners.public]\naddress = \"127.0.0.1:0\"\n";
  if (!file.policies.empty()) t += "limits = [\"" + kPolicy + "\"]\n";
  auto route = [&](const std::string& prefix, const std::string& target) {
    t += "  [[listeners.public.routes]]\n  path_prefix = \"" + prefix + "\"\n  target = \"" +
         target + "\"\n";
  };
  for (const FilePool& pool : file.pools)
    route("/pool/" + pool.name + "/", pool.name);
  route("/", file.split ? kSplit : "alpha");
  if (broken == BrokenFile::unknown_route_target) route("/gamma/", "gamma");
  for (const FilePool& pool : file.pools) {
    t += "[pools." + pool.name + "]\nstrategy = \"round_robin\"\n";
    if (broken == BrokenFile::unknown_key && pool.name == "alpha") t += "wieght = 3\n";
    t += "backends = [";
    std::vector<FileBackend> listed = pool.backends;
    if (broken == BrokenFile::duplicate_backend && pool.name == "alpha") {
      if (listed.empty()) listed.push_back(FileBackend{address(0)});
      listed.push_back(listed.front());
    }
    for (std::size_t i = 0; i < listed.size(); ++i) {
      t += i ? ",\n  " : "\n  ";
      t += "{ address = \"" + listed[i].address +
           "\", weight = " + std::to_string(listed[i].weight) +
           ", backup = " + (listed[i].backup ? "true" : "false") + " }";
    }
    t += "]\n";
  }
  if (file.split) {
    t += "[splits." + kSplit + "]\ntargets = {";
    bool first = true;
    for (const auto& [pool, weight] : *file.split) {
      t += (first ? " " : ", ") + pool + " = " + std::to_string(weight);
      first = false;
    }
    t += " }\nsticky = \"none\"\noverride_header = \"" + kOverrideHeader + "\"\nfailover = false\n";
  }
  if (broken == BrokenFile::syntax) t += "[pools.alpha\n";
  return t;
}

std::optional<Response> ModelRun::admin(const std::string& method, const std::string& path,
                                        const std::string& body, std::vector<std::string> headers) {
  Admin client{nullptr, admin_port_};
  return client.call(method, path, body, std::move(headers));
}

bool ModelRun::start() {
  veer_ = std::make_unique<VeerProcess>(render(disk_));
  if (!veer_->wait_ready(10s)) {
    ADD_FAILURE() << "veer did not start:\n" << veer_->log_text();
    return false;
  }
  const std::string log = veer_->log_text();
  const std::size_t at = log.find("admin API on 127.0.0.1:");
  if (at == std::string::npos) {
    ADD_FAILURE() << "no admin API line:\n" << log;
    return false;
  }
  admin_port_ = static_cast<std::uint16_t>(std::stoi(log.substr(at + 23)));
  traffic_ = std::make_unique<Client>(veer_->port());
  // A restart begins a new version series.
  const auto r = admin("GET", "/api/v1/pools");
  if (!r || r->status != 200) {
    ADD_FAILURE() << "GET /api/v1/pools after start: " << (r ? r->body : "no answer");
    return false;
  }
  version_ = etag_number(*r);
  EXPECT_GE(version_, 1u) << r->header("ETag");
  return true;
}

// --- randomness ---------------------------------------------------------------

std::string ModelRun::running_pool() {
  std::vector<std::string> names;
  for (const FilePool& p : model_.file().pools)
    names.push_back(p.name);
  return one_of(names);
}

std::string ModelRun::named(std::string text) const {
  for (int i = 0; i < kBackends; ++i) {
    const std::string a = address(i);
    for (std::size_t at = text.find(a); at != std::string::npos; at = text.find(a, at))
      text.replace(at, a.size(), backends_[static_cast<std::size_t>(i)]->name());
  }
  return text;
}

std::vector<std::string> ModelRun::by_backend(const std::set<std::string>& addresses) const {
  std::vector<std::string> out;
  for (int i = 0; i < kBackends; ++i) {
    if (addresses.count(address(i)) != 0) out.push_back(address(i));
  }
  return out;
}

std::vector<std::string> ModelRun::running_addresses(const std::string& pool) const {
  std::set<std::string> running;
  const RunningPools pools = model_.running();
  if (const auto it = pools.find(pool); it != pools.end()) {
    for (const auto& [address, b] : it->second)
      running.insert(address);
  }
  return by_backend(running);
}

std::uint64_t ModelRun::backend_weight() {
  if (chance(3)) return kMaxBackendWeight;
  return one_of(std::vector<std::uint64_t>{0, 1, 1, 2, 3, 5});
}

std::uint64_t ModelRun::split_weight() {
  if (chance(3)) return kMaxSplitWeight;
  return one_of(std::vector<std::uint64_t>{0, 1, 10, 50, 100});
}

// --- admin calls --------------------------------------------------------------

std::string backend_path(const std::string& pool, const std::string& address) {
  return "/api/v1/pools/" + pool + "/backends/" + address;
}

Call ModelRun::valid_put_backend() {
  const std::string pool = running_pool();
  const std::string a = address(static_cast<int>(below(kBackends)));
  std::optional<std::uint64_t> weight;
  std::optional<bool> backup;
  json::object body;
  const std::uint64_t shape = below(4);  // weight, backup, both, neither
  if (shape == 0 || shape == 2) body["weight"] = *(weight = backend_weight());
  if (shape == 1 || shape == 2) body["backup"] = *(backup = chance(30));
  return Call{"PUT", backend_path(pool, a), json::serialize(body),
              [=](DesiredState& m) { return m.put_backend(pool, a, weight, backup); }};
}

Call ModelRun::valid_patch_backend() {
  const std::string pool = running_pool();
  const std::vector<std::string> running = running_addresses(pool);
  const std::string a = !running.empty() && chance(85)
                            ? one_of(running)
                            : address(static_cast<int>(below(kBackends)));
  std::optional<StateRequest> state;
  std::optional<std::uint64_t> weight;
  json::object body;
  // A state always (the contract's body names it), and a weight a quarter of the time.
  state =
      one_of(std::vector<StateRequest>{StateRequest::up, StateRequest::drain, StateRequest::down});
  body["state"] = *state == StateRequest::up      ? "up"
                  : *state == StateRequest::drain ? "drain"
                                                  : "down";
  if (chance(25)) body["weight"] = *(weight = backend_weight());
  return Call{"PATCH", backend_path(pool, a), json::serialize(body),
              [=](DesiredState& m) { return m.patch_backend(pool, a, state, weight); }};
}

Call ModelRun::valid_delete_backend() {
  const std::string pool = running_pool();
  const std::vector<std::string> running = running_addresses(pool);
  const std::string a = !running.empty() && chance(85)
                            ? one_of(running)
                            : address(static_cast<int>(below(kBackends)));
  const std::string query = chance(30) ? "?drain=1s" : "";
  return Call{"DELETE", backend_path(pool, a) + query, "",
              [=](DesiredState& m) { return m.delete_backend(pool, a); }};
}

Call ModelRun::valid_put_split() {
  std::map<std::string, std::uint64_t> targets;
  if (model_.file().split && chance(15)) {
    targets = *model_.file().split;  // back to the file's table: no override
  } else {
    for (const FilePool& p : model_.file().pools) {
      if (targets.empty() || chance(75)) targets[p.name] = split_weight();
    }
    if (chance(90) &&
        std::all_of(targets.begin(), targets.end(), [](const auto& t) { return t.second == 0; })) {
      targets.begin()->second = 100;  // all 0 is refused; only sometimes on purpose
    }
  }
  json::object table;
  for (const auto& [pool, weight] : targets)
    table[pool] = weight;
  return Call{"PUT", "/api/v1/splits/" + kSplit,
              json::serialize(json::object{{"targets", std::move(table)}}),
              [=](DesiredState& m) { return m.put_split(kSplit, targets); }};
}

Call ModelRun::delete_overrides() {
  return Call{"DELETE", "/api/v1/overrides", "",
              [](DesiredState& m) { return m.delete_overrides(); }};
}

Call ModelRun::valid_put_limit() {
  std::optional<std::string> rate;
  std::optional<std::uint64_t> burst, delay;
  json::object body;
  const std::uint64_t shape = below(7);  // a non-empty subset of rate, burst, delay
  if (shape & 1 || shape == 6)
    body["rate"] = *(
        rate = one_of(std::vector<std::string>{"100/s", "50/s", "6000/m", "5/h", "1000000000/s"}));
  if (shape & 2) body["burst"] = *(burst = one_of(std::vector<std::uint64_t>{0, 1, 20, 1'000'000}));
  if (shape & 4 || shape == 0) body["delay"] = *(delay = one_of(std::vector<std::uint64_t>{0, 2}));
  return Call{"PUT", "/api/v1/limits/" + kPolicy, json::serialize(body),
              [=](DesiredState& m) { return m.put_limit(kPolicy, rate, burst, delay); }};
}

Call ModelRun::invalid_limit_call() {
  auto refused = [](int status) {
    return [status](DesiredState&) { return Outcome{status, false}; };
  };
  // Refused for the body before the policy is looked for: 400 even without the policy.
  const std::string path = "/api/v1/limits/" + kPolicy;
  switch (below(6)) {
    case 0:
      return Call{"PUT", path,
                  one_of(std::vector<std::string>{R"({"rate":"fast"})", R"({"rate":"0/s"})",
                                                  R"({"rate":"5/d"})", R"({"rate":5})",
                                                  R"({"rate":"1000000001/s"})"}),
                  refused(400), "rate"};
    case 1:
      return Call{"PUT", path,
                  one_of(std::vector<std::string>{R"({"burst":1000001})", R"({"burst":-1})",
                                                  R"({"burst":"2"})"}),
                  refused(400), "burst"};
    case 2:
      return Call{"PUT", path, R"({"delay":1.5})", refused(400), "delay"};
    case 3:
      return Call{"PUT", path, R"({"rate":"5/s","brust":1})", refused(400), "brust"};
    case 4:
      return Call{"PUT", path, one_of(std::vector<std::string>{"{}", "", "[]"}), refused(400)};
    default:
      return Call{"PUT", "/api/v1/limits/nope", R"({"burst":1})", [](DesiredState& m) {
                    return m.put_limit("nope", std::nullopt, 1, std::nullopt);
                  }};
  }
}

Call ModelRun::any_valid_call() {
  if (chance(15)) return valid_put_limit();
  switch (below(5)) {
    case 0:
      return valid_put_backend();
    case 1:
      return valid_patch_backend();
    case 2:
      return valid_delete_backend();
    case 3:
      return valid_put_split();
    default:
      return chance(50) ? delete_overrides() : valid_put_backend();
  }
}

Call ModelRun::invalid_call() {
  auto refused = [](int status) {
    return [status](DesiredState&) { return Outcome{status, false}; };
  };
  const std::string pool = running_pool();
  const std::string a = address(static_cast<int>(below(kBackends)));
  const std::vector<std::string> running = running_addresses(pool);
  const bool split_runs = model_.running_split().has_value();
  if (chance(20)) return invalid_limit_call();
  switch (below(split_runs ? 14 : 11)) {
    case 0:
      return Call{"PUT", backend_path("gamma", a), R"({"weight":1})",
                  [=](DesiredState& m) { return m.put_backend("gamma", a, 1, std::nullopt); }};
    case 1:
      return Call{"PUT",
                  backend_path(pool, one_of(std::vector<std::string>{
                                         "not-an-address", "127.0.0.1:99999", "127.0.0.1:0"})),
                  R"({"weight":1})", refused(400)};
    case 2:
      return Call{"PUT", backend_path(pool, a),
                  one_of(std::vector<std::string>{R"({"weight":"heavy"})", R"({"weight":-1})",
                                                  R"({"weight":1.5})", R"({"weight":true})",
                                                  R"({"weight":18446744073709551615})"}),
                  refused(400), "weight"};
    case 3:
      return Call{"PUT", backend_path(pool, a), R"({"wieght":3})", refused(400), "wieght"};
    case 4:
      return Call{"PUT", backend_path(pool, a), R"({"backup":"yes"})", refused(400), "backup"};
    case 5:
      return Call{"PUT", backend_path(pool, a),
                  one_of(std::vector<std::string>{"{", "[]", "null", "\"x\"", R"({"weight":1,})",
                                                  "{\"weight\":1}}"}),
                  refused(400)};
    case 6:
    case 7: {
      if (running.empty()) return valid_put_backend();  // nothing running to refuse a PATCH on
      const std::string target = one_of(running);
      const std::vector<std::pair<std::string, std::string>> bodies = {
          {R"({"state":"sideways"})", "state"},
          {R"({"state":1})", "state"},
          {R"({"stat":"down"})", "stat"},
          {R"({"state":"drain","weight":"x"})", "weight"}};
      const auto& [body, names] = one_of(bodies);
      return Call{"PATCH", backend_path(pool, target), body, refused(400), names};
    }
    case 8: {
      // A backend that does not run there: 404.
      std::vector<std::string> absent;
      for (int i = 0; i < kBackends; ++i) {
        if (std::find(running.begin(), running.end(), address(i)) == running.end())
          absent.push_back(address(i));
      }
      const std::string p = absent.empty() || chance(20) ? "gamma" : pool;
      const std::string target = absent.empty() ? a : one_of(absent);
      return Call{"PATCH", backend_path(p, target), R"({"state":"down"})", [=](DesiredState& m) {
                    return m.patch_backend(p, target, StateRequest::down, std::nullopt);
                  }};
    }
    case 9:
      return Call{"DELETE", backend_path("gamma", a), "", refused(404)};
    case 10:
      return Call{"PUT", "/api/v1/splits/nosplit", R"({"targets":{"alpha":1}})", refused(404)};
    case 11:
      return Call{"PUT", "/api/v1/splits/" + kSplit,
                  one_of(std::vector<std::string>{
                      R"({"targets":{"gamma":1}})", R"({"targets":{"alpha":-1}})",
                      R"({"targets":{"alpha":"x"}})", R"({"targets":[]})", R"({"targets":{}})",
                      R"({})", R"({"targets":{"alpha":9223372036854775808}})"}),
                  refused(400)};
    case 12:
      return Call{"PUT", "/api/v1/splits/" + kSplit, R"({"targetz":{"alpha":1}})", refused(400),
                  "targetz"};
    default:
      return Call{"PUT", "/api/v1/splits/" + kSplit, R"({"targets":{"alpha":1},"wieght":1})",
                  refused(400), "wieght"};
  }
}

void ModelRun::perform(const Call& call, const std::vector<std::string>& extra_headers) {
  now_ += " | " + call.text();
  DesiredState before = model_;
  const Outcome predicted = call.predict(model_);
  std::vector<std::string> headers = {kAuth};
  headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
  const auto r = admin(call.method, call.path, call.body, headers);
  ASSERT_TRUE(r.has_value()) << call.text() << ": no answer";
  EXPECT_EQ(r->status, predicted.status) << call.text() << " -> " << r->body;
  const bool success = predicted.status / 100 == 2;
  if (success) {
    const auto body = parse(r->body);
    ASSERT_TRUE(body && body->is_object()) << call.text() << " -> " << r->body;
    const json::value* changed = body->as_object().if_contains("changed");
    ASSERT_TRUE(changed != nullptr && changed->is_bool()) << call.text() << " -> " << r->body;
    EXPECT_EQ(changed->as_bool(), predicted.changed) << call.text() << " -> " << r->body;
    if (predicted.changed) ++version_;
    EXPECT_EQ(r->header("ETag"), "\"" + std::to_string(version_) + "\"")
        << call.text() << " -> " << r->status << " " << r->body;
    last_valid_ = call;
    ++counts_[call.method + (predicted.changed ? " changed" : " unchanged")];
  } else {
    model_ = std::move(before);  // the model refuses without changing; be sure of it
    ++counts_["refused " + std::to_string(predicted.status)];
    EXPECT_NE(r->body.find("\"error\""), std::string::npos) << call.text() << " -> " << r->body;
    // Errors name pools and backends by name, never by list index, and never pass on a
    // library's own message.
    for (const char* never : {"backends[", "boost", "std::"}) {
      EXPECT_EQ(r->body.find(never), std::string::npos) << call.text() << " -> " << r->body;
    }
    if (!call.names.empty() && r->status == 400) {
      EXPECT_NE(r->body.find(call.names), std::string::npos)
          << call.text() << ": the error does not name " << call.names << ": " << r->body;
    }
  }
}

void ModelRun::stale_if_match() {
  // A call that would succeed with the right version.
  Call call = any_valid_call();
  for (int attempt = 0; attempt < 20; ++attempt) {
    DesiredState copy = model_;
    if (call.predict(copy).status / 100 == 2) break;
    call = any_valid_call();
  }
  {
    DesiredState copy = model_;
    if (call.predict(copy).status / 100 != 2) return perform(call);
  }
  const std::uint64_t stale = version_ > 1 ? version_ - 1 : version_ + 7;
  now_ += " | If-Match \"" + std::to_string(stale) + "\" " + call.text();
  const auto r = admin(call.method, call.path, call.body,
                       {kAuth, "If-Match: \"" + std::to_string(stale) + "\""});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 412) << call.text() << " -> " << r->body;
  ++counts_["stale If-Match"];
}

void ModelRun::if_match_race() {
  // Two different changes of the same thing from the same version: exactly one wins.
  // Each sets everything of its target (a whole split table; a backend's weight and
  // backup), so the first call sent again afterwards gives one state whoever won, and
  // the sequence replays.
  std::optional<Call> calls[2];
  for (int attempt = 0; attempt < 20 && !calls[1]; ++attempt) {
    Call a, b;
    if (model_.running_split() && chance(50)) {
      a = valid_put_split();
      b = valid_put_split();
    } else {
      const std::string pool = running_pool();
      const std::string at = address(static_cast<int>(below(kBackends)));
      auto put = [&](std::uint64_t weight, bool backup) {
        return Call{"PUT", backend_path(pool, at),
                    json::serialize(json::object{{"weight", weight}, {"backup", backup}}),
                    [=](DesiredState& m) { return m.put_backend(pool, at, weight, backup); }};
      };
      const std::uint64_t weights[2] = {1 + below(5), 1 + below(5)};
      const bool backups[2] = {chance(30), chance(30)};
      a = put(weights[0], backups[0]);
      b = put(weights[1], backups[1]);
    }
    if (a.body == b.body) continue;
    DesiredState ma = model_, mb = model_;
    const Outcome oa = a.predict(ma), ob = b.predict(mb);
    if (oa.status != 200 || !oa.changed || ob.status != 200 || !ob.changed) continue;
    calls[0] = a;
    calls[1] = b;
  }
  if (!calls[1]) return perform(valid_put_backend());
  now_ += " | race " + calls[0]->text() + " vs " + calls[1]->text();
  const std::string etag = "\"" + std::to_string(version_) + "\"";
  int statuses[2] = {0, 0};
  std::thread racers[2];
  for (int i = 0; i < 2; ++i) {
    racers[i] = std::thread([&, i] {
      const auto r =
          admin(calls[i]->method, calls[i]->path, calls[i]->body, {kAuth, "If-Match: " + etag});
      statuses[i] = r ? r->status : 0;
    });
  }
  for (auto& t : racers)
    t.join();
  const bool one_wins =
      (statuses[0] == 200 && statuses[1] == 412) || (statuses[0] == 412 && statuses[1] == 200);
  ASSERT_TRUE(one_wins) << "statuses " << statuses[0] << " and " << statuses[1];
  const int winner = statuses[0] == 200 ? 0 : 1;
  calls[winner]->predict(model_);
  ++version_;
  ++counts_["If-Match race"];
  perform(*calls[0]);
}

// --- file edits and loads -----------------------------------------------------

ConfigFile ModelRun::edited_file() {
  ConfigFile f = disk_;
  // Aim at backends that carry changes half of the time, so the rule has work to do.
  auto target_address = [&](const std::string& pool) {
    const auto it = model_.changes().backends.find(pool);
    if (it != model_.changes().backends.end() && chance(50)) {
      std::set<std::string> changed;
      for (const auto& [a, c] : it->second)
        changed.insert(a);
      return one_of(by_backend(changed));
    }
    return address(static_cast<int>(below(kBackends)));
  };
  if (chance(12)) {
    // The policy's values change (which drops a change made against the old ones), stay,
    // or the policy comes and goes.
    const auto policy = f.policies.find(kPolicy);
    if (policy == f.policies.end()) {
      f.policies[kPolicy] = PolicyValues{"100/s", 20, 0};
      now_ += " | file: policy back";
    } else if (chance(20)) {
      f.policies.erase(policy);
      now_ += " | file: no policy";
    } else {
      PolicyValues& v = policy->second;
      v.rate = one_of(std::vector<std::string>{"100/s", "50/s", "10/m"});
      v.burst = one_of(std::vector<std::uint64_t>{0, 20, 30});
      v.delay = one_of(std::vector<std::uint64_t>{0, 0, 1});
      now_ += " | file: policy " + v.rate + " burst " + std::to_string(v.burst) + " delay " +
              std::to_string(v.delay);
    }
    return f;
  }
  FilePool& pool = f.pools[below(f.pools.size())];
  const std::string a = target_address(pool.name);
  auto listed = std::find_if(pool.backends.begin(), pool.backends.end(),
                             [&](const FileBackend& b) { return b.address == a; });
  switch (below(10)) {
    case 0:
    case 1:
      if (listed != pool.backends.end()) {
        listed->weight = one_of(std::vector<std::uint64_t>{0, 1, 2, 3});
        now_ += " | file: " + pool.name + " " + a + " weight " + std::to_string(listed->weight);
      }
      break;
    case 2:
      if (listed != pool.backends.end()) {
        listed->backup = !listed->backup;
        now_ += " | file: " + pool.name + " " + a + " backup " + (listed->backup ? "on" : "off");
      }
      break;
    case 3:
    case 4:
      if (listed == pool.backends.end()) {
        pool.backends.push_back({a, one_of(std::vector<std::uint64_t>{1, 2, 3}), chance(15)});
        now_ += " | file: " + pool.name + " lists " + a;
      } else {
        pool.backends.erase(listed);
        now_ += " | file: " + pool.name + " drops " + a;
      }
      break;
    case 5:
    case 6:
      if (f.split) {
        for (auto& [p, w] : *f.split)
          w = one_of(std::vector<std::uint64_t>{0, 1, 50, 100});
        if (std::all_of(f.split->begin(), f.split->end(),
                        [](const auto& t) { return t.second == 0; }))
          f.split->begin()->second = 100;
        now_ += " | file: split " + describe(*f.split);
      }
      break;
    case 7:
      // One target or two.
      if (f.split && f.pools.size() == 2) {
        if (f.split->size() == 2) {
          f.split = std::map<std::string, std::uint64_t>{{chance(50) ? "alpha" : "beta", 100}};
        } else {
          f.split = std::map<std::string, std::uint64_t>{{"alpha", 50}, {"beta", 50}};
        }
        now_ += " | file: split " + describe(*f.split);
      }
      break;
    case 8:
      // The split comes and goes.
      if (f.split && chance(50)) {
        f.split.reset();
        now_ += " | file: no split";
      } else if (!f.split) {
        f.split = std::map<std::string, std::uint64_t>{{"alpha", 100}};
        now_ += " | file: split " + describe(*f.split);
      }
      break;
    default:
      // Pool beta comes and goes (with its place in the split).
      if (f.pools.size() == 2 && chance(50)) {
        f.pools.pop_back();
        if (f.split) {
          f.split->erase("beta");
          if (f.split->empty() || f.split->begin()->second == 0)
            f.split = std::map<std::string, std::uint64_t>{{"alpha", 100}};
        }
        now_ += " | file: no pool beta";
      } else if (f.pools.size() == 1) {
        f.pools.push_back(FilePool{"beta", {{address(3), 1, false}, {address(5), 2, false}}});
        now_ += " | file: pool beta back";
      }
      break;
  }
  return f;
}

void ModelRun::after_load(const LoadReport& report, std::size_t mark) {
  counts_["load dropped a change"] += report.dropped.empty() ? 0 : 1;
  counts_["load dropped everything"] += report.dropped_all ? 1 : 0;
  auto warned = [&](const std::vector<std::string>& names) {
    return veer_->wait_for_line(
        [&](const std::string& line) {
          std::istringstream words(line);
          std::string time, level;
          words >> time >> level;
          if (level.rfind("warn", 0) != 0) return false;
          for (const std::string& name : names) {
            if (line.find(name) != std::string::npos) return true;
          }
          return names.empty();
        },
        2s, mark);
  };
  for (const Dropped& d : report.dropped) {
    std::vector<std::string> names;
    if (!d.policy.empty()) {
      names = {"limits " + d.policy};
    } else if (d.address.empty()) {
      names = {"split " + kSplit, "splits." + kSplit, "\"" + kSplit + "\""};
    } else {
      names = {d.address};
      if (d.pool_gone) names.push_back(d.pool);
    }
    if (report.dropped_all) names.clear();
    EXPECT_TRUE(warned(names)) << "no warning names the dropped change of "
                               << (!d.policy.empty()   ? "policy " + d.policy
                                   : d.address.empty() ? "split " + kSplit
                                                       : d.pool + " " + d.address);
  }
  // GET /api/v1/config says which changes the last load kept and dropped.
  const auto config = admin("GET", "/api/v1/config");
  ASSERT_TRUE(config && config->status == 200);
  const auto v = parse(config->body);
  ASSERT_TRUE(v && v->is_object());
  const json::value* overrides = v->as_object().if_contains("overrides");
  ASSERT_TRUE(overrides != nullptr && overrides->is_object())
      << "GET /api/v1/config has no overrides: " << config->body;
  const json::value* kept = overrides->as_object().if_contains("kept");
  const json::value* dropped = overrides->as_object().if_contains("dropped");
  ASSERT_TRUE(kept != nullptr && kept->is_array() && dropped != nullptr && dropped->is_array())
      << json::serialize(*overrides);
  EXPECT_EQ(dropped->as_array().empty(), report.dropped.empty() && !report.dropped_all)
      << json::serialize(*overrides);
  EXPECT_EQ(kept->as_array().empty(), model_.changes().empty()) << json::serialize(*overrides);
}

void ModelRun::reload(bool by_signal, const ConfigFile& next) {
  const std::size_t mark = veer_->log_size();
  disk_ = next;
  veer_->rewrite_config(render(disk_));
  const LoadReport report = model_.load(disk_);
  ++version_;
  if (by_signal) {
    now_ += " | SIGHUP";
    const std::size_t from = veer_->log_size();
    veer_->signal(SIGHUP);
    ASSERT_TRUE(veer_->wait_for_log(
        "configuration version " + std::to_string(version_) + " applied", 5s, from))
        << "SIGHUP did not apply the file:\n"
        << veer_->log_text();
  } else {
    now_ += " | POST reload";
    const auto r = admin("POST", "/api/v1/reload");
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->header("ETag"), "\"" + std::to_string(version_) + "\"") << r->body;
  }
  ++counts_[by_signal ? "SIGHUP" : "POST reload"];
  after_load(report, mark);
}

void ModelRun::refused_reload(bool by_signal) {
  const BrokenFile broken = one_of(
      std::vector<BrokenFile>{BrokenFile::syntax, BrokenFile::unknown_key,
                              BrokenFile::duplicate_backend, BrokenFile::unknown_route_target});
  now_ += " | broken file (" + std::to_string(static_cast<int>(broken)) + ")";
  const std::size_t mark = veer_->log_size();
  veer_->rewrite_config(render(disk_, broken));
  if (by_signal) {
    now_ += " + SIGHUP";
    veer_->signal(SIGHUP);
    EXPECT_TRUE(veer_->wait_for_log(
        "configuration version " + std::to_string(version_) + " stays in force", 5s, mark))
        << veer_->log_text();
  } else {
    now_ += " + POST reload";
    const auto r = admin("POST", "/api/v1/reload");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 400) << r->body;
    const auto body = parse(r->body);
    ASSERT_TRUE(body && body->is_object()) << r->body;
    const json::value* errors = body->as_object().if_contains("errors");
    EXPECT_TRUE(errors != nullptr && errors->is_array() && !errors->as_array().empty()) << r->body;
  }
  // Back to the valid file, unloaded: what veer last loaded is on disk again.
  veer_->rewrite_config(render(disk_));
  ++counts_["refused reload"];
}

void ModelRun::kill_and_restart(bool edit) {
  const ConfigFile next = edit ? edited_file() : disk_;
  now_ += " | kill -9 + restart";
  veer_->signal(SIGKILL);
  ASSERT_TRUE(veer_->wait_exit(5s).has_value());
  traffic_.reset();
  veer_.reset();
  disk_ = next;
  const LoadReport report = model_.load(disk_);
  ASSERT_TRUE(start());
  ++counts_["restart"];
  after_load(report, 0);
}

void ModelRun::step() {
  const std::uint64_t roll = below(100);
  if (roll < 14) return perform(valid_put_backend());
  if (roll < 28) return perform(valid_patch_backend());
  if (roll < 35) return perform(valid_delete_backend());
  if (roll < 41) return perform(valid_put_split());
  if (roll < 45) return perform(valid_put_limit());
  if (roll < 47) return perform(delete_overrides());
  if (roll < 60) return perform(invalid_call());
  if (roll < 70) return reload(true, edited_file());
  if (roll < 76) return reload(false, edited_file());
  if (roll < 78) return reload(chance(50), disk_);
  if (roll < 81) return refused_reload(chance(50));
  if (roll < 84) return kill_and_restart(chance(50));
  if (roll < 88) return if_match_race();
  if (roll < 91) return stale_if_match();
  if (roll < 94 && last_valid_) return perform(*last_valid_);  // the same call again
  // A valid call that names the current version.
  return perform(any_valid_call(), {"If-Match: \"" + std::to_string(version_) + "\""});
}

// --- checks -------------------------------------------------------------------

void ModelRun::check_pools() {
  const auto r = admin("GET", "/api/v1/pools");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  EXPECT_EQ(r->header("ETag"), "\"" + std::to_string(version_) + "\"") << "version";
  const auto v = parse(r->body);
  ASSERT_TRUE(v && v->is_object()) << r->body;
  RunningPools seen;
  for (const json::value& pool : v->at("pools").as_array()) {
    auto& backends = seen[json::value_to<std::string>(pool.at("name"))];
    for (const json::value& b : pool.at("backends").as_array()) {
      const std::string state = json::value_to<std::string>(b.at("state"));
      EXPECT_TRUE(state == "up" || state == "draining" || state == "disabled") << state;
      backends[json::value_to<std::string>(b.at("address"))] =
          RunningBackend{b.at("weight").to_number<std::uint64_t>(), b.at("backup").as_bool(),
                         state == "draining"   ? AdminState::drain
                         : state == "disabled" ? AdminState::down
                                               : AdminState::none};
    }
  }
  const RunningPools expected = model_.running();
  if (seen == expected) return;
  auto show = [](const RunningPools& pools) {
    std::string out;
    for (const auto& [pool, backends] : pools) {
      out += pool + ":";
      for (const auto& [a, b] : backends)
        out += " " + a + "/w" + std::to_string(b.weight) + (b.backup ? "/backup" : "") + "/" +
               state_name(b.state);
      out += "; ";
    }
    return out;
  };
  ADD_FAILURE() << "GET /api/v1/pools differs from the model\n  model: " << show(expected)
                << "\n  veer:  " << show(seen);
}

void ModelRun::check_split() {
  const auto r = admin("GET", "/api/v1/splits/" + kSplit);
  ASSERT_TRUE(r.has_value());
  const auto expected = model_.running_split();
  if (!expected) {
    EXPECT_EQ(r->status, 404) << "the file has no split " << kSplit << ": " << r->body;
    return;
  }
  ASSERT_EQ(r->status, 200) << r->body;
  const auto v = parse(r->body);
  ASSERT_TRUE(v && v->is_object()) << r->body;
  std::map<std::string, std::uint64_t> seen;
  for (const auto& [pool, target] : v->at("targets").as_object())
    seen[std::string(pool)] = target.at("weight").to_number<std::uint64_t>();
  EXPECT_EQ(describe(seen), describe(*expected)) << "split weights";
}

void ModelRun::check_limits() {
  const auto r = admin("GET", "/api/v1/limits");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  EXPECT_EQ(r->header("ETag"), "\"" + std::to_string(version_) + "\"") << "version";
  const auto v = parse(r->body);
  ASSERT_TRUE(v && v->is_object()) << r->body;
  auto show = [](const std::map<std::string, PolicyValues>& all,
                 const std::set<std::string>& changed) {
    std::string out;
    for (const auto& [name, p] : all)
      out += name + " " + p.rate + " burst " + std::to_string(p.burst) + " delay " +
             std::to_string(p.delay) + (changed.count(name) ? " (changed)" : "") + "; ";
    return out;
  };
  std::map<std::string, PolicyValues> seen;
  std::set<std::string> seen_changed, changed;
  for (const json::value& p : v->at("policies").as_array()) {
    const std::string name = json::value_to<std::string>(p.at("name"));
    seen[name] = PolicyValues{json::value_to<std::string>(p.at("rate")),
                              p.at("burst").to_number<std::uint64_t>(),
                              p.at("delay").to_number<std::uint64_t>()};
    if (!p.at("file").is_null()) seen_changed.insert(name);
  }
  for (const auto& [name, c] : model_.changes().limits)
    changed.insert(name);
  EXPECT_EQ(show(seen, seen_changed), show(model_.running_limits(), changed))
      << "GET /api/v1/limits differs from the model";
}

void ModelRun::check_state_file() {
  const json::value predicted = normalised_state(model_.state_file());
  std::optional<json::value> on_disk;
  if (std::ifstream in(state_path_); in) {
    std::stringstream text;
    text << in.rdbuf();
    on_disk = parse(text.str());
    ASSERT_TRUE(on_disk && on_disk->is_object()) << "state file is not JSON: " << text.str();
    const json::value* format = on_disk->as_object().if_contains("format");
    EXPECT_TRUE(format != nullptr && format->is_number() && format->to_number<int>() == 2)
        << text.str();
    EXPECT_EQ(normalised_state(*on_disk), predicted)
        << "state file\n  model: " << json::serialize(predicted) << "\n  file:  " << text.str();
  } else {
    EXPECT_TRUE(model_.changes().empty())
        << "no state file, but the model has changes: " << json::serialize(predicted);
  }
  const auto r = admin("GET", "/api/v1/overrides");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  const auto v = parse(r->body);
  ASSERT_TRUE(v && v->is_object()) << r->body;
  const json::value* version = v->as_object().if_contains("version");
  EXPECT_TRUE(version != nullptr && version->is_number() &&
              version->to_number<std::uint64_t>() == version_)
      << r->body;
  const json::value* overrides = v->as_object().if_contains("overrides");
  ASSERT_TRUE(overrides != nullptr) << r->body;
  if (on_disk) {
    EXPECT_EQ(*overrides, *on_disk) << "GET /api/v1/overrides differs from the state file";
  }
  EXPECT_EQ(normalised_state(*overrides), predicted)
      << "GET /api/v1/overrides\n  model: " << json::serialize(predicted)
      << "\n  veer:  " << json::serialize(*overrides);
}

void ModelRun::check_traffic() {
  std::map<std::string, std::string> address_of;
  for (const auto& b : backends_)
    address_of[b->name()] = b->address();
  // Which backend answered, by address; "503" when none could.
  auto ask = [&](const std::string& target, std::vector<std::string> headers) -> std::string {
    auto r = traffic_->request("GET", target, "", headers);
    if (!r) return "no answer";
    if (r->status == 503) return "503";
    if (r->status != 200) return "status " + std::to_string(r->status);
    return address_of[r->header("X-Backend")];
  };
  auto show = [](const std::set<std::string>& s) {
    std::string out;
    for (const std::string& a : s)
      out += a + " ";
    return out.empty() ? "(none: 503)" : out;
  };
  for (const FilePool& pool : model_.file().pools) {
    const std::set<std::string> expected = model_.routable(pool.name);
    std::set<std::string> seen;
    // Round robin on one connection (one worker) visits every candidate within n picks.
    const std::size_t n = std::max<std::size_t>(2, 2 * expected.size());
    bool unavailable = false;
    for (std::size_t i = 0; i < n; ++i) {
      const std::string who = ask("/pool/" + pool.name + "/x", {});
      if (who == "503") {
        unavailable = true;
      } else {
        seen.insert(who);
      }
    }
    const std::string got = unavailable && !seen.empty() ? show(seen) + "and 503s" : show(seen);
    EXPECT_EQ(got, show(expected)) << "backends answering pool " << pool.name;
  }
  const auto split = model_.running_split();
  if (!split) return;
  std::uint64_t positive = 0;
  std::string only;
  for (const auto& [pool, weight] : *split) {
    const std::set<std::string> expected = model_.routable(pool);
    const std::string who = ask("/", {kOverrideHeader + ": " + pool});
    EXPECT_TRUE(expected.empty() ? who == "503" : expected.count(who) == 1)
        << "split target " << pool << " (forced by " << kOverrideHeader << ") answered by " << who
        << "; expected one of " << show(expected);
    if (weight > 0) {
      ++positive;
      only = pool;
    }
  }
  if (positive == 1) {
    const std::set<std::string> expected = model_.routable(only);
    const std::string who = ask("/", {});
    EXPECT_TRUE(expected.empty() ? who == "503" : expected.count(who) == 1)
        << "split " << kSplit << " sends everything to " << only << ", answered by " << who;
  }
}

void ModelRun::check_everything() {
  check_pools();
  check_split();
  check_limits();
  check_state_file();
  check_traffic();
}

void ModelRun::run(int steps) {
  disk_ = model_.file();
  ASSERT_TRUE(start());
  check_everything();
  if (::testing::Test::HasFailure()) {
    ADD_FAILURE() << "VEER_MODEL_SEED=" << seed_ << ": veer differs from the model at the start\n"
                  << veer_->log_text();
    return;
  }
  const bool trace = env_number("VEER_MODEL_TRACE", 0) != 0;
  const auto began = Clock::now();
  for (int i = 0; i < steps; ++i) {
    now_ = "step " + std::to_string(i);
    {
      SCOPED_TRACE("VEER_MODEL_SEED=" + std::to_string(seed_) + ", step " + std::to_string(i));
      step();
      if (!::testing::Test::HasFatalFailure()) check_everything();
    }
    now_ = named(now_);
    if (trace) std::cout << now_ << "\n";
    history_.push_back(now_);
    if (history_.size() > 12) history_.pop_front();
    if (::testing::Test::HasFailure()) {
      std::string recent;
      for (const std::string& h : history_)
        recent += "  " + h + "\n";
      std::string names;
      for (const auto& b : backends_)
        names += " " + b->name() + "=" + b->address();
      ADD_FAILURE() << "VEER_MODEL_SEED=" << seed_ << " failed at step " << i << "; backends"
                    << names << "; the last steps:\n"
                    << recent << "model state file: " << json::serialize(model_.state_file())
                    << "\nveer log (last lines):\n"
                    << [&] {
                         const std::string log = veer_ ? veer_->log_text() : "";
                         return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
                       }();
      return;
    }
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began);
  std::string summary;
  for (const auto& [what, n] : counts_)
    summary += what + "=" + std::to_string(n) + " ";
  std::cout << "model run: " << steps << " steps in " << took.count() << " ms; " << summary << "\n";
  ::testing::Test::RecordProperty("steps", steps);
  ::testing::Test::RecordProperty("milliseconds", static_cast<int>(took.count()));
  ::testing::Test::RecordProperty("counts", summary);
}

// --- the model itself, on the rule's own examples (no processes) ------------------

ConfigFile two_pools(std::vector<FileBackend> alpha, std::vector<FileBackend> beta,
                     std::optional<std::map<std::string, std::uint64_t>> split = {}) {
  return ConfigFile{{FilePool{"alpha", std::move(alpha)}, FilePool{"beta", std::move(beta)}},
                    std::move(split)};
}

TEST(DesiredStateModel, WritesTheStateFileOfTheRulesExample) {
  DesiredState m(
      "S",
      ConfigFile{{FilePool{"POOL", {{"ADDR2", 1, false}, {"ADDR3", 1, false}, {"ADDR4", 1, false}}},
                  FilePool{"blue", {}}, FilePool{"green", {}}},
                 std::map<std::string, std::uint64_t>{{"blue", 100}, {"green", 0}}});
  EXPECT_TRUE(m.put_backend("POOL", "ADDR", 2, std::nullopt).changed);
  EXPECT_TRUE(m.patch_backend("POOL", "ADDR", StateRequest::drain, std::nullopt).changed);
  EXPECT_EQ(m.delete_backend("POOL", "ADDR2").status, 202);
  EXPECT_TRUE(m.put_backend("POOL", "ADDR3", 5, std::nullopt).changed);
  EXPECT_TRUE(m.patch_backend("POOL", "ADDR4", StateRequest::down, std::nullopt).changed);
  EXPECT_TRUE(m.put_split("S", {{"blue", 0}, {"green", 100}}).changed);
  EXPECT_EQ(m.state_file(), json::parse(R"({"format": 2,
    "backends": {"POOL": {"ADDR": {"added": true, "weight": 2, "backup": false, "state": "drain"},
                          "ADDR2": {"removed": true},
                          "ADDR3": {"weight": 5, "file": {"weight": 1, "backup": false}},
                          "ADDR4": {"state": "down"}}},
    "splits": {"S": {"targets": {"blue": 0, "green": 100}, "file": {"blue": 100, "green": 0}}}})"));
}

TEST(DesiredStateModel, NoOpsChangeNothingAndValuesEqualToTheFileAreNoOverride) {
  DesiredState m(
      "rpc", two_pools({{"a", 2, false}}, {}, std::map<std::string, std::uint64_t>{{"alpha", 1}}));
  EXPECT_FALSE(m.put_backend("alpha", "a", 2, false).changed);
  EXPECT_FALSE(m.patch_backend("alpha", "a", StateRequest::up, std::nullopt).changed);
  EXPECT_FALSE(m.put_split("rpc", {{"alpha", 1}}).changed);
  EXPECT_FALSE(m.delete_overrides().changed);
  EXPECT_TRUE(m.put_backend("alpha", "a", 5, std::nullopt).changed);
  EXPECT_TRUE(m.put_backend("alpha", "a", 2, std::nullopt).changed);
  EXPECT_TRUE(m.changes().empty()) << "back to the file's value: no override left";
  EXPECT_EQ(m.patch_backend("alpha", "zz", StateRequest::down, std::nullopt).status, 404);
  EXPECT_EQ(m.delete_backend("beta", "a").status, 404);
  EXPECT_EQ(m.put_backend("gamma", "a", 1, std::nullopt).status, 404);
  EXPECT_EQ(m.put_split("rpc", {{"alpha", 0}}).status, 400);
  EXPECT_EQ(m.put_split("rpc", {{"gamma", 1}}).status, 400);
  EXPECT_EQ(m.put_backend("alpha", "a", kMaxBackendWeight + 1, std::nullopt).status, 400);
  EXPECT_TRUE(m.changes().empty());
}

TEST(DesiredStateModel, AnUpdateLastsWhileTheFileListsTheBackendAsRecorded) {
  DesiredState m("rpc", two_pools({{"a", 1, false}}, {}));
  m.put_backend("alpha", "a", 5, std::nullopt);
  m.patch_backend("alpha", "a", StateRequest::drain, std::nullopt);
  EXPECT_TRUE(m.load(m.file()).dropped.empty());
  EXPECT_EQ(m.running().at("alpha").at("a"), (RunningBackend{5, false, AdminState::drain}));
  const LoadReport report = m.load(two_pools({{"a", 2, false}}, {}));
  EXPECT_EQ(report.dropped.size(), 1u);
  EXPECT_EQ(m.running().at("alpha").at("a"), (RunningBackend{2, false, AdminState::drain}))
      << "the file's new weight wins; the drain stays";
  m.load(two_pools({}, {}));
  EXPECT_TRUE(m.changes().empty()) << "the backend is gone, and its drain with it";
}

TEST(DesiredStateModel, AnAdditionGivesWayToTheFileAndARemovalEndsWithTheBackend) {
  DesiredState m("rpc", two_pools({{"a", 1, false}}, {}));
  m.put_backend("alpha", "x", 3, std::nullopt);
  m.patch_backend("alpha", "x", StateRequest::down, std::nullopt);
  m.delete_backend("alpha", "a");
  EXPECT_EQ(m.routable("alpha"), std::set<std::string>{});
  EXPECT_TRUE(m.load(m.file()).dropped.empty());
  const LoadReport report = m.load(two_pools({{"a", 1, false}, {"x", 1, false}}, {}));
  EXPECT_EQ(report.dropped.size(), 1u);
  EXPECT_EQ(m.running().at("alpha").at("x"), (RunningBackend{1, false, AdminState::down}));
  EXPECT_EQ(m.running().at("alpha").count("a"), 0u) << "still removed";
  m.load(two_pools({{"x", 1, false}}, {}));
  EXPECT_EQ(m.changes().backends.at("alpha").size(), 1u) << "the removal of a ended with it";
  // PUT brings a removed file backend back with the file's values.
  m.delete_backend("alpha", "x");
  m.put_backend("alpha", "x", std::nullopt, true);
  EXPECT_EQ(m.running().at("alpha").at("x"), (RunningBackend{1, true, AdminState::none}));
}

TEST(DesiredStateModel, SplitWeightsLastWhileTheFilesTableIsTheRecordedOne) {
  const std::map<std::string, std::uint64_t> file_table{{"alpha", 100}, {"beta", 0}};
  DesiredState m("rpc", two_pools({}, {}, file_table));
  m.put_split("rpc", {{"alpha", 0}, {"beta", 100}});
  EXPECT_TRUE(m.load(m.file()).dropped.empty());
  EXPECT_EQ(m.running_split()->at("beta"), 100u);
  m.load(two_pools({}, {}, std::map<std::string, std::uint64_t>{{"alpha", 50}, {"beta", 50}}));
  EXPECT_EQ(m.running_split()->at("beta"), 50u);
  EXPECT_TRUE(m.changes().empty());
}

TEST(DesiredStateModel, ChangesThatNoLongerValidateOnTheNewFileAreAllDropped) {
  DesiredState m(
      "rpc", two_pools({{"a", 1, false}}, {}, std::map<std::string, std::uint64_t>{{"alpha", 1}}));
  m.put_split("rpc", {{"alpha", 0}, {"beta", 1}});
  m.patch_backend("alpha", "a", StateRequest::drain, std::nullopt);
  ConfigFile without_beta = m.file();
  without_beta.pools.pop_back();
  const LoadReport report = m.load(without_beta);
  EXPECT_TRUE(report.dropped_all);
  EXPECT_TRUE(m.changes().empty());
}

TEST(DesiredStateModel, ALimitChangeLastsWhileTheFileSaysWhatItWasMadeAgainst) {
  ConfigFile file = two_pools({}, {});
  file.policies["p"] = PolicyValues{"100/s", 20, 0};
  DesiredState m("rpc", file);
  EXPECT_EQ(m.put_limit("q", "5/s", std::nullopt, std::nullopt).status, 404);
  EXPECT_EQ(m.put_limit("p", std::nullopt, std::nullopt, std::nullopt).status, 400);
  EXPECT_EQ(m.put_limit("p", std::nullopt, kMaxPolicyBurst + 1, std::nullopt).status, 400);
  EXPECT_FALSE(m.put_limit("p", "100/s", 20, std::nullopt).changed) << "the file's values";
  EXPECT_TRUE(m.put_limit("p", "50/s", std::nullopt, std::nullopt).changed);
  EXPECT_TRUE(m.put_limit("p", std::nullopt, std::nullopt, 2).changed);
  EXPECT_EQ(m.running_limits().at("p"), (PolicyValues{"50/s", 20, 2})) << "rate kept";
  EXPECT_EQ(m.state_file().at("limits"), json::parse(R"({"p": {"rate": "50/s", "delay": 2,
      "file": {"rate": "100/s", "burst": 20, "delay": 0}}})"));
  EXPECT_TRUE(m.load(m.file()).dropped.empty());
  ConfigFile burstier = m.file();
  burstier.policies["p"].burst = 30;
  const LoadReport report = m.load(burstier);
  ASSERT_EQ(report.dropped.size(), 1u);
  EXPECT_EQ(report.dropped[0].policy, "p");
  EXPECT_EQ(m.running_limits().at("p"), (PolicyValues{"100/s", 30, 0}));
  EXPECT_TRUE(m.changes().empty());
  EXPECT_EQ(m.state_file().as_object().if_contains("limits"), nullptr);
  m.put_limit("p", "5/h", std::nullopt, std::nullopt);
  ConfigFile without = m.file();
  without.policies.clear();
  EXPECT_EQ(m.load(without).dropped.size(), 1u);
  EXPECT_TRUE(m.changes().empty());
}

class ControlPlaneModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ControlPlaneModel, RandomChangesReloadsAndCrashesAgreeWithTheDesiredStateRule) {
  const std::uint64_t seed = env_number("VEER_MODEL_SEED", std::random_device{}());
  const int steps = static_cast<int>(env_number("VEER_MODEL_STEPS", kDefaultSteps));
  std::cout << "VEER_MODEL_SEED=" << seed << " (" << steps << " steps on " << GetParam() << ")\n"
            << std::flush;
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  ModelRun(seed, GetParam()).run(steps);
}

INSTANTIATE_TEST_SUITE_P(Engines, ControlPlaneModel, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
