#include "controlplane/crypto/hmac.h"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include <string>

#include "controlplane/crypto/openssl_util.h"

namespace tcpsec::ikecrypto {

Expected<SecretBytes> hmac(const char* digest, std::span<const uint8_t> key, ByteParts parts) {
  ossl::MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return ossl::failure("HMAC unavailable in OpenSSL");
  ossl::MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) return ossl::failure("HMAC context");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  // A non-null key pointer even for an empty key: EVP_MAC_init with a null
  // key would keep a previous key instead of using the empty one.
  static const uint8_t kEmpty = 0;
  if (EVP_MAC_init(ctx.get(), key.empty() ? &kEmpty : key.data(), key.size(), params) != 1) {
    return ossl::failure(std::string("HMAC-") + digest + " init");
  }
  for (std::span<const uint8_t> p : parts) {
    if (!p.empty() && EVP_MAC_update(ctx.get(), p.data(), p.size()) != 1) {
      return ossl::failure(std::string("HMAC-") + digest + " update");
    }
  }
  SecretBytes out(EVP_MAC_CTX_get_mac_size(ctx.get()));
  size_t written = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &written, out.size()) != 1 || written != out.size()) {
    return ossl::failure(std::string("HMAC-") + digest + " final");
  }
  return out;
}

}  // namespace tcpsec::ikecrypto
