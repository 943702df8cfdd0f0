// Byte buffers of the IKE crypto component.
//
// SecretBytes holds key material (DH private values and shared secrets,
// SKEYSEED, SK_*, KEYMAT, pre-shared keys): its storage is wiped with
// OPENSSL_cleanse whenever the vector frees it (destruction, reallocation),
// so no copy of a key outlives its owner in freed heap memory. It has no
// operator<<: keys are never printed or logged.
#pragma once

#include <openssl/crypto.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace tcpsec::ikecrypto {

// std::allocator that clears memory before giving it back.
template <typename T>
struct CleansingAllocator {
  using value_type = T;
  CleansingAllocator() = default;
  template <typename U>
  CleansingAllocator(const CleansingAllocator<U>&) {}  // NOLINT: rebinding

  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) {
    OPENSSL_cleanse(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const CleansingAllocator<U>&) const {
    return true;
  }
};

using SecretBytes = std::vector<uint8_t, CleansingAllocator<uint8_t>>;
using Bytes = std::vector<uint8_t>;  // public data: nonces, public values, AUTH data

inline SecretBytes secret_copy(std::span<const uint8_t> b) {
  return SecretBytes(b.begin(), b.end());
}

}  // namespace tcpsec::ikecrypto
