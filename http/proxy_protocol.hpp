#pragma once

// An incremental, strict parser of the PROXY protocol header (HAProxy's spec,
// proxy-protocol.txt) that a load balancer sends before anything else on a connection:
// version 1 (one text line, at most 107 bytes) and version 2 (binary: a 12-byte
// signature, version/command, family/transport, a length, addresses, TLVs). Feed it the
// connection's first bytes in any pieces; it says when the header is complete, how
// many of the fed bytes it took (the rest belong to TLS or HTTP), and where the
// connection really came from. Anything malformed is an error: a proxy that guesses at a
// broken header would let a client choose its own address.
//
// Fixed storage (about 160 bytes), no allocation.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/ip_address.hpp"

namespace veer::http {

struct ProxyHeader {
  // False for v1 UNKNOWN, v2 LOCAL and v2 AF_UNSPEC: no address was given, use the
  // connection's own peer (a health check of the load balancer, say).
  bool has_address = false;
  std::uint8_t version = 0;  // 1 or 2
  core::IpAddress source;
  std::uint16_t source_port = 0;
  core::IpAddress destination;
  std::uint16_t destination_port = 0;
};

class ProxyHeaderParser {
 public:
  // v1: "PROXY TCP6 " + two 39-character addresses + two 5-digit ports + spaces + CRLF.
  static constexpr std::size_t kMaxV1Length = 107;
  // v2: 16 fixed bytes, then at most this much (addresses and TLVs). The spec allows
  // 65535; real senders (HAProxy, AWS/GCP/Azure load balancers) stay far below 1 KiB.
  static constexpr std::size_t kMaxV2Payload = 2048;

  enum class Status : std::uint8_t { need_more, done, error };
  struct Result {
    Status status = Status::need_more;
    // Bytes of this feed that belong to the header (all of them while need_more; on
    // done, the bytes after them are the connection's payload).
    std::size_t consumed = 0;
  };

  // After done or error, further feeds return the same status and consume nothing.
  Result feed(std::string_view bytes);

  Status status() const { return status_; }
  const ProxyHeader& header() const { return header_; }  // valid once done
  std::size_t header_length() const { return length_; }  // bytes of the whole header
  std::string_view error() const { return error_; }      // a static text, once error

 private:
  bool fail(std::string_view why);  // false, to end the feed
  bool take_v1(char c);
  bool finish_v1();
  bool take_v2(std::uint8_t c);
  bool start_v2_payload();
  bool finish_v2_addresses();
  bool take_tlv_byte(std::uint8_t c);

  Status status_ = Status::need_more;
  std::string_view error_;
  std::size_t length_ = 0;  // bytes taken so far
  ProxyHeader header_;
  std::uint8_t version_ = 0;  // 0 until the first byte says which
  // v1: the line so far (without CRLF). v2: the fixed part and the address block.
  std::array<char, kMaxV1Length> line_{};
  std::array<std::uint8_t, 16 + 36> v2_{};
  std::size_t v2_payload_ = 0;         // the length field
  std::size_t v2_address_bytes_ = 0;   // of the payload, what the family's addresses take
  std::uint8_t tlv_header_taken_ = 0;  // 0..3 bytes of the current TLV's type and length
  std::uint16_t tlv_remaining_ = 0;    // value bytes of the current TLV still to skip
  std::uint8_t tlv_length_high_ = 0;
};

// The v2 signature: "\r\n\r\n\0\r\nQUIT\n".
inline constexpr std::string_view kProxyV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};

}  // namespace veer::http
