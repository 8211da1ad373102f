#include "app/certificate_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "core/log.hpp"

namespace veer::app {
namespace {

constexpr auto kSettle = std::chrono::milliseconds(200);
// Everything that can make a file in the directory new: written and closed, renamed
// or linked in, created (a symlink swap), deleted (to notice a later re-creation).
constexpr std::uint32_t kEvents =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVE_SELF | IN_ATTRIB;

}  // namespace

CertificateWatch::CertificateWatch(asio::io_context& io, std::function<void()> changed)
    : inotify_(io), settle_(io), changed_(std::move(changed)) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    core::log::warn("cannot watch certificate files (inotify: ", std::strerror(errno),
                    "); SIGHUP or POST /api/v1/reload still reloads them");
    return;
  }
  inotify_.assign(fd);
}

CertificateWatch::~CertificateWatch() {
  error_code ignored;
  inotify_.close(ignored);
}

void CertificateWatch::watch(const std::vector<std::string>& files) {
  if (!inotify_.is_open()) return;
  std::set<std::string> wanted;
  for (const std::string& file : files) {
    const std::filesystem::path dir = std::filesystem::absolute(file).parent_path();
    wanted.insert(dir.string());
  }
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (wanted.count(it->first) != 0) {
      ++it;
      continue;
    }
    ::inotify_rm_watch(inotify_.native_handle(), it->second);
    it = watches_.erase(it);
  }
  for (const std::string& dir : wanted) {
    if (watches_.count(dir) != 0) continue;
    const int wd = ::inotify_add_watch(inotify_.native_handle(), dir.c_str(), kEvents);
    if (wd < 0) {
      core::log::warn("cannot watch ", dir, " for certificate changes: ", std::strerror(errno));
      continue;
    }
    watches_.emplace(dir, wd);
  }
  if (!watches_.empty() && !reading_) read_events();
}

void CertificateWatch::read_events() {
  reading_ = true;
  inotify_.async_read_some(asio::buffer(events_),
                           [this](const error_code& ec, std::size_t n) { on_events(ec, n); });
}

void CertificateWatch::on_events(const error_code& ec, std::size_t) {
  reading_ = false;
  if (ec) return;  // closed at shutdown
  // What the events say does not matter (see the header): wait until they stop.
  settle_.expires_after(kSettle);
  settle_.async_wait([this](const error_code& e) {
    if (!e) changed_();
  });
  read_events();
}

}  // namespace veer::app
