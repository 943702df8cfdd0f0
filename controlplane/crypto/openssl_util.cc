#include "controlplane/crypto/openssl_util.h"

#include <openssl/err.h>

namespace tcpsec::ikecrypto::ossl {

std::string drain_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

Status failure(std::string_view what) {
  return Status::error(std::string(what) + ": " + drain_errors());
}

}  // namespace tcpsec::ikecrypto::ossl
