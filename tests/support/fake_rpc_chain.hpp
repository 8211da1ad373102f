#pragma once

// The fake JSON-RPC node's chain (tests/support/fake_rpc_node.hpp describes it): block
// hashes, the one log per block, the block and log objects as Ethereum clients expect
// them, and the fork counter a reorg bumps. No networking, no clock.

#include <array>
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace veer::test::fake_rpc {

// Keccak-256 (Ethereum's padding 0x01), written here on purpose rather than taken from
// core/keccak: the fake node is the oracle veer's own keccak256 is checked against
// (eth_sendRawTransaction's "already known" hash), so the two must not share code.
std::array<std::uint8_t, 32> keccak256(std::string_view bytes);

std::string hex_bytes(const std::uint8_t* bytes, std::size_t size);  // "0x" + 2 hex a byte
std::string hex_quantity(std::uint64_t value);                       // "0x1a", "0x0"
// A quantity "0x..." (or a decimal, as some clients send); nullopt when not one.
std::optional<std::uint64_t> parse_quantity(std::string_view text);
// Bytes from "0x" + an even number of hex digits; nullopt otherwise.
std::optional<std::string> parse_hex_bytes(std::string_view text);

class Chain {
 public:
  explicit Chain(std::uint64_t head) : head_(head) {}

  std::uint64_t head() const { return head_; }
  void set_head(std::uint64_t head) { head_ = head; }

  std::uint64_t fork(std::uint64_t number) const;
  // The last `blocks` blocks (up to the head) move to the next fork.
  void reorg(std::uint64_t blocks);

  // H(fork, n): keccak256 of the fork and the number, 8 bytes big-endian each.
  std::string block_hash(std::uint64_t number) const;
  // The block's one (fake) transaction: keccak256 of "tx", the fork and the number.
  std::string transaction_hash(std::uint64_t number) const;
  // The number of the block with this hash among the last `window` blocks.
  std::optional<std::uint64_t> find_block(std::string_view hash,
                                          std::uint64_t window = 100000) const;

  boost::json::object block(std::uint64_t number) const;
  boost::json::object log(std::uint64_t number, bool removed = false) const;
  // "latest", "pending", "safe", "finalized", "earliest" or a quantity; nullopt otherwise.
  std::optional<std::uint64_t> resolve_tag(const boost::json::value& tag) const;

 private:
  std::uint64_t head_;
  std::map<std::uint64_t, std::uint64_t> forks_;  // block number -> fork (absent: 0)
};

}  // namespace veer::test::fake_rpc
