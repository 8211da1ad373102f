#include "admin/ctl_print.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <utility>

namespace veer::admin {
namespace {

namespace json = boost::json;

// Shortest text that reads back as the same double, never in exponent notation.
std::string plain_decimal(double d) {
  char text[400];  // fixed notation of the largest double: 309 digits and a sign
  const auto [end, error] = std::to_chars(text, text + sizeof text, d, std::chars_format::fixed);
  return error == std::errc() ? std::string(text, end) : json::serialize(json::value(d));
}

std::string cell(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_double()) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", v.get_double());
    return text;
  }
  if (v.is_null()) return "-";
  return json::serialize(v);
}

// A field that may be missing (another veer version): "" then.
std::string field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr ? "" : cell(*v);
}

std::string row(const std::string (&cells)[8]) {
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %-28s %-9s %6s %9s %9s %10s %10s\n", cells[0].c_str(),
                cells[1].c_str(), cells[2].c_str(), cells[3].c_str(), cells[4].c_str(),
                cells[5].c_str(), cells[6].c_str(), cells[7].c_str());
  return line;
}

// "    down since 2026-12-06T12:00:00Z: block lag 214 > 8", one line per reason.
std::string reason_lines(const json::object& backend) {
  const json::value* reasons = backend.if_contains("reasons");
  if (reasons == nullptr || !reasons->is_array()) return "";
  std::string out;
  for (const json::value& item : reasons->get_array()) {
    if (!item.is_object()) continue;
    const json::object& r = item.get_object();
    out += "    " + field(r, "reason");
    if (const std::string since = field(r, "since"); !since.empty()) out += " since " + since;
    if (const std::string until = field(r, "until"); !until.empty() && until != "-")
      out += " until " + until;
    if (const std::string cause = field(r, "cause"); !cause.empty()) out += ": " + cause;
    out += "\n";
  }
  return out;
}

void pretty(const json::value& v, int depth, std::string& out) {
  const std::string indent(2 * static_cast<std::size_t>(depth + 1), ' ');
  const std::string closing(2 * static_cast<std::size_t>(depth), ' ');
  if (v.is_object() && !v.get_object().empty()) {
    out += "{\n";
    const char* separator = "";
    for (const auto& [key, member] : v.get_object()) {
      out += separator + indent + json::serialize(json::string(key)) + ": ";
      pretty(member, depth + 1, out);
      separator = ",\n";
    }
    out += "\n" + closing + "}";
  } else if (v.is_array() && !v.get_array().empty()) {
    out += "[\n";
    const char* separator = "";
    for (const json::value& element : v.get_array()) {
      out += separator + indent;
      pretty(element, depth + 1, out);
      separator = ",\n";
    }
    out += "\n" + closing + "]";
  } else if (v.is_double()) {
    out += plain_decimal(v.get_double());
  } else {
    out += json::serialize(v);
  }
}

}  // namespace

std::string pools_table(const json::value& reply) {
  std::string out =
      row({"POOL", "BACKEND", "STATE", "WEIGHT", "IN_FLIGHT", "CONNS", "REQ/S", "EWMA_MS"});
  for (const json::value& pool : reply.at("pools").as_array()) {
    const std::string name = cell(pool.at("name"));
    for (const json::value& b : pool.at("backends").as_array()) {
      out += row({name, cell(b.at("address")), cell(b.at("state")), cell(b.at("weight")),
                  cell(b.at("in_flight")), cell(b.at("active_connections")),
                  cell(b.at("requests_per_second")), cell(b.at("latency_ewma_ms"))});
      out += reason_lines(b.as_object());
    }
  }
  return out + "configuration version " + cell(reply.at("version")) + "\n";
}

std::string certificates_table(const json::value& reply) {
  const auto line = [](const std::string& listener, const std::string& not_after,
                       const std::string& days, const std::string& key,
                       const std::string& subject) {
    char text[512];
    std::snprintf(text, sizeof text, "%-16s %-20s %9s %-10s %s\n", listener.c_str(),
                  not_after.c_str(), days.c_str(), key.c_str(), subject.c_str());
    return std::string(text);
  };
  std::string out = line("LISTENER", "NOT_AFTER", "DAYS_LEFT", "KEY", "SUBJECT");
  for (const json::value& listener : reply.at("listeners").as_array()) {
    const std::string name = cell(listener.at("listener"));
    for (const json::value& c : listener.at("certificates").as_array()) {
      out += line(name, cell(c.at("not_after")), cell(c.at("days_left")), cell(c.at("key_type")),
                  cell(c.at("subject")));
      std::string names;
      for (const json::value& san : c.at("sans").as_array())
        names += (names.empty() ? "" : ", ") + cell(san);
      out += "    names: " + names + "\n    file: " + cell(c.at("file")) + "\n";
    }
  }
  return out + "configuration version " + cell(reply.at("version")) + "\n";
}

std::string limits_table(const json::value& reply) {
  const auto line = [](const std::string(&cells)[8]) {
    char text[512];
    std::snprintf(text, sizeof text, "%-16s %-10s %6s %6s %-8s %10s %10s %10s\n", cells[0].c_str(),
                  cells[1].c_str(), cells[2].c_str(), cells[3].c_str(), cells[4].c_str(),
                  cells[5].c_str(), cells[6].c_str(), cells[7].c_str());
    return std::string(text);
  };
  std::string out =
      line({"POLICY", "RATE", "BURST", "DELAY", "SCOPE", "KEYS", "ALLOWED", "LIMITED"});
  for (const json::value& p : reply.at("policies").as_array()) {
    const json::object& stats = p.at("stats").as_object();
    const json::object& requests = p.at("requests").as_object();
    std::string scope = cell(p.at("scope"));
    if (p.at("dry_run").as_bool()) scope += ",dry";
    out += line({cell(p.at("name")), cell(p.at("rate")), cell(p.at("burst")), cell(p.at("delay")),
                 scope, cell(stats.at("keys_in_use")), cell(requests.at("allowed")),
                 cell(requests.at("limited"))});
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "x" + std::string.
    out.append("    key:");
    const char* separator = " ";
    for (const json::value& part : p.at("key").as_array())
      out.append(std::exchange(separator, "|")).append(cell(part));
    out.append("\n");
    const json::object& attached = p.at("attached").as_object();
    separator = "    on: ";
    for (const json::value& l : attached.at("listeners").as_array())
      out.append(std::exchange(separator, ", ")).append("listener ").append(cell(l));
    for (const json::value& r : attached.at("routes").as_array())
      out.append(std::exchange(separator, ", ")).append("route ").append(cell(r.at("key")));
    if (std::string_view(separator) == ", ") out.append("\n");
    if (const json::value* file = p.as_object().if_contains("file"); file && file->is_object()) {
      out += "    changed at runtime; the file says rate " + cell(file->at("rate")) + ", burst " +
             cell(file->at("burst")) + ", delay " + cell(file->at("delay")) + "\n";
    }
  }
  return out + "configuration version " + cell(reply.at("version")) + "\n";
}

std::string pretty_json(const json::value& value) {
  std::string out;
  pretty(value, 0, out);
  return out + "\n";
}

}  // namespace veer::admin
