#include "controlplane/crypto/prf.h"

#include <string>

namespace tcpsec::ikecrypto {

Expected<SecretBytes> prf(PrfId id, std::span<const uint8_t> key, std::span<const uint8_t> data) {
  return prf(id, key, ByteParts{data});
}

Expected<SecretBytes> prf(PrfId id, std::span<const uint8_t> key, ByteParts data) {
  const char* digest = prf_digest(id);
  if (!digest) return unsupported_prf(id);
  return hmac(digest, key, data);
}

Expected<SecretBytes> prf_plus(PrfId id, std::span<const uint8_t> key,
                               std::span<const uint8_t> seed, size_t length) {
  return prf_plus(id, key, ByteParts{seed}, length);
}

Expected<SecretBytes> prf_plus(PrfId id, std::span<const uint8_t> key, ByteParts seed,
                               size_t length) {
  const size_t block = prf_length(id);
  if (block == 0) return unsupported_prf(id);
  if (length > 255 * block) {
    return Status::error("prf+ with " + to_string(id) + " yields at most " +
                         std::to_string(255 * block) + " bytes, " + std::to_string(length) +
                         " requested");
  }
  // The concatenated seed, once: ByteParts cannot be spliced with T and n.
  SecretBytes s;
  for (std::span<const uint8_t> p : seed) s.insert(s.end(), p.begin(), p.end());

  SecretBytes out;
  out.reserve(length + block);
  SecretBytes t;  // T(n-1), empty for T1
  for (unsigned n = 1; out.size() < length; ++n) {
    const uint8_t counter = static_cast<uint8_t>(n);
    auto next = prf(id, key, ByteParts{t, s, std::span<const uint8_t>(&counter, 1)});
    if (!next) return next.status();
    t = std::move(*next);
    out.insert(out.end(), t.begin(), t.end());
  }
  out.resize(length);
  return out;
}

}  // namespace tcpsec::ikecrypto
