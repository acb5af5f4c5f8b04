#include "api/time_format.h"

#include <random>

#include <gtest/gtest.h>

namespace jobstate::testing {
namespace {

using api::FormatInstant;
using api::ParseInstant;

TEST(TimeFormatTest, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatInstant(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatInstant(1'795'918'200'123), "2026-11-29T02:10:00.123Z");
}

TEST(TimeFormatTest, ParsesOffsetsAndFractions) {
  EXPECT_EQ(ParseInstant("2026-11-29T02:10:00.123Z"), 1'795'918'200'123);
  EXPECT_EQ(ParseInstant("2026-11-29T02:10:00Z"), 1'795'918'200'000);
  EXPECT_EQ(ParseInstant("2026-11-29T04:10:00.123+02:00"), 1'795'918'200'123);
  EXPECT_EQ(ParseInstant("2026-11-29T02:10:00.1239999z"), 1'795'918'200'123);
  EXPECT_EQ(ParseInstant("2999-01-01T00:00:00Z"), 32'472'144'000'000);
}

TEST(TimeFormatTest, RejectsWhatIsNotRfc3339) {
  for (const char* bad : {"", "2026-11-29", "2026-11-29 02:10:00Z", "2026-11-29T02:10:00",
                          "2026-13-29T02:10:00Z", "2026-11-29T02:10:00Zjunk", "yesterday",
                          // Separators and digits out of place, each in the part date::parse's
                          // %T reads (fuzz/events_fuzz found it converting a value it never set).
                          "2026-01-01T00;00:00.016Z", "2026-01-01T0x:00:00+01:00",
                          "2026-01-01T00:00:x0Z", "2026/01/01T00:00:00-02:00", "+2026-01-01T00:00:00Z",
                          // and in the offset (%Ez negated the least integer)
                          "1013-01-01T00:00:001-embedding00.300Z", "2026-01-01T00:00:00-x0:00",
                          "2026-01-01T00:00:00.5-", "2026-01-01T00:00:00+01:0", "2026-01-01T00:00:00+0100"}) {
    EXPECT_FALSE(ParseInstant(bad).has_value()) << bad;
    EXPECT_FALSE(api::ParseInstantGeneral(bad).has_value()) << bad;
  }
}

// The UTC form is read without date::parse; on every text, valid or not, the answer
// must be date::parse's. Texts near the form: each digit random (so months 00–99,
// February 30th, hour 24, second 60 all occur), fractions of 0–9 digits, 'Z', 'z' or
// an offset, now and then a wrong separator, a letter for a digit, a cut-off end.
TEST(TimeFormatTest, TheUtcFastPathAgreesWithDateParseEverywhere) {
  std::mt19937_64 rng(20261129);
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  size_t valid = 0;
  for (int i = 0; i < 200'000; ++i) {
    std::string t = "0000-00-00T00:00:00";
    for (size_t at : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
      // Mostly plausible digits, so that many texts are valid dates.
      t[at] = static_cast<char>('0' + pick(10));
    }
    if (pick(2)) {  // a plausible month, day, hour, minute and second
      t[5] = static_cast<char>('0' + pick(2));
      t[8] = static_cast<char>('0' + pick(3));
      t[11] = static_cast<char>('0' + pick(3));
      t[14] = static_cast<char>('0' + pick(6));
      t[17] = static_cast<char>('0' + pick(7));
    }
    if (const int digits = pick(11); digits > 0) {
      t += '.';
      for (int d = 1; d < digits; ++d) t += static_cast<char>('0' + pick(10));
    }
    const int end = pick(10);
    t += end < 6 ? "Z" : end < 8 ? "z" : end < 9 ? "+01:30" : "-00:00";
    if (pick(20) == 0) t[static_cast<size_t>(pick(static_cast<int>(t.size())))] = "T-:.Zx 9"[pick(8)];
    if (pick(30) == 0) t.resize(static_cast<size_t>(pick(static_cast<int>(t.size()))));
    const auto fast = ParseInstant(t), general = api::ParseInstantGeneral(t);
    ASSERT_EQ(fast, general) << t;
    valid += fast.has_value();
  }
  EXPECT_GT(valid, 20'000u);  // both sides of the question were asked
}

}  // namespace
}  // namespace jobstate::testing
