#include "admin/auth.hpp"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace veer::admin {
namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

}  // namespace

TokenChecker::TokenChecker(const std::vector<conf::AdminToken>& tokens) {
  for (const conf::AdminToken& t : tokens)
    tokens_.push_back(Entry{t.name, sha256(t.token)});
}

std::string TokenChecker::name_for(std::string_view authorization) const {
  // The scheme name is case-insensitive (RFC 9110 section 11.1); the token is not.
  constexpr std::string_view kScheme = "bearer ";
  std::string_view presented;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  if (authorization.size() > kScheme.size() &&
      std::equal(kScheme.begin(), kScheme.end(), authorization.begin(),
                 [&](char a, char b) { return a == lower(b); })) {
    presented = authorization.substr(kScheme.size());
    while (!presented.empty() && presented.front() == ' ')
      presented.remove_prefix(1);
  }
  const std::array<unsigned char, 32> digest = sha256(presented);
  const Entry* match = nullptr;
  for (const Entry& entry : tokens_) {
    // No early exit: every token is compared whatever matched before.
    const bool same = CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
    if (same && !presented.empty()) match = &entry;
  }
  return match != nullptr ? match->name : std::string();
}

}  // namespace veer::admin
