// Asio (with its SSL layer) and Beast compiled once for the whole test suite.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
