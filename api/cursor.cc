#include "api/cursor.h"

#include <openssl/crypto.h>

#include "api/crypto.h"

namespace jobstate::api {

namespace {
constexpr size_t kTagBytes = 16;
}

std::string CursorCodec::Encode(std::string_view payload) const {
  const std::string tag = HmacSha256(secret_, payload).substr(0, kTagBytes);
  return Base64UrlEncode(std::string(payload) + tag);
}

std::optional<std::string> CursorCodec::Decode(std::string_view cursor) const {
  std::string raw;
  if (cursor.size() > 4096 || !Base64UrlDecode(cursor, raw) || raw.size() < kTagBytes) {
    return std::nullopt;
  }
  const std::string payload = raw.substr(0, raw.size() - kTagBytes);
  const std::string tag = HmacSha256(secret_, payload).substr(0, kTagBytes);
  if (CRYPTO_memcmp(tag.data(), raw.data() + payload.size(), kTagBytes) != 0) {
    return std::nullopt;
  }
  return payload;
}

}  // namespace jobstate::api
