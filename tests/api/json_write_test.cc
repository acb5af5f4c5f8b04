#include "api/json_write.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace jobstate::testing {
namespace {

namespace json = boost::json;
using api::WriteJson;

TEST(JsonWriteTest, NumbersArePlainDecimals) {
  EXPECT_EQ(WriteJson(json::array{0.0, 12.3, 100.0, 0.01, 1.5, -2.0}), "[0.0,12.3,100.0,0.01,1.5,-2.0]");
  EXPECT_EQ(WriteJson(json::array{int64_t{-7}, uint64_t{18446744073709551615ULL}}),
            "[-7,18446744073709551615]");
}

TEST(JsonWriteTest, StringsAreEscapedAndRoundTrip) {
  const std::string tricky = "quote\" back\\slash \n\r\t bell\x07 caf\xc3\xa9 end";
  const std::string text = WriteJson(json::object{{"k", tricky}});
  EXPECT_EQ(text, "{\"k\":\"quote\\\" back\\\\slash \\n\\r\\t bell\\u0007 caf\xc3\xa9 end\"}");
  EXPECT_EQ(json::parse(text).at("k").as_string(), tricky);
}

TEST(JsonWriteTest, NestedValuesMatchBoostJson) {
  const json::value v = json::parse(R"({"a":[1,{"b":null,"c":true}],"d":"x","e":{}})");
  EXPECT_EQ(json::parse(WriteJson(v)), v);
}

}  // namespace
}  // namespace jobstate::testing
