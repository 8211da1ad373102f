#pragma once

// Tells the service manager what veer is doing: the sd_notify(3) protocol, for units of
// Type=notify (scripts/systemd/veer.service). One datagram of "KEY=VALUE\n" lines to the
// AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
//
// Hand-written rather than libsystemd's sd_notify(): the protocol is one sendto(), and
// veer's binaries (and the container image) then need one runtime library fewer.
//
// Without NOTIFY_SOCKET (no supervisor, or one that does not listen) every call is a
// no-op. A send never blocks (the socket is non-blocking) and never fails the caller:
// the result is only for logging.

#include <cstdint>
#include <string>
#include <string_view>

namespace veer::app {

class ServiceNotifier {
 public:
  // Inactive: every notification is dropped.
  ServiceNotifier() = default;
  // Sends to `socket_address` ("/run/systemd/notify", "@abstract"); "" is inactive.
  explicit ServiceNotifier(std::string socket_address);
  // From $NOTIFY_SOCKET. The variable stays set: `veer` execs `veer-io_uring` before it
  // serves, and the same process (same pid, which systemd checks) notifies from there.
  static ServiceNotifier from_environment();

  bool active() const { return !address_.empty(); }

  // Sends `assignments` ("READY=1\nSTATUS=..."). False when inactive or the send failed;
  // *why (if given) then says why.
  bool notify(std::string_view assignments, std::string* why = nullptr) const;

  // The service's states. `status` is free text shown by `systemctl status`; newlines
  // in it are replaced by spaces (they would start a new assignment).
  bool ready(std::string_view status, std::string* why = nullptr) const;
  // RELOADING=1 with MONOTONIC_USEC (systemd >= 253 matches it to the reload it asked
  // for; older versions ignore the field). READY=1 must follow when the reload ends.
  bool reloading(std::string_view status, std::string* why = nullptr) const;
  bool stopping(std::string_view status, std::string* why = nullptr) const;

 private:
  std::string address_;
};

// CLOCK_MONOTONIC in microseconds, the clock MONOTONIC_USEC is read on.
std::uint64_t monotonic_usec();

// "STATUS=<status>" with newlines replaced, for a notification.
std::string status_assignment(std::string_view status);

}  // namespace veer::app
