#include "http/jsonrpc.hpp"

#include <charconv>

#include "core/hex.hpp"
#include "core/json_escape.hpp"
#include "http/json_scanner.hpp"

namespace veer::http::jsonrpc {
namespace {

static_assert(kMaxDepth == JsonScanner::kMaxDepth);

constexpr std::string_view kNull = "null";

// JSON-RPC 2.0 section 4: an id is a string, a number or null.
bool usable_id(std::string_view raw) {
  const char first = raw.front();
  return first == '"' || first == '-' || is_digit(first) || raw == kNull;
}

// A method name veer can use as it is: a plain string of printable ASCII, no escapes
// (every real method is [A-Za-z0-9_]).
bool plain_method(std::string_view raw, std::string_view* name) {
  if (raw.size() < 2 || raw.front() != '"') return false;
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  for (const char c : inner) {
    if (c < 0x21 || c > 0x7E || c == '\\') return false;
  }
  *name = inner;
  return !inner.empty();
}

// The members of one request object, as they are scanned.
struct CallMembers {
  Call* call;
  unsigned version = 0, method = 0, params = 0, id = 0;  // times seen
  bool bad = false;

  bool operator()(std::string_view key, std::string_view value) {
    if (JsonScanner::decodes_to(key, "jsonrpc")) {
      ++version;
      bad |= value.front() != '"' ||
             !JsonScanner::decodes_to(value.substr(1, value.size() - 2), "2.0");
    } else if (JsonScanner::decodes_to(key, "method")) {
      ++method;
      bad |= !plain_method(value, &call->method);
    } else if (JsonScanner::decodes_to(key, "params")) {
      ++params;
      bad |= value.front() != '[' && value.front() != '{';
      call->params = value;
    } else if (JsonScanner::decodes_to(key, "id")) {
      ++id;
      call->id = value;
      bad |= !usable_id(value);
    }
    return true;
  }

  void finish() {
    const bool duplicate = version > 1 || method > 1 || params > 1 || id > 1;
    if (bad || duplicate || version == 0 || method == 0) call->error = kInvalidRequest;
    if (call->error != 0) {
      call->method = {};
      // An id that is unusable or ambiguous is answered as null (section 5).
      if (id != 1 || !usable_id(call->id)) call->id = kNull;
    }
    call->notification = id == 0 && call->error == 0;
    if (id == 0) call->id = kNull;
  }
};

// One item of a request (a batch's item or the whole single request) at `depth`.
bool scan_call(JsonScanner& scan, unsigned depth, Call& call) {
  call = Call{};
  call.id = kNull;
  const std::size_t start = scan.pos();
  if (!scan.peek('{')) {
    if (!scan.value(depth)) return false;
    call.text = scan.since(start);
    call.error = kInvalidRequest;
    return true;
  }
  CallMembers members{&call};
  if (!scan.object(depth, members)) return false;
  call.text = scan.since(start);
  members.finish();
  return true;
}

// The items of a batch (the scanner just past '['); false when the text is not JSON.
bool scan_batch(JsonScanner& scan, std::size_t max_batch, Request& out, RequestParse& result) {
  std::size_t items = 0;
  Call ignored;
  while (true) {
    scan.skip_ws();
    const bool keep = items <= max_batch;
    if (!scan_call(scan, 2, keep ? out.calls.emplace_back() : ignored)) return false;
    ++items;
    scan.skip_ws();
    if (scan.take(']')) break;
    if (!scan.take(',')) return false;
  }
  result.too_many = items > max_batch;
  return true;
}

// An integer JSON number (an error code); false for fractions, exponents, overflow.
bool parse_integer(std::string_view raw, std::int64_t* value) {
  const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), *value);
  return ec == std::errc{} && end == raw.data() + raw.size();
}

// The members of a response's "error" object.
bool scan_error(std::string_view raw, Reply& reply) {
  if (raw == kNull) return true;  // "error": null beside a result, as some nodes write
  if (raw.front() != '{') return false;
  reply.has_error = true;
  unsigned codes = 0, messages = 0;
  bool bad = false;
  JsonScanner scan(raw);
  scan.object(1, [&](std::string_view key, std::string_view value) {
    if (JsonScanner::decodes_to(key, "code")) {
      ++codes;
      bad |= !parse_integer(value, &reply.error_code);
    } else if (JsonScanner::decodes_to(key, "message")) {
      ++messages;
      if (value.front() == '"') {
        reply.error_message = value.substr(1, value.size() - 2);
      } else {
        bad = true;
      }
    } else if (JsonScanner::decodes_to(key, "data")) {
      reply.error_data = value;
    }
    return true;
  });
  return !bad && codes == 1 && messages <= 1;
}

// One reply object; false when the text is not JSON, `*valid` false when the JSON is
// not a reply.
bool scan_reply(JsonScanner& scan, unsigned depth, Reply& reply, bool* valid) {
  reply = Reply{};
  reply.id = kNull;
  const std::size_t start = scan.pos();
  if (!scan.peek('{')) {
    *valid = false;
    return scan.value(depth);
  }
  unsigned results = 0, errors = 0, ids = 0;
  std::string_view error;
  const bool json = scan.object(depth, [&](std::string_view key, std::string_view value) {
    if (JsonScanner::decodes_to(key, "result")) {
      ++results;
      reply.result = value;
    } else if (JsonScanner::decodes_to(key, "error")) {
      ++errors;
      error = value;
    } else if (JsonScanner::decodes_to(key, "id")) {
      ++ids;
      reply.id = value;
    }
    return true;
  });
  if (!json) return false;
  reply.text = scan.since(start);
  if (errors > 1 || results > 1 || ids > 1 || (errors == 1 && !scan_error(error, reply)) ||
      results + (reply.has_error ? 1 : 0) != 1)
    *valid = false;
  return true;
}

// Views of `raw` without the JSON whitespace around it.
std::string_view trimmed(std::string_view raw) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!raw.empty() && ws(raw.front()))
    raw.remove_prefix(1);
  while (!raw.empty() && ws(raw.back()))
    raw.remove_suffix(1);
  return raw;
}

}  // namespace

RequestParse parse_request(std::string_view body, std::size_t max_batch, Request& out) {
  out.calls.clear();
  out.batch = false;
  out.error = 0;
  RequestParse result;
  JsonScanner scan(body);
  scan.skip_ws();
  bool json = false;
  if (scan.take('[')) {
    out.batch = true;
    scan.skip_ws();
    if (scan.take(']')) {
      out.error = kInvalidRequest;  // an empty batch
      json = true;
    } else {
      json = scan_batch(scan, max_batch, out, result);
    }
  } else if (scan.peek('{')) {
    json = scan_call(scan, 1, out.calls.emplace_back());
  } else {
    json = scan.value(1);
    out.error = kInvalidRequest;
  }
  scan.skip_ws();
  if (!json || !scan.at_end()) {
    out.calls.clear();
    out.batch = false;
    out.error = kParseError;
    result.too_many = false;
  } else if (out.error != 0) {
    out.calls.clear();
    out.batch = false;
  }
  return result;
}

void parse_response(std::string_view body, Response& out) {
  out.replies.clear();
  out.batch = false;
  out.valid = false;
  JsonScanner scan(body);
  scan.skip_ws();
  bool valid = true;
  bool json = false;
  if (scan.take('[')) {
    out.batch = true;
    scan.skip_ws();
    valid = !scan.peek(']');  // an empty array answers nothing
    json = scan.take(']');
    while (!json) {
      scan.skip_ws();
      bool item_valid = true;
      if (!scan_reply(scan, 2, out.replies.emplace_back(), &item_valid)) break;
      valid &= item_valid;
      scan.skip_ws();
      if (scan.take(']')) json = true;
      if (!json && !scan.take(',')) break;
    }
  } else {
    json = scan_reply(scan, 1, out.replies.emplace_back(), &valid);
  }
  scan.skip_ws();
  out.valid = json && valid && scan.at_end();
  if (!out.valid) out.replies.clear();
}

std::optional<std::string_view> param(std::string_view params, std::size_t index) {
  params = trimmed(params);
  if (params.empty() || params.front() != '[') return std::nullopt;
  JsonScanner scan(params);
  std::size_t i = 0;
  std::optional<std::string_view> found;
  scan.array(1, [&](std::string_view item) {
    if (i++ != index) return true;
    found = item;
    return false;  // found: stop here
  });
  return found;
}

std::optional<std::string_view> member(std::string_view object, std::string_view name) {
  object = trimmed(object);
  if (object.empty() || object.front() != '{') return std::nullopt;
  JsonScanner scan(object);
  std::optional<std::string_view> found;
  // The last of duplicate members, as geth's encoding/json reads them.
  const bool json = scan.object(1, [&](std::string_view key, std::string_view value) {
    if (JsonScanner::decodes_to(key, name)) found = value;
    return true;
  });
  if (!json) return std::nullopt;
  return found;
}

std::optional<std::uint64_t> parse_quantity(std::string_view raw) {
  if (raw.size() < 5 || raw.front() != '"' || raw.back() != '"') return std::nullopt;
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  if (inner[0] != '0' || (inner[1] != 'x' && inner[1] != 'X')) return std::nullopt;
  const std::string_view digits = inner.substr(2);
  if (digits.size() > 16 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : digits) {
    const int digit = core::hex_value(c);
    if (digit < 0) return std::nullopt;
    value = value * 16 + static_cast<std::uint64_t>(digit);
  }
  return value;
}

void append_quantity(core::Buffer& out, std::uint64_t value) {
  char text[20] = {'"', '0', 'x'};
  std::size_t n = 3;
  int shift = 60;
  while (shift > 0 && ((value >> shift) & 0xF) == 0)
    shift -= 4;
  for (; shift >= 0; shift -= 4)
    text[n++] = core::kHexDigits[(value >> shift) & 0xF];
  text[n++] = '"';
  out.append(std::string_view(text, n));
}

std::optional<BlockRef> parse_block_ref(std::string_view raw) {
  raw = trimmed(raw);
  if (raw.empty()) return std::nullopt;
  if (raw.front() == '{') {
    const auto number = member(raw, "blockNumber");
    const auto hash = member(raw, "blockHash");
    if (number.has_value() == hash.has_value()) return std::nullopt;
    const auto ref = parse_block_ref(number ? *number : *hash);
    // {"blockHash": a hash} or {"blockNumber": a number or a tag}, not crossed.
    if (ref && (ref->kind == BlockRef::Kind::hash) != hash.has_value()) return std::nullopt;
    return ref;
  }
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return std::nullopt;
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  using Kind = BlockRef::Kind;
  static constexpr std::pair<std::string_view, Kind> kTags[] = {
      {"latest", Kind::latest}, {"pending", Kind::pending},     {"earliest", Kind::earliest},
      {"safe", Kind::safe},     {"finalized", Kind::finalized},
  };
  for (const auto& [tag, kind] : kTags) {
    if (inner == tag) return BlockRef{kind, 0};
  }
  // A 32-byte hash alone, as geth's BlockNumberOrHash reads a 66-character string.
  if (inner.size() == 66 && inner[0] == '0' && inner[1] == 'x') {
    for (const char c : inner.substr(2)) {
      if (core::hex_value(c) < 0) return std::nullopt;
    }
    return BlockRef{Kind::hash, 0};
  }
  const auto number = parse_quantity(raw);
  if (!number) return std::nullopt;
  return BlockRef{Kind::number, *number};
}

void append_error(core::Buffer& out, std::string_view id, int code, std::string_view message,
                  std::string_view data) {
  out.append(R"({"jsonrpc":"2.0","id":)");
  out.append(id);
  out.append(R"(,"error":{"code":)");
  char digits[16];
  const auto written = std::to_chars(digits, digits + sizeof digits, code);
  out.append(std::string_view(digits, static_cast<std::size_t>(written.ptr - digits)));
  out.append(R"(,"message":")");
  core::append_json_escaped(out, message);
  out.append('"');
  if (!data.empty()) {
    out.append(R"(,"data":)");
    out.append(data);
  }
  out.append("}}");
}

void append_error(core::Buffer& out, std::string_view id, int code, std::string_view message) {
  append_error(out, id, code, message, {});
}

void append_result(core::Buffer& out, std::string_view id, std::string_view result) {
  out.append(R"({"jsonrpc":"2.0","id":)");
  out.append(id);
  out.append(R"(,"result":)");
  out.append(result);
  out.append('}');
}

void append_with_param(core::Buffer& out, const Call& call, std::size_t index,
                       std::string_view value) {
  const std::string_view text = call.text;
  const auto at = [&](std::string_view part) {
    return static_cast<std::size_t>(part.data() - text.data());
  };
  if (const auto old = param(call.params, index)) {
    out.append(text.substr(0, at(*old)));
    out.append(value);
    out.append(text.substr(at(*old) + old->size()));
    return;
  }
  // The param is absent (its default is "latest"): appended when it is the next one.
  const std::string_view params = trimmed(call.params);
  std::size_t count = 0;
  while (param(params, count))
    ++count;
  if (params.empty() || params.front() != '[' || count != index) {
    out.append(text);
    return;
  }
  const std::size_t close = at(params) + params.size() - 1;  // the ']'
  out.append(text.substr(0, close));
  if (count > 0) out.append(',');
  out.append(value);
  out.append(text.substr(close));
}

bool glob_match(std::string_view pattern, std::string_view name) {
  // Greedy with one backtrack point, the last '*': linear for patterns of one star,
  // O(pattern * name) at worst.
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

}  // namespace veer::http::jsonrpc
