#pragma once

// Keccak-256 as Ethereum uses it (the original padding 0x01, not SHA3-256's 0x06):
// OpenSSL 3.0 (Debian 12) has SHA3 and KECCAK-KMAC but not plain KECCAK-256 (3.2 added
// it), so veer carries the permutation itself (FIPS 202, section 3).

#include <array>
#include <cstdint>
#include <string_view>

namespace veer::core {

std::array<std::uint8_t, 32> keccak256(std::string_view bytes);

}  // namespace veer::core
