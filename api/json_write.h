#pragma once
// Serializes a Boost.JSON value the way our clients read it best: numbers as plain
// decimals ("12.3", "100.0", "0.01"), never "1.23E1" as Boost.JSON 1.81 writes them.

#include <cstdint>
#include <optional>
#include <type_traits>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace jobstate::api {

std::string WriteJson(const boost::json::value& v);
void AppendJson(std::string& out, const boost::json::value& v);

// Writes JSON straight into a string, with the same number and string formats, for the
// hot responses (a status with its files page) that need no intermediate value tree.
// The caller keeps keys and values paired and containers balanced.
//
// Thread safety: not thread-safe; one writer per response.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view s);
  JsonWriter& Int(int64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  JsonWriter& Value(const boost::json::value& v);  // any value, written as WriteJson does

  // The value, or null when there is none.
  template <class T>
  JsonWriter& Maybe(const std::optional<T>& v) {
    if (!v) return Null();
    if constexpr (std::is_same_v<T, bool>) {
      return Bool(*v);
    } else if constexpr (std::is_floating_point_v<T>) {
      return Double(*v);
    } else if constexpr (std::is_integral_v<T>) {
      return Int(static_cast<int64_t>(*v));
    } else {
      return String(*v);
    }
  }

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  // What goes before the next value: a comma unless it is the first in its container
  // or follows a key.
  std::string_view Separator();
  // `text` after its separator, in one write.
  JsonWriter& Token(std::string_view text);

  std::string& out_;
  uint64_t first_ = 0;  // bit d: nothing written yet in the open container at depth d
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace jobstate::api
