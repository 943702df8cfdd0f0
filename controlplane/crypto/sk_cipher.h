// Protection of the Encrypted payload (SK, RFC 7296 3.14) and the Encrypted
// Fragment payload (SKF, RFC 7383 2.5) on a serialized message buffer.
//
// Transforms: AES-CBC-128/192/256 with HMAC-SHA1-96 or HMAC-SHA2-256-128 /
// 384-192 / 512-256 (RFC 7296 3.14, RFC 4868), and the AEAD ciphers
// AES-GCM-16 with 128/192/256-bit keys (RFC 5282) and ChaCha20-Poly1305
// (RFC 7634), which take their 4-byte salt from the end of SK_e*.
//
// The SK payload is the last one of a message, so its body runs to the end
// of the buffer:
//
//   [ike_header_offset] IKE header (28) | payloads before SK (rarely any)
//   [sk_header_offset]  SK generic header (4) or SKF header (8, with the
//                       Fragment Number and Total Fragments)
//   body:               IV | encrypted(inner payloads | padding | pad length) | ICV
//
// Integrity: CBC+HMAC covers the message from the IKE header to the end of
// the ciphertext; AEAD takes the IKE header through the SK/SKF header as
// associated data (RFC 5282 5.1; RFC 7383 2.5) and nonce = salt | IV.
//
// Sending: size the buffer with body_length(inner), write the IKE header with
// its total Length and the SK header with its Payload Length
// (sk_header_length + body_length), then protect(): it checks those two
// length fields, writes the body, and the message is ready to send.
//
// IVs: CBC takes 16 random bytes per message from OpenSSL's CSPRNG
// (RAND_bytes; CBC IVs must be unpredictable). AEAD IVs are a 64-bit counter,
// one per SkCipher, that starts at a random value and counts up per message:
// it never repeats under a key within one SkCipher (the requirement of GCM and
// ChaCha20-Poly1305, RFC 5282 3.1), and a random start keeps even a second
// SkCipher on the same key from colliding in practice. Keep one SkCipher per
// key and direction for the SA's lifetime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/status.h"
#include "controlplane/crypto/ike_keys.h"
#include "controlplane/crypto/secret_bytes.h"
#include "controlplane/crypto/transforms.h"

typedef struct evp_cipher_st EVP_CIPHER;

namespace tcpsec::ikecrypto {

inline constexpr size_t kIkeHeaderLength = 28;
inline constexpr size_t kSkHeaderLength = 4;   // generic payload header
inline constexpr size_t kSkfHeaderLength = 8;  // + Fragment Number, Total Fragments

// Where the protected parts lie in a message buffer (offsets from its start).
struct SkLayout {
  size_t ike_header_offset = 0;  // after a non-ESP marker or RFC 8229 length, if any
  size_t sk_header_offset = kIkeHeaderLength;
  size_t sk_header_length = kSkHeaderLength;  // kSkfHeaderLength for SKF

  size_t body_offset() const { return sk_header_offset + sk_header_length; }
};

class SkCipher {
 public:
  // The cipher of one direction: SK_ei/SK_ai for messages the initiator
  // sends, SK_er/SK_ar for those the responder sends. `encryption_key` is
  // key | salt for AEAD; `integrity_key` is empty for AEAD.
  static Expected<SkCipher> create(EncryptionTransform encryption, IntegrityId integrity,
                                   std::span<const uint8_t> encryption_key,
                                   std::span<const uint8_t> integrity_key);

  size_t iv_length() const { return iv_length_; }
  size_t icv_length() const { return icv_length_; }
  size_t block_length() const { return block_length_; }  // 1 for AEAD

  // Bytes of SK body (IV, ciphertext with minimal padding and the pad length
  // byte, ICV) that protect() writes for `inner_length` bytes of inner
  // payloads. The SK Payload Length is sk_header_length + body_length.
  size_t body_length(size_t inner_length) const;

  // Encrypts `inner_payloads` into the body of `message` (which ends where
  // the body ends; see the file comment). `inner_payloads` may lie anywhere,
  // in `message` too (it is moved into place first). Padding is minimal and
  // zero.
  Status protect(std::span<uint8_t> message, const SkLayout& layout,
                 std::span<const uint8_t> inner_payloads);

  // protect() with the caller's IV, for known-answer tests. A repeated IV
  // under one key breaks AEAD confidentiality and integrity: never in
  // production.
  Status protect_with_iv(std::span<uint8_t> message, const SkLayout& layout,
                         std::span<const uint8_t> inner_payloads, std::span<const uint8_t> iv);

  // Verifies the ICV (constant time), then decrypts in place and checks the
  // padding. Returns the inner payloads (inside `message`, right after the
  // IV). On failure the message is not decrypted and the error names the
  // check: "SK payload: ICV mismatch", "... pad length 40 exceeds plaintext
  // 15", "... body of 20 bytes is shorter than IV (16) + ICV (16) ...".
  // The header length fields are not read: the ICV covers them, and checking
  // them against the datagram is the message parser's job.
  Expected<std::span<uint8_t>> unprotect(std::span<uint8_t> message, const SkLayout& layout) const;

  SkCipher(SkCipher&&) noexcept;
  SkCipher& operator=(SkCipher&&) noexcept;
  ~SkCipher();

 private:
  struct CipherFree {
    void operator()(EVP_CIPHER* c) const;
  };
  SkCipher() = default;
  Status check_layout(std::span<const uint8_t> message, const SkLayout& layout) const;
  Status seal(std::span<uint8_t> message, const SkLayout& layout, size_t plaintext_length) const;
  Status compute_hmac(std::span<const uint8_t> covered, uint8_t* icv) const;

  std::unique_ptr<EVP_CIPHER, CipherFree> cipher_;
  std::string name_;                   // for errors: "ENCR_AES_CBC-256 + AUTH_HMAC_SHA2_256_128"
  const char* hmac_digest_ = nullptr;  // nullptr for AEAD
  bool aead_ = false;
  size_t iv_length_ = 0;
  size_t icv_length_ = 0;
  size_t block_length_ = 1;
  SecretBytes key_;       // cipher key (salt excluded)
  SecretBytes salt_;      // AEAD nonce salt
  SecretBytes auth_key_;  // HMAC key
  uint64_t next_iv_ = 0;  // AEAD IV counter
};

// The SkCiphers of one IKE SA for our role: `outbound` protects what we
// send, `inbound` unprotects what the peer sends. The role is that of the IKE
// SA's original initiator (the I flag, RFC 7296 2.14), not of the exchange;
// for a rekeyed IKE SA, the initiator of the rekeying exchange.
struct SkCipherPair {
  SkCipher outbound;
  SkCipher inbound;
};
Expected<SkCipherPair> make_sk_ciphers(const IkeSaTransforms& transforms, const IkeSaKeys& keys,
                                       bool we_are_original_initiator);

}  // namespace tcpsec::ikecrypto
