#include "http/header_rewrite.hpp"

#include <charconv>

#include "http/http_parser.hpp"

namespace veer::http {
namespace {

void append_field(core::Buffer& out, std::string_view name, std::string_view value) {
  out.reserve_writable(name.size() + value.size() + 4);
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

// Appends a field; returns where its value starts, counted from `start`.
std::size_t append_field_at(core::Buffer& out, std::size_t start, std::string_view name,
                            std::string_view value) {
  out.reserve_writable(name.size() + value.size() + 4);
  out.append(name);
  out.append(": ");
  const std::size_t value_offset = out.size() - start;
  out.append(value);
  out.append("\r\n");
  return value_offset;
}

// Room kept after a head whose Host is still to be written: "Host: " + a DNS name
// (253) + ":65535" + CRLF CRLF is 269 bytes, so any backend address fits.
constexpr std::size_t kPendingHostRoom = 300;

// Headers that describe one connection and so never pass a proxy.
bool hop_by_hop(const HeaderField& f, const MessageHead& head) {
  switch (f.id) {
    case HeaderId::connection:
    case HeaderId::keep_alive:
    case HeaderId::te:
    case HeaderId::trailer:
    case HeaderId::upgrade:
    case HeaderId::http2_settings:
    case HeaderId::proxy_prefixed:
      return true;
    default:
      return head.connection_token_count > 0 && head.connection_lists(f.name);
  }
}

// The request line, in origin form (a '/' added before a path that lacks it).
void write_request_line(const RequestHead& in, std::size_t start, core::Buffer& out,
                        WrittenRequest& written) {
  written.method_offset = out.size() - start;
  written.method_length = in.method.size();
  out.append(in.method);
  out.append(' ');
  written.path_offset = out.size() - start;
  if (in.path.empty() || (in.path.front() != '/' && in.path != "*")) out.append('/');
  out.append(in.path);
  written.path_length = out.size() - start - written.path_offset;
  out.append(" HTTP/1.1\r\n");
}

bool is_client_certificate_field(const HeaderField& f, const ForwardContext& ctx) {
  return (!ctx.client_subject_header.empty() && iequals(f.name, ctx.client_subject_header)) ||
         (!ctx.client_fingerprint_header.empty() && iequals(f.name, ctx.client_fingerprint_header));
}

// Which of the X-Forwarded-Host/-Port/-Proto fields a trusted proxy sent (and veer keeps).
struct KeptForwarding {
  bool host = false;
  bool port = false;
  bool proto = false;
};

// Forwarding fields: dropped from an untrusted peer, kept (and noted) from a trusted one.
// X-Forwarded-For is merged and X-Real-IP replaced in write_forwarding_fields.
bool keep_forwarding_field(const HeaderField& f, const ForwardContext& ctx, KeptForwarding& kept) {
  switch (f.id) {
    case HeaderId::x_forwarded_for:
    case HeaderId::x_real_ip:
      return false;
    case HeaderId::forwarded:
      return ctx.trusted_peer;
    case HeaderId::x_forwarded_host:
      kept.host = kept.host || ctx.trusted_peer;
      return ctx.trusted_peer;
    case HeaderId::x_forwarded_port:
      kept.port = kept.port || ctx.trusted_peer;
      return ctx.trusted_peer;
    case HeaderId::x_forwarded_proto:
      kept.proto = kept.proto || ctx.trusted_peer;
      return ctx.trusted_peer;
    default:
      return true;
  }
}

// The client's fields as they came, less the hop-by-hop ones and those veer writes
// itself; notes where Host and the first User-Agent went, for the access log.
void copy_request_fields(const RequestHead& in, const ForwardContext& ctx, std::size_t start,
                         core::Buffer& out, WrittenRequest& written, KeptForwarding& kept) {
  for (const HeaderField& f : in.headers()) {
    if (hop_by_hop(f, in) || is_client_certificate_field(f, ctx)) continue;
    if (!keep_forwarding_field(f, ctx, kept)) continue;
    if (ctx.drop_websocket_extensions && f.id == HeaderId::other &&
        iequals(f.name, "Sec-WebSocket-Extensions")) {
      continue;
    }
    switch (f.id) {
      case HeaderId::x_request_id:
      case HeaderId::content_length:
        continue;  // replaced below
      case HeaderId::host:
        if (in.host_from_target) continue;
        written.host_offset = append_field_at(out, start, f.name, f.value);
        written.host_length = f.value.size();
        continue;
      case HeaderId::user_agent:
        if (written.user_agent_length == 0) {
          written.user_agent_offset = append_field_at(out, start, f.name, f.value);
          written.user_agent_length = f.value.size();
          continue;
        }
        break;
      default:
        break;
    }
    append_field(out, f.name, f.value);
  }
}

// X-Forwarded-For: a trusted proxy's chain (every field, in order) and then the peer;
// from anyone else, only the client (who is the peer then).
void write_forwarded_for(const RequestHead& in, const ForwardContext& ctx, core::Buffer& out) {
  out.append("X-Forwarded-For: ");
  if (ctx.trusted_peer) {
    for (const HeaderField& f : in.headers()) {
      if (f.id != HeaderId::x_forwarded_for || f.value.empty()) continue;
      out.append(f.value);
      out.append(", ");
    }
    out.append(ctx.peer_ip.empty() ? ctx.client_ip : ctx.peer_ip);
  } else {
    out.append(ctx.client_ip);
  }
  out.append("\r\n");
}

// X-Forwarded-For, X-Real-IP, the X-Forwarded-Host/-Port/-Proto that a trusted proxy
// did not send, and X-Request-Id.
void write_forwarding_fields(const RequestHead& in, const ForwardContext& ctx,
                             const KeptForwarding& kept, std::size_t start, core::Buffer& out,
                             WrittenRequest& written) {
  write_forwarded_for(in, ctx, out);
  append_field(out, "X-Real-IP", ctx.client_ip);
  if (!kept.proto) append_field(out, "X-Forwarded-Proto", ctx.proto);
  if (!kept.host && !in.authority.empty()) append_field(out, "X-Forwarded-Host", in.authority);
  if (!kept.port && ctx.listener_port != 0) {
    out.append("X-Forwarded-Port: ");
    core::append_decimal(out, ctx.listener_port);
    out.append("\r\n");
  }
  out.append("X-Request-Id: ");
  written.request_id_offset = out.size() - start;
  written.request_id_length = ctx.request_id.size();
  out.append(ctx.request_id);
  out.append("\r\n");
  if (!ctx.client_subject_header.empty() && !ctx.client_subject.empty())
    append_field(out, ctx.client_subject_header, ctx.client_subject);
  if (!ctx.client_fingerprint_header.empty() && !ctx.client_fingerprint.empty())
    append_field(out, ctx.client_fingerprint_header, ctx.client_fingerprint);
}

// What veer states itself: Host from an absolute-form target, the body's length, and
// the WebSocket upgrade that the hop-by-hop rule took out.
void write_own_fields(const RequestHead& in, std::size_t start, core::Buffer& out,
                      WrittenRequest& written) {
  if (in.host_from_target) {
    written.host_offset = append_field_at(out, start, "Host", in.authority);
    written.host_length = in.authority.size();
  }
  if (in.content_length_present && in.framing != BodyFraming::chunked) {
    out.append("Content-Length: ");
    core::append_decimal(out, in.content_length);
    out.append("\r\n");
  }
  if (in.websocket_upgrade) out.append("Connection: Upgrade\r\nUpgrade: websocket\r\n");
}

}  // namespace

WrittenRequest write_upstream_request(const RequestHead& in, const ForwardContext& ctx,
                                      core::Buffer& out) {
  WrittenRequest written;
  const std::size_t start = out.size();
  // 384 for veer's own fields (X-Forwarded-For/-Proto/-Port, X-Real-IP, X-Request-Id,
  // Content-Length, Upgrade), plus those whose size varies.
  out.reserve_writable(in.head_length + 384 + ctx.peer_ip.size() + in.authority.size() +
                       ctx.client_subject_header.size() + ctx.client_subject.size() +
                       ctx.client_fingerprint_header.size() + ctx.client_fingerprint.size());
  KeptForwarding kept;
  write_request_line(in, start, out, written);
  copy_request_fields(in, ctx, start, out, written, kept);
  write_forwarding_fields(in, ctx, kept, start, out, written);
  write_own_fields(in, start, out, written);
  if (in.host_missing) {
    written.host_pending = true;
    written.host_line_offset = out.size() - start;
    out.reserve_writable(kPendingHostRoom);
    return written;
  }
  out.append("\r\n");
  return written;
}

void complete_with_host(const WrittenRequest& written, std::string_view host, core::Buffer& out) {
  out.truncate(written.host_line_offset);
  out.reserve_writable(host.size() + 10);
  out.append("Host: ");
  out.append(host);
  out.append("\r\n\r\n");
}

void write_client_response_head(const ResponseHead& in, const ResponseRewrite& how,
                                core::Buffer& out) {
  out.reserve_writable(in.head_length + 80 + how.added_name.size() + how.added_value.size() +
                       how.request_id.size());
  out.append("HTTP/1.1 ");
  core::append_decimal(out, in.status);
  out.append(' ');
  out.append(in.reason);
  out.append("\r\n");
  for (const HeaderField& f : in.headers()) {
    if (hop_by_hop(f, in)) continue;
    if (f.id == HeaderId::transfer_encoding && how.strip_chunked) continue;
    if (!how.added_name.empty() && iequals(f.name, how.added_name)) continue;
    if (f.id == HeaderId::x_request_id && !how.request_id.empty()) continue;
    append_field(out, f.name, f.value);
  }
  if (!how.added_name.empty()) append_field(out, how.added_name, how.added_value);
  if (!how.request_id.empty()) append_field(out, "X-Request-Id", how.request_id);
  if (in.upgrade_websocket) {
    out.append("Connection: Upgrade\r\nUpgrade: websocket\r\n");
  } else if (how.close_client) {
    out.append("Connection: close\r\n");
  } else if (how.client_http10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

std::string_view status_reason(std::uint16_t status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

void write_local_response(std::uint16_t status, std::string_view detail,
                          std::string_view request_id, bool close, bool head_only,
                          core::Buffer& out) {
  // Body: "<detail> (request id <id>)\n"
  const std::size_t body_length =
      detail.size() + (request_id.empty() ? 0 : request_id.size() + 14) + 1;
  out.reserve_writable(180 + request_id.size() + body_length);
  out.append("HTTP/1.1 ");
  core::append_decimal(out, status);
  out.append(' ');
  out.append(status_reason(status));
  out.append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  core::append_decimal(out, body_length);
  out.append("\r\n");
  if (!request_id.empty()) append_field(out, "X-Request-Id", request_id);
  out.append(close ? "Connection: close\r\n\r\n" : "\r\n");
  if (head_only) return;
  out.append(detail);
  if (!request_id.empty()) {
    out.append(" (request id ");
    out.append(request_id);
    out.append(')');
  }
  out.append('\n');
}

}  // namespace veer::http
