#include "admin/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "admin/rollout_json.hpp"

namespace veer::admin {
namespace json = boost::json;

namespace {

using conf::AdminState;
using conf::BackendChange;

json::object weights_json(const std::map<std::string, std::uint64_t>& table) {
  json::object o;
  for (const auto& [pool, weight] : table)
    o[pool] = weight;
  return o;
}

json::object backend_json(const BackendChange& c) {
  json::object o;
  if (c.added) o["added"] = true;
  if (c.removed) o["removed"] = true;
  if (c.weight) o["weight"] = *c.weight;
  if (c.backup) o["backup"] = *c.backup;
  if (!c.added && (c.weight || c.backup))
    o["file"] = json::object{{"weight", c.file_weight}, {"backup", c.file_backup}};
  if (c.state != AdminState::none) o["state"] = conf::to_string(c.state);
  return o;
}

json::object limit_json(const conf::LimitChange& c) {
  json::object o;
  if (c.rate) o["rate"] = conf::format_rate(*c.rate);
  if (c.burst) o["burst"] = *c.burst;
  if (c.delay) o["delay"] = *c.delay;
  o["file"] = json::object{
      {"rate", conf::format_rate(c.file_rate)}, {"burst", c.file_burst}, {"delay", c.file_delay}};
  return o;
}

// Reading: every shape error throws std::invalid_argument naming the field; the one
// caller turns it into *why.
[[noreturn]] void bad(const std::string& path, const char* expected) {
  throw std::invalid_argument(path + ": expected " + expected);
}

const json::object& object_at(const json::value& v, const std::string& path) {
  if (!v.is_object()) bad(path, "an object");
  return v.as_object();
}

std::uint64_t uint_at(const json::value& v, const std::string& path) {
  if (v.is_uint64()) return v.as_uint64();
  if (v.is_int64() && v.as_int64() >= 0) return static_cast<std::uint64_t>(v.as_int64());
  bad(path, "a non-negative integer");
}

bool bool_at(const json::value& v, const std::string& path) {
  if (!v.is_bool()) bad(path, "true or false");
  return v.as_bool();
}

std::string string_at(const json::value& v, const std::string& path) {
  if (!v.is_string()) bad(path, "a string");
  return std::string(v.as_string());
}

std::map<std::string, std::uint64_t> weights_at(const json::value& v, const std::string& path) {
  std::map<std::string, std::uint64_t> table;
  for (const auto& [pool, weight] : object_at(v, path))
    table[std::string(pool)] = uint_at(weight, path + "." + std::string(pool));
  return table;
}

BackendChange backend_at(const json::value& v, const std::string& path) {
  BackendChange c;
  for (const auto& [key, field] : object_at(v, path)) {
    const std::string at = path + "." + std::string(key);
    if (key == "added") {
      c.added = bool_at(field, at);
    } else if (key == "removed") {
      c.removed = bool_at(field, at);
    } else if (key == "weight") {
      c.weight = uint_at(field, at);
    } else if (key == "backup") {
      c.backup = bool_at(field, at);
    } else if (key == "file") {
      const json::object& file = object_at(field, at);
      if (!file.contains("weight") || !file.contains("backup") || file.size() != 2)
        bad(at, "{\"weight\": N, \"backup\": B}");
      c.file_weight = uint_at(file.at("weight"), at + ".weight");
      c.file_backup = bool_at(file.at("backup"), at + ".backup");
    } else if (key == "state") {
      const std::string state = string_at(field, at);
      if (state == "drain") {
        c.state = AdminState::drain;
      } else if (state == "down") {
        c.state = AdminState::down;
      } else {
        bad(at, "\"drain\" or \"down\"");
      }
    } else {
      throw std::invalid_argument(at + ": unknown field");
    }
  }
  if (c.added && c.removed) throw std::invalid_argument(path + ": both added and removed");
  if (c.added) c.weight = c.weight.value_or(1), c.backup = c.backup.value_or(false);
  return c;
}

conf::Rate rate_at(const json::value& v, const std::string& path) {
  std::string why;
  const std::optional<conf::Rate> rate = conf::parse_rate(string_at(v, path), &why);
  if (!rate) throw std::invalid_argument(path + ": " + why);
  return *rate;
}

conf::LimitChange limit_at(const json::value& v, const std::string& path) {
  conf::LimitChange c;
  bool has_file = false;
  for (const auto& [key, field] : object_at(v, path)) {
    const std::string at = path + "." + std::string(key);
    if (key == "rate") {
      c.rate = rate_at(field, at);
    } else if (key == "burst") {
      c.burst = uint_at(field, at);
    } else if (key == "delay") {
      c.delay = uint_at(field, at);
    } else if (key == "file") {
      const json::object& file = object_at(field, at);
      if (!file.contains("rate") || !file.contains("burst") || !file.contains("delay") ||
          file.size() != 3)
        bad(at, "{\"rate\": \"N/s\", \"burst\": N, \"delay\": N}");
      c.file_rate = rate_at(file.at("rate"), at + ".rate");
      c.file_burst = uint_at(file.at("burst"), at + ".burst");
      c.file_delay = uint_at(file.at("delay"), at + ".delay");
      has_file = true;
    } else {
      throw std::invalid_argument(at + ": unknown field");
    }
  }
  if (!has_file) bad(path + ".file", "the file's values the change was made against");
  return c;
}

// "rollouts": {NAME: RECORD}; read (and so checked) even when the caller wants none.
void rollouts_at(const json::value& value, std::vector<runtime::RolloutRecord>* rollouts) {
  for (const auto& [name, entry] : object_at(value, "rollouts")) {
    std::string why;
    std::optional<runtime::RolloutRecord> record =
        rollout_record_from_json(entry, std::string(name), "rollouts." + std::string(name), &why);
    if (!record) throw std::invalid_argument(why);
    if (rollouts != nullptr) rollouts->push_back(std::move(*record));
  }
}

conf::Overrides format2(const json::object& root, std::vector<runtime::RolloutRecord>* rollouts) {
  conf::Overrides o;
  for (const auto& [key, value] : root) {
    if (key == "format") continue;
    if (key == "rollouts") {
      rollouts_at(value, rollouts);
      continue;
    }
    if (key == "backends") {
      for (const auto& [pool, entries] : object_at(value, "backends")) {
        const std::string path = "backends." + std::string(pool);
        for (const auto& [address, change] : object_at(entries, path)) {
          o.backends[std::string(pool)][std::string(address)] =
              backend_at(change, path + "." + std::string(address));
        }
      }
    } else if (key == "splits") {
      for (const auto& [split, entry] : object_at(value, "splits")) {
        const std::string path = "splits." + std::string(split);
        const json::object& fields = object_at(entry, path);
        if (!fields.contains("targets") || !fields.contains("file") || fields.size() != 2)
          bad(path, "{\"targets\": {...}, \"file\": {...}}");
        o.splits[std::string(split)] =
            conf::SplitChange{weights_at(fields.at("targets"), path + ".targets"),
                              weights_at(fields.at("file"), path + ".file")};
      }
    } else if (key == "limits") {
      for (const auto& [policy, entry] : object_at(value, "limits"))
        o.limits[std::string(policy)] = limit_at(entry, "limits." + std::string(policy));
    } else {
      throw std::invalid_argument(std::string(key) + ": unknown field");
    }
  }
  return o;
}

// Format 1 kept each changed pool's whole backend list; the file tells which entries
// were additions, removals and updates.
void format1_pools(const json::object& pools, const conf::Config& file, conf::Overrides& o) {
  for (const auto& [name, entry] : pools) {
    const std::string path = "pools." + std::string(name);
    const conf::PoolConfig* file_pool = file.find_pool(name);
    const json::value* list = object_at(entry, path).if_contains("backends");
    if (list == nullptr || !list->is_array()) bad(path + ".backends", "an array");
    if (file_pool == nullptr) continue;  // nothing it could apply to
    conf::PoolConfig running = *file_pool;
    running.backends.clear();
    for (const conf::BackendConfig& b : file_pool->backends)
      conf::remove_backend(o, *file_pool, b.address);
    for (const json::value& item : list->as_array()) {
      const json::object& b = object_at(item, path + ".backends[]");
      if (!b.contains("address")) bad(path + ".backends[]", "an address");
      const std::string address = string_at(b.at("address"), path + ".backends[].address");
      const json::value* weight = b.if_contains("weight");
      const json::value* backup = b.if_contains("backup");
      const std::string at = path + ".backends[].";
      conf::put_backend(o, *file_pool, running, address,
                        weight ? std::optional(uint_at(*weight, at + "weight")) : std::nullopt,
                        backup ? std::optional(bool_at(*backup, at + "backup")) : std::nullopt);
    }
  }
}

conf::Overrides format1(const json::object& root, const conf::Config& file) {
  conf::Overrides o;
  if (const json::value* pools = root.if_contains("pools"))
    format1_pools(object_at(*pools, "pools"), file, o);
  if (const json::value* splits = root.if_contains("splits")) {
    for (const auto& [name, entry] : object_at(*splits, "splits")) {
      const std::string path = "splits." + std::string(name);
      const json::value* targets = object_at(entry, path).if_contains("targets");
      if (targets == nullptr) bad(path + ".targets", "an object");
      const conf::SplitConfig* split = file.find_split(name);
      if (split != nullptr) conf::set_split(o, *split, weights_at(*targets, path + ".targets"));
    }
  }
  for (auto [key, state] :
       {std::pair{"drained", AdminState::drain}, std::pair{"disabled", AdminState::down}}) {
    const json::value* by_pool = root.if_contains(key);
    if (by_pool == nullptr) continue;
    for (const auto& [pool, list] : object_at(*by_pool, key)) {
      const std::string path = std::string(key) + "." + std::string(pool);
      if (!list.is_array()) bad(path, "an array");
      for (const json::value& a : list.as_array())
        conf::set_admin_state(o, std::string(pool), string_at(a, path + "[]"), state);
    }
  }
  return o;
}

}  // namespace

std::string state_to_json(const conf::Overrides& changes) {
  return state_to_json(changes, {});
}

std::string state_to_json(const conf::Overrides& changes,
                          const std::vector<runtime::RolloutRecord>& rollouts) {
  json::object backends;
  for (const auto& [pool, entries] : changes.backends) {
    json::object by_address;
    for (const auto& [address, change] : entries)
      by_address[address] = backend_json(change);
    backends[pool] = std::move(by_address);
  }
  json::object splits;
  for (const auto& [name, change] : changes.splits) {
    splits[name] = json::object{{"targets", weights_json(change.targets)},
                                {"file", weights_json(change.file_targets)}};
  }
  json::object root{
      {"format", 2}, {"backends", std::move(backends)}, {"splits", std::move(splits)}};
  // Only when there is one: a state without limit changes stays readable by a veer that
  // predates them (format 2 refuses unknown fields).
  if (!changes.limits.empty()) {
    json::object limits;
    for (const auto& [name, change] : changes.limits)
      limits[name] = limit_json(change);
    root["limits"] = std::move(limits);
  }
  // The same for rollouts: a state without them is what veer wrote before them.
  if (!rollouts.empty()) {
    json::object by_name;
    for (const runtime::RolloutRecord& record : rollouts)
      by_name[record.config.name] = rollout_record_json(record);
    root["rollouts"] = std::move(by_name);
  }
  return json::serialize(root) + "\n";
}

std::optional<conf::Overrides> state_from_json(const std::string& text, const conf::Config& file,
                                               std::string* why,
                                               std::vector<runtime::RolloutRecord>* rollouts) {
  boost::system::error_code ec;
  const json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    *why = "not a JSON object";
    return std::nullopt;
  }
  const json::object& root = value.as_object();
  try {
    const json::value* format = root.if_contains("format");
    if (format == nullptr) {
      *why = "format: missing (this veer reads 1 or 2)";
      return std::nullopt;
    }
    const std::uint64_t version = uint_at(*format, "format");
    if (version == 2) {
      std::vector<runtime::RolloutRecord> read;
      conf::Overrides o = format2(root, &read);
      if (rollouts != nullptr) *rollouts = std::move(read);
      conf::normalize(o);
      return o;
    }
    if (version == 1) {
      if (rollouts != nullptr) rollouts->clear();  // format 1 predates rollouts
      return format1(root, file);
    }
    *why = "format " + std::to_string(version) + " is not a format this veer reads (1 or 2)";
  } catch (const std::exception& e) {
    *why = e.what();
  }
  return std::nullopt;
}

namespace {

bool fail(std::string* why, const std::string& what) {
  *why = what + ": " + std::strerror(errno);
  return false;
}

}  // namespace

bool write_atomically(const std::string& path, const std::string& text, std::string* why) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(why, "cannot create " + temporary);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return fail(why, "cannot write " + temporary);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return fail(why, "cannot fsync " + temporary);
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) return fail(why, "cannot rename to " + path);
  // The rename itself must reach the disk too.
  const std::size_t slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

std::optional<conf::Overrides> read_state_file(const std::string& path, const conf::Config& file,
                                               std::string* why,
                                               std::vector<runtime::RolloutRecord>* rollouts) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) {
      if (rollouts != nullptr) rollouts->clear();
      return conf::Overrides{};
    }
    *why = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::optional<conf::Overrides> o = state_from_json(text.str(), file, why, rollouts);
  if (!o) *why = path + ": " + *why;
  return o;
}

bool check_state_file(const std::string& text, const conf::Config& file,
                      std::vector<std::string>* dropped, std::string* error,
                      std::vector<runtime::RolloutRecord>* rollouts) {
  const std::string& path = file.server.state_file;
  if (path.empty()) return true;
  const std::optional<conf::Overrides> changes = read_state_file(path, file, error, rollouts);
  if (!changes) return false;
  conf::Overrides kept;
  conf::OverrideReport report;
  conf::load_with_changes(text, file.source_path, file, *changes, &kept, &report);
  *dropped = std::move(report.dropped);
  return true;
}

}  // namespace veer::admin
