#include "api/time_format.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <sstream>

#include <date/date.h>

namespace jobstate::api {

std::string FormatInstant(engine::Millis t) {
  // Calendar arithmetic only: date::format builds a stream per call, and a status
  // carries a few hundred instants.
  using namespace std::chrono;
  const date::sys_time<milliseconds> tp{milliseconds(t)};
  const auto day = date::floor<date::days>(tp);
  const date::year_month_day ymd(day);
  const date::hh_mm_ss<milliseconds> hms(tp - day);
  std::string out = "0000-00-00T00:00:00.000Z";
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
  return out;
}

std::optional<engine::Millis> ParseInstant(std::string_view s) {
  // RFC 3339 requires the 'T' (either case) and an offset; date::parse does the rest.
  if (s.size() < 20 || (s[10] != 'T' && s[10] != 't')) return std::nullopt;
  std::string text(s);
  text[10] = 'T';
  const char last = text.back();
  const bool utc = last == 'Z' || last == 'z';
  if (utc) text.back() = '+', text += "00:00";
  // Keep at most three fractional digits (truncating, as "kept to the millisecond"
  // says), so parsing at millisecond precision covers every year up to 9999.
  if (text.size() > 19 && text[19] == '.') {
    size_t end = 20;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end == 20) return std::nullopt;  // a '.' without digits
    if (end > 23) text.erase(23, end - 23);
  }
  std::istringstream in(text);
  date::sys_time<std::chrono::milliseconds> tp;
  in >> date::parse("%FT%T%Ez", tp);
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) return std::nullopt;
  return tp.time_since_epoch().count();
}

}  // namespace jobstate::api
