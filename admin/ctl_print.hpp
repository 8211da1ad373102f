#pragma once

// How `veer ctl` shows the admin API's JSON to people: the pools as a table with every
// reason a backend is out, and any answer as indented JSON. Throws (std::exception)
// when a reply lacks the fields it needs; the caller then prints the reply as received.

#include <boost/json/value.hpp>
#include <string>

namespace veer::admin {

// GET /api/v1/pools: one row per backend, then for a backend that is out one line per
// reason (`down since T: cause`, `ejected since T until U: cause`), read from its
// `reasons` array; a reply without one (an older veer) gives the table alone.
std::string pools_table(const boost::json::value& reply);

// GET /api/v1/certificates: one row per certificate (listener, notAfter, days left, key
// type, subject), then its names and its file on lines of their own.
std::string certificates_table(const boost::json::value& reply);

// GET /api/v1/limits: one row per policy (rate, burst, delay, scope, key, keys in use,
// requests allowed and limited), then where it is attached.
std::string limits_table(const boost::json::value& reply);

// Two spaces per level, one member per line; doubles as plain decimals (0.0026).
std::string pretty_json(const boost::json::value& value);

}  // namespace veer::admin
