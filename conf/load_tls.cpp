// The tls tables: TLS termination on a listener and TLS to a pool's backends.
//
// Files are named, never opened here: the TLS layer (tls/) loads them and reports what is
// wrong with them, at start, on reload and when they change on disk. Paths are kept as
// written; like server.access_log and server.state_file, a relative one is relative to
// veer's working directory. OpenSSL strings (ciphers, ciphersuites, curves) are likewise
// only checked for presence here: OpenSSL is the one judge of their contents.
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <string>
#include <utility>

#include "conf/toml_reader.hpp"

namespace veer::conf::detail {
namespace {

using Verify = ListenerTlsConfig::Verify;

// A string key that may not be empty: a file path or an OpenSSL list. `what` names it
// in the error ("a file path").
bool read_nonempty(TableReader& r, std::string_view key, std::string& out, std::string_view what) {
  std::string value;
  if (!r.read_string(key, value)) return false;
  if (value.empty()) {
    r.diag().error(r.take(key)->source(),
                   r.path_of(key) + ": expected " + std::string(what) + ", not \"\"");
    return false;
  }
  out = std::move(value);
  return true;
}

// A string key with a fixed set of values, in the style of server.io_engine's error.
template <class E>
void read_choice(TableReader& r, std::string_view key,
                 std::initializer_list<std::pair<std::string_view, E>> choices, E& out) {
  std::string value;
  if (!r.read_string(key, value)) return;
  std::string names;
  for (const auto& [name, choice] : choices) {
    if (name == value) {
      out = choice;
      return;
    }
    names += names.empty() ? "" : ", ";
    names += name;
  }
  r.diag().error(r.take(key)->source(),
                 r.path_of(key) + ": \"" + value + "\" is not one of " + names);
}

// cert and key of a certificate, both required: the default one (the tls table itself)
// or one of `certificates`.
void read_cert_key(TableReader& r, const toml::node& node, CertKeyConfig& out) {
  out.pos = position_of(node.source());
  for (auto [key, file] : {std::pair{"cert", &out.cert}, std::pair{"key", &out.key}}) {
    if (r.table().get(key) == nullptr) {
      r.take(key);
      r.diag().error(node.source(),
                     r.path() + ": missing key \"" + std::string(key) + "\" (" +
                         (file == &out.cert ? "the certificate chain" : "its private key") +
                         ", a PEM file)");
      continue;
    }
    read_nonempty(r, key, *file, "a file path");
  }
}

// certificates = [ { cert = "...", key = "..." }, ... ]: more certificates, chosen by SNI.
void read_certificates(TableReader& r, ListenerTlsConfig& tls) {
  const toml::node* node = r.take("certificates");
  if (node == nullptr) return;
  const toml::array* list = node->as_array();
  if (list == nullptr) {
    r.diag().error(node->source(), r.path_of("certificates") +
                                       ": expected [ { cert = \"...\", key = \"...\" }, ... ]");
    return;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const toml::node& item = *list->get(i);
    const std::string path = r.path_of("certificates") + "[" + std::to_string(i) + "]";
    std::optional<TableReader> reader =
        open_table(item, path, "{ cert = \"...\", key = \"...\" }", r.diag());
    if (!reader) continue;
    CertKeyConfig certificate;
    read_cert_key(*reader, item, certificate);
    reader->finish();
    tls.certificates.push_back(std::move(certificate));
  }
}

void read_min_version(TableReader& r, ListenerTlsConfig& tls) {
  std::string version;
  if (!r.read_string("min_version", version)) return;
  if (version == "1.2" || version == "1.3") {
    tls.min_version = version;
  } else if (version == "1.0" || version == "1.1") {
    // Deprecated by RFC 8996; offering them would only let a downgrade through.
    r.diag().error(r.take("min_version")->source(),
                   r.path_of("min_version") + ": TLS " + version +
                       " is never allowed (RFC 8996 deprecates 1.0 and 1.1); use \"1.2\" or "
                       "\"1.3\"");
  } else {
    r.diag().error(r.take("min_version")->source(),
                   r.path_of("min_version") + ": \"" + version + "\" is not one of 1.2, 1.3");
  }
}

// A header carrying the verified client certificate to the backend.
// Fields veer writes or that frame the request: a certificate header of the same name
// would be dropped from the client and then written twice, or break the framing.
bool reserved_header(std::string_view name) {
  static constexpr std::string_view kReserved[] = {"host",
                                                   "content-length",
                                                   "transfer-encoding",
                                                   "connection",
                                                   "upgrade",
                                                   "te",
                                                   "trailer",
                                                   "keep-alive",
                                                   "x-forwarded-for",
                                                   "x-forwarded-proto",
                                                   "x-request-id",
                                                   "x-real-ip",
                                                   "x-forwarded-host",
                                                   "x-forwarded-port",
                                                   "forwarded"};
  for (std::string_view reserved : kReserved) {
    if (name.size() == reserved.size() &&
        std::equal(name.begin(), name.end(), reserved.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return true;
    }
  }
  return false;
}

void read_client_header(TableReader& r, std::string_view key, std::string& out, bool verifies) {
  if (!r.read_string(key, out)) return;
  const toml::node* node = r.take(key);
  if (!is_token(out)) {
    r.diag().error(node->source(), r.path_of(key) + ": \"" + out + "\" is not a header name");
  } else if (reserved_header(out)) {
    r.diag().error(node->source(),
                   r.path_of(key) + ": \"" + out + "\" is a header veer sets or frames with");
  } else if (!verifies) {
    // Without verification there is no client certificate to describe.
    r.diag().error(
        node->source(),
        r.path_of(key) + ": needs a client certificate; set verify = \"optional\" or \"required\"");
  }
}

// mTLS: client_ca, verify and the headers that pass the verified certificate on.
void read_client_auth(TableReader& r, ListenerTlsConfig& tls) {
  read_nonempty(r, "client_ca", tls.client_ca, "a file path");
  read_choice<Verify>(
      r, "verify",
      {{"off", Verify::off}, {"optional", Verify::optional}, {"required", Verify::required}},
      tls.verify);
  const bool verifies = tls.verify != Verify::off;
  if (verifies && r.table().get("client_ca") == nullptr) {
    r.diag().error(r.take("verify")->source(),
                   r.path_of("verify") +
                       ": needs client_ca (the CA bundle client certificates must chain to)");
  } else if (!verifies && !tls.client_ca.empty()) {
    r.diag().warning(r.take("client_ca")->source(),
                     r.path_of("client_ca") + ": unused while verify is \"off\"");
  }
  read_client_header(r, "client_subject_header", tls.client_subject_header, verifies);
  read_client_header(r, "client_fingerprint_header", tls.client_fingerprint_header, verifies);
  const std::string& a = tls.client_subject_header;
  const std::string& b = tls.client_fingerprint_header;
  if (!a.empty() && a.size() == b.size() &&
      std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
      })) {
    r.diag().error(
        r.take("client_fingerprint_header")->source(),
        r.path_of("client_fingerprint_header") + ": the same header as client_subject_header");
  }
}

// Resumption: tickets (keys generated and rotated, or read from a shared file) and a
// server-side session cache for clients without ticket support.
void read_resumption(TableReader& r, ListenerTlsConfig& tls) {
  r.read_bool("session_tickets", tls.session_tickets);
  read_nonempty(r, "ticket_key_file", tls.ticket_key_file, "a file path");
  // Under a minute, clients would lose their tickets between two requests of a session.
  r.read_duration("ticket_key_rotation", tls.ticket_key_rotation, Duration{60'000});
  // 10 million sessions is some gigabytes: far beyond what any one listener needs.
  std::uint64_t sessions = tls.session_cache;
  if (r.read_uint("session_cache", sessions, 0, 10'000'000)) {
    tls.session_cache = static_cast<std::uint32_t>(sessions);
  }
}

// SNI carries a DNS name only (RFC 6066 section 3): no address, no port.
void check_sni(TableReader& r, const std::string& sni) {
  std::string why;
  const bool address = std::all_of(sni.begin(), sni.end(),
                                   [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
  if (address || sni.find(':') != std::string::npos || !parse_host_port(sni + ":0", &why)) {
    r.diag().error(r.take("sni")->source(), r.path_of("sni") + ": \"" + sni +
                                                "\" is not a host name (SNI sends names only)");
  }
}

}  // namespace

void load_listener_tls(TableReader& listener_reader, ListenerConfig& listener) {
  const toml::node* node = listener_reader.take("tls");
  if (node == nullptr) return;
  std::optional<TableReader> reader = open_table(
      *node, listener_reader.path_of("tls"),
      "{ cert = \"/etc/veer/a.pem\", key = \"/etc/veer/a.key\" }", listener_reader.diag());
  if (!reader) return;
  TableReader& r = *reader;
  ListenerTlsConfig tls;
  read_cert_key(r, *node, tls.default_certificate);
  read_certificates(r, tls);
  read_choice<ListenerTlsConfig::UnknownSni>(
      r, "unknown_sni",
      {{"default", ListenerTlsConfig::UnknownSni::use_default},
       {"refuse", ListenerTlsConfig::UnknownSni::refuse}},
      tls.unknown_sni);
  read_min_version(r, tls);
  read_nonempty(r, "ciphers", tls.ciphers, "an OpenSSL cipher list");
  read_nonempty(r, "ciphersuites", tls.ciphersuites, "an OpenSSL list of TLS 1.3 suites");
  read_nonempty(r, "curves", tls.curves, "a list of groups such as \"X25519:P-256\"");
  read_client_auth(r, tls);
  read_resumption(r, tls);
  r.finish();
  listener.tls = std::move(tls);
}

void load_upstream_tls(TableReader& pool_reader, PoolConfig& pool) {
  const toml::node* node = pool_reader.take("tls");
  if (node == nullptr) return;
  std::optional<TableReader> reader =
      open_table(*node, pool_reader.path_of("tls"),
                 "{ verify = true, ca = \"/etc/veer/upstream-ca.pem\" }", pool_reader.diag());
  if (!reader) return;
  TableReader& r = *reader;
  UpstreamTlsConfig tls;
  tls.pos = position_of(node->source());
  r.read_bool("verify", tls.verify);
  read_nonempty(r, "ca", tls.ca, "a file path");
  if (read_nonempty(r, "sni", tls.sni, "a host name")) check_sni(r, tls.sni);
  read_nonempty(r, "cert", tls.cert, "a file path");
  read_nonempty(r, "key", tls.key, "a file path");
  const bool has_cert = r.table().get("cert") != nullptr;
  if (has_cert != (r.table().get("key") != nullptr)) {
    const char* present = has_cert ? "cert" : "key";
    r.diag().error(r.take(present)->source(),
                   r.path_of(present) +
                       ": cert and key go together (a client certificate and its private key)");
  }
  if (!tls.verify && !tls.ca.empty()) {
    r.diag().warning(r.take("ca")->source(), r.path_of("ca") + ": unused while verify is false");
  }
  r.finish();
  pool.tls = std::move(tls);
}

}  // namespace veer::conf::detail
