#include "controlplane/crypto/transforms.h"

namespace tcpsec::ikecrypto {

Expected<EncryptionProperties> encryption_properties(EncryptionTransform t) {
  switch (t.id) {
    case EncryptionId::kAesCbc:
      switch (t.key_bits) {
        case 128:
          return EncryptionProperties{false, 16, 0, 16, 16, 0, "AES-128-CBC"};
        case 192:
          return EncryptionProperties{false, 24, 0, 16, 16, 0, "AES-192-CBC"};
        case 256:
          return EncryptionProperties{false, 32, 0, 16, 16, 0, "AES-256-CBC"};
      }
      break;
    case EncryptionId::kAesGcm16:
      // RFC 5282 7.1 / RFC 4106 8.1: 4 salt bytes follow the key.
      switch (t.key_bits) {
        case 128:
          return EncryptionProperties{true, 16, 4, 8, 1, 16, "AES-128-GCM"};
        case 192:
          return EncryptionProperties{true, 24, 4, 8, 1, 16, "AES-192-GCM"};
        case 256:
          return EncryptionProperties{true, 32, 4, 8, 1, 16, "AES-256-GCM"};
      }
      break;
    case EncryptionId::kChaCha20Poly1305:
      // RFC 7634 2 and 4: 256-bit key + 4-byte salt; a Key Length attribute
      // MUST NOT be sent.
      if (t.key_bits == 0 || t.key_bits == 256) {
        return EncryptionProperties{true, 32, 4, 8, 1, 16, "ChaCha20-Poly1305"};
      }
      break;
    default:
      return Status::error("unsupported encryption transform " +
                           std::to_string(static_cast<unsigned>(t.id)));
  }
  return Status::error(to_string(t) + ": unsupported key length " + std::to_string(t.key_bits) +
                       " bits");
}

Expected<IntegrityProperties> integrity_properties(IntegrityId id) {
  switch (id) {
    case IntegrityId::kNone:
      return IntegrityProperties{0, 0, nullptr};
    case IntegrityId::kHmacSha1_96:
      return IntegrityProperties{20, 12, "SHA1"};
    case IntegrityId::kHmacSha256_128:
      return IntegrityProperties{32, 16, "SHA256"};
    case IntegrityId::kHmacSha384_192:
      return IntegrityProperties{48, 24, "SHA384"};
    case IntegrityId::kHmacSha512_256:
      return IntegrityProperties{64, 32, "SHA512"};
  }
  return Status::error("unsupported integrity transform " +
                       std::to_string(static_cast<unsigned>(id)));
}

const char* prf_digest(PrfId id) {
  switch (id) {
    case PrfId::kHmacSha1:
      return "SHA1";
    case PrfId::kHmacSha256:
      return "SHA256";
    case PrfId::kHmacSha384:
      return "SHA384";
    case PrfId::kHmacSha512:
      return "SHA512";
  }
  return nullptr;
}

size_t prf_length(PrfId id) {
  switch (id) {
    case PrfId::kHmacSha1:
      return 20;
    case PrfId::kHmacSha256:
      return 32;
    case PrfId::kHmacSha384:
      return 48;
    case PrfId::kHmacSha512:
      return 64;
  }
  return 0;
}

Status unsupported_prf(PrfId id) {
  return Status::error("unsupported PRF transform " + std::to_string(static_cast<unsigned>(id)));
}

std::string to_string(DhGroup g) {
  switch (g) {
    case DhGroup::kModp2048:
      return "DH group 14 (MODP-2048)";
    case DhGroup::kEcp256:
      return "DH group 19 (ECP-256)";
    case DhGroup::kEcp384:
      return "DH group 20 (ECP-384)";
    case DhGroup::kCurve25519:
      return "DH group 31 (Curve25519)";
  }
  return "DH group " + std::to_string(static_cast<unsigned>(g));
}

std::string to_string(PrfId id) {
  switch (id) {
    case PrfId::kHmacSha1:
      return "PRF_HMAC_SHA1";
    case PrfId::kHmacSha256:
      return "PRF_HMAC_SHA2_256";
    case PrfId::kHmacSha384:
      return "PRF_HMAC_SHA2_384";
    case PrfId::kHmacSha512:
      return "PRF_HMAC_SHA2_512";
  }
  return "PRF transform " + std::to_string(static_cast<unsigned>(id));
}

std::string to_string(EncryptionTransform t) {
  std::string bits = t.key_bits ? "-" + std::to_string(t.key_bits) : "";
  switch (t.id) {
    case EncryptionId::kAesCbc:
      return "ENCR_AES_CBC" + bits;
    case EncryptionId::kAesGcm16:
      return "ENCR_AES_GCM_16" + bits;
    case EncryptionId::kChaCha20Poly1305:
      return "ENCR_CHACHA20_POLY1305";
  }
  return "encryption transform " + std::to_string(static_cast<unsigned>(t.id));
}

std::string to_string(IntegrityId id) {
  switch (id) {
    case IntegrityId::kNone:
      return "NONE";
    case IntegrityId::kHmacSha1_96:
      return "AUTH_HMAC_SHA1_96";
    case IntegrityId::kHmacSha256_128:
      return "AUTH_HMAC_SHA2_256_128";
    case IntegrityId::kHmacSha384_192:
      return "AUTH_HMAC_SHA2_384_192";
    case IntegrityId::kHmacSha512_256:
      return "AUTH_HMAC_SHA2_512_256";
  }
  return "integrity transform " + std::to_string(static_cast<unsigned>(id));
}

}  // namespace tcpsec::ikecrypto
