#include "conf/rate_limit.hpp"

#include <algorithm>
#include <charconv>

namespace veer::conf {
namespace {

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto low = [](char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; };
           return low(x) == low(y);
         });
}

}  // namespace

std::optional<Rate> parse_rate(std::string_view text, std::string* why) {
  const std::size_t slash = text.find('/');
  const std::string_view count = text.substr(0, slash);
  Rate rate;
  const auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), rate.count);
  const bool digits = !count.empty() && std::all_of(count.begin(), count.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  if (slash == std::string_view::npos || !digits || error != std::errc() ||
      end != count.data() + count.size()) {
    *why = "expected requests per unit, such as \"100/s\", \"6000/m\" or \"5/h\"";
    return std::nullopt;
  }
  const std::string_view unit = text.substr(slash + 1);
  if (unit == "s") {
    rate.per = Duration{1000};
  } else if (unit == "m") {
    rate.per = Duration{60'000};
  } else if (unit == "h") {
    rate.per = Duration{3'600'000};
  } else {
    *why = "the unit after '/' is s, m or h";
    return std::nullopt;
  }
  if (rate.count < 1 || rate.count > kMaxRate) {
    *why = "the count is out of range (1-" + std::to_string(kMaxRate) + ")";
    return std::nullopt;
  }
  return rate;
}

std::string format_rate(const Rate& rate) {
  const char* unit = rate.per == Duration{60'000}      ? "m"
                     : rate.per == Duration{3'600'000} ? "h"
                                                       : "s";
  return std::to_string(rate.count) + "/" + unit;
}

bool valid_limit_key_part(std::string_view part, std::string* why) {
  if (part == "client_ip" || part == "route") return true;
  // Built with push_back and append: GCC 12 warns falsely (-Wrestrict) on string
  // literals assigned or added to strings here.
  std::string text;
  text.push_back('"');
  text.append(part);
  text.push_back('"');
  for (std::string_view prefix : {std::string_view("header:"), std::string_view("cookie:")}) {
    if (!part.starts_with(prefix)) continue;
    if (is_token(part.substr(prefix.size()))) return true;
    text.append(": the name after ").append(prefix);
    text.append(" must be a token (letters, digits, !#$%&'*+-.^_`|~)");
    *why = std::move(text);
    return false;
  }
  text.append(" is not client_ip, header:NAME, cookie:NAME or route");
  *why = std::move(text);
  return false;
}

bool same_limit_key_part(std::string_view a, std::string_view b) {
  if (a.starts_with("header:") && b.starts_with("header:")) return iequal(a, b);
  return a == b;
}

}  // namespace veer::conf
