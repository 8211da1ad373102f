#include "admin/tls_check.hpp"

#include <set>
#include <string>
#include <utility>

#include "runtime/tls_set.hpp"
#include "tls/certificate_check.hpp"
#include "tls/context.hpp"

namespace veer::admin {
namespace {

// Collects messages in the order they are reported, each once: the certificate check
// and the loader read the same files, and both say so when one is expired or missing.
class Report {
 public:
  explicit Report(const conf::Config& config) : file_(config.source_path) {}

  void add(bool error, conf::SourcePos pos, std::string message) {
    if (!seen_.insert(message).second) return;
    (error ? out_.errors : out_.warnings)
        .push_back(conf::ConfigError{file_, pos.line, pos.column, std::move(message)});
  }
  // The loader's messages that start with `prefix` (one listener's or pool's), moved
  // out of `messages`.
  void take(bool error, conf::SourcePos pos, const std::string& prefix,
            std::vector<std::string>& messages) {
    for (std::string& m : messages) {
      if (!m.empty() && m.starts_with(prefix)) add(error, pos, std::exchange(m, {}));
    }
  }
  TlsCheck result() && { return std::move(out_); }

 private:
  std::string file_;
  std::set<std::string> seen_;
  TlsCheck out_;
};

// Where a listener's TLS settings are: its tls table when the loader recorded it.
conf::SourcePos position(const conf::ListenerConfig& listener) {
  const conf::SourcePos& tls = listener.tls->default_certificate.pos;
  return tls.line != 0 ? tls : listener.pos;
}

conf::SourcePos position(const conf::PoolConfig& pool) {
  return pool.tls->pos.line != 0 ? pool.tls->pos : pool.pos;
}

void check_listener(const conf::ListenerConfig& listener, std::int64_t now, Report& report) {
  std::vector<std::string> hosts;
  for (const conf::RouteConfig& route : listener.routes)
    hosts.push_back(route.host);
  const tls::CertificateReport checked = tls::check_certificates(*listener.tls, hosts, now);
  const std::string prefix = "listeners." + listener.name + ".tls: ";
  for (const std::string& e : checked.errors)
    report.add(true, position(listener), prefix + e);
  for (const std::string& w : checked.warnings)
    report.add(false, position(listener), prefix + w);
}

}  // namespace

TlsCheck check_tls(const conf::Config& config, std::int64_t now) {
  // Generated ticket keys, as a start without ticket_key_file gets; they leave nothing
  // behind. The previous set is empty: everything is read from disk.
  runtime::TlsLoad load = runtime::load_tls(config, {}, tls::TicketKeys::generate());
  Report report(config);
  for (const conf::ListenerConfig& listener : config.listeners) {
    if (!listener.tls) continue;
    check_listener(listener, now, report);
    const std::string prefix = "listeners." + listener.name + ".tls: ";
    report.take(true, position(listener), prefix, load.errors);
    report.take(false, position(listener), prefix, load.warnings);
  }
  for (const conf::PoolConfig& pool : config.pools) {
    if (!pool.tls) continue;
    const std::string prefix = "pools." + pool.name + ".tls: ";
    report.take(true, position(pool), prefix, load.errors);
    report.take(false, position(pool), prefix, load.warnings);
  }
  // Anything the loader said about no listener or pool in particular.
  report.take(true, {}, "", load.errors);
  report.take(false, {}, "", load.warnings);
  return std::move(report).result();
}

}  // namespace veer::admin
