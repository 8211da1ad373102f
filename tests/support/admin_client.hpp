#pragma once

// veer started with an admin listener on a free port, and a client for its API.

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/veer_process.hpp"

namespace veer::test {

inline const std::string kToken = "0123456789abcdef-test-token";
inline const std::string kAuth = "Authorization: Bearer " + kToken;

struct Admin {
  std::unique_ptr<VeerProcess> veer;
  std::uint16_t port = 0;

  // A mutation (PUT, POST, PATCH, DELETE) carries `Content-Type: application/json`
  // unless `headers` name a Content-Type of their own (the API answers 415 without
  // it); send through fetch() to leave it out.
  std::optional<Response> call(const std::string& method, const std::string& path,
                               const std::string& body = "",
                               std::vector<std::string> headers = {kAuth}) {
    if (is_mutation(method) && !names_content_type(headers))
      headers.push_back("Content-Type: application/json");
    return fetch(port, method, path, body, headers);
  }

  static bool is_mutation(const std::string& method) {
    return method == "PUT" || method == "POST" || method == "PATCH" || method == "DELETE";
  }
  static bool names_content_type(const std::vector<std::string>& headers) {
    const std::string_view name = "content-type:";
    for (const std::string& h : headers) {
      if (h.size() < name.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < name.size() && same; ++i)
        same = std::tolower(static_cast<unsigned char>(h[i])) == name[i];
      if (same) return true;
    }
    return false;
  }
};

// veer started from a whole config file that has an [admin] table on 127.0.0.1:0; the
// admin port is read back from the log. For files a TestConfig cannot express (several
// routes, a tokenless admin port).
inline Admin start_admin_toml(const std::string& toml, VeerOptions options = {}) {
  Admin admin;
  admin.veer = std::make_unique<VeerProcess>(toml, std::move(options));
  EXPECT_TRUE(admin.veer->wait_ready()) << admin.veer->log_text();
  const std::string log = admin.veer->log_text();
  const std::size_t at = log.find("admin API on 127.0.0.1:");
  EXPECT_NE(at, std::string::npos) << log;
  if (at != std::string::npos)
    admin.port = static_cast<std::uint16_t>(std::stoi(log.substr(at + 23)));
  return admin;
}

// The admin port is read back from veer's log line. `admin_lines` are more keys of
// [admin].
inline Admin start_with_admin(const TestConfig& config, const std::string& state_file = "",
                              const std::string& admin_lines = "") {
  std::string head =
      "[admin]\naddress = \"127.0.0.1:0\"\ntokens = [ { name = \"scaler\", token = \"";
  head += kToken;
  head += "\" } ]\n";
  head += admin_lines;
  std::string toml = config.toml();
  if (!state_file.empty())
    toml.replace(toml.find("[server]\n"), 9, "[server]\nstate_file = \"" + state_file + "\"\n");
  return start_admin_toml(toml + head);
}

}  // namespace veer::test
