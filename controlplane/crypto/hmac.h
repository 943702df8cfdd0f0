// HMAC (RFC 2104) through OpenSSL's EVP_MAC, over the concatenation of
// several byte ranges so callers need not copy them together. Used by the
// PRFs and by the SK payload's integrity check.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>

#include "common/status.h"
#include "controlplane/crypto/secret_bytes.h"

namespace tcpsec::ikecrypto {

using ByteParts = std::initializer_list<std::span<const uint8_t>>;

// HMAC-<digest>(key, parts[0] | parts[1] | ...), the full digest output.
// `digest` is an EVP_MD name ("SHA256").
Expected<SecretBytes> hmac(const char* digest, std::span<const uint8_t> key, ByteParts parts);

}  // namespace tcpsec::ikecrypto
