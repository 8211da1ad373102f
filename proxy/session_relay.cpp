// ClientSession: streaming bodies. One piece at a time in each direction: the next read
// starts only when the previous write has completed, so a slow reader on either side
// slows the other down instead of filling memory (backpressure: a body is never
// buffered whole, whatever its size).
#include <cstring>

#include "proxy/client_session.hpp"
#include "core/log.hpp"
#include "proxy/worker.hpp"

namespace veer::proxy {

void ClientSession::relay_request_body() {
  if (request_abandoned_) return;
  if (in_.writable_size() == 0) in_.compact();
  worker_.deadlines().arm(read_deadline_, view_->snapshot().config.timeouts.client_body);
  socket_.async_read_some(
      asio::buffer(in_.write_ptr(), in_.writable_size()),
      [self = self()](const error_code& ec, std::size_t n) { self->on_request_body_read(ec, n); });
}

void ClientSession::on_request_body_read(const error_code& ec, std::size_t n) {
  read_deadline_.disarm();
  if (phase_ != Phase::exchange || request_abandoned_) return;
  if (ec) {
    close();  // the client left in the middle of its body: nothing to answer
    return;
  }
  in_.commit(n);
  if (!frame_request_body_piece()) return;
  UpstreamConnection* conn = up_.get();
  worker_.deadlines().arm(upstream_deadline_, view_->snapshot().config.timeouts.upstream_response);
  ++conn->pending_ops;
  asio::async_write(
      conn->socket, asio::buffer(in_.read_ptr(), request_piece_),
      [self = self(), conn](const error_code& e, std::size_t) { self->on_request_sent(conn, e); });
}

bool ClientSession::frame_request_body_piece() {
  if (request_framing_ == http::BodyFraming::content_length) {
    request_piece_ =
        static_cast<std::size_t>(std::min<std::uint64_t>(in_.size(), request_remaining_));
    request_remaining_ -= request_piece_;
    bytes_in_ += request_piece_;
    return true;
  }
  std::size_t used = 0;
  while (used < in_.size() && !request_chunks_.done()) {
    std::string_view data;
    const auto result = request_chunks_.next(in_.readable().substr(used), &data);
    used += result.consumed;
    if (result.status == http::ChunkedDecoder::Status::error) {
      if (response_started_) {
        close();
      } else {
        fail_exchange(400, request_chunks_.error(), true);
      }
      return false;
    }
  }
  if (request_chunks_.data_bytes() > view_->snapshot().config.limits.max_body_bytes) {
    if (response_started_) {
      close();
    } else {
      fail_exchange(413, "request body larger than limits.max_body_bytes", true);
    }
    return false;
  }
  request_piece_ = used;
  bytes_in_ += used;
  return true;
}

bool ClientSession::frame_response_body(std::size_t available) {
  core::Buffer& buffer = up_->buffer;
  switch (response_framing_) {
    case http::BodyFraming::none:
      response_piece_ = response_consumed_ = 0;
      response_complete_ = true;
      if (available > 0) upstream_reusable_ = false;  // bytes after the response: garbage
      break;
    case http::BodyFraming::content_length: {
      const auto take =
          static_cast<std::size_t>(std::min<std::uint64_t>(available, response_remaining_));
      response_remaining_ -= take;
      response_piece_ = response_consumed_ = take;
      response_complete_ = response_remaining_ == 0;
      if (response_complete_ && available > take) upstream_reusable_ = false;
      break;
    }
    case http::BodyFraming::until_close:
      response_piece_ = response_consumed_ = available;
      break;
    case http::BodyFraming::chunked: {
      // Passed through as received once validated; for an HTTP/1.0 client the data is
      // decoded in place (decoded bytes never outrun the encoded ones they replace).
      char* base = buffer.mutable_read_ptr();
      std::size_t used = 0;
      std::size_t decoded = 0;
      while (used < available && !response_chunks_.done()) {
        std::string_view data;
        const auto result =
            response_chunks_.next(std::string_view(base + used, available - used), &data);
        if (result.status == http::ChunkedDecoder::Status::error) {
          core::log::debug("invalid chunked response from ", backend_->address, ": ",
                     response_chunks_.error());
          record_outcome(health::Outcome::bad_response);
          if (response_started_) {
            close();
          } else {
            fail_exchange(502, "invalid chunked body from the backend");
          }
          return false;
        }
        if (strip_chunked_ && !data.empty()) {
          std::memmove(base + decoded, data.data(), data.size());
          decoded += data.size();
        }
        used += result.consumed;
      }
      response_consumed_ = used;
      response_piece_ = strip_chunked_ ? decoded : used;
      response_complete_ = response_chunks_.done();
      if (response_complete_ && available > used) upstream_reusable_ = false;
      break;
    }
  }
  return true;
}

void ClientSession::write_response_piece(bool with_head) {
  const std::array<asio::const_buffer, 2> pieces{
      with_head ? asio::buffer(out_.read_ptr() + response_head_offset_,
                               out_.size() - response_head_offset_)
                : asio::const_buffer(),
      asio::buffer(up_->buffer.read_ptr(), response_piece_)};
  response_started_ = true;
  worker_.deadlines().arm(write_deadline_, view_->snapshot().config.timeouts.client_send);
  asio::async_write(socket_, pieces, [self = self()](const error_code& ec, std::size_t) {
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
  response_body_bytes_ += response_piece_;
  up_->buffer.consume(response_consumed_);
  response_piece_ = response_consumed_ = 0;
  if (response_complete_) {
    response_done_ = true;
    if (request_sent_ || request_abandoned_) finish_exchange();
    return;
  }
  read_response_body();
}

void ClientSession::read_response_body() {
  UpstreamConnection* conn = up_.get();
  core::Buffer& buffer = conn->buffer;
  buffer.compact();
  worker_.deadlines().arm(upstream_deadline_, view_->snapshot().config.timeouts.upstream_response);
  ++conn->pending_ops;
  conn->socket.async_read_some(asio::buffer(buffer.write_ptr(), buffer.writable_size()),
                               [self = self(), conn](const error_code& ec, std::size_t n) {
                                 self->on_response_body_bytes(conn, ec, n);
                               });
}

void ClientSession::on_response_body_bytes(UpstreamConnection* conn, const error_code& ec,
                                           std::size_t n) {
  if (upstream_op_done(conn)) return;
  if (ec) {
    if (ec == asio::error::eof && response_framing_ == http::BodyFraming::until_close &&
        !upstream_timed_out_) {
      response_complete_ = response_done_ = true;
      upstream_reusable_ = false;
      if (request_sent_ || request_abandoned_) finish_exchange();
      return;
    }
    // Cut short: the client already has part of the response and must see the cut.
    record_outcome(upstream_timed_out_ ? health::Outcome::timeout : health::Outcome::reset);
    core::log::debug("response from ", backend_->address,
               " cut short: ", upstream_timed_out_ ? "timed out" : ec.message());
    close();
    return;
  }
  conn->buffer.commit(n);
  if (!frame_response_body(conn->buffer.size())) return;
  write_response_piece(false);
}

}  // namespace veer::proxy
