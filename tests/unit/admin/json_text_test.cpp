// The admin API's JSON text: plain decimals, and valid JSON whatever bytes a caller sent.
#include "admin/json_text.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace veer::admin {
namespace {

namespace json = boost::json;

TEST(JsonText, DoublesArePlainDecimalsThatReadBackTheSame) {
  for (double d : {0.0026, 0.000001, 123456.75, 1e-12, 2.5e20, 0.0}) {
    const std::string text = to_json_text(json::value(d));
    EXPECT_EQ(text.find_first_of("eE"), std::string::npos) << text;
    EXPECT_NEAR(json::parse(text).to_number<double>(), d, 1e-9) << text;
  }
  EXPECT_EQ(to_json_text(json::value(0.0026)), "0.0026");
  EXPECT_EQ(to_json_text(json::value(std::numeric_limits<double>::infinity())), "null");
}

TEST(JsonText, AnyBytesInStringsAndKeysStayValidJson) {
  const std::string bytes = "/a/\xce\xce/\xff\"\\\x01 \xc3\xa9";
  const std::string text = to_json_text(json::object{{bytes, bytes}, {"n", 7}});
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  ASSERT_FALSE(ec) << text;
  EXPECT_EQ(v.at("n").as_int64(), 7);
  const std::string back(v.as_object().begin()->value().as_string());
  EXPECT_NE(back.find("\xc3\xa9"), std::string::npos) << "valid UTF-8 kept: " << back;
  EXPECT_NE(back.find("\\xce"), std::string::npos) << back;
}

}  // namespace
}  // namespace veer::admin
