// The sd_notify(3) sender against a fake NOTIFY_SOCKET: a datagram socket this test binds,
// at a path and in the abstract namespace.
#include "app/sd_notify.hpp"

#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>

#include "support/notify_socket.hpp"

namespace veer::app {
namespace {

using test::NotifySocket;
using namespace std::chrono_literals;

std::string unique_name(const std::string& prefix) {
  std::random_device random;
  return prefix + std::to_string(::getpid()) + "-" + std::to_string(random());
}

std::string temp_socket_path() {
  return "/tmp/" + unique_name("veer-notify-") + ".sock";
}

std::uint64_t clock_monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u +
         static_cast<std::uint64_t>(now.tv_nsec) / 1'000u;
}

// Sets NOTIFY_SOCKET for one test and puts the previous value back.
class ScopedNotifySocketVariable {
 public:
  explicit ScopedNotifySocketVariable(const char* value) {
    if (const char* old = std::getenv("NOTIFY_SOCKET")) previous_ = old;
    if (value != nullptr) {
      ::setenv("NOTIFY_SOCKET", value, 1);
    } else {
      ::unsetenv("NOTIFY_SOCKET");
    }
  }
  ~ScopedNotifySocketVariable() {
    if (previous_) {
      ::setenv("NOTIFY_SOCKET", previous_->c_str(), 1);
    } else {
      ::unsetenv("NOTIFY_SOCKET");
    }
  }

 private:
  std::optional<std::string> previous_;
};

TEST(ServiceNotifier, SendsOneDatagramToAPathSocket) {
  NotifySocket manager(temp_socket_path());
  ASSERT_TRUE(manager.bound()) << manager.address();
  const ServiceNotifier notifier(manager.address());
  ASSERT_TRUE(notifier.active());
  std::string why;
  ASSERT_TRUE(notifier.notify("READY=1\nSTATUS=up\n", &why)) << why;
  const auto got = manager.receive(2s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text, "READY=1\nSTATUS=up\n");
  // systemd accepts a notification from the service's main pid only (NotifyAccess=main).
  EXPECT_EQ(got->sender, ::getpid());
}

TEST(ServiceNotifier, SendsToAnAbstractSocket) {
  NotifySocket manager("@" + unique_name("veer-notify-test-"));
  ASSERT_TRUE(manager.bound()) << manager.address();
  const ServiceNotifier notifier(manager.address());
  ASSERT_TRUE(notifier.ready("serving"));
  const auto got = manager.receive(2s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text, "READY=1\nSTATUS=serving\n");
  EXPECT_EQ(got->get("READY"), "1");
  EXPECT_EQ(got->get("STATUS"), "serving");
}

TEST(ServiceNotifier, ReloadingCarriesTheMonotonicClock) {
  NotifySocket manager(temp_socket_path());
  ASSERT_TRUE(manager.bound());
  const ServiceNotifier notifier(manager.address());
  const std::uint64_t before = clock_monotonic_usec();
  ASSERT_TRUE(notifier.reloading("reloading /etc/veer/veer.toml"));
  const std::uint64_t after = clock_monotonic_usec();
  const auto got = manager.receive(2s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->get("RELOADING"), "1");
  EXPECT_EQ(got->get("STATUS"), "reloading /etc/veer/veer.toml");
  const auto usec = got->get("MONOTONIC_USEC");
  ASSERT_TRUE(usec) << got->text;
  const std::uint64_t sent = std::stoull(*usec);
  EXPECT_GE(sent, before);
  EXPECT_LE(sent, after);
}

TEST(ServiceNotifier, StoppingAndAStatusWithNewlinesStaysOneAssignment) {
  NotifySocket manager(temp_socket_path());
  ASSERT_TRUE(manager.bound());
  const ServiceNotifier notifier(manager.address());
  ASSERT_TRUE(notifier.stopping("SIGTERM: draining\nREADY=1\r\nmore"));
  const auto got = manager.receive(2s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text, "STOPPING=1\nSTATUS=SIGTERM: draining READY=1  more\n");
  EXPECT_FALSE(got->get("READY")) << "a status must not smuggle in another assignment";
}

TEST(ServiceNotifier, FromTheEnvironment) {
  NotifySocket manager(temp_socket_path());
  ASSERT_TRUE(manager.bound());
  {
    const ScopedNotifySocketVariable variable(manager.address().c_str());
    const ServiceNotifier notifier = ServiceNotifier::from_environment();
    EXPECT_TRUE(notifier.active());
    EXPECT_TRUE(notifier.ready("x"));
    ASSERT_TRUE(manager.receive(2s));
    // The variable stays for the process veer may exec into (veer-io_uring, same pid).
    EXPECT_NE(std::getenv("NOTIFY_SOCKET"), nullptr);
  }
  for (const char* unset : {static_cast<const char*>(nullptr), ""}) {
    const ScopedNotifySocketVariable variable(unset);
    const ServiceNotifier notifier = ServiceNotifier::from_environment();
    EXPECT_FALSE(notifier.active());
    std::string why;
    EXPECT_FALSE(notifier.notify("READY=1\n", &why));
    EXPECT_NE(why.find("not set"), std::string::npos) << why;
  }
}

TEST(ServiceNotifier, AnAddressNobodyListensOnFailsWithAReason) {
  const std::string nobody = temp_socket_path();
  std::string why;
  EXPECT_FALSE(ServiceNotifier(nobody).notify("READY=1\n", &why));
  EXPECT_NE(why.find(nobody), std::string::npos) << why;

  EXPECT_FALSE(ServiceNotifier("relative/notify").notify("READY=1\n", &why));
  EXPECT_NE(why.find("neither a path nor"), std::string::npos) << why;

  const std::string too_long = "/tmp/" + std::string(200, 'x');
  EXPECT_FALSE(ServiceNotifier(too_long).notify("READY=1\n", &why));
  EXPECT_NE(why.find("longer than"), std::string::npos) << why;

  EXPECT_FALSE(ServiceNotifier("@" + unique_name("veer-nobody-")).ready("x", &why));
  EXPECT_FALSE(why.empty());
}

// A manager that stops reading fills its queue: the sender is told, it does not wait.
TEST(ServiceNotifier, AFullQueueFailsInsteadOfBlocking) {
  NotifySocket manager(temp_socket_path());
  ASSERT_TRUE(manager.bound());
  const ServiceNotifier notifier(manager.address());
  // net.unix.max_dgram_qlen (10 by default) and the receive buffer bound the queue far
  // below this count.
  constexpr int kSends = 10'000;
  int refused = 0;
  std::string why;
  for (int i = 0; i < kSends; ++i) {
    if (!notifier.notify("STATUS=" + std::to_string(i) + "\n", &why)) ++refused;
  }
  EXPECT_GT(refused, 0);
  EXPECT_NE(why.find("Resource temporarily unavailable"), std::string::npos) << why;
  // What was queued arrived whole, in order.
  const auto first = manager.receive(2s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->text, "STATUS=0\n");
}

TEST(ServiceNotifier, MonotonicUsecIsClockMonotonic) {
  const std::uint64_t before = clock_monotonic_usec();
  const std::uint64_t ours = monotonic_usec();
  const std::uint64_t after = clock_monotonic_usec();
  EXPECT_GE(ours, before);
  EXPECT_LE(ours, after);
  EXPECT_EQ(status_assignment("a\nb"), "STATUS=a b\n");
}

}  // namespace
}  // namespace veer::app
