#pragma once

// Watches the directories of the TLS files in force (inotify), so that a certificate
// renamed into place (certbot, cert-manager's atomic symlink swaps) or written in place
// reaches new connections without a SIGHUP. A burst of events (write, then rename)
// becomes one call of `changed`, 200 ms after the last event. The decision whether
// anything relevant changed is the caller's (file stamps, runtime/tls_set.hpp):
// events in a watched directory are only a hint. Control thread only.

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/asio.hpp"

namespace veer::app {

class CertificateWatch {
 public:
  CertificateWatch(asio::io_context& io, std::function<void()> changed);
  ~CertificateWatch();
  CertificateWatch(const CertificateWatch&) = delete;
  CertificateWatch& operator=(const CertificateWatch&) = delete;

  // Watches the directories holding `files` (and only those); an empty list stops.
  void watch(const std::vector<std::string>& files);

 private:
  void read_events();
  void on_events(const error_code& ec, std::size_t n);

  asio::posix::stream_descriptor inotify_;
  asio::steady_timer settle_;
  std::function<void()> changed_;
  std::map<std::string, int> watches_;  // directory -> watch descriptor
  std::array<char, 4096> events_{};
  bool reading_ = false;
};

}  // namespace veer::app
