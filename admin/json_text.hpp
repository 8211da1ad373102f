#pragma once

// JSON text for the admin API. Boost.JSON prints doubles in scientific notation
// (2.56E-3); tools and people reading the API expect plain decimals (0.00256).

#include <boost/json/value.hpp>
#include <string>

namespace veer::admin {

std::string to_json_text(const boost::json::value& value);

}  // namespace veer::admin
