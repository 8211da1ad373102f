// `veer demo-backend`: a small backend for trying veer out (README quick start). It
// answers GET with a JSON line naming itself, JSON-RPC POSTs (single or batch) with
// Ethereum-style results, GET /health with "ok", and WebSocket upgrades with an echo
// that also answers JSON-RPC text frames. Written with Beast, independently of veer's
// own HTTP code, so that the two check each other.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <string>

#include "conf/address.hpp"

namespace veer {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

struct DemoState {
  std::string name;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

std::string hex(std::uint64_t n) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(n));
  return text;
}

json::value answer_call(const json::value& call, const DemoState& state) {
  json::object reply{{"jsonrpc", "2.0"}};
  const json::object* object = call.if_object();
  reply["id"] = object != nullptr && object->contains("id") ? object->at("id") : nullptr;
  const json::string* method =
      object != nullptr && object->contains("method") ? object->at("method").if_string() : nullptr;
  if (method == nullptr) {
    reply["error"] = {{"code", -32600}, {"message", "invalid request"}};
    return reply;
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::steady_clock::now() - state.started)
                           .count();
  if (*method == "eth_blockNumber") {
    reply["result"] = hex(0x1000 + static_cast<std::uint64_t>(seconds));
  } else if (*method == "eth_chainId") {
    reply["result"] = "0x1";
  } else if (*method == "net_version") {
    reply["result"] = "1";
  } else if (*method == "web3_clientVersion") {
    reply["result"] = "veer-demo/" + state.name;
  } else {
    reply["error"] = {{"code", -32601}, {"message", "method not found"}};
  }
  return reply;
}

std::string answer_rpc(std::string_view body, const DemoState& state) {
  boost::system::error_code ec;
  const json::value request = json::parse(body, ec);
  if (ec) {
    return R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}})";
  }
  if (const json::array* batch = request.if_array()) {
    json::array replies;
    for (const json::value& call : *batch)
      replies.push_back(answer_call(call, state));
    return json::serialize(replies);
  }
  return json::serialize(answer_call(request, state));
}

asio::awaitable<void> serve_websocket(beast::tcp_stream stream,
                                      http::request<http::string_body> req,
                                      const DemoState& state) {
  websocket::stream<beast::tcp_stream> ws(std::move(stream));
  beast::get_lowest_layer(ws).expires_never();
  co_await ws.async_accept(req, use_awaitable);
  beast::flat_buffer buffer;
  while (true) {
    co_await ws.async_read(buffer, use_awaitable);
    const std::string text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    const bool is_rpc = ws.got_text() && text.find("\"method\"") != std::string::npos;
    const std::string reply = is_rpc ? answer_rpc(text, state) : text;
    ws.text(ws.got_text());
    co_await ws.async_write(asio::buffer(reply), use_awaitable);
  }
}

asio::awaitable<void> serve(tcp::socket socket, const DemoState& state) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  while (true) {
    http::request<http::string_body> req;
    co_await http::async_read(stream, buffer, req, use_awaitable);
    if (websocket::is_upgrade(req)) {
      co_await serve_websocket(std::move(stream), std::move(req), state);
      co_return;
    }
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set("X-Backend", state.name);
    if (req.target() == "/health") {
      res.set(http::field::content_type, "text/plain");
      res.body() = "ok\n";
    } else if (req.method() == http::verb::post) {
      res.set(http::field::content_type, "application/json");
      res.body() = answer_rpc(req.body(), state) + "\n";
    } else {
      res.set(http::field::content_type, "application/json");
      res.body() = json::serialize(json::object{{"backend", state.name},
                                                {"method", std::string(req.method_string())},
                                                {"path", std::string(req.target())}}) +
                   "\n";
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    co_await http::async_write(stream, res, use_awaitable);
    if (!res.keep_alive()) co_return;
  }
}

asio::awaitable<void> accept_forever(tcp::acceptor& acceptor, const DemoState& state) {
  while (true) {
    tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), state), asio::detached);
  }
}

}  // namespace

int run_demo_backend(int argc, char** argv) {
  std::string listen;
  DemoState state;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--listen") {
      listen = argv[i + 1];
    } else if (flag == "--name") {
      state.name = argv[i + 1];
    }
  }
  std::string why;
  const auto host_port = conf::parse_host_port(listen, &why);
  const auto address = host_port ? conf::resolve(*host_port, &why) : std::nullopt;
  if (!address) {
    std::cerr << "usage: veer demo-backend --listen HOST:PORT [--name NAME]\n"
              << (listen.empty() ? "" : listen + ": " + why + "\n");
    return 2;
  }
  if (state.name.empty()) state.name = listen;
  asio::io_context io(1);
  tcp::endpoint endpoint;
  std::memcpy(endpoint.data(), address->data(), address->length);
  endpoint.resize(address->length);
  boost::system::error_code ec;
  tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), ec);
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "demo backend: cannot listen on " << listen << ": " << ec.message() << "\n";
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const boost::system::error_code&, int) { io.stop(); });
  std::cout << "demo backend " << state.name << " listening on " << acceptor.local_endpoint()
            << std::endl;
  asio::co_spawn(io, accept_forever(acceptor, state), asio::detached);
  io.run();
  return 0;
}

}  // namespace veer
