#include "admin/export_command.hpp"

#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "admin/nginx_export.hpp"
#include "conf/load.hpp"

namespace veer::admin {
namespace {

namespace po = boost::program_options;

constexpr int kUsageError = 2;

constexpr const char* kUsage =
    "usage: veer export nginx FILE [--strict] [--nginx-version V]\n"
    "  FILE's configuration as an nginx.conf on stdout; what nginx OSS cannot express is\n"
    "  a comment where it applies, a table on top, and a line each on stderr.\n"
    "  --strict            exit 1 when anything did not carry over\n"
    "  --nginx-version V   the nginx it is for (default 1.22, Debian 12's)\n";

int usage_error(const std::string& problem) {
  std::cerr << "veer export: " << problem << "\n" << kUsage;
  return kUsageError;
}

struct Arguments {
  std::vector<std::string> words;  // "nginx" FILE
  bool strict = false;
  std::string version = "1.22";
  bool help = false;
};

std::optional<Arguments> parse(int argc, char** argv, std::string* problem) {
  Arguments args;
  po::options_description options;
  options.add_options()("strict", po::bool_switch(&args.strict))(
      "nginx-version", po::value<std::string>(&args.version))(
      "help,h", po::bool_switch(&args.help))("words",
                                             po::value<std::vector<std::string>>(&args.words));
  po::positional_options_description words;
  words.add("words", -1);
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  try {
    po::variables_map map;
    po::store(
        po::command_line_parser(argc, argv).options(options).positional(words).style(style).run(),
        map);
    po::notify(map);
  } catch (const po::error& e) {
    *problem = e.what();
    return std::nullopt;
  }
  return args;
}

}  // namespace

int run_export(int argc, char** argv) {
  std::string problem;
  const std::optional<Arguments> args = parse(argc, argv, &problem);
  if (!args) return usage_error(problem);
  if (args->help) {
    std::cout << kUsage;
    return 0;
  }
  if (args->words.empty() || args->words[0] != "nginx")
    return usage_error("the only format is nginx (veer export nginx FILE)");
  if (args->words.size() != 2)
    return usage_error(args->words.size() < 2 ? "missing FILE" : "one FILE only");
  const std::optional<NginxVersion> version = parse_nginx_version(args->version);
  if (!version)
    return usage_error("--nginx-version \"" + args->version +
                       "\": expected a version from 1.14 on, such as 1.22 or 1.25.3");
  const std::string& path = args->words[1];
  const conf::LoadResult loaded = conf::load_config_file(path);
  for (const auto& e : loaded.errors)
    std::cerr << e.to_string() << "\n";
  if (!loaded.ok()) return 1;
  NginxExportOptions options;
  options.version = *version;
  options.certificate_names = certificate_file_names;
  const NginxExport exported = export_nginx(*loaded.config, options);
  std::cout << exported.text;
  for (const NginxExportGap& gap : exported.gaps)
    std::cerr << path << ": not exported: " << gap.where << ": " << gap.what << "\n";
  if (!exported.gaps.empty())
    std::cerr << path << ": " << exported.gaps.size() << " gap"
              << (exported.gaps.size() == 1 ? "" : "s") << " (nginx OSS cannot express them)\n";
  return args->strict && !exported.gaps.empty() ? 1 : 0;
}

}  // namespace veer::admin
