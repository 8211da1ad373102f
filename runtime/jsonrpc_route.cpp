#include "runtime/jsonrpc_route.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

#include "core/hash.hpp"
#include "runtime/snapshot.hpp"

namespace veer::runtime {

namespace jsonrpc = http::jsonrpc;

namespace {

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

}  // namespace

std::uint64_t JsonRpcRouteState::serve(std::uint64_t head, std::uint64_t known_head) {
  std::uint64_t served = served_head.load(std::memory_order_acquire);
  const std::uint64_t raise_to =
      known_head != 0 ? std::min(head, saturating_add(known_head, kHeadSlack)) : head;
  for (;;) {
    std::uint64_t next = served;
    if (known_head != 0 && served > saturating_add(known_head, kResetDistance)) next = known_head;
    next = std::max(next, raise_to);
    // A thread that loses the race retries against the winner's value.
    if (next == served || served_head.compare_exchange_weak(served, next, std::memory_order_acq_rel,
                                                            std::memory_order_acquire)) {
      served = next;
      break;
    }
  }
  return std::max(served, head);
}

std::uint64_t JsonRpcRouteState::pinned_head(std::uint64_t known_head) const {
  const std::uint64_t served = served_head.load(std::memory_order_relaxed);
  if (known_head != 0 && served > saturating_add(known_head, kResetDistance)) return known_head;
  return served;
}

std::uint64_t known_head(const Snapshot& snapshot, const RpcTarget& target) {
  const auto of = [&](std::uint32_t pool) {
    const PoolRuntime& runtime = snapshot.pools[pool];
    return runtime.stats ? runtime.stats->head_block.load(std::memory_order_relaxed) : 0;
  };
  if (target.split == kNoSplit) return of(target.pool);
  std::uint64_t highest = 0;
  for (const std::uint32_t pool : snapshot.splits[target.split].pools)
    highest = std::max(highest, of(pool));
  return highest;
}

std::uint32_t filter_backend_tag(std::string_view backend_address) {
  return static_cast<std::uint32_t>(core::hash_bytes(backend_address));
}

namespace {

constexpr std::size_t kTagDigits = 8;
// Filter ids veer tags or untags: "0x" + at most this many hex digits (geth: 32).
constexpr std::size_t kMaxFilterDigits = 120;

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The hex digits of a quoted "0x..." string (raw JSON), or nullopt.
std::optional<std::string_view> hex_string_digits(std::string_view raw) {
  if (raw.size() < 4 || raw.front() != '"' || raw.back() != '"') return std::nullopt;
  if (raw[1] != '0' || (raw[2] != 'x' && raw[2] != 'X')) return std::nullopt;
  const std::string_view digits = raw.substr(3, raw.size() - 4);
  if (digits.empty() || digits.size() > kMaxFilterDigits) return std::nullopt;
  if (!std::all_of(digits.begin(), digits.end(), is_hex)) return std::nullopt;
  return digits;
}

// A short JSON string built on the stack: call texts never hold it across calls.
struct SmallText {
  std::array<char, kMaxFilterDigits + kTagDigits + 8> bytes{};
  std::size_t size = 0;
  void append(std::string_view s) {
    std::copy(s.begin(), s.end(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
    size += s.size();
  }
  void append_hex(std::uint64_t value, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) {
      bytes[size + width - 1 - i] = "0123456789abcdef"[value & 0xf];
      value >>= 4;
    }
    size += width;
  }
  std::string_view view() const { return {bytes.data(), size}; }
};

bool any_glob(const std::vector<std::string>& globs, std::string_view name) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& glob) { return jsonrpc::glob_match(glob, name); });
}

bool allowed(const conf::JsonRpcRouteConfig& config, std::string_view method) {
  if (!config.allow.empty() && !any_glob(config.allow, method)) return false;
  return !any_glob(config.deny, method);
}

void answer_error(const jsonrpc::Call& call, int code, std::string_view message,
                  std::string_view data, CallPlan& out) {
  out.kind = call.notification ? CallPlan::Kind::none : CallPlan::Kind::error;
  out.code = code;
  out.message = message;
  out.data = data;
}

// The block "latest" means for this request: the request's pinned head, else the
// highest any backend of the target reported; 0 = not known.
std::uint64_t latest_of(std::uint64_t head, std::uint64_t highest_known_head) {
  return head != 0 ? head : highest_known_head;
}

// A bound of eth_getLogs (fromBlock/toBlock, absent = latest) as a block number;
// nullopt when it cannot be known here (a hash, a malformed value, an unknown head).
std::optional<std::uint64_t> logs_bound(std::string_view filter, std::string_view name,
                                        std::uint64_t latest) {
  const auto raw = jsonrpc::member(filter, name);
  if (!raw || *raw == "null") return latest != 0 ? std::optional(latest) : std::nullopt;
  const auto ref = jsonrpc::parse_block_ref(*raw);
  if (!ref) return std::nullopt;
  switch (ref->kind) {
    case jsonrpc::BlockRef::Kind::number:
      return ref->number;
    case jsonrpc::BlockRef::Kind::earliest:
      return 0;
    case jsonrpc::BlockRef::Kind::hash:
      return std::nullopt;
    default:  // latest, pending, safe, finalized: at most the head
      return latest != 0 ? std::optional(latest) : std::nullopt;
  }
}

// The blocks an eth_getLogs call spans, when more than the route allows; nullopt
// when within the cap or not known (blockHash, a tag without a known head).
std::optional<std::uint64_t> logs_range_over(const conf::JsonRpcRouteConfig& config,
                                             const jsonrpc::Call& call, std::uint64_t latest) {
  const auto filter = jsonrpc::param(call.params, 0);
  if (!filter || jsonrpc::member(*filter, "blockHash")) return std::nullopt;
  const auto from = logs_bound(*filter, "fromBlock", latest);
  const auto to = logs_bound(*filter, "toBlock", latest);
  if (!from || !to || *to < *from) return std::nullopt;
  const std::uint64_t span = *to - *from + 1;  // to - from < 2^64 - 1: no wrap but at 2^64
  if (span == 0 || span > config.max_logs_block_range) {
    return span == 0 ? std::numeric_limits<std::uint64_t>::max() : span;
  }
  return std::nullopt;
}

// "block range too large: N blocks, the limit is M" and {"limit":M}, into `text`.
void answer_range_too_large(const conf::JsonRpcRouteConfig& config, const jsonrpc::Call& call,
                            std::uint64_t span, core::Buffer& text, CallPlan& out) {
  const std::size_t message_at = text.size();
  text.append("block range too large: ");
  core::append_decimal(text, span);
  text.append(" blocks, the limit is ");
  core::append_decimal(text, config.max_logs_block_range);
  const std::size_t data_at = text.size();
  text.append("{\"limit\":");
  core::append_decimal(text, config.max_logs_block_range);
  text.append('}');
  const std::string_view all = text.readable();
  answer_error(call, jsonrpc::kLimitExceeded, all.substr(message_at, data_at - message_at),
               all.substr(data_at), out);
}

void answer_denied(const jsonrpc::Call& call, core::Buffer& text, CallPlan& out) {
  constexpr std::string_view kPrefix = "method not allowed: ";
  const std::size_t at = text.size();
  text.append(kPrefix);
  text.append(call.method);
  answer_error(call, jsonrpc::kMethodNotFound, text.readable().substr(at), {}, out);
}

// The first method route matching `method` (config order), or null.
const MethodRouteRuntime* matching_method_route(const JsonRpcRouteRuntime& route,
                                                std::string_view method) {
  for (const MethodRouteRuntime& method_route : route.method_routes) {
    if (any_glob(method_route.match, method)) return &method_route;
  }
  return nullptr;
}

// Whether the call's block argument makes it an archive call: "earliest", or a number
// more than recent_blocks below the highest head known.
bool old_block(const conf::JsonRpcRouteConfig& config, const std::optional<jsonrpc::BlockRef>& ref,
               std::uint64_t highest_known_head) {
  if (!ref) return false;
  if (ref->kind == jsonrpc::BlockRef::Kind::earliest) return true;
  return ref->kind == jsonrpc::BlockRef::Kind::number &&
         highest_known_head > config.recent_blocks &&
         ref->number < highest_known_head - config.recent_blocks;
}

// A filter call's id without veer's tag: sets the sticky tag and the rewritten call.
void untag_filter_call(const jsonrpc::Call& call, core::Buffer& text, CallPlan& out) {
  const auto id = jsonrpc::param(call.params, 0);
  if (!id) return;
  const auto digits = hex_string_digits(*id);
  // Tag digits plus at least one of the node's: anything else is not veer's, and goes
  // as it is to any backend (which answers "filter not found").
  if (!digits || digits->size() <= kTagDigits) return;
  std::uint32_t tag = 0;
  std::from_chars(digits->data(), digits->data() + kTagDigits, tag, 16);
  SmallText node_id;
  node_id.append("\"0x");
  node_id.append(digits->substr(kTagDigits));
  node_id.append("\"");
  out.sticky_backend_tag = tag;
  out.rewritten_offset = text.size();
  jsonrpc::append_with_param(text, call, 0, node_id.view());
  out.rewritten_length = text.size() - out.rewritten_offset;
}

// pin_latest and reads_latest for a method with a block argument.
void plan_block_argument(const conf::JsonRpcRouteConfig& config, const jsonrpc::Call& call,
                         std::size_t index, const std::optional<std::string_view>& raw,
                         const std::optional<jsonrpc::BlockRef>& ref, std::uint64_t head,
                         core::Buffer& text, CallPlan& out) {
  // Absent: params stops right before the block argument (it defaults to latest).
  const bool absent = !raw && jsonrpc::param(call.params, index == 0 ? 0 : index - 1).has_value();
  const bool latest =
      (ref && ref->kind == jsonrpc::BlockRef::Kind::latest) || (!raw && (index == 0 || absent));
  if (!latest) return;
  out.reads_latest = true;
  if (!config.pin_latest || head == 0) return;
  SmallText quantity;
  quantity.append("\"0x");
  char digits[16];
  const auto end = std::to_chars(digits, digits + sizeof digits, head, 16).ptr;
  quantity.append(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  quantity.append("\"");
  out.rewritten_offset = text.size();
  jsonrpc::append_with_param(text, call, index, quantity.view());
  out.rewritten_length = text.size() - out.rewritten_offset;
}

}  // namespace

void plan_call(const Snapshot& /*snapshot*/, const JsonRpcRouteRuntime& route,
               const jsonrpc::Call& call, std::uint64_t head, std::uint64_t highest_known_head,
               core::Buffer& text, CallPlan& out) {
  out = CallPlan{};
  out.method = &jsonrpc::method_info(call.method);
  const conf::JsonRpcRouteConfig& config = *route.config;
  if (call.method == "eth_accounts" && config.local_accounts) {
    out.kind = call.notification ? CallPlan::Kind::none : CallPlan::Kind::result;
    out.result = "[]";
    return;
  }
  if (!allowed(config, call.method)) return answer_denied(call, text, out);
  const jsonrpc::MethodInfo& method = *out.method;
  if (method.logs_range) {
    const auto span = logs_range_over(config, call, latest_of(head, highest_known_head));
    if (span) return answer_range_too_large(config, call, *span, text, out);
  }
  const MethodRouteRuntime* method_route = matching_method_route(route, call.method);
  out.target = method_route != nullptr ? method_route->target : route.target;
  if (method.filter == jsonrpc::Filter::uses) return untag_filter_call(call, text, out);
  if (method.name == "eth_blockNumber") out.reads_latest = true;
  std::optional<std::string_view> raw;
  std::optional<jsonrpc::BlockRef> ref;
  if (method.block_param >= 0) {
    raw = jsonrpc::param(call.params, static_cast<std::size_t>(method.block_param));
    if (raw) ref = jsonrpc::parse_block_ref(*raw);
  }
  out.block = ref;
  // A method route is the operator's explicit choice: archive routing does not override it.
  if (method_route == nullptr && route.archive &&
      (method.archive || old_block(config, ref, highest_known_head))) {
    out.target = *route.archive;
  }
  if (method.block_param >= 0) {
    plan_block_argument(config, call, static_cast<std::size_t>(method.block_param), raw, ref, head,
                        text, out);
  }
}

namespace {

// Replaces `out`'s tail from `at` by a result reply carrying it: the writers of
// jsonrpc.hpp append to a Buffer, and the envelope needs their text as a view.
bool result_from_tail(core::Buffer& out, std::size_t at, std::string_view id) {
  SmallText result;
  const std::string_view tail = out.readable().substr(at);
  if (tail.size() > result.bytes.size()) {
    out.truncate(at);
    return false;
  }
  result.append(tail);
  out.truncate(at);
  jsonrpc::append_result(out, id, result.view());
  return true;
}

bool fix_block_number(const ReplyContext& context, const jsonrpc::Reply& reply, core::Buffer& out) {
  if (reply.has_error) return false;
  // A quoted quantity is exactly a block reference of kind number.
  const auto reported = jsonrpc::parse_block_ref(reply.result);
  if (!reported || reported->kind != jsonrpc::BlockRef::Kind::number || reply.result.front() != '"')
    return false;
  const std::uint64_t served = context.route->state->serve(reported->number, context.known_head);
  if (served <= reported->number) return false;
  const std::size_t at = out.size();
  jsonrpc::append_quantity(out, served);
  return result_from_tail(out, at, reply.id);
}

bool fix_send_raw(const ReplyContext& context, const jsonrpc::Reply& reply, core::Buffer& out) {
  if (!context.retried || !reply.has_error || !jsonrpc::already_delivered(reply)) return false;
  const auto raw = jsonrpc::param(context.call->params, 0);
  if (!raw) return false;
  const std::size_t at = out.size();
  if (!jsonrpc::append_transaction_hash(out, *raw)) {
    out.truncate(at);
    return false;
  }
  return result_from_tail(out, at, reply.id);
}

bool tag_new_filter(const ReplyContext& context, const jsonrpc::Reply& reply, core::Buffer& out) {
  if (reply.has_error) return false;
  const auto digits = hex_string_digits(reply.result);
  if (!digits) return false;
  SmallText tagged;
  tagged.append("\"0x");
  tagged.append_hex(filter_backend_tag(context.backend_address), kTagDigits);
  tagged.append(*digits);
  tagged.append("\"");
  jsonrpc::append_result(out, reply.id, tagged.view());
  return true;
}

}  // namespace

bool fix_reply(const ReplyContext& context, const jsonrpc::Reply& reply, core::Buffer& out) {
  const jsonrpc::MethodInfo& method = *context.plan->method;
  if (method.name == "eth_blockNumber") return fix_block_number(context, reply, out);
  if (method.retry == jsonrpc::Retry::send_raw) return fix_send_raw(context, reply, out);
  if (method.filter == jsonrpc::Filter::creates) return tag_new_filter(context, reply, out);
  return false;
}

std::uint64_t call_cost(const PolicyRuntime& policy, std::string_view method) {
  if (policy.config == nullptr) return 1;
  for (const auto& [glob, cost] : policy.config->method_costs) {
    if (jsonrpc::glob_match(glob, method)) return cost;
  }
  return 1;
}

limits::Gcra gcra_for_cost(const limits::Gcra& gcra, std::uint64_t cost) {
  if (cost <= 1) return gcra;
  // In token-bucket terms (limits/gcra.hpp): capacity burst + 1, one token per T, and a
  // call of cost n needs n tokens and takes them. gcra_step allows while ahead <= tau
  // and then adds its interval, so: interval n*T, and the tolerances lowered by
  // (n - 1)*T ("n tokens left" is "ahead <= tau - (n - 1) T"). A cost above the whole
  // bucket would then never pass: its tolerance stays at 0, so a full bucket lets one
  // such call through and the key owes the rest (the next calls wait it out).
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  const std::int64_t interval = gcra.interval > 0 ? gcra.interval : 1;
  const auto scaled = [&](std::uint64_t n) {
    return n > static_cast<std::uint64_t>(kMax / interval)
               ? kMax
               : static_cast<std::int64_t>(n) * interval;
  };
  const std::int64_t extra = scaled(cost - 1);
  limits::Gcra out;
  out.interval = scaled(cost);
  out.burst_tolerance = std::max<std::int64_t>(gcra.burst_tolerance - extra, 0);
  out.delay_tolerance = std::max<std::int64_t>(gcra.delay_tolerance - extra, out.burst_tolerance);
  return out;
}

}  // namespace veer::runtime
