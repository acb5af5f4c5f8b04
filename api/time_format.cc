#include "api/time_format.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>

#include <date/date.h>

namespace jobstate::api {

std::string_view FormatInstant(engine::Millis t, char (&out)[kInstantChars]) {
  // Calendar arithmetic only: date::format builds a stream per call.
  using namespace std::chrono;
  const date::sys_time<milliseconds> tp{milliseconds(t)};
  const auto day = date::floor<date::days>(tp);
  const date::year_month_day ymd(day);
  const date::hh_mm_ss<milliseconds> hms(tp - day);
  std::memcpy(out, "0000-00-00T00:00:00.000Z", kInstantChars);
  auto put = [&out](size_t at, int digits, int value) {
    for (int i = digits - 1; i >= 0; --i, value /= 10) out[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, 4, static_cast<int>(ymd.year()));
  put(5, 2, static_cast<int>(static_cast<unsigned>(ymd.month())));
  put(8, 2, static_cast<int>(static_cast<unsigned>(ymd.day())));
  put(11, 2, static_cast<int>(hms.hours().count()));
  put(14, 2, static_cast<int>(hms.minutes().count()));
  put(17, 2, static_cast<int>(hms.seconds().count()));
  put(20, 3, static_cast<int>(hms.subseconds().count()));
  return std::string_view(out, kInstantChars);
}

std::string FormatInstant(engine::Millis t) {
  char out[kInstantChars];
  return std::string(FormatInstant(t, out));
}

namespace {

// "YYYY-MM-DDTHH:MM:SS[.fraction]Z", the form nearly every event carries, read without
// a stream: digits where digits go, a valid calendar date (date::year_month_day),
// hours, minutes and seconds in range. nullopt for anything else, which the general
// parse then judges (a leap second, an offset, a malformed text).
std::optional<engine::Millis> ParseUtcInstant(std::string_view s) {
  if (s.size() < 20 || (s.back() != 'Z' && s.back() != 'z')) return std::nullopt;
  auto digits = [&s](size_t at, size_t n) -> int {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  const int year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  const int hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 59) {
    return std::nullopt;
  }
  int millis = 0;
  const size_t end = s.size() - 1;  // the 'Z'
  if (end > 19) {
    if (s[19] != '.' || end == 20) return std::nullopt;
    for (size_t i = 20; i < end; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      if (i < 23) millis = millis * 10 + (s[i] - '0');  // kept to the millisecond
    }
    for (size_t i = end; i < 23; ++i) millis *= 10;
  }
  const date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(month)},
                                 date::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  using namespace std::chrono;
  const auto tp = date::sys_days(ymd) + hours(hour) + minutes(minute) + seconds(second) +
                  milliseconds(millis);
  return duration_cast<milliseconds>(tp.time_since_epoch()).count();
}

}  // namespace

std::optional<engine::Millis> ParseInstant(std::string_view s) {
  if (auto utc = ParseUtcInstant(s)) return utc;
  return ParseInstantGeneral(s);
}

std::optional<engine::Millis> ParseInstantGeneral(std::string_view s) {
  // RFC 3339 requires the 'T' (either case) and an offset; date::parse does the rest.
  if (s.size() < 20 || (s[10] != 'T' && s[10] != 't')) return std::nullopt;
  std::string text(s);
  text[10] = 'T';
  const char last = text.back();
  const bool utc = last == 'Z' || last == 'z';
  if (utc) text.back() = '+', text += "00:00";
  // Keep at most three fractional digits (truncating, as "kept to the millisecond"
  // says), so parsing at millisecond precision covers every year up to 9999.
  size_t zone = 19;  // where the offset starts
  if (text[19] == '.') {
    size_t end = 20;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end == 20) return std::nullopt;  // a '.' without digits
    if (end > 23) text.erase(23, end - 23);
    zone = std::min<size_t>(end, 23);
  }
  // date::parse has undefined behaviour on some texts it refuses (fuzz/events_fuzz found
  // both under UBSan): %T converts a seconds value it never set when the hours or
  // minutes do not parse, and %Ez negates "no offset" (the least integer) when a '-'
  // is not followed by one. So the shape, digits and separators, is checked here
  // first, and date::parse sees only texts each of whose fields reads whole.
  if (text.size() != zone + 6) return std::nullopt;  // "+hh:mm"
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    bool ok = std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (i == 4 || i == 7) ok = c == '-';
    if (i == 13 || i == 16 || i == zone + 3) ok = c == ':';
    if (i == 10 || (i >= 19 && i < zone)) ok = true;  // 'T' and the fraction, checked above
    if (i == zone) ok = c == '+' || c == '-';
    if (!ok) return std::nullopt;
  }
  std::istringstream in(text);
  date::sys_time<std::chrono::milliseconds> tp;
  in >> date::parse("%FT%T%Ez", tp);
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) return std::nullopt;
  return tp.time_since_epoch().count();
}

}  // namespace jobstate::api
