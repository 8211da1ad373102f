#include "http/chunked.hpp"

#include <gtest/gtest.h>

#include <string>

namespace veer::http {
namespace {

struct Outcome {
  http::ChunkedDecoder::Status status = http::ChunkedDecoder::Status::more;
  std::size_t consumed = 0;
  std::string data;
};

// Feeds `body` in pieces of `step` bytes, as a socket would deliver it.
Outcome decode(const std::string& body, std::size_t step = 1 << 20) {
  http::ChunkedDecoder decoder;
  Outcome out;
  std::size_t offset = 0;
  while (offset < body.size()) {
    const std::string_view piece = std::string_view(body).substr(offset, step);
    std::size_t used = 0;
    while (used < piece.size()) {
      std::string_view data;
      const auto r = decoder.next(piece.substr(used), &data);
      used += r.consumed;
      out.data += data;
      out.status = r.status;
      if (r.status != http::ChunkedDecoder::Status::more) {
        out.consumed = offset + used;
        return out;
      }
    }
    offset += piece.size();
  }
  out.consumed = offset;
  return out;
}

TEST(Chunked, DecodesAndFindsTheEndAtAnySplit) {
  const std::string body = "5\r\nhello\r\n1;ext=\"v\"\r\n \r\nA\r\n0123456789\r\n0\r\n\r\nNEXT";
  for (std::size_t step : {1, 2, 3, 7, 1000}) {
    const Outcome o = decode(body, step);
    EXPECT_EQ(o.status, http::ChunkedDecoder::Status::done) << step;
    EXPECT_EQ(o.data, "hello 0123456789") << step;
    EXPECT_EQ(o.consumed, body.size() - 4) << "stops before the next message, step " << step;
  }
}

TEST(Chunked, AcceptsTrailersAndBadWhitespace) {
  EXPECT_EQ(decode("3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n").status,
            http::ChunkedDecoder::Status::done);
  EXPECT_EQ(decode("3 ;a=b\r\nabc\r\n0\r\n\r\n").status, http::ChunkedDecoder::Status::done);
  EXPECT_EQ(decode("003\r\nabc\r\n0\r\n\r\n").data, "abc");
}

TEST(Chunked, RefusesAmbiguousForms) {
  for (const char* bad : {
           "x\r\n",                       // not hex
           "\r\n",                        // empty size
           "-1\r\n",                      // sign
           "5\nhello\r\n0\r\n\r\n",       // bare LF after size
           "5\r\nhelloX\r\n",             // data longer than its size
           "5\r\nhello\n0\r\n\r\n",       // bare LF after data
           "5 5\r\nhello\r\n",            // space inside the size
           "1000000000000000000\r\n",     // overflow
           "0\r\n bad: trailer\r\n\r\n",  // obs-fold in trailers
           "0\r\nX : y\r\n\r\n",          // space before colon in trailers
           "0\r\n\n",                     // bare LF at the end
           "3;\x01\r\nabc\r\n0\r\n\r\n",  // CTL in an extension
       }) {
    EXPECT_EQ(decode(bad).status, http::ChunkedDecoder::Status::error) << bad;
  }
}

TEST(Chunked, BoundsSizeLinesAndTrailers) {
  std::string long_ext = "1;" + std::string(20000, 'a') + "\r\nx\r\n0\r\n\r\n";
  EXPECT_EQ(decode(long_ext).status, http::ChunkedDecoder::Status::error);
  std::string long_trailer = "0\r\nX: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(decode(long_trailer).status, http::ChunkedDecoder::Status::error);
}

TEST(Chunked, CountsDataBytes) {
  http::ChunkedDecoder decoder;
  std::string_view data;
  const std::string body = "4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n";
  std::size_t used = 0;
  while (used < body.size())
    used += decoder.next(std::string_view(body).substr(used), &data).consumed;
  EXPECT_TRUE(decoder.done());
  EXPECT_EQ(decoder.data_bytes(), 6u);
}

}  // namespace
}  // namespace veer::http
