// The admin token check takes the same time whatever part of a guess is right: the
// rows for a wrong first character, a wrong last character and the right token should
// match within noise.
#include <benchmark/benchmark.h>

#include <string>

#include "admin/auth.hpp"

namespace {

const std::string kToken = "s3cr3t-token-for-the-autoscaler-0123456789";

void check(benchmark::State& state, std::string guess) {
  const veer::admin::TokenChecker checker(
      {{"scaler", kToken}, {"release", "another-token-of-the-release-tool"}});
  std::string header = "Bearer ";
  header += guess;
  for (auto _ : state)
    benchmark::DoNotOptimize(checker.name_for(header));
}

void BM_TokenRight(benchmark::State& state) {
  check(state, kToken);
}
void BM_TokenWrongFirstCharacter(benchmark::State& state) {
  std::string guess = kToken;
  guess.front() = 'X';
  check(state, guess);
}
void BM_TokenWrongLastCharacter(benchmark::State& state) {
  std::string guess = kToken;
  guess.back() = 'X';
  check(state, guess);
}
void BM_TokenWrongLength(benchmark::State& state) {
  check(state, "short");
}
BENCHMARK(BM_TokenRight);
BENCHMARK(BM_TokenWrongFirstCharacter);
BENCHMARK(BM_TokenWrongLastCharacter);
BENCHMARK(BM_TokenWrongLength);

}  // namespace
