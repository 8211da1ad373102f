// Splits as split_clients on the sticky key, with percentages equal to veer's bucket
// ranges (strategies/split_buckets.hpp), and the override header and cookie as maps.

#include <cstdio>

#include "admin/nginx_export_detail.hpp"
#include "strategies/split_buckets.hpp"

namespace veer::admin::nginx {
namespace {

// "90.00%": a range of the 10,000 buckets as nginx's percentage (two decimals, exact).
std::string percent(std::uint32_t buckets) {
  char text[16];
  std::snprintf(text, sizeof text, "%u.%02u%%", buckets / 100, buckets % 100);
  return text;
}

// split_clients "$key" $bucket { ... }: each target's bucket range in target order.
std::string write_split_clients(Context& ctx, const conf::SplitConfig& split,
                                const std::string& where, Writer& out) {
  std::string key = "$request_id";  // sticky = "none": a fresh draw per request
  if (split.sticky != "none") {
    key = ctx.key_variable(split.sticky, where, out);
    if (key.empty()) key = "$remote_addr";
  }
  std::vector<std::uint64_t> weights;
  for (const conf::SplitTargetConfig& t : split.targets)
    weights.push_back(t.weight);
  const std::vector<std::uint32_t> ends = strategies::split_bucket_ends(weights);
  std::size_t last = 0;  // the last target with buckets: nginx's "*"
  for (std::size_t i = 0; i < ends.size(); ++i) {
    if (ends[i] > (i == 0 ? 0 : ends[i - 1])) last = i;
  }
  const std::string variable = ctx.new_variable("veer_split_" + split.name + "_bucket");
  ctx.maps.comment("Split " + split.name + ": veer's " + std::to_string(strategies::kSplitBuckets) +
                   " buckets in target order (pool names sorted), key " +
                   (split.sticky == "none" ? std::string("none (per request)") : split.sticky) +
                   ".");
  ctx.maps.open("split_clients " + quote(key) + " " + variable);
  for (std::size_t i = 0; i < ends.size(); ++i) {
    const std::uint32_t begin = i == 0 ? 0 : ends[i - 1];
    if (ends[i] == begin) continue;  // weight 0 (or too small for one bucket)
    ctx.maps.directive((i == last ? std::string("*") : percent(ends[i] - begin)) + " " +
                       split.targets[i].pool);
  }
  ctx.maps.close();
  return variable;
}

// map SOURCE $result { "" empty; "~^pool$" pool; ... default fallback; }
std::string write_override_map(Context& ctx, const conf::SplitConfig& split,
                               const std::string& source, const std::string& empty,
                               const std::string& fallback, std::string_view what) {
  const std::string variable =
      ctx.new_variable("veer_split_" + split.name + "_" + std::string(what));
  ctx.maps.open("map " + source + " " + variable);
  if (!empty.empty()) ctx.maps.directive("\"\" " + empty);
  // Regexes: veer compares pool names case-sensitively, map strings do not.
  for (const conf::SplitTargetConfig& t : split.targets)
    ctx.maps.directive(quoted("~^" + regex_escape(t.pool) + "$") + " " + t.pool);
  ctx.maps.directive("default " + fallback);
  ctx.maps.close();
  return variable;
}

}  // namespace

std::string split_pool_variable(Context& ctx, const conf::SplitConfig& split, Writer& out) {
  if (const auto found = ctx.made.find("split:" + split.name); found != ctx.made.end())
    return found->second;
  const std::string where = "split " + split.name;
  const std::string bucket = write_split_clients(ctx, split, where, out);
  std::string result = bucket;
  if (!split.override_cookie.empty()) {
    ctx.maps.comment("Override cookie " + split.override_cookie + ": a target's name picks it.");
    result = write_override_map(ctx, split, ctx.cookie_variable(split.override_cookie), "", bucket,
                                "by_cookie");
  }
  if (!split.override_header.empty()) {
    const std::string header = ctx.header_variable(split.override_header, where, out);
    if (!header.empty()) {
      ctx.maps.comment("Override header " + split.override_header +
                       ": a target's name picks it; absent, the cookie (if any) decides.");
      result = write_override_map(ctx, split, header, result, bucket, "pool");
    }
  }
  ctx.maps.blank();
  ctx.made["split:" + split.name] = result;
  return result;
}

}  // namespace veer::admin::nginx
