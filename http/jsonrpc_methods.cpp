#include "http/jsonrpc_methods.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <string>

#include "core/hex.hpp"
#include "core/keccak.hpp"

namespace veer::http::jsonrpc {
namespace {

// One row of the table as written below; the index is its position once sorted.
struct Row {
  std::string_view name;
  Retry retry = Retry::read;
  std::int8_t block_param = -1;
  Filter filter = Filter::none;
  bool logs_range = false;
  bool archive = false;
};

constexpr Row read(std::string_view name, std::int8_t block_param = -1) {
  return Row{name, Retry::read, block_param};
}
constexpr Row archive(std::string_view name, std::int8_t block_param = -1) {
  return Row{name, Retry::read, block_param, Filter::none, false, true};
}
constexpr Row never(std::string_view name, Filter filter = Filter::none) {
  return Row{name, Retry::never, -1, filter};
}

// Sorted by name (checked below): method_info() is a binary search, run per call.
// eth_accounts, eth_sign*, personal_*, admin_*, miner_* are deliberately absent: they
// are "other" (never retried), and the route's deny list refuses them by default.
constexpr Row kRows[] = {
    archive("debug_getRawBlock", 0),
    archive("debug_getRawHeader", 0),
    archive("debug_getRawReceipts", 0),
    archive("debug_getRawTransaction"),
    archive("debug_storageRangeAt"),
    archive("debug_traceBlockByHash"),
    archive("debug_traceBlockByNumber", 0),
    archive("debug_traceCall", 1),
    archive("debug_traceTransaction"),
    read("eth_blobBaseFee"),
    read("eth_blockNumber"),
    read("eth_call", 1),
    read("eth_chainId"),
    read("eth_createAccessList", 1),
    read("eth_estimateGas", 1),
    read("eth_feeHistory", 1),
    read("eth_gasPrice"),
    read("eth_getBalance", 1),
    read("eth_getBlockByHash"),
    read("eth_getBlockByNumber", 0),
    read("eth_getBlockReceipts", 0),
    read("eth_getBlockTransactionCountByHash"),
    read("eth_getBlockTransactionCountByNumber", 0),
    read("eth_getCode", 1),
    never("eth_getFilterChanges", Filter::uses),
    never("eth_getFilterLogs", Filter::uses),
    Row{"eth_getLogs", Retry::read, -1, Filter::none, true, false},
    read("eth_getProof", 2),
    read("eth_getStorageAt", 2),
    read("eth_getTransactionByBlockHashAndIndex"),
    read("eth_getTransactionByBlockNumberAndIndex", 0),
    read("eth_getTransactionByHash"),
    read("eth_getTransactionCount", 1),
    read("eth_getTransactionReceipt"),
    read("eth_getUncleByBlockHashAndIndex"),
    read("eth_getUncleByBlockNumberAndIndex", 0),
    read("eth_getUncleCountByBlockHash"),
    read("eth_getUncleCountByBlockNumber", 0),
    read("eth_maxPriorityFeePerGas"),
    never("eth_newBlockFilter", Filter::creates),
    never("eth_newFilter", Filter::creates),
    never("eth_newPendingTransactionFilter", Filter::creates),
    read("eth_protocolVersion"),
    Row{"eth_sendRawTransaction", Retry::send_raw},
    never("eth_sendTransaction"),
    never("eth_subscribe"),
    read("eth_syncing"),
    never("eth_uninstallFilter", Filter::uses),
    never("eth_unsubscribe"),
    read("net_listening"),
    read("net_peerCount"),
    read("net_version"),
    archive("trace_block", 0),
    archive("trace_call", 2),
    archive("trace_callMany", 1),
    archive("trace_filter"),
    archive("trace_get"),
    archive("trace_rawTransaction"),
    archive("trace_replayBlockTransactions", 0),
    archive("trace_replayTransaction"),
    archive("trace_transaction"),
    read("web3_clientVersion"),
    read("web3_sha3"),
};
constexpr std::size_t kKnown = std::size(kRows);

constexpr bool sorted_and_unique() {
  for (std::size_t i = 1; i < kKnown; ++i) {
    if (!(kRows[i - 1].name < kRows[i].name)) return false;
  }
  return true;
}
static_assert(sorted_and_unique(), "kRows must stay sorted for the binary search");

constexpr std::array<MethodInfo, kKnown + 1> build_table() {
  std::array<MethodInfo, kKnown + 1> table{};
  for (std::size_t i = 0; i < kKnown; ++i) {
    const Row& r = kRows[i];
    table[i] = MethodInfo{
        r.name,   static_cast<std::uint16_t>(i), r.retry, r.block_param, r.filter, r.logs_range,
        r.archive};
  }
  table[kKnown] = MethodInfo{
      "other", static_cast<std::uint16_t>(kKnown), Retry::never, -1, Filter::none, false, false};
  return table;
}
constexpr std::array<MethodInfo, kKnown + 1> kTable = build_table();

// ASCII case-insensitive substring search (error messages vary in case between nodes).
bool contains_nocase(std::string_view haystack, std::string_view needle) {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t k = 0;
    while (k < needle.size() && lower(haystack[i + k]) == needle[k])
      ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

template <std::size_t N>
bool contains_any(std::string_view message, const std::string_view (&needles)[N]) {
  return std::any_of(std::begin(needles), std::end(needles),
                     [&](std::string_view n) { return contains_nocase(message, n); });
}

// The caller's fault whatever the code: a revert's reason is the contract's text, so
// these are looked for before the server-side words ("execution reverted: timeout").
constexpr std::string_view kClientMessages[] = {
    "revert",         "nonce too low",
    "nonce too high", "insufficient funds",
    "already known",  "replacement transaction underpriced",
    "intrinsic gas",  "gas too low",
};
// The node's trouble: it lacks the state or gave up (lowercase: matched without case).
constexpr std::string_view kServerMessages[] = {
    "header not found", "missing trie node", "unknown block", "timeout", "timed out", "internal",
};
// Of those, the node lacking the block's state: whose fault depends on the block asked.
constexpr std::string_view kMissingStateMessages[] = {
    "header not found",
    "missing trie node",
    "unknown block",
};

}  // namespace

std::size_t known_method_count() {
  return kTable.size();
}

const MethodInfo& method_by_index(std::size_t index) {
  return kTable[std::min(index, kKnown)];
}

const MethodInfo& method_info(std::string_view method) {
  const auto begin = kTable.begin(), end = kTable.begin() + kKnown;
  const auto it = std::lower_bound(
      begin, end, method, [](const MethodInfo& m, std::string_view name) { return m.name < name; });
  if (it != end && it->name == method) return *it;
  return kTable[kKnown];
}

ErrorClass classify(const Reply& reply) {
  if (!reply.has_error) return ErrorClass::ok;
  switch (reply.error_code) {
    case kInternalError:
    case kLimitExceeded:  // the node rate-limiting veer
      return ErrorClass::server_error;
    case kInvalidRequest:
    case kMethodNotFound:
    case kInvalidParams:
    case 3:  // geth's revert with data
      return ErrorClass::client_error;
    default:
      break;
  }
  const std::string_view message = reply.error_message;
  if (contains_any(message, kClientMessages)) return ErrorClass::client_error;
  if (contains_any(message, kServerMessages)) return ErrorClass::server_error;
  return ErrorClass::client_error;
}

ErrorClass classify(const Reply& reply, const AskedBlock& asked) {
  const ErrorClass base = classify(reply);
  if (base != ErrorClass::server_error || reply.error_code == kInternalError ||
      reply.error_code == kLimitExceeded ||
      !contains_any(reply.error_message, kMissingStateMessages))
    return base;
  if (!asked.block) return base;
  switch (asked.block->kind) {
    case BlockRef::Kind::number:
    case BlockRef::Kind::earliest: {
      const std::uint64_t number =
          asked.block->kind == BlockRef::Kind::number ? asked.block->number : 0;
      return asked.backend_head != 0 && number <= asked.backend_head ? base
                                                                     : ErrorClass::client_error;
    }
    case BlockRef::Kind::hash:
      return ErrorClass::client_error;
    default:  // latest, pending, safe, finalized: the node should have them
      return base;
  }
}

namespace {

// A JSON number's value; nullopt when `raw` is not one.
std::optional<double> number_value(std::string_view raw) {
  if (raw.empty() || (raw.front() != '-' && (raw.front() < '0' || raw.front() > '9')))
    return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
  if (ec != std::errc{} || end != raw.data() + raw.size()) return std::nullopt;
  return value;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::optional<std::uint32_t> hex4(std::string_view s, std::size_t at) {
  if (at + 4 > s.size()) return std::nullopt;
  std::uint32_t v = 0;
  for (std::size_t i = at; i < at + 4; ++i) {
    const int d = core::hex_value(s[i]);
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<std::uint32_t>(d);
  }
  return v;
}

// A JSON string's decoded UTF-8 into `out`; false when `raw` is not a valid string.
bool string_value(std::string_view raw, std::string& out) {
  out.clear();
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return false;
  const std::string_view s = raw.substr(1, raw.size() - 2);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i >= s.size()) return false;
    switch (s[i]) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'u': {
        auto cp = hex4(s, i + 1);
        if (!cp) return false;
        i += 4;
        if (*cp >= 0xD800 && *cp < 0xDC00 && i + 2 < s.size() && s[i + 1] == '\\' &&
            s[i + 2] == 'u') {
          const auto low = hex4(s, i + 3);
          if (low && *low >= 0xDC00 && *low < 0xE000) {
            cp = 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00);
            i += 6;
          }
        }
        append_utf8(out, *cp);
        break;
      }
      default:
        out.push_back(s[i]);
        break;  // \" \\ \/
    }
  }
  return true;
}

}  // namespace

bool same_id(std::string_view call_id, std::string_view reply_id) {
  if (call_id == reply_id) return true;
  if (const auto a = number_value(call_id)) {
    const auto b = number_value(reply_id);
    return b && *a == *b;
  }
  // Per worker thread and reused: only ids written differently get here.
  thread_local std::string a, b;
  return string_value(call_id, a) && string_value(reply_id, b) && a == b;
}

bool already_delivered(const Reply& reply) {
  static constexpr std::string_view kDelivered[] = {"already known", "known transaction",
                                                    "nonce too low"};
  return reply.has_error && contains_any(reply.error_message, kDelivered);
}

bool append_transaction_hash(core::Buffer& out, std::string_view raw_param) {
  if (raw_param.size() < 4 || raw_param.front() != '"' || raw_param.back() != '"') return false;
  const std::string_view hex = raw_param.substr(1, raw_param.size() - 2);
  if (hex[0] != '0' || (hex[1] != 'x' && hex[1] != 'X') || hex.size() % 2 != 0 || hex.size() == 2)
    return false;
  // Per worker thread and reused: a raw transaction is decoded only on a retried send.
  thread_local std::string bytes;
  bytes.clear();
  for (std::size_t i = 2; i < hex.size(); i += 2) {
    const int high = core::hex_value(hex[i]), low = core::hex_value(hex[i + 1]);
    if (high < 0 || low < 0) return false;
    bytes.push_back(static_cast<char>(high * 16 + low));
  }
  const std::array<std::uint8_t, 32> digest = core::keccak256(bytes);
  char text[2 + 2 + 64 + 1] = {'"', '0', 'x'};
  std::size_t n = 3;
  for (const std::uint8_t b : digest) {
    text[n++] = core::kHexDigits[b >> 4];
    text[n++] = core::kHexDigits[b & 0xF];
  }
  text[n++] = '"';
  out.append(std::string_view(text, n));
  return true;
}

}  // namespace veer::http::jsonrpc
