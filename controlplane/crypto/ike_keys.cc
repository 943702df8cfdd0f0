#include "controlplane/crypto/ike_keys.h"

#include <cstddef>
#include <string>

#include "controlplane/crypto/prf.h"

namespace tcpsec::ikecrypto {

namespace {

constexpr size_t kIkeSpiLength = 8;

// Encryption and integrity lengths for `enc` + `integ`, checking the pair.
Status cipher_lengths(EncryptionTransform enc, IntegrityId integ, size_t* enc_len,
                      size_t* integ_len) {
  auto e = encryption_properties(enc);
  if (!e) return e.status();
  auto i = integrity_properties(integ);
  if (!i) return i.status();
  if (e->aead && integ != IntegrityId::kNone) {
    return Status::error(to_string(enc) +
                         " is an AEAD cipher: integrity transform must be NONE, not " +
                         to_string(integ));
  }
  if (!e->aead && integ == IntegrityId::kNone) {
    return Status::error(to_string(enc) + " needs an integrity transform");
  }
  *enc_len = e->keymat_length();
  *integ_len = i->key_length;
  return Status::ok();
}

// Moves the next `n` bytes of `keymat` (from `*pos`) into a key of its own.
SecretBytes take(const SecretBytes& keymat, size_t* pos, size_t n) {
  SecretBytes out(keymat.begin() + static_cast<ptrdiff_t>(*pos),
                  keymat.begin() + static_cast<ptrdiff_t>(*pos + n));
  *pos += n;
  return out;
}

}  // namespace

Expected<IkeSaKeyLengths> ike_sa_key_lengths(const IkeSaTransforms& t) {
  const size_t prf_len = prf_length(t.prf);
  if (prf_len == 0) return unsupported_prf(t.prf);
  size_t enc = 0, integ = 0;
  Status st = cipher_lengths(t.encryption, t.integrity, &enc, &integ);
  if (!st) return Status::error("IKE SA: " + st.message());
  return IkeSaKeyLengths{prf_len, integ, enc};
}

Expected<SecretBytes> skeyseed(PrfId prf_id, std::span<const uint8_t> ni,
                               std::span<const uint8_t> nr,
                               std::span<const uint8_t> shared_secret) {
  // HMAC PRFs take Ni | Nr whole as the key (2.14; only fixed-key PRFs such
  // as AES-XCBC would use halves of each).
  SecretBytes key;
  key.reserve(ni.size() + nr.size());
  key.insert(key.end(), ni.begin(), ni.end());
  key.insert(key.end(), nr.begin(), nr.end());
  return prf(prf_id, key, shared_secret);
}

Expected<SecretBytes> rekey_skeyseed(PrfId old_prf, std::span<const uint8_t> old_sk_d,
                                     std::span<const uint8_t> shared_secret,
                                     std::span<const uint8_t> ni, std::span<const uint8_t> nr) {
  return prf(old_prf, old_sk_d, ByteParts{shared_secret, ni, nr});
}

Expected<IkeSaKeys> derive_ike_sa_keys(const IkeSaTransforms& t, std::span<const uint8_t> seed,
                                       std::span<const uint8_t> ni, std::span<const uint8_t> nr,
                                       std::span<const uint8_t> spi_i,
                                       std::span<const uint8_t> spi_r) {
  auto lengths = ike_sa_key_lengths(t);
  if (!lengths) return lengths.status();
  if (spi_i.size() != kIkeSpiLength || spi_r.size() != kIkeSpiLength) {
    return Status::error("IKE SA keys: SPIs must be 8 bytes each, got " +
                         std::to_string(spi_i.size()) + " and " + std::to_string(spi_r.size()));
  }
  auto keymat = prf_plus(t.prf, seed, ByteParts{ni, nr, spi_i, spi_r}, lengths->total());
  if (!keymat) return keymat.status();
  size_t pos = 0;
  IkeSaKeys k;
  k.sk_d = take(*keymat, &pos, lengths->sk_d);
  k.sk_ai = take(*keymat, &pos, lengths->sk_a);
  k.sk_ar = take(*keymat, &pos, lengths->sk_a);
  k.sk_ei = take(*keymat, &pos, lengths->sk_e);
  k.sk_er = take(*keymat, &pos, lengths->sk_e);
  k.sk_pi = take(*keymat, &pos, lengths->sk_d);
  k.sk_pr = take(*keymat, &pos, lengths->sk_d);
  return k;
}

Expected<ChildSaKeyLengths> child_sa_key_lengths(const ChildSaTransforms& t) {
  size_t enc = 0, integ = 0;
  Status st = cipher_lengths(t.encryption, t.integrity, &enc, &integ);
  if (!st) return Status::error("Child SA: " + st.message());
  return ChildSaKeyLengths{enc, integ};
}

Expected<ChildSaKeys> derive_child_sa_keys(PrfId prf, std::span<const uint8_t> sk_d,
                                           const ChildSaTransforms& t, std::span<const uint8_t> ni,
                                           std::span<const uint8_t> nr,
                                           std::span<const uint8_t> pfs_shared_secret) {
  auto lengths = child_sa_key_lengths(t);
  if (!lengths) return lengths.status();
  auto keymat = prf_plus(prf, sk_d, ByteParts{pfs_shared_secret, ni, nr},
                         2 * (lengths->encryption + lengths->integrity));
  if (!keymat) return keymat.status();
  size_t pos = 0;
  ChildSaKeys k;
  k.encryption_i2r = take(*keymat, &pos, lengths->encryption);
  k.integrity_i2r = take(*keymat, &pos, lengths->integrity);
  k.encryption_r2i = take(*keymat, &pos, lengths->encryption);
  k.integrity_r2i = take(*keymat, &pos, lengths->integrity);
  return k;
}

}  // namespace tcpsec::ikecrypto
