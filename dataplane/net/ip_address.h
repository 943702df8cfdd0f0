// IpAddress: an IPv4 or IPv6 address as stored in tables and keys.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tcpsec::net {

enum class IpFamily : uint8_t { kNone = 0, kV4 = 4, kV6 = 6 };

// Fixed 20-byte layout with no padding, so it can be hashed as raw bytes
// inside table keys. IPv4 uses bytes[0..3]; the rest stay zero.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  IpFamily family = IpFamily::kNone;
  std::array<uint8_t, 3> reserved{};

  // From the 4 or 16 address bytes at `p` (a packet's header). Inline, and
  // written as the words operator== reads: built byte-wise (zeroed bytes,
  // then a 4-byte copy, then the family byte), the compare right after it in
  // the per-packet lookups waited on store forwarding.
  static IpAddress v4(const uint8_t* p) {
    uint32_t a;
    std::memcpy(&a, p, 4);
    return from_words(a, 0, IpFamily::kV4);
  }
  static IpAddress v4(uint32_t host_order);
  static IpAddress v6(const uint8_t* p) {
    uint64_t w[2];
    std::memcpy(w, p, 16);
    return from_words(w[0], w[1], IpFamily::kV6);
  }
  // Accepts dotted quad or RFC 5952 text; the error names the text.
  static Expected<IpAddress> parse(std::string_view text);

  bool is_v4() const { return family == IpFamily::kV4; }
  bool is_v6() const { return family == IpFamily::kV6; }
  size_t size() const { return is_v4() ? 4 : 16; }
  std::string to_string() const;

  // All 20 bytes as three words (the defaulted == called memcmp, and this
  // runs per packet in table caches); the same result.
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    uint64_t x[2], y[2];
    uint32_t xf, yf;
    std::memcpy(x, &a, 16);
    std::memcpy(y, &b, 16);
    std::memcpy(&xf, reinterpret_cast<const uint8_t*>(&a) + 16, 4);
    std::memcpy(&yf, reinterpret_cast<const uint8_t*>(&b) + 16, 4);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (xf ^ yf)) == 0;
  }
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  // bytes as two little-endian words, then family and three zero bytes.
  static IpAddress from_words(uint64_t w0, uint64_t w1, IpFamily family) {
    static_assert(std::endian::native == std::endian::little);
    IpAddress r;
    const uint64_t words[2] = {w0, w1};
    const uint32_t tail = static_cast<uint32_t>(family);  // little-endian: family first
    std::memcpy(r.bytes.data(), words, 16);
    std::memcpy(reinterpret_cast<uint8_t*>(&r) + 16, &tail, 4);
    return r;
  }
};
static_assert(sizeof(IpAddress) == 20);
static_assert(offsetof(IpAddress, family) == 16 && offsetof(IpAddress, reserved) == 17);

// An address with a prefix length, for routes and interface subnets.
struct IpPrefix {
  IpAddress address;
  uint8_t length = 0;

  static Expected<IpPrefix> parse(std::string_view text);  // "10.0.0.0/8"
  bool contains(const IpAddress& a) const;
  std::string to_string() const;
};

}  // namespace tcpsec::net
