#pragma once

// The ids of a JSON-RPC 2.0 request, for an error veer answers itself (a rate-limit
// refusal): the error must carry the id the client sent, or the client's library cannot
// match it to its call. A strict, bounded JSON scanner, not a parser: it validates the
// whole document (RFC 8259 grammar, UTF-8, nesting at most kMaxDepth) and reports each
// request's "id" member as the exact bytes the client sent, never decoded or copied. It
// refuses to guess: anything malformed, an "id" that is not a string, a number or null,
// or an object with two "id" members gives `null`, as JSON-RPC 2.0 section 5 says for an
// id that cannot be detected. Allocation-free; O(body) per pass.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace veer::http {

class JsonRpcIds {
 public:
  // Bodies longer than this are not scanned (their ids are null): a refused request's
  // body is read only this far into memory.
  static constexpr std::size_t kScanLimit = 64 * 1024;
  // Deeper nesting is refused: bounds the scanner's recursion.
  static constexpr unsigned kMaxDepth = 64;
  static constexpr std::string_view kNull = "null";

  // `body` must stay valid while the object is used.
  explicit JsonRpcIds(std::string_view body);

  // A batch (a non-empty JSON array) answers with an array of errors, one per item.
  bool batch() const { return batch_; }
  // Errors to write: 1 for a single request, the number of items for a batch.
  std::size_t count() const { return count_; }

  // The ids in order: the single request's id, or each batch item's (null for an item
  // that is not an object or has no usable id). Restartable: each call of begin()
  // rescans the batch, so nothing is stored per item.
  class Iterator {
   public:
    // The next id; false when every id has been returned.
    bool next(std::string_view* id);

   private:
    friend class JsonRpcIds;
    const JsonRpcIds* ids_ = nullptr;
    std::size_t offset_ = 0;  // batch: where the next item starts
    std::size_t left_ = 0;
  };
  Iterator begin() const;

 private:
  std::string_view body_;
  std::string_view single_id_ = kNull;
  std::size_t batch_start_ = 0;  // just after the '['
  std::size_t count_ = 1;
  bool batch_ = false;
};

}  // namespace veer::http
