#include "controlplane/proposals/conversion.h"

namespace tcpsec::proposals {

namespace {

using ike::EncrId;
using ike::IntegId;

ikecrypto::EncryptionTransform encryption_transform(const EncryptionAlgorithm& e) {
  return ikecrypto::EncryptionTransform{static_cast<ikecrypto::EncryptionId>(e.id), e.key_bits};
}

Expected<ikecrypto::IntegrityId> integrity(IntegId id) {
  switch (id) {
    case IntegId::kNone:
    case IntegId::kHmacSha1_96:
    case IntegId::kHmacSha2_256_128:
    case IntegId::kHmacSha2_384_192:
    case IntegId::kHmacSha2_512_256:
      return static_cast<ikecrypto::IntegrityId>(id);
    default:
      return Status::error("integrity algorithm " + integrity_name(id) + " is not supported");
  }
}

}  // namespace

Expected<ikecrypto::DhGroup> to_ikecrypto(ike::DhGroup group) {
  switch (group) {
    case ike::DhGroup::kModp2048:
    case ike::DhGroup::kEcp256:
    case ike::DhGroup::kEcp384:
    case ike::DhGroup::kCurve25519:
      return static_cast<ikecrypto::DhGroup>(group);
    default:
      return Status::error("DH group " + dh_name(group) + " is not supported");
  }
}

Expected<ikecrypto::PrfId> to_ikecrypto(ike::PrfId prf) {
  switch (prf) {
    case ike::PrfId::kHmacSha1:
    case ike::PrfId::kHmacSha2_256:
    case ike::PrfId::kHmacSha2_384:
    case ike::PrfId::kHmacSha2_512:
      return static_cast<ikecrypto::PrfId>(prf);
    default:
      return Status::error("PRF " + prf_name(prf) + " is not supported");
  }
}

Expected<ikecrypto::IkeSaTransforms> to_ikecrypto(const IkeAlgorithms& a) {
  auto prf = to_ikecrypto(a.prf);
  if (!prf) return prf.status();
  auto integ = integrity(a.integrity);
  if (!integ) return integ.status();
  ikecrypto::IkeSaTransforms t{*prf, encryption_transform(a.encryption), *integ};
  if (auto lengths = ikecrypto::ike_sa_key_lengths(t); !lengths) {
    return Status::error("IKE proposal " + to_string(a) + ": " + lengths.error());
  }
  return t;
}

Expected<ikecrypto::ChildSaTransforms> to_ikecrypto(const EspAlgorithms& a) {
  if (a.encryption.id == EncrId::kNull) {
    return Status::error("ESP proposal " + to_string(a) +
                         ": NULL encryption has no key derivation in controlplane/crypto yet");
  }
  auto integ = integrity(a.integrity);
  if (!integ) return integ.status();
  ikecrypto::ChildSaTransforms t{encryption_transform(a.encryption), *integ};
  if (auto lengths = ikecrypto::child_sa_key_lengths(t); !lengths) {
    return Status::error("ESP proposal " + to_string(a) + ": " + lengths.error());
  }
  return t;
}

Expected<v1::EspAlgorithm> to_esp_algorithm(const EspAlgorithms& a) {
  const EncryptionAlgorithm& e = a.encryption;
  const IntegId i = a.integrity;
  if (e.id == EncrId::kAesGcm16 && i == IntegId::kNone) {
    if (e.key_bits == 128) return v1::ESP_ALGORITHM_AES_GCM_128;
    if (e.key_bits == 256) return v1::ESP_ALGORITHM_AES_GCM_256;
  }
  if (e.id == EncrId::kChacha20Poly1305 && e.key_bits == 0 && i == IntegId::kNone) {
    return v1::ESP_ALGORITHM_CHACHA20_POLY1305;
  }
  if (e.id == EncrId::kAesCbc && e.key_bits == 128) {
    if (i == IntegId::kHmacSha2_256_128) return v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA256;
    if (i == IntegId::kHmacSha1_96) return v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA1;
  }
  if (e.id == EncrId::kAesCbc && e.key_bits == 256) {
    if (i == IntegId::kHmacSha2_256_128) return v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA256;
    if (i == IntegId::kHmacSha1_96) return v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA1;
  }
  if (e.id == EncrId::kNull && e.key_bits == 0) {
    if (i == IntegId::kHmacSha2_256_128) return v1::ESP_ALGORITHM_NULL_HMAC_SHA256;
    if (i == IntegId::kHmacSha1_96) return v1::ESP_ALGORITHM_NULL_HMAC_SHA1;
  }
  return Status::error("the dataplane has no ESP algorithm " + to_string(a) +
                       " (it has aes128gcm16, aes256gcm16, chacha20poly1305, "
                       "aes128/aes256 with sha1/sha256, null with sha1/sha256)");
}

Status check_installable(const EspProposalSpec& spec) {
  std::vector<IntegId> integs = spec.integrity;
  if (integs.empty()) integs.push_back(IntegId::kNone);
  for (const auto& e : spec.encryption) {
    for (IntegId i : integs) {
      EspAlgorithms a;
      a.encryption = e;
      a.integrity = i;
      auto alg = to_esp_algorithm(a);
      if (!alg) return alg.status();
      // NULL encryption: the dataplane has it; key derivation checks happen
      // when it is negotiated (see to_ikecrypto).
      if (e.id == EncrId::kNull) continue;
      if (auto t = to_ikecrypto(a); !t) return t.status();
    }
  }
  for (auto g : spec.dh) {
    if (auto d = to_ikecrypto(g); !d) return d.status();
  }
  return Status::ok();
}

Status check_supported(const IkeProposalSpec& spec) {
  std::vector<IntegId> integs = spec.integrity;
  if (integs.empty()) integs.push_back(IntegId::kNone);
  for (const auto& e : spec.encryption) {
    for (IntegId i : integs) {
      for (auto p : spec.prf) {
        IkeAlgorithms a;
        a.encryption = e;
        a.integrity = i;
        a.prf = p;
        a.dh = spec.dh.empty() ? ike::DhGroup::kNone : spec.dh.front();
        if (auto t = to_ikecrypto(a); !t) return t.status();
      }
    }
  }
  for (auto g : spec.dh) {
    if (auto d = to_ikecrypto(g); !d) return d.status();
  }
  return Status::ok();
}

}  // namespace tcpsec::proposals
