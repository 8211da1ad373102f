#pragma once

// Bearer-token checks for the admin API. Tokens are compared through their SHA-256
// digests with CRYPTO_memcmp, against every configured token: the time taken says
// nothing about how much of a guess was right, nor about the tokens' lengths.

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.hpp"

namespace veer::admin {

class TokenChecker {
 public:
  explicit TokenChecker(const std::vector<conf::AdminToken>& tokens);

  // With no tokens configured (loopback only), every caller is "anonymous".
  bool open() const { return tokens_.empty(); }
  // The name of the token in an "Authorization: Bearer ..." value, or "" when none
  // matches.
  std::string name_for(std::string_view authorization) const;

 private:
  struct Entry {
    std::string name;
    std::array<unsigned char, 32> digest;
  };
  std::vector<Entry> tokens_;
};

}  // namespace veer::admin
