#include "runtime/tls_set.hpp"

#include <sys/stat.h>

#include <algorithm>

namespace veer::runtime {
namespace {

std::vector<FileStamp> stamps_of(const std::vector<std::string>& files) {
  std::vector<FileStamp> stamps;
  stamps.reserve(files.size());
  for (const std::string& file : files)
    stamps.push_back(stamp_of(file));
  return stamps;
}

bool unchanged(const std::vector<std::string>& files, const std::vector<FileStamp>& stamps) {
  return stamps_of(files) == stamps;
}

std::vector<std::string> listener_files(const conf::ListenerTlsConfig& c) {
  std::vector<std::string> files{c.default_certificate.cert, c.default_certificate.key};
  for (const conf::CertKeyConfig& pair : c.certificates) {
    files.push_back(pair.cert);
    files.push_back(pair.key);
  }
  for (const std::string* extra : {&c.client_ca, &c.ticket_key_file})
    if (!extra->empty()) files.push_back(*extra);
  return files;
}

std::vector<std::string> pool_files(const conf::UpstreamTlsConfig& c) {
  std::vector<std::string> files;
  for (const std::string* file : {&c.ca, &c.cert, &c.key})
    if (!file->empty()) files.push_back(*file);
  return files;
}

// Ticket keys for one listener: its own key file, or the process's generated keys.
std::shared_ptr<tls::TicketKeys> keys_for(const conf::ListenerTlsConfig& c,
                                          const std::shared_ptr<tls::TicketKeys>& generated,
                                          std::string* error) {
  if (c.ticket_key_file.empty()) return generated;
  return tls::TicketKeys::from_file(c.ticket_key_file, error);
}

// A failed load: an error, or with keep_previous the entry as it was.
template <typename Entry>
void refuse(const std::string& what, std::string error, const std::shared_ptr<const Entry>* before,
            const std::string& name,
            std::map<std::string, std::shared_ptr<const Entry>, std::less<>>& set, TlsLoad& out) {
  if (before == nullptr) {
    out.errors.push_back(what + ": " + error);
    return;
  }
  out.warnings.push_back(what + ": " + error + "; the material loaded before stays in use");
  set.emplace(name, *before);
}

void load_listener(const conf::ListenerConfig& listener, const TlsSet& previous,
                   const std::shared_ptr<tls::TicketKeys>& keys, bool keep_previous, TlsLoad& out) {
  const conf::ListenerTlsConfig& config = *listener.tls;
  const auto before = previous.listeners.find(listener.name);
  if (before != previous.listeners.end() && before->second->config == config &&
      unchanged(before->second->files, before->second->stamps)) {
    out.set.listeners.emplace(listener.name, before->second);
    return;
  }
  const std::shared_ptr<const ListenerTls>* fallback =
      keep_previous && before != previous.listeners.end() && before->second->config == config
          ? &before->second
          : nullptr;
  const std::string what = "listeners." + listener.name + ".tls";
  auto entry = std::make_shared<ListenerTls>();
  entry->config = config;
  entry->files = listener_files(config);
  entry->stamps = stamps_of(entry->files);  // before reading: a change meanwhile reloads again
  std::string error;
  std::shared_ptr<tls::TicketKeys> ticket_keys = keys_for(config, keys, &error);
  if (!ticket_keys) {
    refuse(what, error, fallback, listener.name, out.set.listeners, out);
    return;
  }
  tls::ServerTlsResult result = tls::ServerTls::load(config, std::move(ticket_keys));
  for (std::string& w : result.warnings)
    out.warnings.push_back(what + ": " + w);
  if (!result.tls) {
    refuse(what, result.error, fallback, listener.name, out.set.listeners, out);
    return;
  }
  entry->tls = std::move(result.tls);
  ++out.loaded;
  out.set.listeners.emplace(listener.name, std::move(entry));
}

void load_pool(const conf::PoolConfig& pool, const TlsSet& previous, bool keep_previous,
               TlsLoad& out) {
  const conf::UpstreamTlsConfig& config = *pool.tls;
  const auto before = previous.pools.find(pool.name);
  if (before != previous.pools.end() && before->second->config == config &&
      unchanged(before->second->files, before->second->stamps)) {
    out.set.pools.emplace(pool.name, before->second);
    return;
  }
  const std::shared_ptr<const PoolTls>* fallback =
      keep_previous && before != previous.pools.end() && before->second->config == config
          ? &before->second
          : nullptr;
  auto entry = std::make_shared<PoolTls>();
  entry->config = config;
  entry->files = pool_files(config);
  entry->stamps = stamps_of(entry->files);
  tls::ClientTlsResult result = tls::ClientTls::load(config);
  if (!result.tls) {
    refuse("pools." + pool.name + ".tls", result.error, fallback, pool.name, out.set.pools, out);
    return;
  }
  entry->tls = std::move(result.tls);
  ++out.loaded;
  out.set.pools.emplace(pool.name, std::move(entry));
}

}  // namespace

FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return FileStamp{
      true, static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
      static_cast<std::uint64_t>(st.st_size),
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::vector<std::string> TlsSet::files() const {
  std::vector<std::string> all;
  for (const auto& [name, entry] : listeners)
    all.insert(all.end(), entry->files.begin(), entry->files.end());
  for (const auto& [name, entry] : pools)
    all.insert(all.end(), entry->files.begin(), entry->files.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

bool TlsSet::files_changed() const {
  for (const auto& [name, entry] : listeners)
    if (!unchanged(entry->files, entry->stamps)) return true;
  for (const auto& [name, entry] : pools)
    if (!unchanged(entry->files, entry->stamps)) return true;
  return false;
}

TlsLoad load_tls(const conf::Config& config, const TlsSet& previous,
                 const std::shared_ptr<tls::TicketKeys>& keys, bool keep_previous) {
  TlsLoad out;
  for (const conf::ListenerConfig& listener : config.listeners)
    if (listener.tls) load_listener(listener, previous, keys, keep_previous, out);
  for (const conf::PoolConfig& pool : config.pools)
    if (pool.tls) load_pool(pool, previous, keep_previous, out);
  return out;
}

}  // namespace veer::runtime
