#pragma once

// The TLS material a snapshot runs with: per TLS listener a ServerTls, per TLS pool a
// ClientTls, each with the identity of the files it was loaded from. Loading is slow
// (files, key checks) and a snapshot is rebuilt on every admin change, so a new set
// takes over each entry whose settings and files are unchanged and loads only the
// rest; a changed file on disk (certbot renaming a new certificate into place) is seen
// by its stamp. Main thread only; the result is immutable and shared by the snapshot.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.hpp"
#include "tls/client_tls.hpp"
#include "tls/server_tls.hpp"

namespace veer::runtime {

// Which version of a file was read: a rename into place changes the inode, an edit
// in place the size or modification time. A missing file has exists = false.
struct FileStamp {
  bool exists = false;
  std::uint64_t device = 0, inode = 0, size = 0;
  std::int64_t modified_ns = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};
FileStamp stamp_of(const std::string& path);

struct ListenerTls {
  conf::ListenerTlsConfig config;
  std::vector<std::string> files;  // every file it was loaded from
  std::vector<FileStamp> stamps;   // of `files`, when they were read
  std::shared_ptr<const tls::ServerTls> tls;
};

struct PoolTls {
  conf::UpstreamTlsConfig config;
  std::vector<std::string> files;
  std::vector<FileStamp> stamps;
  std::shared_ptr<const tls::ClientTls> tls;
};

struct TlsSet {
  std::map<std::string, std::shared_ptr<const ListenerTls>, std::less<>> listeners;
  std::map<std::string, std::shared_ptr<const PoolTls>, std::less<>> pools;

  // Every file of the set, for the watcher.
  std::vector<std::string> files() const;
  // Whether some file changed on disk since it was read.
  bool files_changed() const;
};

struct TlsLoad {
  TlsSet set;
  std::vector<std::string> errors;  // any error: the set must not be used
  std::vector<std::string> warnings;
  std::size_t loaded = 0;  // entries read from disk (the rest were taken over)
};

// `keys`: the process's generated ticket keys, for listeners without a ticket_key_file.
// `keep_previous`: an entry whose settings are unchanged but whose files no longer load
// keeps its previous material, with a warning instead of an error.
TlsLoad load_tls(const conf::Config& config, const TlsSet& previous,
                 const std::shared_ptr<tls::TicketKeys>& keys, bool keep_previous = false);

}  // namespace veer::runtime
