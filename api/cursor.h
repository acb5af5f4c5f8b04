#pragma once
// Opaque, tamper-evident page cursors: base64url(payload || HMAC-SHA256(secret,
// payload)[0..16]). The payload binds a cursor to what it pages (organisation, job,
// filter), so a cursor from another job or filter, or an altered one, is rejected.
//
// Thread safety: immutable after construction.

#include <optional>
#include <string>
#include <string_view>

namespace jobstate::api {

class CursorCodec {
 public:
  // `secret`: at least 16 random bytes, kept across restarts so cursors stay valid.
  explicit CursorCodec(std::string secret) : secret_(std::move(secret)) {}

  std::string Encode(std::string_view payload) const;
  // The payload, or nullopt when the cursor was not made by Encode with this secret.
  std::optional<std::string> Decode(std::string_view cursor) const;

 private:
  const std::string secret_;
};

}  // namespace jobstate::api
