#include "controlplane/crypto/sk_cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

#include "controlplane/crypto/hmac.h"
#include "controlplane/crypto/openssl_util.h"

namespace tcpsec::ikecrypto {

namespace {

constexpr size_t kMaxIv = 16;
constexpr size_t kMaxIcv = 32;
constexpr size_t kIkeLengthOffset = 24;  // Length field of the IKE header
constexpr size_t kPayloadLengthOffset = 2;

uint32_t read_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
uint16_t read_be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

std::string payload_name(const SkLayout& layout) {
  return layout.sk_header_length == kSkfHeaderLength ? "SKF payload" : "SK payload";
}

}  // namespace

void SkCipher::CipherFree::operator()(EVP_CIPHER* c) const {
  EVP_CIPHER_free(c);
}

SkCipher::SkCipher(SkCipher&&) noexcept = default;
SkCipher& SkCipher::operator=(SkCipher&&) noexcept = default;
SkCipher::~SkCipher() = default;  // SecretBytes wipe the keys

Expected<SkCipher> SkCipher::create(EncryptionTransform encryption, IntegrityId integrity,
                                    std::span<const uint8_t> encryption_key,
                                    std::span<const uint8_t> integrity_key) {
  auto enc = encryption_properties(encryption);
  if (!enc) return Status::error("SK payload: " + enc.error());
  auto integ = integrity_properties(integrity);
  if (!integ) return Status::error("SK payload: " + integ.error());
  const std::string name = to_string(encryption) + " + " + to_string(integrity);
  if (enc->aead != (integrity == IntegrityId::kNone)) {
    return Status::error("SK payload: " + name + ": " +
                         (enc->aead ? "an AEAD cipher takes no integrity transform"
                                    : "CBC needs an integrity transform"));
  }
  if (encryption_key.size() != enc->keymat_length()) {
    return Status::error("SK payload: " + name + ": encryption key must be " +
                         std::to_string(enc->keymat_length()) + " bytes, not " +
                         std::to_string(encryption_key.size()));
  }
  if (integrity_key.size() != integ->key_length) {
    return Status::error("SK payload: " + name + ": integrity key must be " +
                         std::to_string(integ->key_length) + " bytes, not " +
                         std::to_string(integrity_key.size()));
  }
  SkCipher c;
  c.cipher_.reset(EVP_CIPHER_fetch(nullptr, enc->openssl_name, nullptr));
  if (!c.cipher_) return ossl::failure("SK payload: " + name + " unavailable in OpenSSL");
  c.name_ = name;
  c.hmac_digest_ = integ->digest;
  c.aead_ = enc->aead;
  c.iv_length_ = enc->iv_length;
  c.icv_length_ = enc->aead ? enc->icv_length : integ->icv_length;
  c.block_length_ = enc->block_length;
  c.key_ = secret_copy(encryption_key.first(enc->key_length));
  c.salt_ = secret_copy(encryption_key.subspan(enc->key_length));
  c.auth_key_ = secret_copy(integrity_key);
  if (c.aead_ && RAND_bytes(reinterpret_cast<uint8_t*>(&c.next_iv_), sizeof c.next_iv_) != 1) {
    return ossl::failure("SK payload: random IV counter start");
  }
  return c;
}

size_t SkCipher::body_length(size_t inner_length) const {
  const size_t padded = (inner_length + 1 + block_length_ - 1) / block_length_ * block_length_;
  return iv_length_ + padded + icv_length_;
}

Status SkCipher::check_layout(std::span<const uint8_t> message, const SkLayout& layout) const {
  const std::string what = payload_name(layout);
  if (layout.sk_header_length != kSkHeaderLength && layout.sk_header_length != kSkfHeaderLength) {
    return Status::error(what + ": header length " + std::to_string(layout.sk_header_length) +
                         " is neither 4 (SK) nor 8 (SKF)");
  }
  if (layout.ike_header_offset + kIkeHeaderLength > layout.sk_header_offset) {
    return Status::error(what + ": header at offset " + std::to_string(layout.sk_header_offset) +
                         " lies inside the IKE header at " +
                         std::to_string(layout.ike_header_offset));
  }
  if (layout.body_offset() > message.size()) {
    return Status::error(what + ": header at offset " + std::to_string(layout.sk_header_offset) +
                         " runs past the end of the " + std::to_string(message.size()) +
                         "-byte message");
  }
  return Status::ok();
}

Status SkCipher::compute_hmac(std::span<const uint8_t> covered, uint8_t* icv) const {
  auto mac = hmac(hmac_digest_, auth_key_, ByteParts{covered});
  if (!mac) return mac.status();
  std::memcpy(icv, mac->data(), icv_length_);  // truncated (RFC 2404, RFC 4868 2.1.1)
  return Status::ok();
}

Status SkCipher::protect(std::span<uint8_t> message, const SkLayout& layout,
                         std::span<const uint8_t> inner_payloads) {
  uint8_t iv[kMaxIv];
  if (aead_) {
    for (size_t i = 0; i < 8; ++i) iv[i] = static_cast<uint8_t>(next_iv_ >> (56 - 8 * i));
    ++next_iv_;
  } else if (RAND_bytes(iv, static_cast<int>(iv_length_)) != 1) {
    return ossl::failure(payload_name(layout) + ": random IV");
  }
  return protect_with_iv(message, layout, inner_payloads, std::span<const uint8_t>(iv, iv_length_));
}

Status SkCipher::protect_with_iv(std::span<uint8_t> message, const SkLayout& layout,
                                 std::span<const uint8_t> inner_payloads,
                                 std::span<const uint8_t> iv) {
  const std::string what = payload_name(layout);
  if (Status st = check_layout(message, layout); !st) return st;
  if (iv.size() != iv_length_) {
    return Status::error(what + ": IV must be " + std::to_string(iv_length_) + " bytes");
  }
  const size_t body = body_length(inner_payloads.size());
  if (message.size() - layout.body_offset() != body) {
    return Status::error(what + ": the message must end " + std::to_string(body) +
                         " bytes after the " + what + " header for " +
                         std::to_string(inner_payloads.size()) + " bytes of inner payloads, not " +
                         std::to_string(message.size() - layout.body_offset()));
  }
  // The length fields are covered by the ICV: they must be final now.
  const uint32_t ike_length = read_be32(&message[layout.ike_header_offset + kIkeLengthOffset]);
  if (ike_length != message.size() - layout.ike_header_offset) {
    return Status::error(what + ": IKE header Length is " + std::to_string(ike_length) +
                         ", the message is " +
                         std::to_string(message.size() - layout.ike_header_offset) + " bytes");
  }
  const uint16_t payload_length =
      read_be16(&message[layout.sk_header_offset + kPayloadLengthOffset]);
  if (payload_length != layout.sk_header_length + body) {
    return Status::error(what + ": Payload Length is " + std::to_string(payload_length) +
                         ", expected " + std::to_string(layout.sk_header_length + body));
  }

  uint8_t* out = message.data() + layout.body_offset();
  uint8_t* plain = out + iv_length_;
  const size_t plaintext_length = body - iv_length_ - icv_length_;
  const size_t pad = plaintext_length - 1 - inner_payloads.size();
  // Inner payloads first: they may have been serialized where the IV goes.
  if (!inner_payloads.empty()) std::memmove(plain, inner_payloads.data(), inner_payloads.size());
  std::memcpy(out, iv.data(), iv.size());
  std::memset(plain + inner_payloads.size(), 0, pad);
  plain[plaintext_length - 1] = static_cast<uint8_t>(pad);
  return seal(message, layout, plaintext_length);
}

// Encrypts the plaintext in place after the IV and writes the ICV.
Status SkCipher::seal(std::span<uint8_t> message, const SkLayout& layout,
                      size_t plaintext_length) const {
  const std::string what = payload_name(layout);
  uint8_t* iv = message.data() + layout.body_offset();
  uint8_t* text = iv + iv_length_;
  uint8_t* icv = text + plaintext_length;
  const uint8_t* ike = message.data() + layout.ike_header_offset;
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return ossl::failure(what + ": cipher context");
  int len = 0;
  if (aead_) {
    uint8_t nonce[12];  // salt | IV (RFC 5282 4, RFC 7634 2)
    std::memcpy(nonce, salt_.data(), 4);
    std::memcpy(nonce + 4, iv, 8);
    const size_t aad_length = layout.body_offset() - layout.ike_header_offset;
    if (EVP_EncryptInit_ex2(ctx.get(), cipher_.get(), key_.data(), nonce, nullptr) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, ike, static_cast<int>(aad_length)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), text, &len, text, static_cast<int>(plaintext_length)) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), text + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(icv_length_), icv) !=
            1) {
      return ossl::failure(what + ": " + name_ + " encryption");
    }
    return Status::ok();
  }
  if (EVP_EncryptInit_ex2(ctx.get(), cipher_.get(), key_.data(), iv, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||  // IKE pads itself
      EVP_EncryptUpdate(ctx.get(), text, &len, text, static_cast<int>(plaintext_length)) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), text + len, &len) != 1) {
    return ossl::failure(what + ": " + name_ + " encryption");
  }
  return compute_hmac(std::span<const uint8_t>(ike, static_cast<size_t>(icv - ike)), icv);
}

Expected<std::span<uint8_t>> SkCipher::unprotect(std::span<uint8_t> message,
                                                 const SkLayout& layout) const {
  const std::string what = payload_name(layout);
  if (Status st = check_layout(message, layout); !st) return st;
  const size_t body = message.size() - layout.body_offset();
  if (body < iv_length_ + icv_length_) {
    return Status::error(what + ": body of " + std::to_string(body) +
                         " bytes is shorter than IV (" + std::to_string(iv_length_) + ") + ICV (" +
                         std::to_string(icv_length_) + ")");
  }
  const size_t text_length = body - iv_length_ - icv_length_;
  if (text_length == 0) {
    return Status::error(what + ": no ciphertext between IV and ICV (not even the pad length)");
  }
  if (text_length % block_length_ != 0) {
    return Status::error(what + ": ciphertext of " + std::to_string(text_length) +
                         " bytes is not a multiple of the " + std::to_string(block_length_) +
                         "-byte cipher block");
  }
  uint8_t* iv = message.data() + layout.body_offset();
  uint8_t* text = iv + iv_length_;
  const uint8_t* icv = text + text_length;
  const uint8_t* ike = message.data() + layout.ike_header_offset;
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return ossl::failure(what + ": cipher context");
  int len = 0;
  if (aead_) {
    // OpenSSL checks the tag (constant time) only at the end, after
    // decrypting: decrypt into a scratch buffer and release nothing unless
    // the tag matched.
    uint8_t nonce[12];
    std::memcpy(nonce, salt_.data(), 4);
    std::memcpy(nonce + 4, iv, 8);
    uint8_t tag[kMaxIcv];
    std::memcpy(tag, icv, icv_length_);
    SecretBytes plain(text_length);
    const size_t aad_length = layout.body_offset() - layout.ike_header_offset;
    if (EVP_DecryptInit_ex2(ctx.get(), cipher_.get(), key_.data(), nonce, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(icv_length_), tag) !=
            1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, ike, static_cast<int>(aad_length)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), plain.data(), &len, text, static_cast<int>(text_length)) !=
            1) {
      return ossl::failure(what + ": " + name_ + " decryption");
    }
    if (EVP_DecryptFinal_ex(ctx.get(), plain.data() + len, &len) != 1) {
      ossl::drain_errors();
      return Status::error(what + ": ICV mismatch");
    }
    std::memcpy(text, plain.data(), text_length);
  } else {
    uint8_t expected[kMaxIcv];
    if (Status st =
            compute_hmac(std::span<const uint8_t>(ike, static_cast<size_t>(icv - ike)), expected);
        !st) {
      return st;
    }
    const bool match = CRYPTO_memcmp(expected, icv, icv_length_) == 0;
    OPENSSL_cleanse(expected, sizeof expected);
    if (!match) return Status::error(what + ": ICV mismatch");
    if (EVP_DecryptInit_ex2(ctx.get(), cipher_.get(), key_.data(), iv, nullptr) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
        EVP_DecryptUpdate(ctx.get(), text, &len, text, static_cast<int>(text_length)) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), text + len, &len) != 1) {
      return ossl::failure(what + ": " + name_ + " decryption");
    }
  }
  const size_t pad = text[text_length - 1];
  if (pad > text_length - 1) {
    return Status::error(what + ": pad length " + std::to_string(pad) + " exceeds plaintext " +
                         std::to_string(text_length - 1));
  }
  return std::span<uint8_t>(text, text_length - 1 - pad);
}

Expected<SkCipherPair> make_sk_ciphers(const IkeSaTransforms& transforms, const IkeSaKeys& keys,
                                       bool we_are_original_initiator) {
  auto i2r = SkCipher::create(transforms.encryption, transforms.integrity, keys.sk_ei, keys.sk_ai);
  if (!i2r) return i2r.status();
  auto r2i = SkCipher::create(transforms.encryption, transforms.integrity, keys.sk_er, keys.sk_ar);
  if (!r2i) return r2i.status();
  if (we_are_original_initiator) return SkCipherPair{std::move(*i2r), std::move(*r2i)};
  return SkCipherPair{std::move(*r2i), std::move(*i2r)};
}

}  // namespace tcpsec::ikecrypto
