#include "dataplane/crypto/sa_crypto.h"

#include <cstring>
#include <string>

#include "dataplane/crypto/imb_manager.h"

namespace tcpsec::crypto {

static_assert(sizeof(gcm_key_data) <= SaCrypto::kKeyStorage);
static_assert(alignof(gcm_key_data) <= 64);

namespace {

// AES key schedule of up to 15 round keys (AES-256); the decryption
// schedule follows the encryption one in SaCrypto::keys_.
constexpr size_t kAesSchedule = 16 * 15;
static_assert(2 * kAesSchedule <= SaCrypto::kKeyStorage);

constexpr size_t kShaBlock = 64;  // SHA-1 and SHA-256
constexpr size_t kMaxAuthKey = 256;

// RFC 2104: the hash states after one block of (K ^ ipad) and (K ^ opad),
// which is what the job API's HMAC lanes start from.
void hmac_precompute(IMB_MGR* mgr, Integrity integrity, std::span<const uint8_t> key, uint8_t* ipad,
                     uint8_t* opad) {
  alignas(16) uint8_t k[kShaBlock] = {};
  if (key.size() > kShaBlock) {
    if (integrity == Integrity::kHmacSha256) {
      IMB_SHA256(mgr, key.data(), key.size(), k);
    } else {
      IMB_SHA1(mgr, key.data(), key.size(), k);
    }
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  alignas(16) uint8_t block[kShaBlock];
  for (size_t i = 0; i < kShaBlock; ++i) block[i] = k[i] ^ 0x36;
  if (integrity == Integrity::kHmacSha256) {
    IMB_SHA256_ONE_BLOCK(mgr, block, ipad);
  } else {
    IMB_SHA1_ONE_BLOCK(mgr, block, ipad);
  }
  for (size_t i = 0; i < kShaBlock; ++i) block[i] = k[i] ^ 0x5c;
  if (integrity == Integrity::kHmacSha256) {
    IMB_SHA256_ONE_BLOCK(mgr, block, opad);
  } else {
    IMB_SHA1_ONE_BLOCK(mgr, block, opad);
  }
  imb_clear_mem(k, sizeof k);
  imb_clear_mem(block, sizeof block);
}

}  // namespace

SaCrypto::~SaCrypto() {
  wipe();
}

void SaCrypto::wipe() {
  imb_clear_mem(keys_, sizeof keys_);
  imb_clear_mem(ipad_, sizeof ipad_);
  imb_clear_mem(opad_, sizeof opad_);
  imb_clear_mem(salt_, sizeof salt_);
  installed_ = false;
  algorithm_ = Algorithm::kCount;
}

Status SaCrypto::install(Algorithm algorithm, std::span<const uint8_t> cipher_key,
                         std::span<const uint8_t> auth_key) {
  wipe();
  if (algorithm >= Algorithm::kCount) return Status::error("unknown ESP algorithm");
  const AlgorithmProperties& p = crypto::properties(algorithm);
  const std::string name(p.name);
  size_t want = size_t{p.key_length} + p.salt_length;
  if (cipher_key.size() != want) {
    return Status::error(name + ": encryption key must be " + std::to_string(want) +
                         " bytes, not " + std::to_string(cipher_key.size()));
  }
  if (p.aead() && !auth_key.empty()) {
    return Status::error(name + ": an AEAD algorithm takes no integrity key");
  }
  if (!p.aead() && (auth_key.empty() || auth_key.size() > kMaxAuthKey)) {
    return Status::error(name + ": integrity key must be 1 to " + std::to_string(kMaxAuthKey) +
                         " bytes (IKEv2 derives " + std::to_string(p.auth_key_length) + "), not " +
                         std::to_string(auth_key.size()));
  }
  Expected<IMB_MGR*> mgr = detail::key_manager();
  if (!mgr) return mgr.status();

  const uint8_t* key = cipher_key.data();
  switch (p.cipher) {
    case Cipher::kAesGcm: {
      auto* gcm = reinterpret_cast<gcm_key_data*>(keys_);
      if (p.key_length == 16) {
        IMB_AES128_GCM_PRE(*mgr, key, gcm);
      } else {
        IMB_AES256_GCM_PRE(*mgr, key, gcm);
      }
      break;
    }
    case Cipher::kChaCha20Poly1305:
      std::memcpy(keys_, key, p.key_length);
      break;
    case Cipher::kAesCbc:
      if (p.key_length == 16) {
        IMB_AES_KEYEXP_128(*mgr, key, keys_, keys_ + kAesSchedule);
      } else {
        IMB_AES_KEYEXP_256(*mgr, key, keys_, keys_ + kAesSchedule);
      }
      break;
    case Cipher::kNull:
      break;
  }
  // (NULL encryption has no key: memcpy from a null pointer is undefined even for 0 bytes.)
  if (p.salt_length != 0) std::memcpy(salt_, key + p.key_length, p.salt_length);
  if (!p.aead()) hmac_precompute(*mgr, p.integrity, auth_key, ipad_, opad_);
  algorithm_ = algorithm;
  installed_ = true;
  return Status::ok();
}

}  // namespace tcpsec::crypto
