#include <fstream>
#include <sstream>
#include <string>

#include "conf/toml_reader.hpp"

namespace veer::conf::detail {
namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// A token file holds one token (surrounding whitespace ignored), as container secrets do.
void read_token_file(const toml::node& node, const std::string& path, Diagnostics& diag,
                     AdminConfig& admin) {
  const std::string file = node.as_string()->get();
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diag.error(node.source(), path + ": cannot read " + file);
    return;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!token.empty() && space(token.back()))
    token.pop_back();
  std::size_t start = 0;
  while (start < token.size() && space(token[start]))
    ++start;
  token.erase(0, start);
  if (token.size() < 16) {
    diag.error(node.source(), path + ": the token in " + file + " is shorter than 16 characters");
    return;
  }
  admin.tokens.push_back(AdminToken{"token_file", std::move(token)});
}

void read_tokens(const toml::node& node, const std::string& path, Diagnostics& diag,
                 AdminConfig& admin) {
  const toml::array* list = node.as_array();
  if (list == nullptr) {
    diag.error(node.source(), path + ": expected [ { name = \"...\", token = \"...\" }, ... ]");
    return;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string item = path + "[" + std::to_string(i) + "]";
    const toml::table* table = list->get(i)->as_table();
    if (table == nullptr) {
      diag.error(list->get(i)->source(), item + ": expected { name = \"...\", token = \"...\" }");
      continue;
    }
    TableReader r(*table, item, diag);
    AdminToken token;
    const bool named = r.read_string("name", token.name);
    const bool has_token = r.read_string("token", token.token);
    r.finish();
    if (!named || !valid_name(token.name)) {
      diag.error(table->source(), item + ": needs a name (letters, digits, '-', '_', '.')");
    } else if (!has_token || token.token.size() < 16) {
      // A short token can be guessed; refusing it is cheaper than an incident.
      diag.error(table->source(), item + ": needs a token of at least 16 characters");
    } else {
      admin.tokens.push_back(std::move(token));
    }
  }
}

}  // namespace

void load_admin(TableReader& root, Config& config) {
  const toml::node* node = root.take("admin");
  if (node == nullptr) return;
  if (!node->is_table()) {
    root.diag().error(node->source(), "admin: expected a table");
    return;
  }
  TableReader r(*node->as_table(), "admin", root.diag());
  AdminConfig& admin = config.admin;
  admin.enabled = true;
  admin.pos = position_of(node->source());
  if (r.read_string("address", admin.address)) {
    std::string why;
    std::optional<HostPort> hp = parse_host_port(admin.address, &why);
    if (!hp) {
      root.diag().error(r.take("address")->source(), "admin.address: " + why);
    } else {
      admin.host_port = *hp;
    }
  }
  if (const toml::node* tokens = r.take("tokens"))
    read_tokens(*tokens, "admin.tokens", root.diag(), admin);
  if (const toml::node* file = r.take("token_file")) {
    if (file->is_string()) {
      read_token_file(*file, "admin.token_file", root.diag(), admin);
    } else {
      root.diag().error(file->source(), "admin.token_file: expected a file path");
    }
  }
  r.read_bool("metrics", admin.metrics);
  r.read_bool("metrics_need_token", admin.metrics_need_token);
  r.read_string("audit_log", admin.audit_log);
  r.finish();
  if (admin.tokens.empty() && !is_loopback(admin.host_port.host)) {
    root.diag().error(admin.pos, "admin: address " + admin.address +
                                     " is not loopback, so tokens (or token_file) are required");
  }
}

}  // namespace veer::conf::detail
