#include "http/proxy_protocol.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace veer::http {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::size_t kV2FixedLength = 16;
constexpr std::uint8_t kCommandLocal = 0x0;
constexpr std::uint8_t kCommandProxy = 0x1;
constexpr std::uint8_t kFamilyUnspec = 0x00;
constexpr std::uint8_t kFamilyTcp4 = 0x11;  // AF_INET over STREAM
constexpr std::uint8_t kFamilyTcp6 = 0x21;  // AF_INET6 over STREAM

// A v1 port: decimal 0 to 65535, no sign, no leading zero.
std::optional<std::uint16_t> parse_v1_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size() || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// A v1 address of the line's protocol: TCP4 a dotted quad, TCP6 an IPv6 address in
// text form (no brackets, no zone).
std::optional<core::IpAddress> parse_v1_address(std::string_view s, bool v6) {
  const bool has_colon = s.find(':') != std::string_view::npos;
  if (has_colon != v6 || s.find('[') != std::string_view::npos) return std::nullopt;
  return core::IpAddress::parse(s);
}

// The next single-space-separated field of `line`; `line` keeps the rest. Empty when
// two spaces meet or the line ends in one.
std::string_view next_field(std::string_view& line) {
  const std::size_t space = line.find(' ');
  const std::string_view field = line.substr(0, space);
  line = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
  return field;
}

std::uint16_t big_endian16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

}  // namespace

bool ProxyHeaderParser::fail(std::string_view why) {
  status_ = Status::error;
  error_ = why;
  return false;
}

ProxyHeaderParser::Result ProxyHeaderParser::feed(std::string_view bytes) {
  if (status_ != Status::need_more) return {status_, 0};
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (length_ == 0) {
      if (c == 'P') {
        version_ = 1;
      } else if (c == kProxyV2Signature[0]) {
        version_ = 2;
      } else {
        fail("not a PROXY protocol header");
        return {status_, i + 1};
      }
    }
    const bool more = version_ == 1 ? take_v1(c) : take_v2(static_cast<std::uint8_t>(c));
    if (!more) return {status_, i + 1};
  }
  return {Status::need_more, bytes.size()};
}

// --- version 1: "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"

bool ProxyHeaderParser::take_v1(char c) {
  const std::size_t at = length_++;
  if (at > 0 && line_[at - 1] == '\r') {
    if (c != '\n') return fail("a CR not followed by LF in the PROXY v1 line");
    return finish_v1();
  }
  if (at == kMaxV1Length - 1) return fail("PROXY v1 line longer than 107 bytes");
  if (at < kV1Prefix.size() && c != kV1Prefix[at]) return fail("not a PROXY protocol header");
  if (c == '\n') return fail("a bare LF in the PROXY v1 line");
  if (c != '\r' && (c < 0x20 || c > 0x7e)) return fail("a control byte in the PROXY v1 line");
  line_[at] = c;
  return true;
}

bool ProxyHeaderParser::finish_v1() {
  std::string_view line(line_.data(), length_ - 2);  // without CRLF
  if (line.back() == ' ') return fail("a trailing space in the PROXY v1 line");
  next_field(line);  // "PROXY", checked as it came
  const std::string_view protocol = next_field(line);
  header_.version = 1;
  if (protocol == "UNKNOWN") {  // the rest of the line, if any, is ignored (the spec's rule)
    status_ = Status::done;
    return false;
  }
  if (protocol != "TCP4" && protocol != "TCP6") {
    return fail("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
  }
  const bool v6 = protocol == "TCP6";
  const auto source = parse_v1_address(next_field(line), v6);
  const auto destination = parse_v1_address(next_field(line), v6);
  const auto source_port = parse_v1_port(next_field(line));
  const auto destination_port = parse_v1_port(next_field(line));
  if (!source || !destination) return fail("a bad address in the PROXY v1 line");
  if (!source_port || !destination_port || !line.empty())
    return fail("bad ports in the PROXY v1 line");
  header_.has_address = true;
  header_.source = *source;
  header_.destination = *destination;
  header_.source_port = *source_port;
  header_.destination_port = *destination_port;
  status_ = Status::done;
  return false;
}

// --- version 2: signature, ver/cmd, family, length, addresses, TLVs.

bool ProxyHeaderParser::take_v2(std::uint8_t c) {
  const std::size_t at = length_++;
  if (at < kProxyV2Signature.size()) {
    if (c != static_cast<std::uint8_t>(kProxyV2Signature[at]))
      return fail("not a PROXY protocol header");
  } else if (at == 12) {
    if (c >> 4 != 2) return fail("PROXY v2 version is not 2");
    if ((c & 0xf) != kCommandLocal && (c & 0xf) != kCommandProxy)
      return fail("PROXY v2 command is not LOCAL or PROXY");
  } else if (at >= kV2FixedLength) {
    const std::size_t payload_at = at - kV2FixedLength;
    if (payload_at < v2_address_bytes_) {
      v2_[at] = c;
      if (payload_at + 1 == v2_address_bytes_ && !finish_v2_addresses()) return false;
    } else if (header_.has_address && !take_tlv_byte(c)) {
      return false;
    }
    if (payload_at + 1 < v2_payload_) return true;
    if (tlv_header_taken_ != 0 || tlv_remaining_ != 0)
      return fail("a PROXY v2 TLV runs past the header");
    status_ = Status::done;
    return false;
  }
  if (at < v2_.size()) v2_[at] = c;
  if (at + 1 == kV2FixedLength) return start_v2_payload();
  return true;
}

// The fixed part is complete: what the payload must hold.
bool ProxyHeaderParser::start_v2_payload() {
  header_.version = 2;
  const bool local = (v2_[12] & 0xf) == kCommandLocal;
  const std::uint8_t family = v2_[13];
  v2_payload_ = big_endian16(&v2_[14]);
  if (v2_payload_ > kMaxV2Payload) return fail("PROXY v2 header longer than veer accepts");
  if (local) {
    v2_address_bytes_ = 0;  // the spec: ignore the whole block, use the real endpoints
  } else if (family == kFamilyTcp4) {
    v2_address_bytes_ = 12;
  } else if (family == kFamilyTcp6) {
    v2_address_bytes_ = 36;
  } else if (family == kFamilyUnspec) {
    v2_address_bytes_ = 0;
  } else {
    return fail("PROXY v2 family is not TCP over IPv4 or IPv6");
  }
  if (v2_payload_ < v2_address_bytes_) return fail("PROXY v2 length too short for its addresses");
  // Addresses come with a PROXY command of a TCP family; their TLVs are checked too.
  header_.has_address = v2_address_bytes_ > 0;
  if (v2_payload_ > 0) return true;
  status_ = Status::done;
  return false;
}

bool ProxyHeaderParser::finish_v2_addresses() {
  const std::uint8_t* p = v2_.data() + kV2FixedLength;
  if (v2_address_bytes_ == 12) {
    std::uint8_t source[4], destination[4];
    std::copy(p, p + 4, source);
    std::copy(p + 4, p + 8, destination);
    header_.source = core::IpAddress::from_v4(source);
    header_.destination = core::IpAddress::from_v4(destination);
    p += 8;
  } else {
    std::uint8_t source[16], destination[16];
    std::copy(p, p + 16, source);
    std::copy(p + 16, p + 32, destination);
    header_.source = core::IpAddress::from_v6(source);
    header_.destination = core::IpAddress::from_v6(destination);
    p += 32;
  }
  header_.source_port = big_endian16(p);
  header_.destination_port = big_endian16(p + 2);
  return true;
}

// TLVs (type, 16-bit length, value) are skipped, but their framing must add up.
bool ProxyHeaderParser::take_tlv_byte(std::uint8_t c) {
  if (tlv_remaining_ > 0) {
    --tlv_remaining_;
    return true;
  }
  switch (tlv_header_taken_) {
    case 0:  // the type
      tlv_header_taken_ = 1;
      break;
    case 1:
      tlv_length_high_ = c;
      tlv_header_taken_ = 2;
      break;
    default:
      tlv_remaining_ = static_cast<std::uint16_t>(tlv_length_high_ << 8 | c);
      tlv_header_taken_ = 0;
      break;
  }
  return true;
}

}  // namespace veer::http
