#pragma once

// The layering of veer's source folders as data, and a checker that reads every quoted
// #include under the source root and reports the ones that reach up (or sideways) past
// what their folder may use. tests/unit/layering_test.cpp runs it on the real tree so a
// back-include fails the test suite instead of growing into a cycle.
//
// Pure logic over std::filesystem: no dependency beyond the standard library, so it runs
// wherever the unit tests build.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace veer::test::layering {

// One source folder and what its files may include besides the folder's own files.
struct Rule {
  std::string folder;                // "conf"
  std::vector<std::string> folders;  // whole folders it may include: {"core"}
  std::vector<std::string> files;    // single files (path from the root) it may include
};

// The table, top (lowest layer) to bottom.
const std::vector<Rule>& rules();

// Folders at the root that hold C++ but are not layers: they may include anything.
const std::vector<std::string>& unchecked_folders();

// "conf/ may include only conf/, core/, strategies/strategy.hpp"
std::string describe(const Rule& rule);

struct Include {
  int line = 0;        // 1-based
  std::string header;  // as written between the quotes
};

// The quoted #include lines of one source text, in order. Lines inside // or /* */
// comments are not read; string and raw string literals are skipped whole, so a "*/*"
// in a string does not open a comment.
std::vector<Include> quoted_includes(std::string_view text);

struct Violation {
  std::string file;  // relative to the root, '/' separated
  int line = 0;
  std::string header;  // as written
  std::string rule;    // describe() of the including folder's rule
};

// `path:line: includes "X" but <folder>/ may include only ...`
std::string to_string(const Violation& violation);

struct Report {
  std::size_t files = 0;                     // source files read
  std::vector<std::string> missing_folders;  // in the table, not under the root
  std::vector<Violation> violations;         // by file, then line
};

// Reads every *.hpp *.cpp *.h *.cc under each table folder of `root`. An include counts
// against the folder it lands in: the including file's own directory first (as the
// compiler looks for quoted includes), then the root. Includes that land in no table
// folder (a system-like "foo/bar.hpp", a same-folder "x.hpp") are not judged.
Report check_tree(const std::filesystem::path& root, const std::vector<Rule>& table = rules());

// Top-level folders of `root` holding C++ files that are neither in the table nor
// unchecked: a new folder nobody placed in the layering. Hidden folders and build trees
// (those with a CMakeCache.txt) are skipped.
std::vector<std::string> unlisted_source_folders(const std::filesystem::path& root,
                                                 const std::vector<Rule>& table = rules());

}  // namespace veer::test::layering
