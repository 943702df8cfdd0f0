// Diffie-Hellman: RFC 5903 section 8 (groups 19, 20) and RFC 7748 (X25519)
// known answers in the IKE encodings, MODP-2048 / ECP-384 / X25519 values
// computed by the Python reference (vectors/), agreement on random keys for
// every group, and rejection of bad peer values.
#include <gtest/gtest.h>

#include <string>

#include "controlplane/crypto/diffie_hellman.h"
#include "tests/controlplane/crypto/test_bytes.h"
#include "tests/controlplane/crypto/vectors/ike_crypto_vectors.h"

namespace tcpsec::ikecrypto {
namespace {

using test::Bytes;
using test::hex;
using test::to_hex;

DhKeyPair test_key(DhGroup g, std::span<const uint8_t> priv) {
  auto k = DhKeyPair::from_private_key_for_testing(g, priv);
  EXPECT_TRUE(k.has_value()) << (k ? "" : k.error());
  return std::move(*k);
}

std::string secret_hex(const DhKeyPair& k, std::span<const uint8_t> peer) {
  auto s = k.shared_secret(peer);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error());
  return s ? to_hex(*s) : "";
}

struct EcpVector {
  DhGroup group;
  const char *i, *gi, *r, *gr, *girx;
};

// RFC 5903 8.1 and 8.2; public values as x | y (section 7), g^ir as x.
const EcpVector kRfc5903[] = {
    {DhGroup::kEcp256, "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
     "dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180"
     "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
     "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
     "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63"
     "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
     "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de"},
    {DhGroup::kEcp384,
     "099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655e35b538041e649ee3faef896783a"
     "b194",
     "667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6de3ac808acb4bdb4c88732aee95f"
     "41aa"
     "9482ed1fc0eeb9cafc4984625ccfc23f65032149e0e144ada024181535a0f38eeb9fcff3c2c947dae69b4c634573"
     "a81c",
     "41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942e0308312916b8ed2960e4bd55a74"
     "48fc",
     "e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d0d1ac43a0336def96fda41d0774a"
     "3571"
     "dcfbec7aacf3196472169e838430367f66eebe3c6e70c416dd5f0c68759dd1fff83fa40142209dff5eaad96db9e6"
     "386c",
     "11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4d603135569b9e9d09cf5d4a270f5"
     "9746"},
};

TEST(DiffieHellman, Rfc5903KnownAnswers) {
  for (const EcpVector& v : kRfc5903) {
    SCOPED_TRACE(to_string(v.group));
    DhKeyPair i = test_key(v.group, hex(v.i));
    DhKeyPair r = test_key(v.group, hex(v.r));
    EXPECT_EQ(to_hex(i.public_value()), v.gi);
    EXPECT_EQ(to_hex(r.public_value()), v.gr);
    EXPECT_EQ(secret_hex(i, r.public_value()), v.girx);
    EXPECT_EQ(secret_hex(r, i.public_value()), v.girx);
  }
}

TEST(DiffieHellman, Rfc7748X25519KnownAnswers) {
  // 6.1: Alice and Bob.
  DhKeyPair alice =
      test_key(DhGroup::kCurve25519,
               hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  DhKeyPair bob = test_key(DhGroup::kCurve25519,
                           hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  EXPECT_EQ(to_hex(alice.public_value()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(to_hex(bob.public_value()),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const char* shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  EXPECT_EQ(secret_hex(alice, bob.public_value()), shared);
  EXPECT_EQ(secret_hex(bob, alice.public_value()), shared);
  // 5.2, first vector: scalar and u-coordinate to output u-coordinate.
  DhKeyPair k = test_key(DhGroup::kCurve25519,
                         hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"));
  EXPECT_EQ(secret_hex(k, hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")),
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
}

TEST(DiffieHellman, MatchesPythonReference) {
  namespace v = vectors;
  struct Case {
    DhGroup group;
    std::span<const uint8_t> priv_i, pub_i, priv_r, pub_r, shared;
  };
  const Case cases[] = {
      {DhGroup::kModp2048, v::kModp2048PrivI, v::kModp2048PublicI, v::kModp2048PrivR,
       v::kModp2048PublicR, v::kModp2048Shared},
      {DhGroup::kEcp384, v::kEcp384PrivI, v::kEcp384PublicI, v::kEcp384PrivR, v::kEcp384PublicR,
       v::kEcp384Shared},
      {DhGroup::kCurve25519, v::kX25519PrivI, v::kX25519PublicI, v::kX25519PrivR, v::kX25519PublicR,
       v::kX25519Shared},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(to_string(c.group));
    DhKeyPair i = test_key(c.group, c.priv_i);
    DhKeyPair r = test_key(c.group, c.priv_r);
    EXPECT_EQ(to_hex(i.public_value()), to_hex(c.pub_i));
    EXPECT_EQ(to_hex(r.public_value()), to_hex(c.pub_r));
    EXPECT_EQ(secret_hex(i, c.pub_r), to_hex(c.shared));
    EXPECT_EQ(secret_hex(r, c.pub_i), to_hex(c.shared));
  }
}

const DhGroup kGroups[] = {DhGroup::kModp2048, DhGroup::kEcp256, DhGroup::kEcp384,
                           DhGroup::kCurve25519};

TEST(DiffieHellman, RandomKeysAgreeInEveryGroup) {
  const size_t secret_length[] = {256, 32, 48, 32};
  for (size_t g = 0; g < std::size(kGroups); ++g) {
    SCOPED_TRACE(to_string(kGroups[g]));
    for (int round = 0; round < 3; ++round) {
      auto a = DhKeyPair::generate(kGroups[g]);
      auto b = DhKeyPair::generate(kGroups[g]);
      ASSERT_TRUE(a.has_value()) << a.error();
      ASSERT_TRUE(b.has_value()) << b.error();
      EXPECT_EQ(a->public_value().size(), dh_public_value_length(kGroups[g]));
      EXPECT_NE(a->public_value(), b->public_value());
      auto ab = a->shared_secret(b->public_value());
      auto ba = b->shared_secret(a->public_value());
      ASSERT_TRUE(ab.has_value()) << ab.error();
      ASSERT_TRUE(ba.has_value()) << ba.error();
      EXPECT_EQ(ab->size(), secret_length[g]);
      EXPECT_EQ(to_hex(*ab), to_hex(*ba));
    }
  }
}

void expect_rejected(const DhKeyPair& k, std::span<const uint8_t> peer, const std::string& part) {
  auto s = k.shared_secret(peer);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().find(part), std::string::npos) << s.error();
}

TEST(DiffieHellman, RejectsWrongLengths) {
  for (DhGroup g : kGroups) {
    SCOPED_TRACE(to_string(g));
    auto k = DhKeyPair::generate(g);
    ASSERT_TRUE(k.has_value()) << k.error();
    Bytes peer = k->public_value();
    peer.push_back(0);
    expect_rejected(*k, peer, "bytes, expected");
    peer.resize(peer.size() - 2);
    expect_rejected(*k, peer, "bytes, expected");
    expect_rejected(*k, {}, "0 bytes, expected");
  }
}

TEST(DiffieHellman, RejectsModpValuesOutsideTheGroup) {
  auto k = DhKeyPair::generate(DhGroup::kModp2048);
  ASSERT_TRUE(k.has_value()) << k.error();
  Bytes zero(256, 0), one(256, 0), all_ones(256, 0xff);
  one[255] = 1;
  expect_rejected(*k, zero, "0 is not allowed");
  expect_rejected(*k, one, "1 is not allowed");
  expect_rejected(*k, all_ones, "not less than the prime");  // > p
  // p and p-1, from the prime as RFC 3526 section 3 publishes it.
  const Bytes p =
      hex("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
          "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
          "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
          "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
          "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
          "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
          "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
          "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF");
  ASSERT_EQ(p.size(), 256u);
  expect_rejected(*k, p, "not less than the prime");
  Bytes p_minus_1 = p;
  p_minus_1[255] -= 1;
  expect_rejected(*k, p_minus_1, "p-1 is not allowed");
  Bytes two(256, 0);
  two[255] = 2;  // the generator itself: a valid peer value
  EXPECT_TRUE(k->shared_secret(two).has_value());
}

TEST(DiffieHellman, RejectsPointsOffTheCurve) {
  for (DhGroup g : {DhGroup::kEcp256, DhGroup::kEcp384}) {
    SCOPED_TRACE(to_string(g));
    auto k = DhKeyPair::generate(g);
    ASSERT_TRUE(k.has_value()) << k.error();
    auto other = DhKeyPair::generate(g);
    ASSERT_TRUE(other.has_value()) << other.error();
    Bytes bad = other->public_value();
    bad.back() ^= 1;  // y changed: not on the curve any more
    expect_rejected(*k, bad, "not a point on the curve");
    Bytes zeros(bad.size(), 0);
    expect_rejected(*k, zeros, "not a point on the curve");
    Bytes ones(bad.size(), 0xff);  // coordinates >= p
    expect_rejected(*k, ones, "not a point on the curve");
  }
}

TEST(DiffieHellman, RejectsX25519LowOrderPoints) {
  auto k = DhKeyPair::generate(DhGroup::kCurve25519);
  ASSERT_TRUE(k.has_value()) << k.error();
  Bytes zero(32, 0), one(32, 0);
  one[0] = 1;
  expect_rejected(*k, zero, "all zero");
  expect_rejected(*k, one, "all zero");
}

TEST(DiffieHellman, RejectsUnsupportedGroups) {
  auto k = DhKeyPair::generate(static_cast<DhGroup>(21));
  ASSERT_FALSE(k.has_value());
  EXPECT_EQ(k.error(), "unsupported DH group 21");
  EXPECT_EQ(dh_public_value_length(static_cast<DhGroup>(2)), 0u);
}

}  // namespace
}  // namespace tcpsec::ikecrypto
