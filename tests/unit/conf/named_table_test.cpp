// The start every named table shares (listeners.NAME, pools.NAME, splits.NAME).
#include <gtest/gtest.h>

#include <string>

#include "conf/load.hpp"

namespace veer::conf {
namespace {

bool has_error(const LoadResult& r, std::string_view fragment) {
  for (const ConfigError& e : r.errors) {
    if (e.message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

std::string errors_of(const LoadResult& r) {
  std::string all;
  for (const ConfigError& e : r.errors)
    all += e.to_string() + "\n";
  return all;
}

TEST(NamedTable, ANamedSectionThatIsNotATableIsRefusedByPath) {
  const LoadResult r = load_config_string(R"(
[listeners]
public = 5
[pools]
rpc = "x"
[splits]
canary = []
)",
                                          "test.toml");
  EXPECT_TRUE(has_error(r, "listeners.public: expected a table")) << errors_of(r);
  EXPECT_TRUE(has_error(r, "pools.rpc: expected a table")) << errors_of(r);
  EXPECT_TRUE(has_error(r, "splits.canary: expected a table")) << errors_of(r);
}

TEST(NamedTable, ABadNameIsReportedAndTheTableIsStillRead) {
  const LoadResult r = load_config_string(R"(
[listeners."pub lic"]
address = "127.0.0.1:8545"
adress = "x"
  [[listeners."pub lic".routes]]
  target = "r p c"

[pools."r p c"]
backends = ["127.0.0.1:19001"]
stratgy = "weighted"

[splits."c@nary"]
targets = { "r p c" = 1 }
stiky = "none"
)",
                                          "test.toml");
  EXPECT_TRUE(has_error(r, "listeners.pub lic: listener names use letters")) << errors_of(r);
  EXPECT_TRUE(has_error(r, "pools.r p c: pool names use letters")) << errors_of(r);
  EXPECT_TRUE(has_error(r, "splits.c@nary: split names use letters")) << errors_of(r);
  EXPECT_TRUE(has_error(r, "listeners.pub lic.adress: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, "pools.r p c.stratgy: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, "splits.c@nary.stiky: unknown key")) << errors_of(r);
}

}  // namespace
}  // namespace veer::conf
