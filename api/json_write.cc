#include "api/json_write.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>

#include <boost/json.hpp>

namespace jobstate::api {

namespace json = boost::json;

namespace {

// `n` more bytes at the end of `out`, to be written by the caller: one call into the
// string instead of one per character.
char* Extend(std::string& out, size_t n) {
  const size_t at = out.size();
  out.resize(at + n);
  return out.data() + at;
}

// Whether any of the 8 bytes of `w` is a control character, a quote or a backslash:
// the classic "has a byte less than n / equal to zero" word tricks, exact as a whole.
bool NeedsEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  auto zero_byte = [](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  const uint64_t control = (w - kOnes * 0x20) & ~w & kHighs;
  return (control | zero_byte(w ^ (kOnes * '"')) | zero_byte(w ^ (kOnes * '\\'))) != 0;
}

bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// The index of the first byte of s at or after `from` that must be escaped, or s.size().
size_t FirstEscape(std::string_view s, size_t from) {
  size_t i = from;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (NeedsEscape(w)) break;
  }
  for (; i < s.size(); ++i) {
    if (NeedsEscape(static_cast<unsigned char>(s[i]))) return i;
  }
  return s.size();
}

// `s` quoted and escaped, after `prefix` (a separator or nothing) and before `suffix`.
void AppendString(std::string& out, std::string_view s, std::string_view prefix = {},
                  std::string_view suffix = {}) {
  size_t escape = FirstEscape(s, 0);
  if (escape == s.size()) {  // nearly always: one write
    char* p = Extend(out, prefix.size() + s.size() + 2 + suffix.size());
    p = std::copy(prefix.begin(), prefix.end(), p);
    *p++ = '"';
    p = std::copy(s.begin(), s.end(), p);
    *p++ = '"';
    std::copy(suffix.begin(), suffix.end(), p);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.append(prefix);
  out.push_back('"');
  size_t run = 0;  // start of the pending run of characters that need no escape
  while (escape < s.size()) {
    const auto c = static_cast<unsigned char>(s[escape]);
    out.append(s.data() + run, escape - run);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(u, sizeof u);
      }
    }
    run = escape + 1;
    escape = FirstEscape(s, run);
  }
  // UTF-8 passes through as it is: every string was validated on input.
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
  out.append(suffix);
}

void AppendDouble(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view text(buf, static_cast<size_t>(end - buf));
  out.append(text);
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";  // stays a float
}

}  // namespace

void AppendJson(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; break;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case json::kind::int64: out += std::to_string(v.get_int64()); break;
    case json::kind::uint64: out += std::to_string(v.get_uint64()); break;
    case json::kind::double_: AppendDouble(out, v.get_double()); break;
    case json::kind::string: AppendString(out, v.get_string()); break;
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const json::value& item : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(out, item);
      }
      out.push_back(']');
      break;
    }
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        AppendString(out, kv.key(), {}, ":");
        AppendJson(out, kv.value());
      }
      out.push_back('}');
      break;
    }
  }
}

std::string_view JsonWriter::Separator() {
  if (after_key_) {
    after_key_ = false;
    return {};
  }
  if (depth_ == 0) return {};
  const uint64_t bit = uint64_t{1} << (depth_ - 1);
  const bool first = (first_ & bit) != 0;
  first_ &= ~bit;
  return first ? std::string_view() : std::string_view(",");
}

JsonWriter& JsonWriter::Token(std::string_view text) {
  const std::string_view separator = Separator();
  char* p = Extend(out_, separator.size() + text.size());
  p = std::copy(separator.begin(), separator.end(), p);
  std::copy(text.begin(), text.end(), p);
  return *this;
}

JsonWriter& JsonWriter::Open(char c) {
  Token(std::string_view(&c, 1));
  // Nesting deeper than 64 is not a response shape of ours; the bits would wrap.
  assert(depth_ < 64);
  first_ |= uint64_t{1} << depth_;
  ++depth_;
  return *this;
}

JsonWriter& JsonWriter::Close(char c) {
  out_.push_back(c);
  --depth_;
  first_ &= ~(uint64_t{1} << depth_);
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  AppendString(out_, key, Separator(), ":");
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view s) {
  AppendString(out_, s, Separator());
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return Token(std::string_view(buf, static_cast<size_t>(end - buf)));
}

JsonWriter& JsonWriter::Double(double v) {
  out_.append(Separator());
  AppendDouble(out_, v);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) { return Token(v ? "true" : "false"); }

JsonWriter& JsonWriter::Null() { return Token("null"); }

JsonWriter& JsonWriter::Value(const json::value& v) {
  out_.append(Separator());
  AppendJson(out_, v);
  return *this;
}

std::string WriteJson(const json::value& v) {
  std::string out;
  AppendJson(out, v);
  return out;
}

}  // namespace jobstate::api
