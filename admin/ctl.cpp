#include "admin/ctl.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "admin/ctl_client.hpp"
#include "admin/ctl_endpoint.hpp"
#include "admin/ctl_print.hpp"
#include "conf/address.hpp"

namespace veer::admin {
namespace {

namespace json = boost::json;
namespace po = boost::program_options;
using Args = std::vector<std::string>;  // a command's arguments, after its name

// Options of one command (`limits`); the last given of each wins, as for the global ones.
struct LimitOptions {
  std::optional<std::string> key, rate, burst, delay;
  bool any() const { return key || rate || burst || delay; }
};

// How a successful answer is shown.
enum class Output { as_received, pools_table, certificates_table, limits_view, pretty_json };

// One row per command, as HAProxy's CLI keywords and Envoy's admin handlers: the usage
// text is generated from these rows, so help and behaviour cannot drift apart.
struct Command {
  const char* name;
  const char* arguments;
  const char* help;
  std::size_t min_args;
  std::size_t max_args;
  Output output;
  std::optional<CtlRequest> (*request)(const Args& args, const LimitOptions& options,
                                       std::string* problem);
  const char* when_not_found = nullptr;  // a hint when the API answers 404
  bool takes_limit_options = false;      // --key, --rate, --burst, --delay
};

// SPLIT and its targets: a split has at most 64 (conf/load_splits.cpp).
constexpr std::size_t kSplitArgsMax = 1 + 64;

// `text` as one path segment: IPv6 brackets and the characters a path gives meaning to
// percent-encoded.
std::string path_segment(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '[' || c == ']' || c == '/' || c == '?' || c == '%' || c == '#' || c == ' ') {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

std::string backend_path(const Args& args) {
  return "/api/v1/pools/" + path_segment(args[0]) + "/backends/" + path_segment(args[1]);
}

std::optional<std::uint64_t> whole_number(const std::string& text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return {};
  return value;
}

// `text` as a query value: everything but unreserved characters percent-encoded.
std::string query_value(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      out += hex;
    }
  }
  return out;
}

// limits: every policy; limits POLICY [--key K]: one, with a key's state; limits POLICY
// --rate R --burst N --delay N: a change (the API checks the values).
std::optional<CtlRequest> limits_request(const Args& args, const LimitOptions& o,
                                         std::string* problem) {
  if (args.empty()) {
    if (o.any()) *problem = "--key, --rate, --burst and --delay need a POLICY";
    if (o.any()) return std::nullopt;
    return CtlRequest{"GET", "/api/v1/limits", ""};
  }
  const std::string path = "/api/v1/limits/" + path_segment(args[0]);
  if (!o.rate && !o.burst && !o.delay) {
    return CtlRequest{"GET", o.key ? path + "?key=" + query_value(*o.key) : path, ""};
  }
  if (o.key) {
    *problem = "--key reads a key's state; it does not go with --rate, --burst or --delay";
    return std::nullopt;
  }
  json::object body;
  if (o.rate) body["rate"] = *o.rate;
  for (auto [name, value] : {std::pair{"burst", &o.burst}, std::pair{"delay", &o.delay}}) {
    if (!*value) continue;
    const std::optional<std::uint64_t> n = whole_number(**value);
    if (!n) {
      *problem = std::string("--") + name + " must be a whole number, got " + **value;
      return std::nullopt;
    }
    body[name] = *n;
  }
  return CtlRequest{"PUT", path, json::serialize(body)};
}

std::optional<CtlRequest> add_request(const Args& args, std::string* problem) {
  json::object body;
  if (args.size() == 3) {
    const std::optional<std::uint64_t> weight = whole_number(args[2]);
    if (!weight) {
      *problem = "WEIGHT must be a whole number, got " + args[2];
      return std::nullopt;
    }
    body["weight"] = *weight;
  }
  return CtlRequest{"PUT", backend_path(args), json::serialize(body)};
}

CtlRequest state_request(const Args& args, const char* state) {
  return {"PATCH", backend_path(args), json::serialize(json::object{{"state", state}})};
}

std::optional<CtlRequest> remove_request(const Args& args, std::string*) {
  std::string target = backend_path(args);
  if (args.size() == 3) target += "?drain=" + path_segment(args[2]);
  return CtlRequest{"DELETE", target, ""};
}

std::optional<CtlRequest> split_request(const Args& args, std::string* problem) {
  json::object targets;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::size_t equals = args[i].find('=');
    const std::optional<std::uint64_t> weight =
        equals == std::string::npos ? std::nullopt : whole_number(args[i].substr(equals + 1));
    if (equals == 0 || !weight) {
      *problem = "split targets are POOL=WEIGHT, got " + args[i];
      return std::nullopt;
    }
    targets[args[i].substr(0, equals)] = *weight;
  }
  return CtlRequest{"PUT", "/api/v1/splits/" + path_segment(args[0]),
                    json::serialize(json::object{{"targets", std::move(targets)}})};
}

std::optional<CtlRequest> bodiless(const char* method, std::string target) {
  return CtlRequest{method, std::move(target), ""};
}

// `start NAME SPLIT STABLE CANARY 1,5,25,50,100` (default guards) or `start '{...}'` (the
// API's body as is).
std::optional<CtlRequest> rollout_start(const Args& args, std::string* problem) {
  if (args.size() == 2) return CtlRequest{"POST", "/api/v1/rollouts", args[1]};
  if (args.size() != 6) {
    *problem = "rollout start wants NAME SPLIT STABLE CANARY STEPS, or the API's JSON body";
    return std::nullopt;
  }
  json::array steps;
  std::string_view rest = args[5];
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string step(rest.substr(0, comma));
    char* end = nullptr;
    const double percent = std::strtod(step.c_str(), &end);
    if (step.empty() || end != step.c_str() + step.size()) {
      *problem = "rollout steps are percents separated by commas (1,5,25,50,100), got " + args[5];
      return std::nullopt;
    }
    // Whole percents as integers: the body reads as the operator wrote it.
    if (percent == std::floor(percent) && percent >= 0 && percent <= 100) {
      steps.push_back(static_cast<std::int64_t>(percent));
    } else {
      steps.push_back(percent);
    }
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
  }
  return CtlRequest{"POST", "/api/v1/rollouts",
                    json::serialize(json::object{{"name", args[1]},
                                                 {"split", args[2]},
                                                 {"stable", args[3]},
                                                 {"canary", args[4]},
                                                 {"steps", std::move(steps)}})};
}

// `rollout` lists, `rollout NAME` shows one, `rollout NAME ACTION` acts (delete forgets).
std::optional<CtlRequest> rollout_request(const Args& args, std::string* problem) {
  if (args.empty()) return bodiless("GET", "/api/v1/rollouts");
  if (args[0] == "start") return rollout_start(args, problem);
  const std::string path = "/api/v1/rollouts/" + path_segment(args[0]);
  if (args.size() == 1) return bodiless("GET", path);
  if (args.size() == 2 && args[1] == "delete") return bodiless("DELETE", path);
  static constexpr std::array<std::string_view, 4> kActions = {"pause", "resume", "promote",
                                                               "abort"};
  if (args.size() == 2 && std::find(kActions.begin(), kActions.end(), args[1]) != kActions.end())
    return bodiless("POST", path + "/" + args[1]);
  *problem = "rollout NAME takes one of pause, resume, promote, abort, delete";
  return std::nullopt;
}

// The commands without options, in the signature of those with them.
template <std::optional<CtlRequest> (*Make)(const Args&, std::string*)>
std::optional<CtlRequest> plain(const Args& args, const LimitOptions&, std::string* problem) {
  return Make(args, problem);
}

constexpr const char* kNoOverrides =
    "this veer has no /api/v1/overrides (it is older than this veer ctl)";

const Command kCommands[] = {
    {"pools", "", "every backend with its live numbers, and why it is out", 0, 0,
     Output::pools_table,
     [](const Args&, const LimitOptions&, std::string*) {
       return bodiless("GET", "/api/v1/pools");
     }},
    {"add", "POOL ADDRESS [WEIGHT]", "add a backend (or change its weight)", 2, 3,
     Output::as_received, plain<add_request>},
    {"drain", "POOL ADDRESS", "no new traffic to a backend; it stays configured", 2, 2,
     Output::as_received,
     [](const Args& a, const LimitOptions&, std::string*) {
       return std::optional(state_request(a, "drain"));
     }},
    {"down", "POOL ADDRESS", "take a backend out (administratively disabled)", 2, 2,
     Output::as_received,
     [](const Args& a, const LimitOptions&, std::string*) {
       return std::optional(state_request(a, "down"));
     }},
    {"up", "POOL ADDRESS", "put a drained or disabled backend back in", 2, 2, Output::as_received,
     [](const Args& a, const LimitOptions&, std::string*) {
       return std::optional(state_request(a, "up"));
     }},
    {"remove", "POOL ADDRESS [DRAIN]",
     "drain, then remove after DRAIN (30s; default timeouts.drain)", 2, 3, Output::as_received,
     plain<remove_request>},
    {"split", "SPLIT POOL=WEIGHT...", "set a split's weights (a blue-green switch, a canary)", 2,
     kSplitArgsMax, Output::as_received, plain<split_request>},
    {"reload", "", "re-read the config file (runtime changes stay on top)", 0, 0,
     Output::as_received,
     [](const Args&, const LimitOptions&, std::string*) {
       return bodiless("POST", "/api/v1/reload");
     }},
    {"overrides", "", "the runtime changes layered on the config file", 0, 0, Output::pretty_json,
     [](const Args&, const LimitOptions&, std::string*) {
       return bodiless("GET", "/api/v1/overrides");
     },
     kNoOverrides},
    {"reset", "", "drop every runtime change: back to the config file alone", 0, 0,
     Output::pretty_json,
     [](const Args&, const LimitOptions&, std::string*) {
       return bodiless("DELETE", "/api/v1/overrides");
     },
     kNoOverrides},
    {"certificates", "", "each TLS listener's certificates: names, expiry, days left", 0, 0,
     Output::certificates_table,
     [](const Args&, const LimitOptions&, std::string*) {
       return bodiless("GET", "/api/v1/certificates");
     },
     "this veer has no /api/v1/certificates (it is older than this veer ctl)"},
    {"limits", "[POLICY]",
     "rate-limit policies; POLICY --key K: a key's state; POLICY --rate 50/s --burst N "
     "--delay N: change it",
     0, 1, Output::limits_view, limits_request,
     "no such policy, or this veer has no /api/v1/limits (it is older than this veer ctl)", true},
    {"rollout", "[NAME [pause|resume|promote|abort|delete]] | start NAME SPLIT STABLE CANARY STEPS",
     "progressive rollouts: list, show, act on one, or start one (STEPS: 1,5,25,50,100)", 0, 6,
     Output::pretty_json, plain<rollout_request>,
     "no such rollout, or this veer has no /api/v1/rollouts (it is older than this veer ctl)"},
    {"get", "PATH", "any GET, printed as received (e.g. /metrics)", 1, 1, Output::as_received,
     [](const Args& a, const LimitOptions&, std::string*) { return bodiless("GET", a[0]); }},
};

// The global options, described once: they are parsed and listed in the usage from here.
// Each is kept as a list whose last entry wins, as before (and as with curl): a wrapper
// script can put its defaults first and its caller still override them.
po::options_description global_options() {
  po::options_description options;
  const auto text = [] { return po::value<std::vector<std::string>>(); };
  auto add = options.add_options();
  add("config", text()->value_name("FILE"), "a veer config file: its admin address and token");
  add("admin", text()->value_name("HOST:PORT"), "the admin API's address");
  add("token-file", text()->value_name("FILE"), "a file holding the admin token");
  return options;
}

// The options of `limits`, listed in the usage after the global ones.
po::options_description limit_options() {
  po::options_description options;
  const auto text = [] { return po::value<std::vector<std::string>>(); };
  auto add = options.add_options();
  add("key", text()->value_name("K"), "limits POLICY: the key's parts joined by '|'");
  add("rate", text()->value_name("N/s|N/m|N/h"), "limits POLICY: the new rate");
  add("burst", text()->value_name("N"), "limits POLICY: the new burst");
  add("delay", text()->value_name("N"), "limits POLICY: the new delay");
  return options;
}

std::string usage_text() {
  const po::options_description options = global_options();
  std::string text = "usage: veer ctl";
  for (const auto& option : options.options()) {
    text.append(" [--").append(option->long_name()).append(" ");
    text.append(option->format_parameter()).append("]");
  }
  text += " COMMAND\n";
  const auto line = [&text](std::string synopsis, const std::string& help) {
    synopsis.resize(std::max<std::size_t>(synopsis.size() + 1, 29), ' ');
    text.append("  ").append(synopsis).append(help).append("\n");
  };
  for (const Command& c : kCommands)
    line(std::string(c.name) + (*c.arguments ? " " : "") + c.arguments, c.help);
  line("help", "this text (also -h, --help)");
  for (const auto& option : options.options())
    line("--" + option->long_name() + " " + option->format_parameter(), option->description());
  const po::options_description limits = limit_options();
  for (const auto& option : limits.options())
    line("--" + option->long_name() + " " + option->format_parameter(), option->description());
  text +=
      "Where the admin API is (the first given wins): --admin, $VEER_ADMIN, [admin].address\n"
      "of the --config file (a wildcard address is reached on loopback), 127.0.0.1:9901.\n"
      "The token (the first given wins): --token-file, $VEER_ADMIN_TOKEN,\n"
      "the --config file's first [admin].tokens entry or else its [admin].token_file, none.\n"
      "Exit status: 0 the API accepted the call, 1 it refused it (its error is printed),\n"
      "2 a usage, configuration or connection error.\n";
  return text;
}

int usage_error(const std::string& problem) {
  std::cerr << "veer ctl: " << problem << "\n" << usage_text();
  return 2;
}

struct Flags {
  EndpointSources sources;
  LimitOptions limits;
  bool help = false;
  std::vector<std::string> words;  // the command and its arguments
};

// The command line through Boost.Program_options: options anywhere, `--` ends them, an
// unknown one is refused. Its exceptions stop here, as the problem to print.
std::optional<std::vector<std::string>> parse_command_line(int argc, char** argv,
                                                           po::variables_map& map,
                                                           std::string* problem) {
  po::options_description all = global_options();
  all.add(limit_options());
  all.add_options()("help,h", "")("words", po::value<std::vector<std::string>>());
  po::positional_options_description words;
  words.add("words", -1);
  // No abbreviations (--adm for --admin): a later option could make one ambiguous and
  // break the scripts that use it.
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(words).style(style).run(),
              map);
  } catch (const po::error& e) {
    *problem = e.what();
    return std::nullopt;
  }
  if (map.count("words") == 0) return std::vector<std::string>{};
  return map["words"].as<std::vector<std::string>>();
}

std::optional<Flags> parse_flags(int argc, char** argv, std::string* problem) {
  po::variables_map map;
  std::optional<std::vector<std::string>> words = parse_command_line(argc, argv, map, problem);
  if (!words) return std::nullopt;
  Flags flags;
  flags.words = std::move(*words);
  flags.help = map.count("help") > 0 || (!flags.words.empty() && flags.words[0] == "help");
  const auto last = [&map](const char* name) -> std::optional<std::string> {
    if (map.count(name) == 0) return std::nullopt;
    return map[name].as<std::vector<std::string>>().back();
  };
  flags.sources.admin = last("admin");
  flags.sources.token_file = last("token-file");
  flags.sources.config = last("config");
  flags.limits.key = last("key");
  flags.limits.rate = last("rate");
  flags.limits.burst = last("burst");
  flags.limits.delay = last("delay");
  // An empty variable counts as unset, as a shell's `VEER_ADMIN= veer ctl ...` means.
  const auto env = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return value;
  };
  flags.sources.env_admin = env("VEER_ADMIN");
  flags.sources.env_token = env("VEER_ADMIN_TOKEN");
  return flags;
}

const Command* find_command(const std::string& name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::string printed(Output output, const json::value& reply) {
  switch (output) {
    case Output::pools_table:
      return pools_table(reply);
    case Output::certificates_table:
      return certificates_table(reply);
    case Output::limits_view:
      return reply.as_object().contains("policies") ? limits_table(reply) : pretty_json(reply);
    default:
      return pretty_json(reply);
  }
}

// Prints a 2xx answer the command's way, or as received when it is not the JSON expected.
void print_success(const Command& command, const std::string& body) {
  if (command.output != Output::as_received) {
    boost::system::error_code ec;
    const json::value parsed = json::parse(body, ec);
    try {
      if (!ec) {
        std::cout << printed(command.output, parsed);
        return;
      }
    } catch (const std::exception&) {
      // Not the shape this veer ctl knows (another version): as received below.
    }
  }
  std::cout << body;
  if (!body.empty() && body.back() != '\n') std::cout << "\n";
}

void print_refusal(const Command& command, const CtlRequest& request, const CtlReply& reply) {
  std::cerr << "veer ctl: " << request.method << " " << request.target << ": " << reply.status
            << "\n";
  if (reply.status == 404 && command.when_not_found != nullptr)
    std::cerr << "veer ctl: " << command.when_not_found << "\n";
  std::cerr << reply.body;
  if (!reply.body.empty() && reply.body.back() != '\n') std::cerr << "\n";
}

}  // namespace

int run_ctl(int argc, char** argv) {
  std::string problem;
  const std::optional<Flags> flags = parse_flags(argc, argv, &problem);
  if (!flags) return usage_error(problem);
  if (flags->help) {
    std::cout << usage_text();
    return 0;
  }
  if (flags->words.empty()) return usage_error("no command");
  const Command* command = find_command(flags->words[0]);
  if (command == nullptr) return usage_error("unknown command " + flags->words[0]);
  const Args args(flags->words.begin() + 1, flags->words.end());
  if (args.size() < command->min_args || args.size() > command->max_args) {
    return usage_error(std::string(command->name) + " wants " +
                       (*command->arguments ? command->arguments : "no arguments"));
  }
  if (flags->limits.any() && !command->takes_limit_options)
    return usage_error("--key, --rate, --burst and --delay are options of limits");
  const std::optional<CtlRequest> request = command->request(args, flags->limits, &problem);
  if (!request) return usage_error(problem);
  const std::optional<CtlEndpoint> endpoint = resolve_endpoint(flags->sources, &problem);
  if (!endpoint) {
    std::cerr << "veer ctl: " << problem << "\n";
    return 2;
  }
  const std::optional<conf::SocketAddress> address = conf::resolve(endpoint->address, &problem);
  if (!address) return usage_error("admin address " + endpoint->address.host + ": " + problem);
  const std::optional<CtlReply> reply =
      CtlClient(*address, endpoint->token).call(*request, &problem);
  if (!reply) {
    std::cerr << "veer ctl: " << problem << "\n";
    return 2;
  }
  if (reply->status < 200 || reply->status >= 300) {
    print_refusal(*command, *request, *reply);
    return 1;
  }
  print_success(*command, reply->body);
  return 0;
}

}  // namespace veer::admin
