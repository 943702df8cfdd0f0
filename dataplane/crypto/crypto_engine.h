// CryptoEngine: one per lcore, running bursts of ESP crypto operations
// through intel-ipsec-mb: AES-GCM by its direct API (one call per op, no job
// queue: cheapest for the algorithm nearly every SA runs), the other
// algorithms through its multi-buffer job API.
//
// A CryptoOp describes one packet's work as regions of a buffer: the cipher
// region, the HMAC region (encrypt-then-MAC: the MAC covers the ciphertext),
// the ICV, the IV and the AEAD additional data. dataplane/esp fills them
// (ESP header, IV, payload, trailer, ICV); known-answer tests fill them with
// raw vectors. Job-API ops are submitted job by job and their completions
// mapped back through the job's user_data, so N packets cost one pass over
// the manager's lanes.
//
// Verification: a decrypt op's ICV is compared (in constant time) by the
// engine. Whatever a decrypt op refuses - a wrong ICV, or the op's own
// post-decryption check (ESP padding, replay window) - its buffer is handed
// back exactly as it came in: the engine decrypts in place while it verifies
// (one pass over the data), so a refused op is encrypted again with the same
// key and IV, which restores the ciphertext byte for byte (CBC and the
// counter modes are exact inverses). That costs a second pass over refused
// packets only, which are attacks or bugs, never the common case.
//
// No allocation, no locks, no exceptions: the engine owns its IMB_MGR and
// must only be used by one thread at a time.
#pragma once

#include <cstdint>
#include <span>

#include "common/status.h"
#include "dataplane/crypto/sa_crypto.h"

struct IMB_MGR;

namespace tcpsec::crypto {

enum class Direction : uint8_t { kEncrypt, kDecrypt };

enum class OpStatus : uint8_t {
  kSkipped,     // the op had no SA: nothing was done
  kOk,          // encrypted and ICV written, or ICV verified and decrypted
  kAuthFailed,  // decrypt: the ICV did not verify; buffer unchanged
  kRejected,    // decrypt: the op's check refused it (reject_code); buffer unchanged
  kError,       // the library refused the op (a bug: bad lengths or keys)
};

struct CryptoOp;

// Called for a decrypt op whose ICV verified, right after its decryption
// (in completion order, which is submission order). Returns 0 to accept the
// op, or a non-zero code: the op then becomes kRejected with that code and
// its buffer is restored.
using PostDecryptCheck = uint8_t (*)(CryptoOp& op);

struct CryptoOp {
  // ---- set by the caller
  const SaCrypto* sa = nullptr;  // nullptr: skipped (status kSkipped)
  uint8_t* base = nullptr;       // the offsets below count from here
  uint16_t cipher_offset = 0;    // region encrypted in place (CBC: multiple of 16)
  uint16_t cipher_length = 0;
  uint16_t auth_offset = 0;  // HMAC: region authenticated (AEAD: the cipher region and aad)
  uint16_t auth_length = 0;
  uint16_t icv_offset = 0;  // properties().icv_length bytes: written (encrypt) or checked
  Direction direction = Direction::kEncrypt;
  // HMAC with extended sequence numbers (RFC 4303 2.2.1): `esn_hi` is
  // authenticated after the HMAC region but never sent. The engine borrows
  // the first 4 bytes of the ICV slot for it, so the ICV must directly follow
  // the region (icv_offset == auth_offset + auth_length); they are put back.
  bool hmac_esn = false;
  uint8_t aad_length = 0;  // AEAD
  uint32_t esn_hi = 0;
  const uint8_t* iv = nullptr;   // CBC: the 16-byte IV; AEAD: the 8-byte explicit IV
  const uint8_t* aad = nullptr;  // AEAD: additional data (may point at aad_storage)
  PostDecryptCheck check = nullptr;
  void* user = nullptr;  // for `check`

  // ---- set by the engine
  OpStatus status = OpStatus::kSkipped;
  uint8_t reject_code = 0;

  // ---- storage for the caller (aad_storage) and the engine (the rest)
  uint8_t aad_storage[12] = {};
  uint8_t nonce[12] = {};  // AEAD: salt || explicit IV
  uint8_t digest[16] = {};
  uint8_t saved[4] = {};
  bool restore = false;
};

class CryptoEngine {
 public:
  // Allocates the lcore's manager on the best code path of this CPU (slow
  // path: call at startup, on the lcore's NUMA node).
  static Expected<CryptoEngine> create();

  CryptoEngine(CryptoEngine&& other) noexcept;
  CryptoEngine& operator=(CryptoEngine&& other) noexcept;
  CryptoEngine(const CryptoEngine&) = delete;
  CryptoEngine& operator=(const CryptoEngine&) = delete;
  ~CryptoEngine();

  // Runs every op of the burst and sets its status. Ops may use different
  // SAs, algorithms and directions.
  void process(std::span<CryptoOp* const> ops);
  void process(std::span<CryptoOp> ops);  // a contiguous burst (tests, benchmarks)

  // AES-GCM encryption on the spot, for an outbound packet just framed: the
  // `length` bytes at `data` in place, nonce salt || `iv` (8 bytes, RFC 4106
  // 4), `aad_length` bytes of AAD, the tag (properties().icv_length bytes)
  // to `tag`. The direct API has no queue, so an op and a pass of process()
  // would only add stores and checks around the same call. False (nothing
  // written) unless `sa` holds installed AES-GCM keys.
  bool seal_gcm(const SaCrypto& sa, uint8_t* data, uint32_t length, const uint8_t* iv,
                const uint8_t* aad, uint8_t aad_length, uint8_t* tag);

  // Its inverse for an inbound packet: decrypts in place and compares the
  // tag with `icv` in constant time. kOk: plaintext in place. kAuthFailed:
  // the ciphertext is restored (encrypted again: the same key stream).
  // kError (nothing written) unless `sa` holds installed AES-GCM keys. A
  // caller that refuses the plaintext afterwards restores it with seal_gcm
  // (same nonce; the tag it writes is not needed).
  OpStatus open_gcm(const SaCrypto& sa, uint8_t* data, uint32_t length, const uint8_t* iv,
                    const uint8_t* aad, uint8_t aad_length, const uint8_t* icv);

  // The code path in use: "avx512", "avx2", "avx", "sse" or "sse-no-aesni".
  const char* arch() const;

 private:
  explicit CryptoEngine(IMB_MGR* mgr) : mgr_(mgr) {}
  template <typename Get>
  void run(size_t n, Get get);

  IMB_MGR* mgr_ = nullptr;
};

}  // namespace tcpsec::crypto
