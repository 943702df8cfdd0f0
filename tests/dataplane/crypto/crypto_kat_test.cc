// Known-answer tests of the crypto engine against published vectors:
// AES-GCM (McGrew & Viega, "The Galois/Counter Mode of Operation", test
// cases 2, 3, 4, 14, 15, 16, as in NIST's GCM validation), ChaCha20-Poly1305
// (RFC 8439 2.8.2), HMAC-SHA-256 (RFC 4231), HMAC-SHA-1 (RFC 2202), AES-CBC
// (RFC 3602 section 4, cases 1-8; cases 5-8 are ESP packets). Also: the
// algorithm table, key installation errors, and that a refused decryption
// leaves the buffer as it was.
#include <gtest/gtest.h>

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "dataplane/crypto/algorithm.h"
#include "dataplane/crypto/crypto_engine.h"
#include "dataplane/crypto/sa_crypto.h"
#include "tests/dataplane/crypto/openssl_reference.h"

namespace tcpsec::crypto {
namespace {

using test::Bytes;
using test::hex;

CryptoEngine& engine() {
  static CryptoEngine* e = [] {
    auto made = CryptoEngine::create();
    EXPECT_TRUE(made.has_value()) << (made ? "" : made.error());
    return new CryptoEngine(std::move(*made));
  }();
  return *e;
}

Bytes str(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

void install(SaCrypto& sa, Algorithm a, std::span<const uint8_t> key,
             std::span<const uint8_t> auth = {}) {
  Status st = sa.install(a, key, auth);
  ASSERT_TRUE(st.is_ok()) << st.message();
}

// AEAD seal through the engine: key || salt, 8-byte explicit IV (the nonce is
// salt || iv). Returns ciphertext || tag.
Bytes aead_seal(Algorithm a, const Bytes& keymat, const Bytes& iv, const Bytes& aad,
                const Bytes& pt) {
  SaCrypto sa;
  install(sa, a, keymat);
  Bytes buf = pt;
  buf.resize(pt.size() + 16, 0xee);
  CryptoOp op;
  op.sa = &sa;
  op.base = buf.data();
  op.cipher_offset = 0;
  op.cipher_length = static_cast<uint16_t>(pt.size());
  op.icv_offset = static_cast<uint16_t>(pt.size());
  op.iv = iv.data();
  op.aad = aad.data();
  op.aad_length = static_cast<uint8_t>(aad.size());
  op.direction = Direction::kEncrypt;
  engine().process(std::span<CryptoOp>(&op, 1));
  EXPECT_EQ(op.status, OpStatus::kOk);
  return buf;
}

// AEAD open: the status, and the buffer afterwards (plaintext || tag when
// accepted, the input untouched when refused).
std::pair<OpStatus, Bytes> aead_open(Algorithm a, const Bytes& keymat, const Bytes& iv,
                                     const Bytes& aad, const Bytes& ct_tag) {
  SaCrypto sa;
  install(sa, a, keymat);
  Bytes buf = ct_tag;
  CryptoOp op;
  op.sa = &sa;
  op.base = buf.data();
  op.cipher_length = static_cast<uint16_t>(ct_tag.size() - 16);
  op.icv_offset = op.cipher_length;
  op.iv = iv.data();
  op.aad = aad.data();
  op.aad_length = static_cast<uint8_t>(aad.size());
  op.direction = Direction::kDecrypt;
  engine().process(std::span<CryptoOp>(&op, 1));
  return {op.status, buf};
}

// HMAC through the engine (ENCR_NULL with the HMAC): the ICV-length tag.
Bytes hmac(Algorithm a, const Bytes& key, const Bytes& msg) {
  SaCrypto sa;
  install(sa, a, {}, key);
  Bytes buf = msg;
  buf.resize(msg.size() + properties(a).icv_length);
  CryptoOp op;
  op.sa = &sa;
  op.base = buf.data();
  op.auth_length = static_cast<uint16_t>(msg.size());
  op.icv_offset = static_cast<uint16_t>(msg.size());
  op.direction = Direction::kEncrypt;
  engine().process(std::span<CryptoOp>(&op, 1));
  EXPECT_EQ(op.status, OpStatus::kOk);
  return Bytes(buf.begin() + static_cast<ptrdiff_t>(msg.size()), buf.end());
}

// AES-CBC encryption or decryption of whole blocks with a given IV; the
// HMAC the algorithm carries (any key) goes to a scratch ICV.
Bytes cbc(Algorithm a, const Bytes& key, const Bytes& iv, const Bytes& data, bool encrypt) {
  SaCrypto sa;
  Bytes auth_key(32, 0x11);
  install(sa, a, key, auth_key);
  Bytes buf = data;
  buf.resize(data.size() + 16);
  CryptoOp op;
  op.sa = &sa;
  op.base = buf.data();
  op.cipher_length = static_cast<uint16_t>(data.size());
  op.auth_length = static_cast<uint16_t>(data.size());
  op.icv_offset = static_cast<uint16_t>(data.size());
  op.iv = iv.data();
  op.direction = encrypt ? Direction::kEncrypt : Direction::kDecrypt;
  if (!encrypt) {
    // Let the MAC verify: put the right ICV (computed over the ciphertext).
    Bytes icv = test::ossl_icv(a, auth_key, data);
    std::copy(icv.begin(), icv.end(), buf.begin() + static_cast<ptrdiff_t>(data.size()));
  }
  engine().process(std::span<CryptoOp>(&op, 1));
  EXPECT_EQ(op.status, OpStatus::kOk);
  buf.resize(data.size());
  return buf;
}

// ---------------------------------------------------------------------------
// The algorithm table

TEST(AlgorithmTable, MatchesTheRfcs) {
  for (size_t i = 0; i < kAlgorithms.size(); ++i) {
    const auto& p = kAlgorithms[i];
    SCOPED_TRACE(std::string(p.name));
    EXPECT_EQ(algorithm_from_name(p.name), static_cast<Algorithm>(i));
    EXPECT_EQ((8 + p.iv_length) % 4, 0);  // the IV keeps the payload 32-bit aligned
    switch (p.cipher) {
      case Cipher::kAesGcm:            // RFC 4106: 8-byte IV, 4-byte salt, 16-byte ICV (AES-GCM-16)
      case Cipher::kChaCha20Poly1305:  // RFC 7634 2, 3
        EXPECT_EQ(p.iv_length, 8);
        EXPECT_EQ(p.salt_length, 4);
        EXPECT_EQ(p.icv_length, 16);
        EXPECT_EQ(p.block, 4);
        break;
      case Cipher::kAesCbc:  // RFC 3602: IV and padding block of 16
        EXPECT_EQ(p.iv_length, 16);
        EXPECT_EQ(p.block, 16);
        break;
      case Cipher::kNull:  // RFC 2410: no IV, block size 1 (so 4-byte alignment)
        EXPECT_EQ(p.iv_length, 0);
        EXPECT_EQ(p.block, 4);
        EXPECT_EQ(p.key_length, 0);
        break;
    }
    if (p.integrity == Integrity::kHmacSha256) {  // RFC 4868 2.1
      EXPECT_EQ(p.auth_key_length, 32);
      EXPECT_EQ(p.icv_length, 16);
    }
    if (p.integrity == Integrity::kHmacSha1) {  // RFC 2404
      EXPECT_EQ(p.auth_key_length, 20);
      EXPECT_EQ(p.icv_length, 12);
    }
  }
  EXPECT_EQ(algorithm_from_name("des"), Algorithm::kCount);
}

TEST(SaCrypto, RefusesWrongKeyLengths) {
  SaCrypto sa;
  Bytes k16(16, 1), k20(20, 1), k32(32, 1), k36(36, 1);
  EXPECT_FALSE(sa.install(Algorithm::kAesGcm128, k16, {}).is_ok());   // salt missing
  EXPECT_FALSE(sa.install(Algorithm::kAesGcm128, k20, k20).is_ok());  // AEAD with auth key
  EXPECT_FALSE(sa.install(Algorithm::kAesGcm256, k32, {}).is_ok());
  EXPECT_FALSE(sa.install(Algorithm::kChaCha20Poly1305, k32, {}).is_ok());
  EXPECT_FALSE(sa.install(Algorithm::kAesCbc128HmacSha256, k16, {}).is_ok());  // no auth key
  EXPECT_FALSE(sa.install(Algorithm::kAesCbc256HmacSha1, k16, k20).is_ok());
  EXPECT_FALSE(sa.install(Algorithm::kNullHmacSha1, k16, k20).is_ok());  // NULL has no key
  EXPECT_FALSE(sa.install(Algorithm::kNullHmacSha1, {}, Bytes(257, 1)).is_ok());
  EXPECT_FALSE(sa.install(Algorithm::kCount, {}, {}).is_ok());
  EXPECT_FALSE(sa.installed());
  Status st = sa.install(Algorithm::kAesGcm128, k16, {});
  EXPECT_NE(st.message().find("20 bytes"), std::string::npos) << st.message();

  EXPECT_TRUE(sa.install(Algorithm::kAesGcm128, k20, {}).is_ok());
  EXPECT_TRUE(sa.install(Algorithm::kChaCha20Poly1305, k36, {}).is_ok());
  EXPECT_TRUE(sa.install(Algorithm::kAesCbc256HmacSha256, k32, k32).is_ok());
  EXPECT_TRUE(sa.installed());
  EXPECT_EQ(sa.algorithm(), Algorithm::kAesCbc256HmacSha256);
  // A failed re-install leaves nothing installed.
  EXPECT_FALSE(sa.install(Algorithm::kAesCbc256HmacSha256, k16, k32).is_ok());
  EXPECT_FALSE(sa.installed());
}

TEST(SaCrypto, WipeClearsEveryByte) {
  // Constructed over zeroed storage, so padding bytes are zero too.
  alignas(SaCrypto) static uint8_t storage[sizeof(SaCrypto)];
  std::memset(storage, 0, sizeof storage);
  auto* sa = new (storage) SaCrypto;
  Bytes k(32, 0xa5), auth(32, 0x5a);
  ASSERT_TRUE(sa->install(Algorithm::kAesCbc256HmacSha256, k, auth).is_ok());
  size_t nonzero = 0;
  for (uint8_t b : storage) nonzero += b != 0;
  EXPECT_GT(nonzero, 500u);  // two AES-256 schedules, two HMAC states
  sa->wipe();
  EXPECT_FALSE(sa->installed());
  nonzero = 0;
  for (uint8_t b : storage) nonzero += b != 0;
  EXPECT_EQ(nonzero, 1u);  // the algorithm, reset to kCount
  sa->~SaCrypto();
}

TEST(CryptoEngine, ReportsItsCodePath) {
  std::string arch = engine().arch();
  EXPECT_TRUE(arch == "avx512" || arch == "avx2" || arch == "avx" || arch == "sse" ||
              arch == "sse-no-aesni")
      << arch;
}

// ---------------------------------------------------------------------------
// AES-GCM: the GCM specification's test cases. The 12-byte IV is split as
// ESP does: salt (from the keying material) || 8-byte explicit IV.

const Bytes kGcmP =
    hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
const Bytes kGcmK = hex("feffe9928665731c6d6a8f9467308308");
const Bytes kGcmA = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
const Bytes kGcmSalt = hex("cafebabe");
const Bytes kGcmIv = hex("facedbaddecaf888");

struct AeadKat {
  const char* name;
  Algorithm alg;
  Bytes keymat;  // key || salt
  Bytes iv;
  Bytes aad;
  Bytes pt;
  Bytes ct_tag;
};

std::vector<AeadKat> aead_kats() {
  Bytes p60(kGcmP.begin(), kGcmP.begin() + 60);
  Bytes k256 = test::concat(kGcmK, kGcmK);
  return {
      {"gcm_tc2",
       Algorithm::kAesGcm128,
       Bytes(20, 0),
       Bytes(8, 0),
       {},
       Bytes(16, 0),
       hex("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf")},
      {"gcm_tc3",
       Algorithm::kAesGcm128,
       test::concat(kGcmK, kGcmSalt),
       kGcmIv,
       {},
       kGcmP,
       hex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
           "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985"
           "4d5c2af327cd64a62cf35abd2ba6fab4")},
      {"gcm_tc4", Algorithm::kAesGcm128, test::concat(kGcmK, kGcmSalt), kGcmIv, kGcmA, p60,
       hex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
           "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
           "5bc94fbc3221a5db94fae95ae7121a47")},
      {"gcm_tc14",
       Algorithm::kAesGcm256,
       Bytes(36, 0),
       Bytes(8, 0),
       {},
       Bytes(16, 0),
       hex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919")},
      {"gcm_tc15",
       Algorithm::kAesGcm256,
       test::concat(k256, kGcmSalt),
       kGcmIv,
       {},
       kGcmP,
       hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
           "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
           "b094dac5d93471bdec1a502270e3cc6c")},
      {"gcm_tc16", Algorithm::kAesGcm256, test::concat(k256, kGcmSalt), kGcmIv, kGcmA, p60,
       hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
           "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
           "76fc6ece0f4e1768cddf8853bb2d551b")},
      // RFC 8439 2.8.2: nonce 07000000 || 4041424344454647.
      {"chacha_rfc8439_2_8_2", Algorithm::kChaCha20Poly1305,
       test::concat(hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"),
                    hex("07000000")),
       hex("4041424344454647"), hex("50515253c0c1c2c3c4c5c6c7"),
       str("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
           "the future, sunscreen would be it."),
       hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
           "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
           "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
           "3ff4def08e4b7a9de576d26586cec64b6116"
           "1ae10b594f09e26a7e902ecbd0600691")},
  };
}

class AeadKatTest : public ::testing::TestWithParam<AeadKat> {};

TEST_P(AeadKatTest, Seal) {
  const AeadKat& v = GetParam();
  EXPECT_EQ(aead_seal(v.alg, v.keymat, v.iv, v.aad, v.pt), v.ct_tag);
}

TEST_P(AeadKatTest, Open) {
  const AeadKat& v = GetParam();
  auto [status, buf] = aead_open(v.alg, v.keymat, v.iv, v.aad, v.ct_tag);
  EXPECT_EQ(status, OpStatus::kOk);
  buf.resize(v.pt.size());
  EXPECT_EQ(buf, v.pt);
}

TEST_P(AeadKatTest, TamperedInputIsRefusedAndLeftUnchanged) {
  const AeadKat& v = GetParam();
  for (size_t pos : {size_t{0}, v.ct_tag.size() / 2, v.ct_tag.size() - 1}) {
    Bytes bad = v.ct_tag;
    bad[pos] ^= 0x01;
    auto [status, buf] = aead_open(v.alg, v.keymat, v.iv, v.aad, bad);
    EXPECT_EQ(status, OpStatus::kAuthFailed) << pos;
    EXPECT_EQ(buf, bad) << "the refused buffer must be left as it came, flipped at " << pos;
  }
  // A bit flipped in each tag byte in turn: the compare covers all 16.
  for (size_t pos = v.ct_tag.size() - 16; pos < v.ct_tag.size(); ++pos) {
    Bytes bad = v.ct_tag;
    bad[pos] ^= static_cast<uint8_t>(0x80 >> (pos % 8));
    EXPECT_EQ(aead_open(v.alg, v.keymat, v.iv, v.aad, bad).first, OpStatus::kAuthFailed) << pos;
  }
  Bytes aad = v.aad;
  aad.push_back(0);
  auto [status, buf] = aead_open(v.alg, v.keymat, v.iv, aad, v.ct_tag);
  EXPECT_EQ(status, OpStatus::kAuthFailed);
  EXPECT_EQ(buf, v.ct_tag);
}

INSTANTIATE_TEST_SUITE_P(Published, AeadKatTest, ::testing::ValuesIn(aead_kats()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------
// HMAC: RFC 4231 (SHA-256) and RFC 2202 (SHA-1), truncated to the ESP ICV
// (RFC 4868: 128 bits, RFC 2404: 96 bits).

struct HmacKat {
  const char* name;
  Algorithm alg;
  Bytes key;
  Bytes data;
  Bytes mac;  // full or truncated; compared on the ICV's length
};

std::vector<HmacKat> hmac_kats() {
  const Bytes aa131(131, 0xaa), aa80(80, 0xaa),
      k25 = hex("0102030405060708090a0b0c0d0e0f10111213141516171819");
  const auto s256 = Algorithm::kNullHmacSha256;
  const auto s1 = Algorithm::kNullHmacSha1;
  return {
      {"rfc4231_1", s256, Bytes(20, 0x0b), str("Hi There"),
       hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")},
      {"rfc4231_2", s256, str("Jefe"), str("what do ya want for nothing?"),
       hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")},
      {"rfc4231_3", s256, Bytes(20, 0xaa), Bytes(50, 0xdd),
       hex("773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")},
      {"rfc4231_4", s256, k25, Bytes(50, 0xcd),
       hex("82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b")},
      {"rfc4231_5", s256, Bytes(20, 0x0c), str("Test With Truncation"),
       hex("a3b6167473100ee06e0c796c2955552b")},
      {"rfc4231_6", s256, aa131, str("Test Using Larger Than Block-Size Key - Hash Key First"),
       hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")},
      {"rfc4231_7", s256, aa131,
       str("This is a test using a larger than block-size key and a larger than block-size "
           "data. The key needs to be hashed before being used by the HMAC algorithm."),
       hex("9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")},
      {"rfc2202_1", s1, Bytes(20, 0x0b), str("Hi There"),
       hex("b617318655057264e28bc0b6fb378c8ef146be00")},
      {"rfc2202_2", s1, str("Jefe"), str("what do ya want for nothing?"),
       hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")},
      {"rfc2202_3", s1, Bytes(20, 0xaa), Bytes(50, 0xdd),
       hex("125d7342b9ac11cd91a39af48aa17b4f63f175d3")},
      {"rfc2202_4", s1, k25, Bytes(50, 0xcd), hex("4c9007f4026250c6bc8414f9bf50c86c2d7235da")},
      {"rfc2202_5", s1, Bytes(20, 0x0c), str("Test With Truncation"),
       hex("4c1a03424b55e07fe7f27be1")},  // the RFC's HMAC-SHA-1-96
      {"rfc2202_6", s1, aa80, str("Test Using Larger Than Block-Size Key - Hash Key First"),
       hex("aa4ae5e15272d00e95705637ce8a3b55ed402112")},
      {"rfc2202_7", s1, aa80,
       str("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"),
       hex("e8e99d0f45237d786d6bbaa7965c7808bbff1a91")},
  };
}

class HmacKatTest : public ::testing::TestWithParam<HmacKat> {};

TEST_P(HmacKatTest, Tag) {
  const HmacKat& v = GetParam();
  Bytes want(v.mac.begin(), v.mac.begin() + properties(v.alg).icv_length);
  EXPECT_EQ(hmac(v.alg, v.key, v.data), want);
}

TEST_P(HmacKatTest, VerifyAcceptsAndRefuses) {
  const HmacKat& v = GetParam();
  SaCrypto sa;
  install(sa, v.alg, {}, v.key);
  const size_t icv = properties(v.alg).icv_length;
  // -1: intact; then a bit flipped in each ICV byte in turn (the compare
  // goes by words: 8 + 4 bytes for SHA-1-96, 8 + 8 for SHA-256-128).
  for (int flipped = -1; flipped < static_cast<int>(icv); ++flipped) {
    const bool tamper = flipped >= 0;
    Bytes buf = v.data;
    buf.insert(buf.end(), v.mac.begin(), v.mac.begin() + static_cast<ptrdiff_t>(icv));
    if (tamper)
      buf[v.data.size() + static_cast<size_t>(flipped)] ^=
          static_cast<uint8_t>(1u << (flipped % 8));
    Bytes before = buf;
    CryptoOp op;
    op.sa = &sa;
    op.base = buf.data();
    op.auth_length = static_cast<uint16_t>(v.data.size());
    op.icv_offset = static_cast<uint16_t>(v.data.size());
    op.direction = Direction::kDecrypt;
    engine().process(std::span<CryptoOp>(&op, 1));
    EXPECT_EQ(op.status, tamper ? OpStatus::kAuthFailed : OpStatus::kOk) << flipped;
    EXPECT_EQ(buf, before);
  }
}

INSTANTIATE_TEST_SUITE_P(Published, HmacKatTest, ::testing::ValuesIn(hmac_kats()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------
// AES-CBC: RFC 3602 section 4.

TEST(AesCbcKat, Rfc3602Cases1To4) {
  struct Case {
    Bytes key, iv, pt, ct;
  };
  const Case cases[] = {
      {hex("06a9214036b8a15b512e03d534120006"), hex("3dafba429d9eb430b422da802c9fac41"),
       str("Single block msg"), hex("e353779c1079aeb82708942dbe77181a")},
      {hex("c286696d887c9aa0611bbb3e2025a45a"), hex("562e17996d093d28ddb3ba695a2e6f58"),
       hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
       hex("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1")},
      {hex("6c3ea0477630ce21a2ce334aa746c2cd"), hex("c782dc4c098c66cbd9cd27d825682c81"),
       str("This is a 48-byte message (exactly 3 AES blocks)"),
       hex("d0a02b3836451753d493665d33f0e886"
           "2dea54cdb293abc7506939276772f8d5"
           "021c19216bad525c8579695d83ba2684")},
      {hex("56e47a38c5598974bc46903dba290349"), hex("8ce82eefbea0da3c44699ed7db51b7d9"),
       hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
           "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"),
       hex("c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e"
           "35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55")},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(cbc(Algorithm::kAesCbc128HmacSha256, c.key, c.iv, c.pt, true), c.ct);
    EXPECT_EQ(cbc(Algorithm::kAesCbc128HmacSha1, c.key, c.iv, c.ct, false), c.pt);
  }
}

// Cases 5-8 are whole ESP packets (SPI, sequence number, IV, ciphertext; the
// RFC has no ICV): the ciphertext decrypts to the payload with ESP padding
// 1, 2, 3, ..., pad length and next header (ICMP in transport mode, IPv4 in
// tunnel mode), and encrypting that with the packet's IV gives it back.
TEST(AesCbcKat, Rfc3602EspCases5To8) {
  struct Case {
    Bytes key, esp, payload;
    uint8_t pad_length, next_header;
  };
  const Bytes k56 = hex("90d382b410eeba7ad938c46cec1a82bf");
  const Bytes k78 = hex("0123456789abcdef0123456789abcdef");
  const Case cases[] = {
      {k56,
       hex("0000432100000001e96e8c08ab465763fd098d45dd3ff893f663c25d325c18c6a9453e194e120849"
           "a4870b66cc6b9965330013b4898dc856a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c"
           "538ab50c551b874aa269add047ad2d5913ac19b7cfbad4a6"),
       hex("08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
           "202122232425262728292a2b2c2d2e2f3031323334353637"),
       14, 1},
      {k56,
       hex("000043210000000869d08df7d203329db093fc4924e5bd80f51995881ec4e0c4488987ce742e8109"
           "689bb379d2d750c0d915dca346a89f75"),
       hex("0800b5e8a80a0500a69c083d0b660e00777777777777777777777777"), 2, 1},
      {k78,
       hex("0000876500000002f4e765244f6407adf13dc1380f673f37773b5241a4c449225e4f3ce5ed611b0c"
           "237ca96cf74a93013c1b0ea1a0cf70f8e4ecaec78ac53aad7a0f022b859243c647752e94a859352b"
           "8a4d4d2decd136e5c177f132ad3fbfb2201ac9904c74ee0a109e0ca1e4dfe9d5a100b842f1c22f0d"),
       hex("45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d02a2040008090a0b"
           "0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233"
           "34353637"),
       10, 4},
      {k78,
       hex("000087650000000585d47224b5f3dd5d2101d4ea8dffab2215b92683819596a8047232cc00f7048f"
           "e45318e11f8a0f62ede3c3fc61203bb50f980a08c9843fd3a1b06d5c07ff9639b7eb7dfb3512e5de"
           "435e7207ed971ef3d2726d9b5ef6affc6d17a0decbb13892"),
       hex("45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083da3de0300ffffffff"
           "ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
       10, 4},
  };
  for (const Case& c : cases) {
    Bytes iv(c.esp.begin() + 8, c.esp.begin() + 24);
    Bytes ct(c.esp.begin() + 24, c.esp.end());
    Bytes plain = c.payload;
    for (uint8_t i = 1; i <= c.pad_length; ++i) plain.push_back(i);
    plain.push_back(c.pad_length);
    plain.push_back(c.next_header);
    EXPECT_EQ(cbc(Algorithm::kAesCbc128HmacSha256, c.key, iv, ct, false), plain);
    EXPECT_EQ(cbc(Algorithm::kAesCbc128HmacSha256, c.key, iv, plain, true), ct);
  }
}

TEST(AesCbc, RefusedDecryptionIsRestored) {
  SaCrypto sa;
  Bytes key(32, 0x42), auth(32, 0x24);
  install(sa, Algorithm::kAesCbc256HmacSha256, key, auth);
  Bytes iv(16, 0x77), data(64);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  Bytes buf = data;
  buf.resize(80, 0);  // wrong ICV: zeros
  Bytes before = buf;
  CryptoOp op;
  op.sa = &sa;
  op.base = buf.data();
  op.cipher_length = 64;
  op.auth_length = 64;
  op.icv_offset = 64;
  op.iv = iv.data();
  op.direction = Direction::kDecrypt;
  engine().process(std::span<CryptoOp>(&op, 1));
  EXPECT_EQ(op.status, OpStatus::kAuthFailed);
  EXPECT_EQ(buf, before);
}

// The post-decryption check: called only once the ICV verified, sees the
// plaintext; refusing restores the ciphertext.
TEST(CryptoEngine, PostDecryptCheckRefusesAndRestores) {
  const AeadKat v = aead_kats()[1];  // gcm_tc3
  SaCrypto sa;
  install(sa, v.alg, v.keymat);
  for (uint8_t verdict : {0, 7}) {
    Bytes buf = v.ct_tag;
    struct Seen {
      uint8_t verdict;
      Bytes plain;
      int calls = 0;
    } seen{verdict, {}};
    CryptoOp op;
    op.sa = &sa;
    op.base = buf.data();
    op.cipher_length = static_cast<uint16_t>(v.pt.size());
    op.icv_offset = op.cipher_length;
    op.iv = v.iv.data();
    op.direction = Direction::kDecrypt;
    op.user = &seen;
    op.check = [](CryptoOp& o) -> uint8_t {
      auto* s = static_cast<Seen*>(o.user);
      ++s->calls;
      s->plain.assign(o.base, o.base + o.cipher_length);
      return s->verdict;
    };
    engine().process(std::span<CryptoOp>(&op, 1));
    EXPECT_EQ(seen.calls, 1);
    EXPECT_EQ(seen.plain, v.pt);
    if (verdict == 0) {
      EXPECT_EQ(op.status, OpStatus::kOk);
      EXPECT_EQ(Bytes(buf.begin(), buf.begin() + 64), v.pt);
    } else {
      EXPECT_EQ(op.status, OpStatus::kRejected);
      EXPECT_EQ(op.reject_code, verdict);
      EXPECT_EQ(buf, v.ct_tag);
    }
  }
}

TEST(CryptoEngine, SkipsOpsWithoutSaAndFlagsBadOnes) {
  SaCrypto sa;
  install(sa, Algorithm::kAesCbc128HmacSha1, Bytes(16, 1), Bytes(20, 2));
  Bytes buf(64);
  CryptoOp ops[3];
  ops[0].sa = nullptr;  // skipped
  ops[1].sa = &sa;      // CBC without an IV
  ops[1].base = buf.data();
  ops[1].cipher_length = 32;
  ops[1].icv_offset = 32;
  ops[2] = ops[1];
  ops[2].iv = buf.data();
  ops[2].cipher_length = 17;  // not whole blocks: the library refuses it
  engine().process(std::span<CryptoOp>(ops, 3));
  EXPECT_EQ(ops[0].status, OpStatus::kSkipped);
  EXPECT_EQ(ops[1].status, OpStatus::kError);
  EXPECT_EQ(ops[2].status, OpStatus::kError);
  SaCrypto empty;
  ops[0].sa = &empty;  // not installed
  ops[0].base = buf.data();
  engine().process(std::span<CryptoOp>(ops, 1));
  EXPECT_EQ(ops[0].status, OpStatus::kError);
}

}  // namespace
}  // namespace tcpsec::crypto
