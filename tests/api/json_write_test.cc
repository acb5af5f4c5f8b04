#include "api/json_write.h"

#include <random>

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

// Strings of every length up to 40 with escapes anywhere, including in and across the
// 8-byte words the writer scans at once, come back from a parse as they went in.
TEST(JsonWriteTest, RandomStringsRoundTripThroughTheWordScan) {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {"a", "Z", " ", "~", "\"", "\\", "\n", "\x01", "\x1f",
                                           "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
  for (int round = 0; round < 20'000; ++round) {
    std::string s;
    const size_t n = rng() % 41;
    while (s.size() < n) s += pieces[rng() % pieces.size()];
    std::string out;
    api::JsonWriter(out).String(s);
    ASSERT_EQ(json::parse(out).as_string(), s) << out;
    for (unsigned char c : out) ASSERT_GE(c, 0x20) << out;  // no raw control character
  }
}

TEST(JsonWriteTest, WriterPlacesSeparatorsLikeBoostJson) {
  std::string out = "x";  // what was in the string before stays
  api::JsonWriter w(out);
  w.BeginObject();
  w.Key("a").BeginArray().Int(1).Null().Bool(false).BeginObject().EndObject().BeginArray().EndArray();
  w.EndArray();
  w.Key("k\"ey").String("v");
  w.Key("d").Double(2.0);
  w.Key("o").BeginObject().Key("n").Int(-5).Key("m").Maybe(std::optional<int64_t>()).EndObject();
  w.Key("v").Value(json::parse(R"({"p":[1,"q"]})"));
  w.EndObject();
  EXPECT_EQ(out, R"(x{"a":[1,null,false,{},[]],"k\"ey":"v","d":2.0,"o":{"n":-5,"m":null},"v":{"p":[1,"q"]}})");

  // A second writer on the same string starts afresh (NDJSON lines).
  std::string lines;
  for (int i = 0; i < 2; ++i) {
    api::JsonWriter line(lines);
    line.BeginObject().Key("i").Int(i).EndObject();
    lines.push_back('\n');
  }
  EXPECT_EQ(lines, "{\"i\":0}\n{\"i\":1}\n");
}

}  // namespace
}  // namespace jobstate::testing
