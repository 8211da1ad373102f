// Large bodies stream through veer in both directions with bounded memory: veer's peak
// RSS (VmHWM) stays under 64 MB while 200 MB go down and 50 MB go up.
#include <gtest/gtest.h>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

constexpr std::uint64_t kDownload = 200ull << 20;
constexpr std::uint64_t kUpload = 50ull << 20;

BackendReply big_bodies(const BackendRequest& request) {
  if (request.target == "/download")
    return BackendReply{.stream_bytes = kDownload, .chunk_size = 1 << 16};
  if (request.target == "/download-chunked") {
    return BackendReply{.stream_bytes = kDownload, .chunked = true, .chunk_size = 1 << 16};
  }
  // Uploads: report what arrived, so the test can check it.
  return BackendReply{.body = std::to_string(request.body_size) + ":" +
                              std::to_string(request.body_hash)};
}

class Streaming : public ::testing::TestWithParam<std::string> {};

TEST_P(Streaming, LargeBodiesPassWithBoundedMemory) {
  TestBackend backend("big", big_bodies);
  TestConfig config{.backends = {backend.address()}, .io_engine = GetParam()};
  config.limits = "max_body_bytes = 104857600\n";
  VeerProcess veer(config.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();

  Client client(veer.port(), 60s);
  for (const char* target : {"/download", "/download-chunked"}) {
    const auto r = client.get(target);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body_size, kDownload) << target;
    EXPECT_EQ(r->body_hash, pattern_hash(kDownload)) << target;
  }

  // Upload 50 MB in 1 MiB sends (Content-Length), then the same again chunked.
  std::vector<char> piece(1 << 20);
  ASSERT_TRUE(client.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                          std::to_string(kUpload) + "\r\n\r\n"));
  for (std::uint64_t offset = 0; offset < kUpload; offset += piece.size()) {
    fill_pattern(offset, piece.data(), piece.size());
    ASSERT_TRUE(client.send(std::string_view(piece.data(), piece.size())));
  }
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, std::to_string(kUpload) + ":" + std::to_string(pattern_hash(kUpload)));

  ASSERT_TRUE(
      client.send("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"));
  for (std::uint64_t offset = 0; offset < kUpload; offset += piece.size()) {
    fill_pattern(offset, piece.data(), piece.size());
    ASSERT_TRUE(client.send("100000\r\n"));
    ASSERT_TRUE(client.send(std::string_view(piece.data(), piece.size())));
    ASSERT_TRUE(client.send("\r\n"));
  }
  ASSERT_TRUE(client.send("0\r\n\r\n"));
  r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, std::to_string(kUpload) + ":" + std::to_string(pattern_hash(kUpload)));

  const long peak_kib = veer.peak_rss_kib();
  RecordProperty("veer_peak_rss_kib", static_cast<int>(peak_kib));
  EXPECT_GT(peak_kib, 0);
  // ASan's allocator and shadow memory add their own megabytes; a buffered 200 MB body
  // would still be far above either bound.
  EXPECT_LT(peak_kib, (kSanitizerBuild ? 128 : 64) * 1024)
      << "veer buffered a body instead of streaming it";
}

INSTANTIATE_TEST_SUITE_P(Engines, Streaming, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
