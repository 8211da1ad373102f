// veer under a fake service manager: the sd_notify(3) datagrams a Type=notify unit
// relies on (READY, RELOADING with MONOTONIC_USEC, STOPPING), sent by the real binary to
// a NOTIFY_SOCKET this test binds; for both engines (io_engine = "auto" here means
// `veer` execs `veer-io_uring`, which must notify from the same pid).
#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>

#include <string>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/notify_socket.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

std::uint64_t clock_monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u +
         static_cast<std::uint64_t>(now.tv_nsec) / 1'000u;
}

bool contains(const std::optional<std::string>& text, const std::string& part) {
  return text && text->find(part) != std::string::npos;
}

// One veer with a backend and a notification socket; GetParam() is server.io_engine.
class ServiceNotify : public testing::TestWithParam<std::string> {
 protected:
  ServiceNotify()
      : manager_(make_temp_dir() + "/notify.sock"),
        veer_(TestConfig{.backends = {backend_.address()}, .io_engine = GetParam()}.toml(),
              VeerOptions{.extra_env = {manager_.env()}}) {}

  // The first notification is READY=1, and the listener serves as soon as it came.
  void expect_ready_and_serving() {
    const std::optional<Notification> first = manager_.receive(10s);
    ASSERT_TRUE(first) << veer_.log_text();
    EXPECT_EQ(first->get("READY"), "1") << first->text;
    EXPECT_TRUE(contains(first->get("STATUS"), "serving: 2 workers, configuration version 1"))
        << first->text;
    // systemd takes notifications from the main pid only: after an exec to
    // veer-io_uring it is still the pid the manager started.
    EXPECT_EQ(first->sender, veer_.pid());
    // The listener's line was logged before READY was sent; the reader thread may not
    // have parsed it yet.
    ASSERT_TRUE(veer_.wait_for_log("listener public on", 5s)) << veer_.log_text();
    const std::optional<Response> response = fetch(veer_.port(), "GET", "/");
    ASSERT_TRUE(response) << "READY=1 came before the listener served";
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "b");
  }

  // SIGHUP: RELOADING=1 stamped between the signal and its arrival, then READY=1 whose
  // STATUS contains `outcome`.
  void expect_reload(const std::string& outcome) {
    const std::uint64_t before = clock_monotonic_usec();
    veer_.signal(SIGHUP);
    const std::optional<Notification> reloading = manager_.receive(10s);
    const std::uint64_t after = clock_monotonic_usec();
    ASSERT_TRUE(reloading) << veer_.log_text();
    EXPECT_EQ(reloading->get("RELOADING"), "1") << reloading->text;
    EXPECT_EQ(reloading->sender, veer_.pid());
    const std::optional<std::string> usec = reloading->get("MONOTONIC_USEC");
    ASSERT_TRUE(usec) << reloading->text;
    EXPECT_GE(std::stoull(*usec), before);
    EXPECT_LE(std::stoull(*usec), after);
    const std::optional<Notification> ready = manager_.receive(10s);
    ASSERT_TRUE(ready) << veer_.log_text();
    EXPECT_EQ(ready->get("READY"), "1") << ready->text;
    EXPECT_TRUE(contains(ready->get("STATUS"), outcome)) << ready->text;
  }

  TestBackend backend_{"b"};
  NotifySocket manager_;
  VeerProcess veer_;
};

TEST_P(ServiceNotify, ReadyOnceTheListenerServes) {
  ASSERT_TRUE(manager_.bound());
  expect_ready_and_serving();
  EXPECT_EQ(veer_.log_text().find("cannot notify"), std::string::npos) << veer_.log_text();
}

TEST_P(ServiceNotify, ReloadingThenReadyOnSighupWhetherTheFileIsGoodOrNot) {
  ASSERT_TRUE(manager_.bound());
  expect_ready_and_serving();
  expect_reload("serving: reloaded, configuration version 2");

  veer_.rewrite_config("[server\nworkers = ");
  expect_reload("serving: reload refused (");
  // The refusal names where the file is wrong and that the old version serves on.
  veer_.signal(SIGHUP);
  const std::optional<Notification> again = manager_.receive_with("READY", 10s);
  ASSERT_TRUE(again);
  EXPECT_TRUE(contains(again->get("STATUS"), veer_.config_path() + ":1:")) << again->text;
  EXPECT_TRUE(contains(again->get("STATUS"), "configuration version 2 stays in force"))
      << again->text;
  EXPECT_EQ(fetch(veer_.port(), "GET", "/")->body, "b");
}

TEST_P(ServiceNotify, StoppingOnSigtermThenExitZero) {
  ASSERT_TRUE(manager_.bound());
  expect_ready_and_serving();
  veer_.signal(SIGTERM);
  const std::optional<Notification> stopping = manager_.receive(10s);
  ASSERT_TRUE(stopping) << veer_.log_text();
  EXPECT_EQ(stopping->get("STOPPING"), "1") << stopping->text;
  EXPECT_TRUE(contains(stopping->get("STATUS"), "SIGTERM: draining for up to")) << stopping->text;
  EXPECT_EQ(veer_.wait_exit(15s), 0) << veer_.log_text();
  EXPECT_FALSE(manager_.receive(0ms)) << "nothing after STOPPING=1";
}

INSTANTIATE_TEST_SUITE_P(Engines, ServiceNotify, testing::Values("epoll", "auto"));

TEST(ServiceNotifySocket, AManagerThatDoesNotListenChangesNothing) {
  TestBackend backend("b");
  const std::string nobody = make_temp_dir() + "/nobody.sock";
  VeerProcess veer(TestConfig{.backends = {backend.address()}}.toml(),
                   VeerOptions{.extra_env = {"NOTIFY_SOCKET=" + nobody}});
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  EXPECT_EQ(fetch(veer.port(), "GET", "/")->body, "b");
  const std::size_t at = veer.log_size();
  veer.signal(SIGHUP);
  ASSERT_TRUE(veer.wait_for_log("configuration version 2 applied", 10s, at)) << veer.log_text();
  veer.signal(SIGTERM);
  EXPECT_EQ(veer.wait_exit(15s), 0) << veer.log_text();
  const std::string log = veer.log_text();
  const std::size_t warned = log.find("cannot notify the service manager: NOTIFY_SOCKET=" + nobody);
  EXPECT_NE(warned, std::string::npos) << log;
  EXPECT_EQ(log.find("cannot notify", warned + 1), std::string::npos) << "logged once: " << log;
}

TEST(ServiceNotifySocket, AnAbstractSocketWorksToo) {
  TestBackend backend("b");
  NotifySocket manager("@veer-service-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(manager.bound());
  VeerProcess veer(TestConfig{.backends = {backend.address()}}.toml(),
                   VeerOptions{.extra_env = {manager.env()}});
  const std::optional<Notification> ready = manager.receive(10s);
  ASSERT_TRUE(ready) << veer.log_text();
  EXPECT_EQ(ready->get("READY"), "1");
  EXPECT_EQ(ready->sender, veer.pid());
}

}  // namespace
}  // namespace veer::test
