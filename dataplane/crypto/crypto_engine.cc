#include "dataplane/crypto/crypto_engine.h"

#include <cstring>
#include <utility>

#include "dataplane/crypto/imb_manager.h"

namespace tcpsec::crypto {

namespace detail {
struct SaCryptoAccess {
  static const uint8_t* keys(const SaCrypto& sa) { return sa.keys_; }
  static const uint8_t* salt(const SaCrypto& sa) { return sa.salt_; }
  static const uint8_t* ipad(const SaCrypto& sa) { return sa.ipad_; }
  static const uint8_t* opad(const SaCrypto& sa) { return sa.opad_; }
};
}  // namespace detail

namespace {

using Keys = detail::SaCryptoAccess;

constexpr size_t kAesSchedule = 16 * 15;  // see sa_crypto.cc

// Marks the second-pass job that restores a refused op's ciphertext.
char restore_tag;

// No early exit: the time does not depend on where the ICVs differ. By
// words (ICVs are 12 or 16 bytes): the byte loop was 40% of esp_process.
inline bool equal_constant_time(const uint8_t* a, const uint8_t* b, size_t n) {
  uint64_t diff = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    diff |= x ^ y;
  }
  if (i + 4 <= n) {
    uint32_t x, y;
    std::memcpy(&x, a + i, 4);
    std::memcpy(&y, b + i, 4);
    diff |= x ^ y;
    i += 4;
  }
  for (; i < n; ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Fills a job for `op`. A restore job runs the op's cipher forwards again
// (no MAC) to turn refused plaintext back into the ciphertext it came from.
void fill_job(IMB_JOB* job, CryptoOp& op, bool restore) {
  const AlgorithmProperties& p = op.sa->properties();
  const bool encrypt = restore || op.direction == Direction::kEncrypt;
  const uint8_t* keys = Keys::keys(*op.sa);

  // The cipher offset applies to src only: dst is where the output starts.
  job->src = op.base;
  job->dst = op.base + op.cipher_offset;
  job->cipher_start_src_offset_in_bytes = op.cipher_offset;
  job->msg_len_to_cipher_in_bytes = op.cipher_length;
  job->cipher_direction = encrypt ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
  job->chain_order = encrypt ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
  job->user_data = &op;
  job->user_data2 = restore ? &restore_tag : nullptr;
  job->auth_tag_output_len_in_bytes = p.icv_length;
  // The tag goes straight into the packet unless it has to be compared, or
  // the ICV slot is borrowed for the ESN high bits.
  const bool hmac_esn = op.hmac_esn && !p.aead();
  const bool tag_in_place = op.direction == Direction::kEncrypt && !hmac_esn && !restore;
  job->auth_tag_output = tag_in_place ? op.base + op.icv_offset : op.digest;

  switch (p.cipher) {
    case Cipher::kAesGcm:
    case Cipher::kChaCha20Poly1305: {
      const bool gcm = p.cipher == Cipher::kAesGcm;
      std::memcpy(op.nonce, Keys::salt(*op.sa), 4);
      std::memcpy(op.nonce + 4, op.iv, 8);
      job->cipher_mode = gcm ? IMB_CIPHER_GCM : IMB_CIPHER_CHACHA20_POLY1305;
      job->hash_alg = gcm ? IMB_AUTH_AES_GMAC : IMB_AUTH_CHACHA20_POLY1305;
      job->enc_keys = keys;
      job->dec_keys = keys;
      job->key_len_in_bytes = p.key_length;
      job->iv = op.nonce;
      job->iv_len_in_bytes = sizeof op.nonce;
      job->hash_start_src_offset_in_bytes = op.cipher_offset;
      job->msg_len_to_hash_in_bytes = op.cipher_length;
      if (gcm) {
        job->u.GCM.aad = op.aad;
        job->u.GCM.aad_len_in_bytes = op.aad_length;
        job->u.GCM.ctx = nullptr;
      } else {
        job->u.CHACHA20_POLY1305.aad = op.aad;
        job->u.CHACHA20_POLY1305.aad_len_in_bytes = op.aad_length;
        job->u.CHACHA20_POLY1305.ctx = nullptr;
      }
      return;
    }
    case Cipher::kAesCbc:
      job->cipher_mode = IMB_CIPHER_CBC;
      job->enc_keys = keys;
      job->dec_keys = keys + kAesSchedule;
      job->key_len_in_bytes = p.key_length;
      job->iv = op.iv;
      job->iv_len_in_bytes = 16;
      break;
    case Cipher::kNull:
      job->cipher_mode = IMB_CIPHER_NULL;
      job->enc_keys = nullptr;
      job->dec_keys = nullptr;
      job->key_len_in_bytes = 0;
      job->iv = nullptr;
      job->iv_len_in_bytes = 0;
      break;
  }
  if (restore) {
    job->hash_alg = IMB_AUTH_NULL;
    return;
  }
  job->hash_alg =
      p.integrity == Integrity::kHmacSha256 ? IMB_AUTH_HMAC_SHA_256 : IMB_AUTH_HMAC_SHA_1;
  job->u.HMAC._hashed_auth_key_xor_ipad = Keys::ipad(*op.sa);
  job->u.HMAC._hashed_auth_key_xor_opad = Keys::opad(*op.sa);
  job->hash_start_src_offset_in_bytes = op.auth_offset;
  job->msg_len_to_hash_in_bytes = op.auth_length + (hmac_esn ? 4u : 0u);
}

// A decrypt op whose cipher ran and whose computed tag is in op.digest:
// the ICV compared, then the op's own check. Returns true when the op was
// refused and its ciphertext must be restored.
bool verify_decrypted(CryptoOp& op, const AlgorithmProperties& p) {
  const uint8_t* icv = op.base + op.icv_offset;
  if (!equal_constant_time(op.digest, icv, p.icv_length)) {
    op.status = OpStatus::kAuthFailed;
  } else {
    uint8_t code = op.check != nullptr ? op.check(op) : 0;
    if (code == 0) {
      op.status = OpStatus::kOk;
      return false;
    }
    op.status = OpStatus::kRejected;
    op.reject_code = code;
  }
  return p.cipher != Cipher::kNull && op.cipher_length != 0;
}

// A first-pass job completed. Returns true when the op needs a restore job.
bool complete(IMB_JOB* job) {
  CryptoOp& op = *static_cast<CryptoOp*>(job->user_data);
  if (job->user_data2 == &restore_tag) {
    if (job->status != IMB_STATUS_COMPLETED) op.status = OpStatus::kError;
    return false;
  }
  const AlgorithmProperties& p = op.sa->properties();
  uint8_t* icv = op.base + op.icv_offset;
  const bool hmac_esn = op.hmac_esn && !p.aead();
  if (job->status != IMB_STATUS_COMPLETED) {
    if (hmac_esn) std::memcpy(icv, op.saved, 4);
    op.status = OpStatus::kError;
    return false;
  }
  if (op.direction == Direction::kEncrypt) {
    if (hmac_esn) std::memcpy(icv, op.digest, p.icv_length);
    op.status = OpStatus::kOk;
    return false;
  }
  if (hmac_esn) std::memcpy(icv, op.saved, 4);
  op.restore = verify_decrypted(op, p);
  return op.restore;
}

// AES-GCM through intel-ipsec-mb's direct API: the op is done on the spot,
// with no job to fill, queue, copy and collect. GCM is what nearly every SA
// runs, and the job machinery around it cost about half of the encryption
// itself at 64 bytes (bench/README.md). The nonce is salt || explicit IV
// (RFC 4106 4), the tag goes straight into the packet when encrypting.
// Decryption writes the computed tag to op.digest and is verified like a
// job's; a refused op is encrypted again in place (same key and nonce), which
// restores its ciphertext exactly. The other ciphers keep the job API.
void run_gcm(IMB_MGR* mgr, CryptoOp& op, const AlgorithmProperties& p) {
  const auto* key = reinterpret_cast<const gcm_key_data*>(Keys::keys(*op.sa));
  std::memcpy(op.nonce, Keys::salt(*op.sa), 4);
  std::memcpy(op.nonce + 4, op.iv, 8);
  uint8_t* data = op.base + op.cipher_offset;
  const uint64_t len = op.cipher_length;
  const bool aes128 = p.key_length == 16;
  gcm_context_data ctx;
  auto encrypt = [&](uint8_t* tag) {
    if (aes128) {
      IMB_AES128_GCM_ENC(mgr, key, &ctx, data, data, len, op.nonce, op.aad, op.aad_length, tag,
                         p.icv_length);
    } else {
      IMB_AES256_GCM_ENC(mgr, key, &ctx, data, data, len, op.nonce, op.aad, op.aad_length, tag,
                         p.icv_length);
    }
  };
  if (op.direction == Direction::kEncrypt) {
    encrypt(op.base + op.icv_offset);
    op.status = OpStatus::kOk;
    return;
  }
  if (aes128) {
    IMB_AES128_GCM_DEC(mgr, key, &ctx, data, data, len, op.nonce, op.aad, op.aad_length, op.digest,
                       p.icv_length);
  } else {
    IMB_AES256_GCM_DEC(mgr, key, &ctx, data, data, len, op.nonce, op.aad, op.aad_length, op.digest,
                       p.icv_length);
  }
  if (verify_decrypted(op, p) && len != 0) {
    uint8_t scratch[16];
    encrypt(scratch);
  }
}

// Checks what the library would only catch later (or not at all).
bool op_is_valid(const CryptoOp& op) {
  if (!op.sa->installed() || op.base == nullptr) return false;
  const AlgorithmProperties& p = op.sa->properties();
  if (p.cipher != Cipher::kNull && op.iv == nullptr) return false;
  if (p.aead()) return op.aad != nullptr || op.aad_length == 0;
  if (op.hmac_esn && op.icv_offset != op.auth_offset + op.auth_length) return false;
  return true;
}

}  // namespace

Expected<CryptoEngine> CryptoEngine::create() {
  Expected<IMB_MGR*> mgr = detail::new_manager();
  if (!mgr) return mgr.status();
  Expected<IMB_MGR*> keys = detail::key_manager();
  if (!keys) {
    free_mb_mgr(*mgr);
    return keys.status();
  }
  if ((*keys)->used_arch != (*mgr)->used_arch) {  // cannot happen: same detection
    free_mb_mgr(*mgr);
    return Status::error("intel-ipsec-mb: managers disagree on the code path");
  }
  return CryptoEngine(*mgr);
}

CryptoEngine::CryptoEngine(CryptoEngine&& other) noexcept
    : mgr_(std::exchange(other.mgr_, nullptr)) {}

CryptoEngine& CryptoEngine::operator=(CryptoEngine&& other) noexcept {
  if (this != &other) {
    if (mgr_ != nullptr) free_mb_mgr(mgr_);
    mgr_ = std::exchange(other.mgr_, nullptr);
  }
  return *this;
}

CryptoEngine::~CryptoEngine() {
  if (mgr_ != nullptr) free_mb_mgr(mgr_);
}

const char* CryptoEngine::arch() const {
  return detail::arch_name(mgr_);
}

template <typename Get>
void CryptoEngine::run(size_t n, Get get) {
  IMB_MGR* mgr = mgr_;
  size_t restores = 0;
  for (size_t i = 0; i < n; ++i) {
    CryptoOp& op = get(i);
    op.status = OpStatus::kSkipped;
    op.reject_code = 0;
    op.restore = false;
    if (op.sa == nullptr) continue;
    if (!op_is_valid(op)) {
      op.status = OpStatus::kError;
      continue;
    }
    if (op.hmac_esn && !op.sa->properties().aead()) {
      uint8_t* slot = op.base + op.icv_offset;
      std::memcpy(op.saved, slot, 4);
      store_be32(slot, op.esn_hi);
    }
    const AlgorithmProperties& p = op.sa->properties();
    if (p.cipher == Cipher::kAesGcm) {
      run_gcm(mgr, op, p);
      continue;
    }
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
    fill_job(job, op, /*restore=*/false);
    job = IMB_SUBMIT_JOB(mgr);
    while (job != nullptr) {
      restores += complete(job);
      job = IMB_GET_COMPLETED_JOB(mgr);
    }
  }
  for (IMB_JOB* job = IMB_FLUSH_JOB(mgr); job != nullptr; job = IMB_FLUSH_JOB(mgr)) {
    restores += complete(job);
  }
  if (restores == 0) return;

  for (size_t i = 0; i < n; ++i) {
    CryptoOp& op = get(i);
    if (!op.restore) continue;
    op.restore = false;
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
    fill_job(job, op, /*restore=*/true);
    job = IMB_SUBMIT_JOB(mgr);
    while (job != nullptr) {
      complete(job);
      job = IMB_GET_COMPLETED_JOB(mgr);
    }
  }
  for (IMB_JOB* job = IMB_FLUSH_JOB(mgr); job != nullptr; job = IMB_FLUSH_JOB(mgr)) {
    complete(job);
  }
}

namespace {

// The direct AES-GCM call of one direction with the nonce salt || iv.
inline void gcm_direct(IMB_MGR* mgr, const SaCrypto& sa, bool encrypt, uint8_t* data,
                       uint32_t length, const uint8_t* iv, const uint8_t* aad, uint8_t aad_length,
                       uint8_t* tag) {
  const AlgorithmProperties& p = sa.properties();
  const auto* key = reinterpret_cast<const gcm_key_data*>(Keys::keys(sa));
  uint8_t nonce[12];
  std::memcpy(nonce, Keys::salt(sa), 4);
  std::memcpy(nonce + 4, iv, 8);
  gcm_context_data ctx;
  if (p.key_length == 16) {
    if (encrypt) {
      IMB_AES128_GCM_ENC(mgr, key, &ctx, data, data, length, nonce, aad, aad_length, tag,
                         p.icv_length);
    } else {
      IMB_AES128_GCM_DEC(mgr, key, &ctx, data, data, length, nonce, aad, aad_length, tag,
                         p.icv_length);
    }
  } else if (encrypt) {
    IMB_AES256_GCM_ENC(mgr, key, &ctx, data, data, length, nonce, aad, aad_length, tag,
                       p.icv_length);
  } else {
    IMB_AES256_GCM_DEC(mgr, key, &ctx, data, data, length, nonce, aad, aad_length, tag,
                       p.icv_length);
  }
}

inline bool is_gcm(const SaCrypto& sa) {
  return sa.installed() && sa.properties().cipher == Cipher::kAesGcm;
}

}  // namespace

bool CryptoEngine::seal_gcm(const SaCrypto& sa, uint8_t* data, uint32_t length, const uint8_t* iv,
                            const uint8_t* aad, uint8_t aad_length, uint8_t* tag) {
  if (!is_gcm(sa)) return false;
  gcm_direct(mgr_, sa, true, data, length, iv, aad, aad_length, tag);
  return true;
}

OpStatus CryptoEngine::open_gcm(const SaCrypto& sa, uint8_t* data, uint32_t length,
                                const uint8_t* iv, const uint8_t* aad, uint8_t aad_length,
                                const uint8_t* icv) {
  if (!is_gcm(sa)) return OpStatus::kError;
  uint8_t digest[16];
  gcm_direct(mgr_, sa, false, data, length, iv, aad, aad_length, digest);
  if (equal_constant_time(digest, icv, sa.properties().icv_length)) return OpStatus::kOk;
  if (length != 0) gcm_direct(mgr_, sa, true, data, length, iv, aad, aad_length, digest);
  return OpStatus::kAuthFailed;
}

void CryptoEngine::process(std::span<CryptoOp* const> ops) {
  run(ops.size(), [ops](size_t i) -> CryptoOp& { return *ops[i]; });
}

void CryptoEngine::process(std::span<CryptoOp> ops) {
  run(ops.size(), [ops](size_t i) -> CryptoOp& { return ops[i]; });
}

}  // namespace tcpsec::crypto
