#include "admin/ctl.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "conf/address.hpp"

namespace veer::admin {
namespace {

namespace json = boost::json;

constexpr const char* kUsage = R"(usage: veer ctl [--admin HOST:PORT] [--token-file FILE] COMMAND
  pools                              every pool and its backends, with live numbers
  add POOL ADDRESS [WEIGHT]          add a backend (or change its weight)
  drain POOL ADDRESS                 no new traffic to a backend; it stays configured
  up POOL ADDRESS | down POOL ADDRESS  put a backend back in, or take it out
  remove POOL ADDRESS [DRAIN]        drain, then remove (DRAIN like 30s; default timeouts.drain)
  split SPLIT POOL=WEIGHT...         set a split's weights (a blue-green switch, a canary)
  reload                             re-read the configuration file
  get PATH                           any GET, printed as received (e.g. /metrics)
The admin address defaults to $VEER_ADMIN or 127.0.0.1:9901; the token comes from
--token-file or $VEER_ADMIN_TOKEN.
)";

struct Reply {
  int status = 0;
  std::string body;
};

// Blocking, one request per connection, bounded by a 10 s timeout per wait.
class Client {
 public:
  Client(conf::SocketAddress address, std::string token)
      : address_(address), token_(std::move(token)) {}

  std::optional<Reply> call(const std::string& method, const std::string& target,
                            const std::string& body, std::string* why) const {
    const int fd = ::socket(address_.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fail(why, "socket: ");
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    if (::connect(fd, address_.data(), address_.length) != 0) {
      const int error = errno != EINPROGRESS ? errno
                        : !wait(fd, POLLOUT) ? errno
                                             : socket_error(fd);
      if (error != 0) {
        errno = error;
        return fail(why, "cannot connect to " + address_.to_string() + ": ");
      }
    }
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: veer\r\n";
    if (!token_.empty()) request += "Authorization: Bearer " + token_ + "\r\n";
    if (!body.empty()) request += "Content-Type: application/json\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    request += body;
    for (std::size_t sent = 0; sent < request.size();) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EAGAIN && wait(fd, POLLOUT)) {
        continue;
      } else {
        return fail(why, "send: ");
      }
    }
    std::string response;
    char buffer[16384];
    for (;;) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        response.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno == EAGAIN && wait(fd, POLLIN)) {
        continue;
      } else {
        return fail(why, "receive: ");
      }
    }
    return parse(response, why);
  }

 private:
  static bool wait(int fd, short events) {
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, 10'000);
    if (ready == 0) errno = ETIMEDOUT;
    return ready > 0;
  }
  static int socket_error(int fd) {
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    return error;
  }
  static std::nullopt_t fail(std::string* why, const std::string& what) {
    *why = what + std::strerror(errno);
    return std::nullopt;
  }
  // Enough of HTTP/1.1 for the admin API's answers (Content-Length, then the end of
  // the connection).
  static std::optional<Reply> parse(const std::string& response, std::string* why) {
    const std::size_t head_end = response.find("\r\n\r\n");
    if (!response.starts_with("HTTP/1.1 ") || head_end == std::string::npos) {
      *why = "not an HTTP response";
      return std::nullopt;
    }
    Reply reply;
    reply.status = std::atoi(response.c_str() + 9);
    reply.body = response.substr(head_end + 4);
    return reply;
  }
  conf::SocketAddress address_;
  std::string token_;
};

// `address` as the API's path wants it: brackets of IPv6 literals percent-encoded.
std::string path_segment(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '[') {
      out += "%5B";
    } else if (c == ']') {
      out += "%5D";
    } else if (c == '/' || c == '?' || c == '%' || c == '#' || c == ' ') {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

std::string backend_path(const std::string& pool, const std::string& address) {
  return "/api/v1/pools/" + path_segment(pool) + "/backends/" + path_segment(address);
}

std::string cell(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_double()) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", v.get_double());
    return text;
  }
  if (v.is_null()) return "-";
  return json::serialize(v);
}

// GET /api/v1/pools as a table.
void print_pools(const json::value& reply) {
  std::printf("%-16s %-28s %-9s %6s %9s %9s %10s %10s\n", "POOL", "BACKEND", "STATE", "WEIGHT",
              "IN_FLIGHT", "CONNS", "REQ/S", "EWMA_MS");
  for (const json::value& pool : reply.at("pools").as_array()) {
    const std::string name = cell(pool.at("name"));
    for (const json::value& b : pool.at("backends").as_array()) {
      std::printf("%-16s %-28s %-9s %6s %9s %9s %10s %10s\n", name.c_str(),
                  cell(b.at("address")).c_str(), cell(b.at("state")).c_str(),
                  cell(b.at("weight")).c_str(), cell(b.at("in_flight")).c_str(),
                  cell(b.at("active_connections")).c_str(),
                  cell(b.at("requests_per_second")).c_str(), cell(b.at("latency_ewma_ms")).c_str());
    }
  }
  std::printf("configuration version %s\n", cell(reply.at("version")).c_str());
}

std::optional<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string token;
  std::getline(in, token);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
    token.pop_back();
  return token;
}

int usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "veer ctl: " << problem << "\n";
  std::cerr << kUsage;
  return 2;
}

struct Call {
  std::string method;
  std::string target;
  std::string body;
};

// The API call a command stands for, or nullopt (with *problem) when it is malformed.
std::optional<Call> call_for(const std::vector<std::string>& args, std::string* problem) {
  const std::string& command = args.empty() ? "" : args[0];
  const std::size_t n = args.size();
  auto pool_and_address = [&](std::size_t extra) {
    if (n < 3 || n > 3 + extra) {
      *problem = command + " wants POOL ADDRESS";
      return false;
    }
    return true;
  };
  if (command == "pools" && n == 1) return Call{"GET", "/api/v1/pools", ""};
  if (command == "reload" && n == 1) return Call{"POST", "/api/v1/reload", ""};
  if (command == "get" && n == 2) return Call{"GET", args[1], ""};
  if (command == "add") {
    if (!pool_and_address(1)) return std::nullopt;
    std::string body = "{}";
    if (n == 4) {
      char* end = nullptr;
      const unsigned long long weight = std::strtoull(args[3].c_str(), &end, 10);
      if (args[3].empty() || *end != '\0') {
        *problem = "WEIGHT must be a whole number, got " + args[3];
        return std::nullopt;
      }
      body = "{\"weight\":" + std::to_string(weight) + "}";
    }
    return Call{"PUT", backend_path(args[1], args[2]), body};
  }
  if (command == "drain" || command == "up" || command == "down") {
    if (!pool_and_address(0)) return std::nullopt;
    return Call{"PATCH", backend_path(args[1], args[2]), "{\"state\":\"" + command + "\"}"};
  }
  if (command == "remove") {
    if (!pool_and_address(1)) return std::nullopt;
    std::string target = backend_path(args[1], args[2]);
    if (n == 4) target += "?drain=" + path_segment(args[3]);
    return Call{"DELETE", target, ""};
  }
  if (command == "split" && n >= 3) {
    json::object targets;
    for (std::size_t i = 2; i < n; ++i) {
      const std::size_t equals = args[i].find('=');
      char* end = nullptr;
      const unsigned long long weight =
          equals == std::string::npos ? 0 : std::strtoull(args[i].c_str() + equals + 1, &end, 10);
      if (equals == std::string::npos || equals == 0 || end == args[i].c_str() + equals + 1 ||
          *end != '\0') {
        *problem = "split targets are POOL=WEIGHT, got " + args[i];
        return std::nullopt;
      }
      targets[args[i].substr(0, equals)] = weight;
    }
    return Call{"PUT", "/api/v1/splits/" + path_segment(args[1]),
                json::serialize(json::object{{"targets", std::move(targets)}})};
  }
  *problem = command.empty() ? "no command" : "unknown command or arguments: " + command;
  return std::nullopt;
}

}  // namespace

int run_ctl(int argc, char** argv) {
  const char* env_admin = std::getenv("VEER_ADMIN");
  const char* env_token = std::getenv("VEER_ADMIN_TOKEN");
  std::string admin = env_admin != nullptr ? env_admin : "127.0.0.1:9901";
  std::string token = env_token != nullptr ? env_token : "";
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--admin" || arg == "--token-file") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "--admin") {
        admin = value;
      } else if (std::optional<std::string> t = read_token_file(value)) {
        token = *t;
      } else {
        return usage("cannot read the token file " + value);
      }
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else {
      args.push_back(arg);
    }
  }
  std::string problem;
  const std::optional<Call> call = call_for(args, &problem);
  if (!call) return usage(problem);
  std::string why;
  const std::optional<conf::HostPort> host_port = conf::parse_host_port(admin, &why);
  const std::optional<conf::SocketAddress> address =
      host_port ? conf::resolve(*host_port, &why) : std::nullopt;
  if (!address) return usage("admin address " + admin + ": " + why);
  const std::optional<Reply> reply =
      Client(*address, token).call(call->method, call->target, call->body, &why);
  if (!reply) {
    std::cerr << "veer ctl: " << why << "\n";
    return 2;
  }
  const bool ok = reply->status >= 200 && reply->status < 300;
  if (ok && args[0] == "pools") {
    boost::system::error_code ec;
    const json::value parsed = json::parse(reply->body, ec);
    try {
      if (!ec) {
        print_pools(parsed);
        return 0;
      }
    } catch (const std::exception&) {
      // Not the shape this veer ctl knows (another version): print it as received.
    }
  }
  std::ostream& out = ok ? std::cout : std::cerr;
  if (!ok)
    out << "veer ctl: " << call->method << " " << call->target << ": " << reply->status << "\n";
  out << reply->body;
  if (!reply->body.empty() && reply->body.back() != '\n') out << "\n";
  return ok ? 0 : 1;
}

}  // namespace veer::admin
