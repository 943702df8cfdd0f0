#include "controlplane/ikesa/nat_detection.h"

#include <arpa/inet.h>
#include <openssl/sha.h>

namespace tcpsec::ikesa {

Expected<ike::Bytes> nat_detection_hash(uint64_t spi_i, uint64_t spi_r, const std::string& address,
                                        uint16_t port) {
  ike::Bytes in;
  for (uint64_t spi : {spi_i, spi_r})
    for (int i = 0; i < 8; ++i) in.push_back(static_cast<uint8_t>(spi >> (56 - 8 * i)));
  uint8_t a[16];
  if (inet_pton(AF_INET, address.c_str(), a) == 1) {
    in.insert(in.end(), a, a + 4);
  } else if (inet_pton(AF_INET6, address.c_str(), a) == 1) {
    in.insert(in.end(), a, a + 16);
  } else {
    return Status::error("NAT detection: bad address '" + address + "'");
  }
  in.push_back(static_cast<uint8_t>(port >> 8));
  in.push_back(static_cast<uint8_t>(port));
  ike::Bytes out(SHA_DIGEST_LENGTH);
  SHA1(in.data(), in.size(), out.data());
  return out;
}

}  // namespace tcpsec::ikesa
