#pragma once

// The one way the data plane includes Asio. The engine (epoll or io_uring) is chosen
// when this is compiled (BOOST_ASIO_HAS_IO_URING + BOOST_ASIO_DISABLE_EPOLL for the
// io_uring binary), which is why files including it are compiled once per engine;
// see docs/ARCHITECTURE.md. Asio is compiled separately (proxy/asio_impl.cpp) so
// that each file does not recompile its implementation.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace veer::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// The name of the engine this file was compiled for.
#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
inline constexpr const char* kCompiledEngine = "io_uring";
#else
inline constexpr const char* kCompiledEngine = "epoll";
#endif

}  // namespace veer::proxy
