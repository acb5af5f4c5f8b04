#pragma once
// The few cryptographic primitives the API needs, from OpenSSL.

#include <string>
#include <string_view>

namespace jobstate::api {

std::string Sha256Hex(std::string_view data);
// HMAC-SHA256(key, data), raw 32 bytes.
std::string HmacSha256(std::string_view key, std::string_view data);
// `n` bytes from the system's CSPRNG.
std::string RandomBytes(size_t n);
std::string Hex(std::string_view bytes);
// A random version-4 UUID in text form.
std::string NewUuid();
std::string Base64UrlEncode(std::string_view bytes);
// nullopt-like: returns false when `text` is not unpadded base64url.
bool Base64UrlDecode(std::string_view text, std::string& out);

}  // namespace jobstate::api
