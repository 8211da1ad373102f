#include "support/layering.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <system_error>

namespace veer::test::layering {
namespace fs = std::filesystem;

const std::vector<Rule>& rules() {
  // conf/ names the strategies in its table of keys but must not know how any of them
  // works, hence the single file.
  static const std::vector<Rule> table = {
      {"core", {}, {}},
      {"http", {"core"}, {}},
      {"strategies", {"core"}, {}},
      {"conf", {"core"}, {"strategies/strategy.hpp"}},
      {"tls", {"core", "conf"}, {}},
      {"limits", {"core", "conf"}, {}},
      {"runtime", {"core", "http", "strategies", "conf", "tls", "limits"}, {}},
      {"health", {"core", "http", "conf", "tls", "limits", "runtime"}, {}},
      // The nginx export writes a split's percentages from veer's own bucket ranges.
      {"admin",
       {"core", "conf", "tls", "limits", "runtime", "health"},
       {"strategies/split_buckets.hpp"}},
      {"proxy", {"core", "http", "strategies", "conf", "tls", "limits", "runtime", "health"}, {}},
      {"app",
       {"core", "http", "strategies", "conf", "tls", "limits", "runtime", "health", "admin",
        "proxy"},
       {}},
  };
  return table;
}

const std::vector<std::string>& unchecked_folders() {
  static const std::vector<std::string> folders = {"tests", "bench", "fuzz"};
  return folders;
}

std::string describe(const Rule& rule) {
  std::string text = rule.folder + "/ may include only " + rule.folder + "/";
  for (const std::string& folder : rule.folders)
    text += ", " + folder + "/";
  for (const std::string& file : rule.files)
    text += ", " + file;
  return text;
}

namespace {

bool is_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

// Removes comments one line at a time and keeps everything else, literals included. A
// /* */ block or a raw string left open carries over to the next line.
class CommentStripper {
 public:
  std::string strip(std::string_view line) {
    std::string out;
    std::size_t i = 0;
    while (i < line.size()) {
      if (in_block_) {
        std::size_t end = line.find("*/", i);
        if (end == std::string_view::npos) return out;
        in_block_ = false;
        out += ' ';
        i = end + 2;
      } else if (!raw_end_.empty()) {
        std::size_t end = line.find(raw_end_, i);
        // The string's text is dropped: a line of it may look like a directive.
        out += '"';
        if (end == std::string_view::npos) return out;
        i = end + raw_end_.size();
        raw_end_.clear();
      } else if (line.substr(i, 2) == "//") {
        return out;
      } else if (line.substr(i, 2) == "/*") {
        in_block_ = true;
        i += 2;
      } else if (line[i] == '"' || line[i] == '\'') {
        i = copy_literal(line, i, out);
      } else if (is_word(line[i])) {
        i = copy_word(line, i, out);
      } else {
        out += line[i++];
      }
    }
    return out;
  }

 private:
  // A "..." or '...' literal up to its closing quote (escapes honoured) or the line's end.
  static std::size_t copy_literal(std::string_view line, std::size_t i, std::string& out) {
    char quote = line[i];
    std::size_t j = i + 1;
    while (j < line.size() && line[j] != quote)
      j += line[j] == '\\' ? 2 : 1;
    j = std::min(j + 1, line.size());
    out.append(line.substr(i, j - i));
    return j;
  }

  // An identifier or a number; a number's ' is a digit separator (1'000), not a char
  // literal. A raw string prefix (R, u8R, LR...) followed by " opens a raw string.
  std::size_t copy_word(std::string_view line, std::size_t i, std::string& out) {
    bool number = std::isdigit(static_cast<unsigned char>(line[i])) != 0;
    std::size_t j = i;
    while (j < line.size() && (is_word(line[j]) || (number && (line[j] == '\'' || line[j] == '.'))))
      ++j;
    std::string_view word = line.substr(i, j - i);
    out.append(word);
    if (number || j >= line.size() || line[j] != '"' || !word.ends_with('R')) return j;
    if (word != "R" && word != "u8R" && word != "uR" && word != "UR" && word != "LR") return j;
    std::size_t open = line.find('(', j + 1);
    if (open == std::string_view::npos) return j;  // not a raw string after all
    // Appended piece by piece: ")" + std::string(...) trips GCC 12's -Wrestrict.
    raw_end_.assign(1, ')');
    raw_end_.append(line.substr(j + 1, open - j - 1));
    raw_end_ += '"';
    out += '"';
    return open + 1;
  }

  bool in_block_ = false;
  std::string raw_end_;  // `)delim"` while inside a raw string
};

// The header of `#include "X"` (spaces allowed around # and before the quote), if any.
std::optional<std::string> include_of(std::string_view code) {
  auto skip_spaces = [&code] {
    while (!code.empty() && (code.front() == ' ' || code.front() == '\t'))
      code.remove_prefix(1);
  };
  skip_spaces();
  if (!code.starts_with('#')) return std::nullopt;
  code.remove_prefix(1);
  skip_spaces();
  if (!code.starts_with("include")) return std::nullopt;
  code.remove_prefix(7);
  skip_spaces();
  if (!code.starts_with('"')) return std::nullopt;  // <...>, include_next, a macro
  std::size_t close = code.find('"', 1);
  if (close == std::string_view::npos || close == 1) return std::nullopt;
  return std::string(code.substr(1, close - 1));
}

}  // namespace

std::vector<Include> quoted_includes(std::string_view text) {
  std::vector<Include> out;
  CommentStripper stripper;
  int number = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (std::optional<std::string> header = include_of(stripper.strip(line))) {
      out.push_back({number, std::move(*header)});
    }
  }
  return out;
}

std::string to_string(const Violation& violation) {
  return violation.file + ":" + std::to_string(violation.line) + ": includes \"" +
         violation.header + "\" but " + violation.rule;
}

namespace {

bool is_source(const fs::path& path) {
  std::string ext = path.extension().string();
  return ext == ".hpp" || ext == ".cpp" || ext == ".h" || ext == ".cc";
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

const Rule* rule_for(const std::vector<Rule>& table, const std::string& folder) {
  for (const Rule& rule : table) {
    if (rule.folder == folder) return &rule;
  }
  return nullptr;
}

// Where `header`, included from `file` (both relative to the root), is found: next to
// the including file first, as the compiler looks for quoted includes, then from the
// root (veer's include directory). Empty if it would leave the root.
fs::path resolve(const fs::path& root, const fs::path& file, const std::string& header) {
  fs::path local = (file.parent_path() / header).lexically_normal();
  bool relative = header.starts_with("./") || header.starts_with("../");
  std::error_code ignored;
  fs::path target =
      relative || fs::exists(root / local, ignored) ? local : fs::path(header).lexically_normal();
  if (target.empty() || *target.begin() == "..") return {};
  return target;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void check_file(const fs::path& root, const fs::path& file, const Rule& rule,
                const std::vector<Rule>& table, std::vector<Violation>& out) {
  for (const Include& include : quoted_includes(read_file(root / file))) {
    fs::path target = resolve(root, file, include.header);
    // A one-part target is a same-folder file not found (generated, or missing): its
    // name cannot be a folder.
    if (std::distance(target.begin(), target.end()) < 2) continue;
    std::string folder = target.begin()->string();
    if (folder == rule.folder || rule_for(table, folder) == nullptr) continue;
    if (contains(rule.folders, folder) || contains(rule.files, target.generic_string())) continue;
    out.push_back({file.generic_string(), include.line, include.header, describe(rule)});
  }
}

// The source files under root/folder, relative to root, sorted so the report is stable.
std::vector<fs::path> sources_under(const fs::path& root, const std::string& folder) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(root / folder)) {
    if (entry.is_regular_file() && is_source(entry.path())) {
      files.push_back(entry.path().lexically_relative(root));
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

Report check_tree(const fs::path& root, const std::vector<Rule>& table) {
  Report report;
  for (const Rule& rule : table) {
    if (!fs::is_directory(root / rule.folder)) {
      report.missing_folders.push_back(rule.folder);
      continue;
    }
    for (const fs::path& file : sources_under(root, rule.folder)) {
      ++report.files;
      check_file(root, file, rule, table, report.violations);
    }
  }
  return report;
}

std::vector<std::string> unlisted_source_folders(const fs::path& root,
                                                 const std::vector<Rule>& table) {
  std::vector<std::string> out;
  for (const fs::directory_entry& entry : fs::directory_iterator(root)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.starts_with('.') || rule_for(table, name) != nullptr ||
        contains(unchecked_folders(), name) || fs::exists(entry.path() / "CMakeCache.txt")) {
      continue;
    }
    if (!sources_under(root, name).empty()) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace veer::test::layering
