#include "admin/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace veer::admin {
namespace json = boost::json;

std::string state_to_json(const conf::Overrides& o) {
  json::object root;
  root["format"] = 1;
  json::object pools;
  for (const auto& [pool, backends] : o.pool_backends) {
    json::array list;
    for (const conf::BackendOverride& b : backends) {
      list.push_back(
          json::object{{"address", b.address}, {"weight", b.weight}, {"backup", b.backup}});
    }
    pools[pool] = json::object{{"backends", std::move(list)}};
  }
  root["pools"] = std::move(pools);
  json::object splits;
  for (const auto& [split, targets] : o.split_targets) {
    json::object weights;
    for (const auto& [pool, weight] : targets)
      weights[pool] = weight;
    splits[split] = json::object{{"targets", std::move(weights)}};
  }
  root["splits"] = std::move(splits);
  for (auto [key, sets] : {std::pair{"disabled", &o.disabled}, std::pair{"drained", &o.drained}}) {
    json::object by_pool;
    for (const auto& [pool, addresses] : *sets) {
      json::array list;
      for (const std::string& a : addresses)
        list.push_back(json::string(a));
      by_pool[pool] = std::move(list);
    }
    root[key] = std::move(by_pool);
  }
  return json::serialize(root) + "\n";
}

std::optional<conf::Overrides> state_from_json(const std::string& text, std::string* why) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    *why = "not a JSON object";
    return std::nullopt;
  }
  conf::Overrides o;
  try {
    const json::object& root = value.as_object();
    if (const json::value* pools = root.if_contains("pools")) {
      for (const auto& [pool, entry] : pools->as_object()) {
        auto& list = o.pool_backends[std::string(pool)];
        for (const json::value& b : entry.as_object().at("backends").as_array()) {
          const json::object& item = b.as_object();
          list.push_back(conf::BackendOverride{json::value_to<std::string>(item.at("address")),
                                               item.at("weight").to_number<std::uint64_t>(),
                                               item.at("backup").as_bool()});
        }
      }
    }
    if (const json::value* splits = root.if_contains("splits")) {
      for (const auto& [split, entry] : splits->as_object()) {
        auto& targets = o.split_targets[std::string(split)];
        for (const auto& [pool, weight] : entry.as_object().at("targets").as_object()) {
          targets[std::string(pool)] = weight.to_number<std::uint64_t>();
        }
      }
    }
    for (auto [key, sets] :
         {std::pair{"disabled", &o.disabled}, std::pair{"drained", &o.drained}}) {
      const json::value* by_pool = root.if_contains(key);
      if (by_pool == nullptr) continue;
      for (const auto& [pool, list] : by_pool->as_object()) {
        for (const json::value& a : list.as_array()) {
          (*sets)[std::string(pool)].insert(json::value_to<std::string>(a));
        }
      }
    }
  } catch (const std::exception& e) {
    *why = std::string("unexpected shape: ") + e.what();
    return std::nullopt;
  }
  return o;
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

std::optional<conf::Overrides> read_state_file(const std::string& path, std::string* why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return conf::Overrides{};
    *why = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::optional<conf::Overrides> o = state_from_json(text.str(), why);
  if (!o) *why = path + ": " + *why;
  return o;
}

}  // namespace veer::admin
