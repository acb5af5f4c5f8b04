// The digests against published test vectors: the key hash of the keys file and the
// cursor's signature must not change when the way OpenSSL is called changes.
#include <gtest/gtest.h>

#include "api/crypto.h"

namespace jobstate::testing {
namespace {

TEST(Crypto, Sha256MatchesFips180Vectors) {
  EXPECT_EQ(api::Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(api::Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, HmacSha256MatchesRfc4231Vectors) {
  // Test case 1: a 20-byte key of 0x0b, "Hi There".
  EXPECT_EQ(api::Hex(api::HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: key "Jefe".
  EXPECT_EQ(api::Hex(api::HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace jobstate::testing
