#pragma once
// RFC 3339 instants on the wire: "2026-11-29T04:10:00.123Z" out, any offset in.

#include <optional>
#include <string>
#include <string_view>

#include "engine/types.h"

namespace jobstate::api {

// UTC with milliseconds and "Z".
std::string FormatInstant(engine::Millis t);
// The same into `out`, without an allocation: a status carries a few hundred instants.
inline constexpr size_t kInstantChars = 24;  // "2026-11-29T04:10:00.123Z"
std::string_view FormatInstant(engine::Millis t, char (&out)[kInstantChars]);

// An RFC 3339 date-time with "Z" or a numeric offset, any number of fractional digits
// (kept to the millisecond, truncated). nullopt when it is not one.
std::optional<engine::Millis> ParseInstant(std::string_view s);
// The same through date::parse alone: ParseInstant reads the common UTC form itself
// (a stream per instant was a quarter of the ingest route's time) and must agree with
// this on every text (time_format_test compares them).
std::optional<engine::Millis> ParseInstantGeneral(std::string_view s);

}  // namespace jobstate::api
