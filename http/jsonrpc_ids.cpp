#include "http/jsonrpc_ids.hpp"

#include "http/ascii.hpp"
#include "http/json_scanner.hpp"

namespace veer::http {
namespace {

static_assert(JsonRpcIds::kMaxDepth == JsonScanner::kMaxDepth);

// What a request's "id" member held, as far as the answer cares.
struct IdCapture {
  std::string_view raw = JsonRpcIds::kNull;
  unsigned members = 0;  // "id" members seen: two or more is ambiguous
};

// JSON-RPC 2.0 section 4: an id is a string, a number or null. Anything else cannot
// be echoed as an id.
std::string_view usable_id(std::string_view raw) {
  const char first = raw.front();
  if (first == '"' || first == '-' || is_digit(first)) return raw;
  return JsonRpcIds::kNull;
}

// A JSON-RPC request: an object whose "id" is captured, or any other value (no id).
bool scan_request(JsonScanner& scan, IdCapture* id) {
  if (!scan.peek('{')) return scan.value(1);
  return scan.object(1, [id](std::string_view key, std::string_view value) {
    if (JsonScanner::decodes_to(key, "id")) {
      ++id->members;
      id->raw = usable_id(value);
    }
    return true;
  });
}

// The id a request answers with: the captured one when exactly one "id" member held it.
std::string_view answer_id(const IdCapture& id) {
  return id.members == 1 ? id.raw : JsonRpcIds::kNull;
}

}  // namespace

JsonRpcIds::JsonRpcIds(std::string_view body) : body_(body) {
  if (body.size() > kScanLimit) return;
  JsonScanner scan(body);
  scan.skip_ws();
  if (scan.peek('[')) {
    scan.take('[');
    const std::size_t start = scan.pos();
    scan.skip_ws();
    if (scan.take(']')) return;  // an empty batch is an invalid request: one error, id null
    std::size_t items = 0;
    while (true) {
      IdCapture ignored;
      if (!scan_request(scan, &ignored)) return;
      ++items;
      scan.skip_ws();
      if (scan.take(']')) break;
      if (!scan.take(',')) return;
      scan.skip_ws();
    }
    scan.skip_ws();
    if (!scan.at_end()) return;
    batch_ = true;
    batch_start_ = start;
    count_ = items;
    return;
  }
  IdCapture id;
  if (!scan.peek('{') || !scan_request(scan, &id)) return;
  scan.skip_ws();
  if (scan.at_end()) single_id_ = answer_id(id);
}

JsonRpcIds::Iterator JsonRpcIds::begin() const {
  Iterator it;
  it.ids_ = this;
  it.offset_ = batch_start_;
  it.left_ = count_;
  return it;
}

bool JsonRpcIds::Iterator::next(std::string_view* id) {
  if (left_ == 0) return false;
  --left_;
  if (!ids_->batch_) {
    *id = ids_->single_id_;
    return true;
  }
  // The constructor validated the whole batch: this pass cannot fail.
  JsonScanner scan(ids_->body_, offset_);
  scan.skip_ws();
  IdCapture capture;
  scan_request(scan, &capture);
  scan.skip_ws();
  scan.take(',');
  offset_ = scan.pos();
  *id = answer_id(capture);
  return true;
}

}  // namespace veer::http
