#include "api/time_format.h"

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
                          "2026-13-29T02:10:00Z", "2026-11-29T02:10:00Zjunk", "yesterday"}) {
    EXPECT_FALSE(ParseInstant(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace jobstate::testing
