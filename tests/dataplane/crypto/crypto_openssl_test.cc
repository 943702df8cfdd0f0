// Cross-checks the engine against OpenSSL EVP for every algorithm, on random
// keys and random data of many sizes, in ESP's layout (header, IV, payload,
// ICV; AAD = SPI || [seq_hi ||] seq_lo; HMAC over header, IV, ciphertext
// [and seq_hi]): encrypt with the engine and verify + decrypt with OpenSSL,
// and the other way round. Each direction runs as one burst mixing every
// algorithm and size, so multi-buffer lanes fill, flush and complete out of
// submission order.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dataplane/crypto/crypto_engine.h"
#include "dataplane/crypto/sa_crypto.h"
#include "tests/dataplane/crypto/openssl_reference.h"

namespace tcpsec::crypto {
namespace {

using test::Bytes;

CryptoEngine& engine() {
  static CryptoEngine* e = [] {
    auto made = CryptoEngine::create();
    EXPECT_TRUE(made.has_value()) << (made ? "" : made.error());
    return new CryptoEngine(std::move(*made));
  }();
  return *e;
}

constexpr size_t kHeader = 8;

// One packet: its keys, its layout and contents, and the engine's op.
struct Case {
  Algorithm alg;
  bool esn;
  uint32_t esn_hi;
  Bytes cipher_key;  // with salt
  Bytes auth_key;
  Bytes header;  // "SPI || seq"
  Bytes iv;
  Bytes plain;
  std::unique_ptr<SaCrypto> sa = std::make_unique<SaCrypto>();
  Bytes buf;  // header || iv || payload || icv
  CryptoOp op;

  const AlgorithmProperties& p() const { return properties(alg); }
  size_t payload_at() const { return kHeader + p().iv_length; }
  size_t icv_at() const { return payload_at() + plain.size(); }

  Bytes aad() const {
    Bytes a(header.begin(), header.begin() + 4);
    if (esn) {
      for (int s = 24; s >= 0; s -= 8) a.push_back(static_cast<uint8_t>(esn_hi >> s));
    }
    a.insert(a.end(), header.begin() + 4, header.end());
    return a;
  }
  Bytes nonce() const { return test::concat(Bytes(cipher_key.end() - 4, cipher_key.end()), iv); }
  Bytes key() const { return Bytes(cipher_key.begin(), cipher_key.begin() + p().key_length); }
  Bytes hmac_input(std::span<const uint8_t> ct) const {
    Bytes m = test::concat(test::concat(header, iv), ct);
    if (esn) {
      for (int s = 24; s >= 0; s -= 8) m.push_back(static_cast<uint8_t>(esn_hi >> s));
    }
    return m;
  }

  // Lays out buf with `payload` and points the op at it.
  void prepare(std::span<const uint8_t> payload, std::span<const uint8_t> icv, Direction dir) {
    buf = test::concat(test::concat(header, iv), payload);
    buf.insert(buf.end(), icv.begin(), icv.end());
    buf.resize(icv_at() + p().icv_length, 0);
    op = CryptoOp{};
    op.sa = sa.get();
    op.base = buf.data();
    op.direction = dir;
    op.iv = buf.data() + kHeader;
    op.cipher_offset = static_cast<uint16_t>(payload_at());
    op.cipher_length = static_cast<uint16_t>(plain.size());
    op.icv_offset = static_cast<uint16_t>(icv_at());
    if (p().aead()) {
      op.aad = op.aad_storage;
      op.esn_hi = esn_hi;
      refresh_aad();
    } else {
      op.auth_offset = 0;
      op.auth_length = static_cast<uint16_t>(icv_at());
      op.hmac_esn = esn;
      op.esn_hi = esn_hi;
    }
    if (p().cipher == Cipher::kNull) {
      op.cipher_length = 0;
      op.iv = nullptr;
    }
  }
  // The AEAD's AAD as ESP builds it: from the header in the buffer.
  void refresh_aad() {
    const uint8_t* h = buf.data();
    uint8_t* a = op.aad_storage;
    std::memcpy(a, h, 4);
    size_t n = 4;
    if (esn) {
      for (int s = 24; s >= 0; s -= 8) a[n++] = static_cast<uint8_t>(op.esn_hi >> s);
    }
    std::memcpy(a + n, h + 4, 4);
    op.aad_length = static_cast<uint8_t>(n + 4);
  }
  std::span<const uint8_t> payload() const { return {buf.data() + payload_at(), plain.size()}; }
  std::span<const uint8_t> icv() const { return {buf.data() + icv_at(), p().icv_length}; }
};

std::vector<size_t> sizes_for(const AlgorithmProperties& p) {
  if (p.cipher == Cipher::kAesCbc)
    return {16, 32, 48, 64, 80, 128, 256, 512, 1024, 1408, 1504, 4096};
  return {0,  1,  2,   3,   4,   7,   15,  16,  17,   31,   32,   33,   63,
          64, 65, 100, 255, 256, 257, 511, 512, 1000, 1400, 1500, 2048, 4001};
}

std::vector<std::unique_ptr<Case>> make_cases(std::mt19937_64& rng) {
  std::vector<std::unique_ptr<Case>> cases;
  for (size_t a = 0; a < kAlgorithms.size(); ++a) {
    const Algorithm alg = static_cast<Algorithm>(a);
    const AlgorithmProperties& p = properties(alg);
    for (size_t size : sizes_for(p)) {
      auto c = std::make_unique<Case>();
      c->alg = alg;
      c->esn = (rng() & 1) != 0;
      c->esn_hi = static_cast<uint32_t>(rng());
      c->cipher_key = test::random_bytes(rng, size_t{p.key_length} + p.salt_length);
      c->auth_key = test::random_bytes(rng, p.auth_key_length);
      c->header = test::random_bytes(rng, kHeader);
      c->iv = test::random_bytes(rng, p.iv_length);
      c->plain = test::random_bytes(rng, size);
      Status st = c->sa->install(alg, c->cipher_key, c->auth_key);
      EXPECT_TRUE(st.is_ok()) << st.message();
      cases.push_back(std::move(c));
    }
  }
  std::shuffle(cases.begin(), cases.end(), rng);  // mix algorithms in the burst
  return cases;
}

std::string name(const Case& c) {
  return std::string(c.p().name) + " size " + std::to_string(c.plain.size()) +
         (c.esn ? " esn" : "");
}

TEST(CryptoVsOpenSsl, EngineEncryptsOpenSslDecrypts) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::mt19937_64 rng(seed);
    auto cases = make_cases(rng);
    std::vector<CryptoOp*> burst;
    for (auto& c : cases) {
      c->prepare(c->plain, {}, Direction::kEncrypt);
      burst.push_back(&c->op);
    }
    engine().process(std::span<CryptoOp* const>(burst));
    for (auto& c : cases) {
      SCOPED_TRACE(name(*c));
      ASSERT_EQ(c->op.status, OpStatus::kOk);
      Bytes ct(c->payload().begin(), c->payload().end());
      Bytes icv(c->icv().begin(), c->icv().end());
      switch (c->p().cipher) {
        case Cipher::kAesGcm:
        case Cipher::kChaCha20Poly1305: {
          auto opened =
              test::ossl_aead_open(c->alg, c->key(), c->nonce(), c->aad(), test::concat(ct, icv));
          ASSERT_TRUE(opened.has_value());
          EXPECT_EQ(*opened, c->plain);
          break;
        }
        case Cipher::kAesCbc:
          EXPECT_EQ(icv, test::ossl_icv(c->alg, c->auth_key, c->hmac_input(ct)));
          EXPECT_EQ(test::ossl_cbc(c->alg, c->key(), c->iv, ct, false), c->plain);
          break;
        case Cipher::kNull:
          EXPECT_EQ(icv, test::ossl_icv(c->alg, c->auth_key, c->hmac_input(ct)));
          EXPECT_EQ(ct, c->plain);
          break;
      }
      // The header and IV are never touched.
      EXPECT_TRUE(std::equal(c->header.begin(), c->header.end(), c->buf.begin()));
      EXPECT_TRUE(std::equal(c->iv.begin(), c->iv.end(), c->buf.begin() + kHeader));
    }
  }
}

// OpenSSL's ciphertext and ICV for a case.
std::pair<Bytes, Bytes> openssl_seal(const Case& c) {
  switch (c.p().cipher) {
    case Cipher::kAesGcm:
    case Cipher::kChaCha20Poly1305: {
      Bytes sealed = test::ossl_aead_seal(c.alg, c.key(), c.nonce(), c.aad(), c.plain);
      return {Bytes(sealed.begin(), sealed.end() - 16), Bytes(sealed.end() - 16, sealed.end())};
    }
    case Cipher::kAesCbc: {
      Bytes ct = test::ossl_cbc(c.alg, c.key(), c.iv, c.plain, true);
      return {ct, test::ossl_icv(c.alg, c.auth_key, c.hmac_input(ct))};
    }
    case Cipher::kNull:
      return {c.plain, test::ossl_icv(c.alg, c.auth_key, c.hmac_input(c.plain))};
  }
  return {};
}

TEST(CryptoVsOpenSsl, OpenSslEncryptsEngineDecrypts) {
  for (uint64_t seed = 11; seed <= 13; ++seed) {
    std::mt19937_64 rng(seed);
    auto cases = make_cases(rng);
    // Every other packet is tampered with (a bit of the header, IV,
    // ciphertext or ICV, or the ESN high bits) and must be refused untouched.
    std::vector<int> tampered(cases.size(), -1);
    std::vector<Bytes> before(cases.size());
    std::vector<CryptoOp*> burst;
    for (size_t i = 0; i < cases.size(); ++i) {
      Case& c = *cases[i];
      auto [ct, icv] = openssl_seal(c);
      c.prepare(ct, icv, Direction::kDecrypt);
      if (i % 2 == 1) {
        size_t len = c.icv_at() + c.p().icv_length;
        if (c.esn && rng() % 4 == 0) {
          c.op.esn_hi ^= 1u << (rng() % 32);
          tampered[i] = static_cast<int>(len);  // marker: the ESN
        } else {
          size_t pos = rng() % len;
          c.buf[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
          tampered[i] = static_cast<int>(pos);
        }
        if (c.p().aead()) c.refresh_aad();
      }
      before[i] = c.buf;
      burst.push_back(&c.op);
    }
    engine().process(std::span<CryptoOp* const>(burst));
    for (size_t i = 0; i < cases.size(); ++i) {
      Case& c = *cases[i];
      SCOPED_TRACE(name(c) + " tampered at " + std::to_string(tampered[i]));
      if (tampered[i] >= 0) {
        // Header (AAD or HMAC region), IV, ciphertext and ICV are all
        // authenticated: every flip is caught.
        EXPECT_EQ(c.op.status, OpStatus::kAuthFailed);
        EXPECT_EQ(c.buf, before[i]);
        continue;
      }
      ASSERT_EQ(c.op.status, OpStatus::kOk);
      EXPECT_TRUE(std::equal(c.plain.begin(), c.plain.end(), c.payload().begin()));
      // Only the payload changed: header, IV and ICV are as they came.
      EXPECT_TRUE(std::equal(before[i].begin(), before[i].begin() + c.payload_at(), c.buf.begin()));
      EXPECT_TRUE(
          std::equal(before[i].begin() + c.icv_at(), before[i].end(), c.buf.begin() + c.icv_at()));
    }
  }
}

// Bursts far larger than the manager's queue, all of one algorithm, then a
// burst of one: the engine drains completions as it goes.
TEST(CryptoVsOpenSsl, LongBurstsAndSingletons) {
  std::mt19937_64 rng(99);
  for (Algorithm alg : {Algorithm::kAesGcm128, Algorithm::kAesCbc256HmacSha1,
                        Algorithm::kChaCha20Poly1305, Algorithm::kNullHmacSha256}) {
    for (size_t n : {size_t{1}, size_t{2}, size_t{33}, size_t{300}}) {
      std::vector<std::unique_ptr<Case>> cases;
      std::vector<CryptoOp*> burst;
      for (size_t i = 0; i < n; ++i) {
        auto c = std::make_unique<Case>();
        const AlgorithmProperties& p = properties(alg);
        c->alg = alg;
        c->esn = false;
        c->esn_hi = 0;
        c->cipher_key = test::random_bytes(rng, size_t{p.key_length} + p.salt_length);
        c->auth_key = test::random_bytes(rng, p.auth_key_length);
        c->header = test::random_bytes(rng, kHeader);
        c->iv = test::random_bytes(rng, p.iv_length);
        c->plain = test::random_bytes(rng, 16 * (1 + rng() % 90));
        ASSERT_TRUE(c->sa->install(alg, c->cipher_key, c->auth_key).is_ok());
        c->prepare(c->plain, {}, Direction::kEncrypt);
        burst.push_back(&c->op);
        cases.push_back(std::move(c));
      }
      engine().process(std::span<CryptoOp* const>(burst));
      for (auto& c : cases) {
        ASSERT_EQ(c->op.status, OpStatus::kOk);
        auto [ct, icv] = openssl_seal(*c);
        EXPECT_TRUE(std::equal(ct.begin(), ct.end(), c->payload().begin())) << name(*c);
        EXPECT_TRUE(std::equal(icv.begin(), icv.end(), c->icv().begin())) << name(*c);
      }
    }
  }
}

}  // namespace
}  // namespace tcpsec::crypto
