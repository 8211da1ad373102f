// The configurations under docker/ pass `veer check`, and the files around them agree
// with them: the image's published ports and healthcheck address, compose's ports, the
// Kubernetes containers' ports, probes, Secret path and grace period. YAML is read with
// Debian's python3-yaml (scripts/setup) and handed over as JSON.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;
const std::string kDocker = std::string(VEER_SOURCE_DIR) + "/docker";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string python() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

// Every document of a YAML file, as a JSON array; nullopt (and a skip) without PyYAML.
std::optional<json::array> yaml_documents(const std::string& path) {
  const CommandResult r =
      run_command(python() +
                  " -c 'import json, sys, yaml; "
                  "print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))' '" +
                  path + "'");
  if (r.output.find("No module named 'yaml'") != std::string::npos) return std::nullopt;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return json::array{};
  return json::parse(r.output).as_array();
}

// `veer check` on `toml` after the replacements (paths that exist only in a container,
// names that resolve only on its network); its output, with the exit code checked.
std::string check_toml(std::string toml, const std::map<std::string, std::string>& replace) {
  for (const auto& [from, to] : replace) {
    const std::size_t at = toml.find(from);
    EXPECT_NE(at, std::string::npos) << from << " is not in the file any more";
    for (std::size_t p = at; p != std::string::npos; p = toml.find(from, p + to.size()))
      toml.replace(p, from.size(), to);
  }
  const std::string dir = make_temp_dir();
  const std::string path = write_file(dir, "veer.toml", toml);
  const CommandResult r = run_command("'" + veer_binary() + "' check '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- the file as checked:\n" << toml;
  EXPECT_NE(r.output.find("configuration is valid"), std::string::npos) << r.output;
  std::filesystem::remove_all(dir);
  return toml;
}

// The ports of `address = "HOST:PORT"` lines, by table name ("listeners.rpc", "admin").
std::map<std::string, int> addresses(const std::string& toml) {
  std::map<std::string, int> out;
  static const std::regex table(R"(^\s*\[([A-Za-z0-9_.-]+)\]\s*$)"),
      address(R"(^\s*address\s*=\s*"[^"]*:(\d+)\")");
  std::istringstream lines(toml);
  std::string current;
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, table))
      current = m[1];
    else if (std::regex_search(line, m, address))
      out[current] = std::stoi(m[1]);
  }
  return out;
}

std::string token_file() {
  return write_file(make_temp_dir(), "token", "0123456789abcdef-docker-test\n");
}

TEST(DockerConfigs, ImageConfigChecksAndMatchesExposeAndHealthcheckAddress) {
  const std::string toml = read_text(kDocker + "/veer.toml");
  const std::string state_dir = make_temp_dir();
  check_toml(toml, {{"/run/secrets/veer_admin_token", token_file()},
                    {"/var/lib/veer/state.json", state_dir + "/state.json"}});
  const std::map<std::string, int> ports = addresses(toml);
  const std::string dockerfile = read_text(kDocker + "/Dockerfile");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dockerfile, m, std::regex(R"(\nEXPOSE ([0-9 ]+)\n)")));
  std::set<int> exposed;
  std::istringstream words(m[1].str());
  for (int port; words >> port;)
    exposed.insert(port);
  EXPECT_EQ(exposed, (std::set<int>{ports.at("listeners.rpc"), ports.at("listeners.ws"),
                                    ports.at("admin")}));
  ASSERT_TRUE(std::regex_search(dockerfile, m, std::regex(R"(ENV VEER_ADMIN=127\.0\.0\.1:(\d+))")));
  EXPECT_EQ(std::stoi(m[1]), ports.at("admin")) << "the healthcheck asks the admin port";
  EXPECT_NE(toml.find("address = \"0.0.0.0:"), std::string::npos) << "reachable from outside";
  EXPECT_NE(toml.find("state_file = \"/var/lib/veer/"), std::string::npos);
}

TEST(DockerConfigs, ComposeConfigChecksAndComposeFileAgreesWithIt) {
  const std::string toml = read_text(kDocker + "/compose/veer.toml");
  // blue and veer-demo-green-1 resolve on the compose network only: distinct loopback
  // addresses here (Linux routes all of 127/8 to lo).
  check_toml(toml, {{"/run/secrets/veer_admin_token", token_file()},
                    {"\"blue:8080\"", "\"127.0.0.2:8080\""},
                    {"\"veer-demo-green-1:8080\"", "\"127.0.0.3:8080\""}});
  EXPECT_NE(toml.find("targets = { blue = 90, green = 10 }"), std::string::npos);
  const std::optional<json::array> docs = yaml_documents(kDocker + "/compose.yaml");
  if (!docs) GTEST_SKIP() << "python3-yaml is not installed (scripts/setup installs it)";
  ASSERT_EQ(docs->size(), 1u);
  const json::object& compose = docs->at(0).as_object();
  EXPECT_EQ(compose.at("name").as_string(), "veer-demo") << "green replicas' names use it";
  const json::object& services = compose.at("services").as_object();
  for (const char* name : {"veer", "blue", "green", "prometheus", "autoscaler"})
    EXPECT_TRUE(services.contains(name)) << name;
  const std::map<std::string, int> ports = addresses(toml);
  // The public listener is published as is; the admin port on the host's loopback.
  std::set<std::string> published;
  for (const json::value& p : services.at("veer").at("ports").as_array())
    published.insert(std::string(p.as_string()));
  const std::string public_port = std::to_string(ports.at("listeners.public"));
  const std::string admin_port = std::to_string(ports.at("admin"));
  EXPECT_TRUE(published.contains(public_port + ":" + public_port));
  EXPECT_TRUE(published.contains("127.0.0.1:" + admin_port + ":" + admin_port));
  // The demo services listen where the pools point.
  for (const char* name : {"blue", "green"}) {
    const json::array& command = services.at(name).at("command").as_array();
    EXPECT_EQ(command.at(0).as_string(), "demo-backend");
    EXPECT_EQ(command.at(2).as_string(), "0.0.0.0:8080") << name;
  }
  // The autoscaler steers the green pool through the admin port.
  std::string args;
  for (const json::value& a : services.at("autoscaler").at("command").as_array())
    args += std::string(a.as_string()) + "\n";
  EXPECT_NE(args.find("--admin=http://veer:" + admin_port + "\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--pool=green\n"), std::string::npos) << args;
  EXPECT_NE(toml.find("[pools.green]"), std::string::npos);
  // Prometheus scrapes the admin port.
  const CommandResult promtool =
      run_command("command -v promtool >/dev/null && promtool check config '" + kDocker +
                  "/compose/prometheus.yml' || echo no-promtool");
  if (promtool.output.find("no-promtool") == std::string::npos) {
    EXPECT_EQ(promtool.exit_code, 0) << promtool.output;
  }
  EXPECT_NE(read_text(kDocker + "/compose/prometheus.yml").find("veer:" + admin_port),
            std::string::npos);
}

const json::object* find_kind(const json::array& docs, const std::string& kind) {
  for (const json::value& d : docs)
    if (d.is_object() && d.at("kind").as_string() == kind) return &d.as_object();
  return nullptr;
}

const json::object& container(const json::object& deployment, const std::string& name) {
  for (const json::value& c :
       deployment.at("spec").at("template").at("spec").at("containers").as_array())
    if (c.at("name").as_string() == name) return c.as_object();
  throw std::runtime_error("no container " + name);
}

// A probe's port: a number or the name of a container port.
int port_of(const json::object& c, const json::value& port) {
  if (port.is_int64()) return static_cast<int>(port.as_int64());
  for (const json::value& p : c.at("ports").as_array())
    if (p.at("name") == port) return static_cast<int>(p.at("containerPort").as_int64());
  return -1;
}

TEST(DockerConfigs, KubernetesSidecarConfigMapChecksAndPortsProbesAndSecretAgree) {
  const std::optional<json::array> docs = yaml_documents(kDocker + "/k8s/rpc-node.yaml");
  if (!docs) GTEST_SKIP() << "python3-yaml is not installed (scripts/setup installs it)";
  const json::object* config_map = find_kind(*docs, "ConfigMap");
  const json::object* deployment = find_kind(*docs, "Deployment");
  const json::object* service = find_kind(*docs, "Service");
  ASSERT_TRUE(config_map && deployment && service);
  const std::string toml(config_map->at("data").at("veer.toml").as_string());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(toml, m, std::regex(R"(token_file = "([^"]+)\")")));
  const std::string token_path = m[1];
  check_toml(toml, {{token_path, token_file()}});
  const std::map<std::string, int> ports = addresses(toml);

  const json::object& veer = container(*deployment, "veer");
  std::map<std::string, int> container_ports;
  for (const json::value& p : veer.at("ports").as_array())
    container_ports[std::string(p.at("name").as_string())] =
        static_cast<int>(p.at("containerPort").as_int64());
  EXPECT_EQ(container_ports, (std::map<std::string, int>{
                                 {"rpc", 8545}, {"ws", 8546}, {"admin", ports.at("admin")}}));
  EXPECT_EQ(ports.at("listeners.rpc"), 8545);
  EXPECT_EQ(ports.at("listeners.ws"), 8546);
  // Probes: readiness on /readyz, liveness on /healthz, both on the admin port.
  const json::object& readiness = veer.at("readinessProbe").at("httpGet").as_object();
  const json::object& liveness = veer.at("livenessProbe").at("httpGet").as_object();
  EXPECT_EQ(readiness.at("path").as_string(), "/readyz");
  EXPECT_EQ(liveness.at("path").as_string(), "/healthz");
  EXPECT_EQ(port_of(veer, readiness.at("port")), ports.at("admin"));
  EXPECT_EQ(port_of(veer, liveness.at("port")), ports.at("admin"));
  // The ConfigMap is mounted where the container's args read it, the Secret where
  // token_file points.
  std::map<std::string, std::string> mounts;  // volume name -> mount path
  for (const json::value& v : veer.at("volumeMounts").as_array())
    mounts[std::string(v.at("name").as_string())] = v.at("mountPath").as_string().c_str();
  const json::array& args = veer.at("args").as_array();
  EXPECT_EQ(args.back().as_string(), mounts.at("veer-config") + "/veer.toml");
  EXPECT_EQ(token_path, mounts.at("veer-admin-token") + "/token");
  // The node serves where the pools point, on the pod's loopback.
  std::string node_args;
  for (const json::value& a : container(*deployment, "node").at("args").as_array())
    node_args += std::string(a.as_string()) + " ";
  EXPECT_NE(toml.find("\"127.0.0.1:18545\""), std::string::npos);
  EXPECT_NE(toml.find("\"127.0.0.1:18546\""), std::string::npos);
  EXPECT_NE(node_args.find("--http.addr=127.0.0.1 --http.port=18545 "), std::string::npos);
  EXPECT_NE(node_args.find("--ws.addr=127.0.0.1 --ws.port=18546 "), std::string::npos);
  // Shutdown: the grace period covers veer's preStop and its drain.
  ASSERT_TRUE(std::regex_search(toml, m, std::regex(R"(drain = "(\d+)s")")));
  const int drain = std::stoi(m[1]);
  const json::array& pre_stop =
      veer.at("lifecycle").at("preStop").at("exec").at("command").as_array();
  ASSERT_EQ(pre_stop.at(0).as_string(), "sleep");
  const int pre_stop_seconds = std::stoi(std::string(pre_stop.at(1).as_string()));
  const std::int64_t grace = deployment->at("spec")
                                 .at("template")
                                 .at("spec")
                                 .at("terminationGracePeriodSeconds")
                                 .as_int64();
  EXPECT_GT(grace, pre_stop_seconds + drain);
  // The Service sends to veer's ports, never to the node's.
  for (const json::value& p : service->at("spec").at("ports").as_array())
    EXPECT_TRUE(container_ports.contains(std::string(p.at("targetPort").as_string())));
}

}  // namespace
}  // namespace veer::test
