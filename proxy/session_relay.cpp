// ClientSession: streaming bodies. One piece at a time in each direction: the next read
// starts only when the previous write has completed, so a slow reader on either side
// slows the other down instead of filling memory (backpressure: a body is never
// buffered whole, whatever its size).
#include <cstring>

#include "core/log.hpp"
#include "proxy/client_session.hpp"
#include "proxy/worker.hpp"

namespace veer::proxy {

void ClientSession::relay_request_body() {
  if (exchange_->request_abandoned) return;
  if (in_.writable_size() == 0) in_.compact();
  worker_.deadlines().arm(read_deadline_, timeouts().client_body);
  stream_.async_read_some(
      asio::buffer(in_.write_ptr(), in_.writable_size()),
      [self = self()](const error_code& ec, std::size_t n) { self->on_request_body_read(ec, n); });
}

void ClientSession::on_request_body_read(const error_code& ec, std::size_t n) {
  read_deadline_.disarm();
  if (phase_ != Phase::exchange || exchange_->request_abandoned) return;
  if (ec) {
    close();  // the client left in the middle of its body: nothing to answer
    return;
  }
  in_.commit(n);
  if (!frame_request_body()) return;
  UpstreamConnection* conn = up_.get();
  worker_.deadlines().arm(upstream_deadline_, timeouts().upstream_response);
  ++conn->pending_ops;
  conn->stream.async_write(
      asio::buffer(in_.read_ptr(), exchange_->request_piece),
      [self = self(), conn](const error_code& e, std::size_t) { self->on_request_sent(conn, e); });
}

// How many of the body bytes at the front of in_ belong to this request: the piece
// to send upstream. Chunked framing is validated as it goes. Returns false when the
// body breaks a rule; the request has then been refused.
bool ClientSession::frame_request_body() {
  std::size_t piece = 0;
  switch (exchange_->request_framing) {
    case http::BodyFraming::content_length:
      piece = static_cast<std::size_t>(
          std::min<std::uint64_t>(in_.size(), exchange_->request_remaining));
      exchange_->request_remaining -= piece;
      break;
    case http::BodyFraming::chunked: {
      http::ChunkedDecoder& chunks = exchange_->request_chunks;
      while (piece < in_.size() && !chunks.done()) {
        std::string_view data;
        const auto result = chunks.next(in_.readable().substr(piece), &data);
        piece += result.consumed;
        if (result.status == http::ChunkedDecoder::Status::error) {
          refuse_request_body(400, chunks.error());
          return false;
        }
      }
      if (chunks.data_bytes() > exchange_->view->snapshot().config.limits.max_body_bytes) {
        refuse_request_body(413, "request body larger than limits.max_body_bytes");
        return false;
      }
      break;
    }
    default:
      break;
  }
  exchange_->request_piece = piece;
  exchange_->bytes_in += piece;
  return true;
}

// The request body cannot go on: the client hears `status` unless a response has
// started (then it sees a cut), and the connection closes either way.
void ClientSession::refuse_request_body(std::uint16_t status, std::string_view detail) {
  if (exchange_->response_started) {
    close();
  } else if (up_) {
    fail_exchange(status, detail, true);
  } else {
    respond_locally(status, detail, true);  // before the first try
  }
}

bool ClientSession::frame_response_body(std::size_t available) {
  core::Buffer& buffer = up_->buffer;
  switch (exchange_->response_framing) {
    case http::BodyFraming::none:
      exchange_->response_piece = exchange_->response_consumed = 0;
      exchange_->response_complete = true;
      if (available > 0) exchange_->upstream_reusable = false;  // bytes after the response: garbage
      break;
    case http::BodyFraming::content_length: {
      const auto take = static_cast<std::size_t>(
          std::min<std::uint64_t>(available, exchange_->response_remaining));
      exchange_->response_remaining -= take;
      exchange_->response_piece = exchange_->response_consumed = take;
      exchange_->response_complete = exchange_->response_remaining == 0;
      if (exchange_->response_complete && available > take) exchange_->upstream_reusable = false;
      break;
    }
    case http::BodyFraming::until_close:
      exchange_->response_piece = exchange_->response_consumed = available;
      break;
    case http::BodyFraming::chunked: {
      // Passed through as received once validated; for an HTTP/1.0 client the data is
      // decoded in place (decoded bytes never outrun the encoded ones they replace).
      char* base = buffer.mutable_read_ptr();
      std::size_t used = 0;
      std::size_t decoded = 0;
      while (used < available && !exchange_->response_chunks.done()) {
        std::string_view data;
        const auto result =
            exchange_->response_chunks.next(std::string_view(base + used, available - used), &data);
        if (result.status == http::ChunkedDecoder::Status::error) {
          core::log::debug("invalid chunked response from ", exchange_->backend->address, ": ",
                           exchange_->response_chunks.error());
          record_outcome(health::Outcome::bad_response);
          if (exchange_->response_started) {
            count_split_answer(true, worker_.now());  // the client sees a cut: the backend's fault
            close();
          } else {
            fail_exchange(502, "invalid chunked body from the backend");
          }
          return false;
        }
        if (exchange_->strip_chunked && !data.empty()) {
          std::memmove(base + decoded, data.data(), data.size());
          decoded += data.size();
        }
        used += result.consumed;
      }
      exchange_->response_consumed = used;
      exchange_->response_piece = exchange_->strip_chunked ? decoded : used;
      exchange_->response_complete = exchange_->response_chunks.done();
      if (exchange_->response_complete && available > used) exchange_->upstream_reusable = false;
      break;
    }
  }
  return true;
}

void ClientSession::write_response_piece(bool with_head) {
  const std::array<asio::const_buffer, 2> pieces{
      with_head ? asio::buffer(out_.read_ptr() + exchange_->response_head_offset,
                               out_.size() - exchange_->response_head_offset)
                : asio::const_buffer(),
      asio::buffer(up_->buffer.read_ptr(), exchange_->response_piece)};
  exchange_->response_started = true;
  worker_.deadlines().arm(write_deadline_, timeouts().client_send);
  stream_.async_write(pieces, [self = self()](const error_code& ec, std::size_t) {
    self->on_response_piece_written(ec);
  });
}

void ClientSession::on_response_piece_written(const error_code& ec) {
  write_deadline_.disarm();
  if (phase_ != Phase::exchange) return;
  if (ec) {
    close();
    return;
  }
  exchange_->response_body_bytes += exchange_->response_piece;
  up_->buffer.consume(exchange_->response_consumed);
  exchange_->response_piece = exchange_->response_consumed = 0;
  if (exchange_->response_complete) {
    exchange_->response_done = true;
    if (exchange_->request_sent || exchange_->request_abandoned) finish_exchange();
    return;
  }
  read_upstream(UpstreamRead::body);
}

void ClientSession::on_response_body_bytes(UpstreamConnection* conn, const error_code& ec,
                                           std::size_t n) {
  if (upstream_op_done(conn)) return;
  if (ec) {
    if (ec == asio::error::eof && exchange_->response_framing == http::BodyFraming::until_close &&
        !exchange_->upstream_timed_out) {
      exchange_->response_complete = exchange_->response_done = true;
      exchange_->upstream_reusable = false;
      if (exchange_->request_sent || exchange_->request_abandoned) finish_exchange();
      return;
    }
    // Cut short: the client already has part of the response and must see the cut.
    record_outcome(exchange_->upstream_timed_out ? health::Outcome::timeout
                                                 : health::Outcome::reset);
    core::log::debug("response from ", exchange_->backend->address,
                     " cut short: ", exchange_->upstream_timed_out ? "timed out" : ec.message());
    count_split_answer(true, worker_.now());
    close();
    return;
  }
  conn->buffer.commit(n);
  if (!frame_response_body(conn->buffer.size())) return;
  write_response_piece(false);
}

}  // namespace veer::proxy
