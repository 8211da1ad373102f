#include "fake_rpc_chain.hpp"

#include <charconv>
#include <cstring>

namespace veer::test::fake_rpc {

namespace json = boost::json;

namespace {

// Keccak-f[1600] (FIPS 202, section 3.3): round constants, rho offsets and the pi lane
// order in the compact form of the reference "tiny" implementations.
constexpr std::uint64_t kRoundConstants[24] = {
    0x0000000000000001, 0x0000000000008082, 0x800000000000808a, 0x8000000080008000,
    0x000000000000808b, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008a, 0x0000000000000088, 0x0000000080008009, 0x000000008000000a,
    0x000000008000808b, 0x800000000000008b, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800a, 0x800000008000000a,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008};
constexpr int kRotations[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
constexpr int kPiLanes[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                              15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

std::uint64_t rotl(std::uint64_t x, int n) {
  return (x << n) | (x >> (64 - n));
}

void keccak_f(std::uint64_t state[25]) {
  for (std::uint64_t round_constant : kRoundConstants) {
    std::uint64_t columns[5];
    for (int i = 0; i < 5; ++i)
      columns[i] = state[i] ^ state[i + 5] ^ state[i + 10] ^ state[i + 15] ^ state[i + 20];
    for (int i = 0; i < 5; ++i) {
      const std::uint64_t t = columns[(i + 4) % 5] ^ rotl(columns[(i + 1) % 5], 1);
      for (int j = 0; j < 25; j += 5)
        state[j + i] ^= t;
    }
    std::uint64_t carry = state[1];
    for (int i = 0; i < 24; ++i) {
      const int lane = kPiLanes[i];
      const std::uint64_t next = state[lane];
      state[lane] = rotl(carry, kRotations[i]);
      carry = next;
    }
    for (int j = 0; j < 25; j += 5) {
      std::uint64_t row[5];
      for (int i = 0; i < 5; ++i)
        row[i] = state[j + i];
      for (int i = 0; i < 5; ++i)
        state[j + i] ^= ~row[(i + 1) % 5] & row[(i + 2) % 5];
    }
    state[0] ^= round_constant;
  }
}

// Lanes are little-endian (FIPS 202 B.1); this code assumes a little-endian host.
void absorb(std::uint64_t state[25], const std::uint8_t* block) {
  for (int i = 0; i < 17; ++i) {
    std::uint64_t lane;
    std::memcpy(&lane, block + 8 * i, 8);
    state[i] ^= lane;
  }
  keccak_f(state);
}

std::string big_endian(std::string prefix, std::uint64_t a, std::uint64_t b) {
  for (std::uint64_t word : {a, b})
    for (int shift = 56; shift >= 0; shift -= 8)
      prefix.push_back(static_cast<char>((word >> shift) & 0xff));
  return prefix;
}

std::string hash_text(const std::string& bytes) {
  const auto digest = keccak256(bytes);
  return hex_bytes(digest.data(), digest.size());
}

std::string zeros(std::size_t bytes) {
  return "0x" + std::string(2 * bytes, '0');
}

}  // namespace

std::array<std::uint8_t, 32> keccak256(std::string_view bytes) {
  constexpr std::size_t kRate = 136;  // 1600 - 2 * 256 bits
  std::uint64_t state[25] = {};
  std::size_t at = 0;
  for (; bytes.size() - at >= kRate; at += kRate)
    absorb(state, reinterpret_cast<const std::uint8_t*>(bytes.data()) + at);
  std::uint8_t last[kRate] = {};
  std::memcpy(last, bytes.data() + at, bytes.size() - at);
  last[bytes.size() - at] ^= 0x01;
  last[kRate - 1] ^= 0x80;
  absorb(state, last);
  std::array<std::uint8_t, 32> digest;
  std::memcpy(digest.data(), state, digest.size());
  return digest;
}

std::string hex_bytes(const std::uint8_t* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text = "0x";
  for (std::size_t i = 0; i < size; ++i) {
    text.push_back(kDigits[bytes[i] >> 4]);
    text.push_back(kDigits[bytes[i] & 0xf]);
  }
  return text;
}

std::string hex_quantity(std::uint64_t value) {
  char digits[17];
  const auto end = std::to_chars(digits, digits + sizeof digits, value, 16).ptr;
  return "0x" + std::string(digits, end);
}

std::optional<std::uint64_t> parse_quantity(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
    base = 16;
  }
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::string> parse_hex_bytes(std::string_view text) {
  if (!text.starts_with("0x") || text.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  for (std::size_t i = 2; i < text.size(); i += 2) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(text.data() + i, text.data() + i + 2, value, 16);
    if (error != std::errc() || end != text.data() + i + 2) return std::nullopt;
    bytes.push_back(static_cast<char>(value));
  }
  return bytes;
}

std::uint64_t Chain::fork(std::uint64_t number) const {
  const auto found = forks_.find(number);
  return found == forks_.end() ? 0 : found->second;
}

void Chain::reorg(std::uint64_t blocks) {
  const std::uint64_t first = blocks > head_ ? 0 : head_ - blocks + 1;
  for (std::uint64_t n = first; n <= head_ && blocks > 0; ++n)
    ++forks_[n];
}

std::string Chain::block_hash(std::uint64_t number) const {
  return hash_text(big_endian("", fork(number), number));
}

std::string Chain::transaction_hash(std::uint64_t number) const {
  return hash_text(big_endian("tx", fork(number), number));
}

std::optional<std::uint64_t> Chain::find_block(std::string_view hash, std::uint64_t window) const {
  const std::uint64_t first = head_ > window ? head_ - window : 0;
  for (std::uint64_t n = head_ + 1; n-- > first;)
    if (block_hash(n) == hash) return n;
  return std::nullopt;
}

json::object Chain::block(std::uint64_t number) const {
  // The members ethers 6 and web3.js require of a block, most of them constant.
  return json::object{
      {"number", hex_quantity(number)},
      {"hash", block_hash(number)},
      {"parentHash", number == 0 ? zeros(32) : block_hash(number - 1)},
      {"timestamp", hex_quantity(number)},
      {"nonce", zeros(8)},
      {"difficulty", "0x0"},
      {"gasLimit", "0x1c9c380"},
      {"gasUsed", "0x5208"},
      {"baseFeePerGas", "0x7"},
      {"miner", zeros(20)},
      {"extraData", "0x"},
      {"logsBloom", zeros(256)},
      {"mixHash", zeros(32)},
      {"sha3Uncles", zeros(32)},
      {"stateRoot", zeros(32)},
      {"receiptsRoot", zeros(32)},
      {"transactionsRoot", zeros(32)},
      {"size", "0x220"},
      {"uncles", json::array{}},
      {"transactions", json::array{transaction_hash(number)}},
  };
}

json::object Chain::log(std::uint64_t number, bool removed) const {
  const std::string topic = big_endian("", 0, 0) + big_endian("", 0, number);  // 32 bytes
  json::object log{
      {"address", "0x" + std::string(39, '0') + "1"},
      {"topics",
       json::array{hex_bytes(reinterpret_cast<const std::uint8_t*>(topic.data()), topic.size())}},
      {"data", "0x"},
      {"blockNumber", hex_quantity(number)},
      {"blockHash", block_hash(number)},
      {"transactionHash", transaction_hash(number)},
      {"transactionIndex", "0x0"},
      {"logIndex", "0x0"},
      {"removed", removed},
  };
  return log;
}

std::optional<std::uint64_t> Chain::resolve_tag(const json::value& tag) const {
  if (tag.is_null()) return head_;
  if (!tag.is_string()) return std::nullopt;
  const std::string_view text = tag.get_string();
  if (text == "latest" || text == "pending" || text == "safe" || text == "finalized") return head_;
  if (text == "earliest") return 0;
  return parse_quantity(text);
}

}  // namespace veer::test::fake_rpc
