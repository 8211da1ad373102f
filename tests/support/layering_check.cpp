// veer_layering_check [root]: the layering test's checker from the command line, for a
// quick look while moving files (the test suite runs the same check).
// Exit status: 0 clean, 1 violations or missing/unlisted folders, 2 bad root.

#include <filesystem>
#include <iostream>
#include <string>

#include "support/layering.hpp"

int main(int argc, char** argv) {
  namespace layering = veer::test::layering;
  const std::filesystem::path root = argc > 1 ? argv[1] : ".";
  if (!std::filesystem::is_directory(root)) {
    std::cerr << "usage: veer_layering_check [source root]\n";
    return 2;
  }
  layering::Report report = layering::check_tree(root);
  for (const std::string& folder : report.missing_folders) {
    std::cout << folder << "/: missing\n";
  }
  for (const std::string& folder : layering::unlisted_source_folders(root)) {
    std::cout << folder << "/: holds C++ but has no row in the layering table\n";
  }
  for (const layering::Violation& violation : report.violations) {
    std::cout << layering::to_string(violation) << "\n";
  }
  std::cout << report.files << " files, " << report.violations.size()
            << (report.violations.size() == 1 ? " violation\n" : " violations\n");
  bool clean = report.missing_folders.empty() && report.violations.empty() &&
               layering::unlisted_source_folders(root).empty();
  return clean ? 0 : 1;
}
