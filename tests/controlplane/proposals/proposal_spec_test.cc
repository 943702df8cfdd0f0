// Parsing strongSwan proposal notation (controlplane/proposals/proposal_spec.h).
#include "controlplane/proposals/proposal_spec.h"

#include <gtest/gtest.h>

namespace tcpsec::proposals {
namespace {

using ike::DhGroup;
using ike::EncrId;
using ike::EsnId;
using ike::IntegId;
using ike::PrfId;

TEST(ParseIke, CbcSuiteDerivesPrfFromIntegrity) {
  auto s = parse_ike_proposal("aes128-sha256-ecp256");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->encryption, (std::vector<EncryptionAlgorithm>{{EncrId::kAesCbc, 128}}));
  EXPECT_EQ(s->integrity, std::vector<IntegId>{IntegId::kHmacSha2_256_128});
  EXPECT_EQ(s->prf, std::vector<PrfId>{PrfId::kHmacSha2_256});
  EXPECT_EQ(s->dh, std::vector<DhGroup>{DhGroup::kEcp256});

  s = parse_ike_proposal("aes256-sha384-modp2048");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->encryption.front().key_bits, 256);
  EXPECT_EQ(s->prf, std::vector<PrfId>{PrfId::kHmacSha2_384});
  EXPECT_EQ(s->dh, std::vector<DhGroup>{DhGroup::kModp2048});
}

TEST(ParseIke, AeadSuites) {
  auto s = parse_ike_proposal("aes128gcm16-prfsha256-ecp256");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->encryption, (std::vector<EncryptionAlgorithm>{{EncrId::kAesGcm16, 128}}));
  EXPECT_TRUE(s->integrity.empty());
  EXPECT_EQ(s->prf, std::vector<PrfId>{PrfId::kHmacSha2_256});

  s = parse_ike_proposal("aes256gcm16-prfsha384-ecp384");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->encryption.front().key_bits, 256);
  EXPECT_EQ(s->dh, std::vector<DhGroup>{DhGroup::kEcp384});

  s = parse_ike_proposal("chacha20poly1305-prfsha256-x25519");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->encryption, (std::vector<EncryptionAlgorithm>{{EncrId::kChacha20Poly1305, 0}}));
  EXPECT_EQ(s->dh, std::vector<DhGroup>{DhGroup::kCurve25519});

  auto alias = parse_ike_proposal("aes128gcm-prfsha256-curve25519");
  ASSERT_TRUE(alias) << alias.error();
  EXPECT_EQ(alias->encryption.front().id, EncrId::kAesGcm16);
  EXPECT_EQ(alias->dh, std::vector<DhGroup>{DhGroup::kCurve25519});
}

TEST(ParseIke, SeveralAlgorithmsPerType) {
  auto s = parse_ike_proposal("aes128-aes256-sha256-sha1-ecp256-modp2048");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->encryption.size(), 2u);
  EXPECT_EQ(s->integrity,
            (std::vector<IntegId>{IntegId::kHmacSha2_256_128, IntegId::kHmacSha1_96}));
  EXPECT_EQ(s->prf, (std::vector<PrfId>{PrfId::kHmacSha2_256, PrfId::kHmacSha1}));
  EXPECT_EQ(s->dh, (std::vector<DhGroup>{DhGroup::kEcp256, DhGroup::kModp2048}));
  EXPECT_EQ(to_string(*s), "aes128-aes256-sha256-sha1-ecp256-modp2048");
}

TEST(ParseIke, ExplicitPrfOverridesDefault) {
  auto s = parse_ike_proposal("aes128-sha256-prfsha384-ecp256");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->prf, std::vector<PrfId>{PrfId::kHmacSha2_384});
  EXPECT_EQ(to_string(*s), "aes128-sha256-prfsha384-ecp256");
}

TEST(ParseIke, Errors) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"aes999-sha256-ecp256", "unknown token 'aes999' in 'aes999-sha256-ecp256'"},
      {"aes128-sha256-modp1024", "unknown token 'modp1024' in 'aes128-sha256-modp1024'"},
      {"aes128gcm16-sha256-prfsha256-ecp256",
       "integrity algorithm 'sha256' with AEAD encryption in "
       "'aes128gcm16-sha256-prfsha256-ecp256' (an AEAD cipher has its own integrity check)"},
      {"aes128gcm16-ecp256", "no PRF in AEAD proposal 'aes128gcm16-ecp256' (add e.g. prfsha256)"},
      {"aes128-sha256", "no DH group in IKE proposal 'aes128-sha256'"},
      {"aes128-ecp256", "no integrity algorithm in 'aes128-ecp256'"},
      {"sha256-ecp256", "no encryption algorithm in 'sha256-ecp256'"},
      {"null-sha256-ecp256", "null encryption is not allowed for IKE in 'null-sha256-ecp256'"},
      {"aes128-sha256-ecp256-esn", "ESN token in IKE proposal 'aes128-sha256-ecp256-esn'"},
      {"aes128--sha256-ecp256", "empty token in 'aes128--sha256-ecp256'"},
      {"aes128-sha256-ecp256-", "empty token in 'aes128-sha256-ecp256-'"},
      {"", "empty proposal"},
      {"aes128-aes128gcm16-sha256-ecp256",
       "AEAD and non-AEAD encryption mixed in 'aes128-aes128gcm16-sha256-ecp256' (write two "
       "proposals)"},
      {"AES128-sha256-ecp256", "unknown token 'AES128' in 'AES128-sha256-ecp256'"},
      {"aes128-sha256-ecp256\n", "unknown token 'ecp256\\x0a' in 'aes128-sha256-ecp256\\x0a'"},
  };
  for (const auto& c : cases) {
    auto s = parse_ike_proposal(c.text);
    ASSERT_FALSE(s) << c.text;
    EXPECT_EQ(s.error(), c.error) << c.text;
  }
  auto big = parse_ike_proposal(std::string(600, 'a'));
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().find("longer than 512"), std::string::npos) << big.error();
}

TEST(ParseEsp, Suites) {
  struct Case {
    const char* text;
    EncrId encr;
    uint16_t bits;
    IntegId integ;
  } cases[] = {
      {"aes128gcm16", EncrId::kAesGcm16, 128, IntegId::kNone},
      {"aes256gcm16", EncrId::kAesGcm16, 256, IntegId::kNone},
      {"aes128-sha256", EncrId::kAesCbc, 128, IntegId::kHmacSha2_256_128},
      {"aes256-sha1", EncrId::kAesCbc, 256, IntegId::kHmacSha1_96},
      {"chacha20poly1305", EncrId::kChacha20Poly1305, 0, IntegId::kNone},
      {"null-sha256", EncrId::kNull, 0, IntegId::kHmacSha2_256_128},
  };
  for (const auto& c : cases) {
    auto s = parse_esp_proposal(c.text);
    ASSERT_TRUE(s) << c.text << ": " << s.error();
    EXPECT_EQ(s->encryption, (std::vector<EncryptionAlgorithm>{{c.encr, c.bits}})) << c.text;
    if (c.integ == IntegId::kNone) {
      EXPECT_TRUE(s->integrity.empty()) << c.text;
    } else {
      EXPECT_EQ(s->integrity, std::vector<IntegId>{c.integ}) << c.text;
    }
    EXPECT_TRUE(s->dh.empty());
    EXPECT_EQ(s->esn, std::vector<EsnId>{EsnId::kNoEsn});
    EXPECT_EQ(to_string(*s), c.text);
  }
}

TEST(ParseEsp, PfsAndEsn) {
  auto s = parse_esp_proposal("aes128gcm16-ecp256-esn");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->dh, std::vector<DhGroup>{DhGroup::kEcp256});
  EXPECT_EQ(s->esn, std::vector<EsnId>{EsnId::kEsn});
  EXPECT_EQ(to_string(*s), "aes128gcm16-ecp256-esn");

  s = parse_esp_proposal("aes128-sha256-modp2048-noesn");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->esn, std::vector<EsnId>{EsnId::kNoEsn});
  EXPECT_EQ(to_string(*s), "aes128-sha256-modp2048");

  s = parse_esp_proposal("aes128gcm16-esn-noesn");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->esn, (std::vector<EsnId>{EsnId::kEsn, EsnId::kNoEsn}));
  EXPECT_EQ(to_string(*s), "aes128gcm16-esn-noesn");
}

TEST(ParseEsp, Errors) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"aes128gcm16-sha256",
       "integrity algorithm 'sha256' with AEAD encryption in 'aes128gcm16-sha256' (an AEAD "
       "cipher has its own integrity check)"},
      {"aes128", "no integrity algorithm in 'aes128'"},
      {"aes128gcm16-prfsha256", "PRF 'prfsha256' in ESP proposal 'aes128gcm16-prfsha256'"},
      {"aes128-md5", "unknown token 'md5' in 'aes128-md5'"},
      {"3des-sha1", "unknown token '3des' in '3des-sha1'"},
  };
  for (const auto& c : cases) {
    auto s = parse_esp_proposal(c.text);
    ASSERT_FALSE(s) << c.text;
    EXPECT_EQ(s.error(), c.error) << c.text;
  }
}

TEST(ParseList, ErrorNamesIndex) {
  auto ok = parse_ike_proposals({"aes128-sha256-ecp256", "aes256gcm16-prfsha384-ecp384"});
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->size(), 2u);
  auto bad = parse_esp_proposals({"aes128gcm16", "aes999"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "[1]: unknown token 'aes999' in 'aes999'");
}

TEST(Names, PeerOnlyAlgorithmsHaveNames) {
  EXPECT_EQ(dh_name(DhGroup::kModp1024), "modp1024");
  EXPECT_EQ(dh_name(static_cast<DhGroup>(99)), "dh99");
  EXPECT_EQ(encryption_name(EncrId::k3des, 0), "3des");
  EXPECT_EQ(encryption_name(EncrId::kAesCtr, 128), "aes128ctr");
  EXPECT_EQ(encryption_name(EncrId::kAesCbc, 0), "aes");
  EXPECT_EQ(encryption_name(static_cast<EncrId>(99), 0), "encr99");
  EXPECT_EQ(integrity_name(IntegId::kHmacMd5_96), "md5");
  EXPECT_EQ(prf_name(PrfId::kAes128Xcbc), "prfaesxcbc");
}

}  // namespace
}  // namespace tcpsec::proposals
