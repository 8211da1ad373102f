// Boost.URL's compiled part, built here once: Debian 12 ships its headers with Boost
// but not the library (libboost-url is not packaged for 1.81).
#include <boost/url/src.hpp>
