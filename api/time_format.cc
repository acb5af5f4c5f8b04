#include "api/time_format.h"

#include <cctype>
#include <chrono>
#include <sstream>

#include <date/date.h>

namespace jobstate::api {

std::string FormatInstant(engine::Millis t) {
  const date::sys_time<std::chrono::milliseconds> tp{std::chrono::milliseconds(t)};
  return date::format("%FT%TZ", tp);
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
