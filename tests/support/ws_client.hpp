#pragma once

// A blocking WebSocket client (Beast) for integration tests: every read gives up after
// a timeout, so a test can fail but never hang.

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace veer::test {

struct WsClient {
  using Socket = boost::asio::ip::tcp::socket;

  boost::asio::io_context io;
  boost::beast::websocket::stream<Socket> ws{io};

  // `offer_deflate`: offer permessage-deflate, as browsers and ethers' `ws` do.
  explicit WsClient(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                    bool offer_deflate = false) {
    if (offer_deflate) {
      boost::beast::websocket::permessage_deflate deflate;
      deflate.client_enable = true;
      ws.set_option(deflate);
    }
    ws.next_layer().connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws.read_message_max(64 << 20);
    ws.auto_fragment(false);
    ws.handshake("127.0.0.1", "/ws");
  }

  // Sends `message` and returns the next message that comes back. `binary_reply` says
  // whether that reply was a binary frame.
  std::string echo(const std::string& message, bool binary = false, bool* binary_reply = nullptr) {
    ws.binary(binary);
    ws.write(boost::asio::buffer(message));
    boost::beast::flat_buffer buffer;
    ws.read(buffer);
    if (binary_reply != nullptr) *binary_reply = ws.got_binary();
    return boost::beast::buffers_to_string(buffer.data());
  }

  // True when the connection ends (close frame, EOF or reset) within the read timeout.
  bool ends() {
    boost::beast::flat_buffer buffer;
    boost::beast::error_code ec;
    ws.read(buffer, ec);
    return ec == boost::beast::websocket::error::closed || ec == boost::asio::error::eof ||
           ec == boost::asio::error::connection_reset ||
           ec == boost::beast::http::error::end_of_stream;
  }
};

}  // namespace veer::test
