// IPv4/IPv6 addresses and prefixes as the IKE control plane needs them:
// text <-> bytes (network order, as in TS and ID payloads), and 128-bit
// integer arithmetic for ranges. (dataplane/net is not linked here.)
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tcpsec::selectors {

using U128 = unsigned __int128;

struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4: bytes[0..3], rest zero

  // Dotted quad or IPv6 text (inet_pton); the error quotes the text.
  static Expected<Address> parse(std::string_view text);
  // 4 or 16 bytes, network order; anything else is an error.
  static Expected<Address> from_bytes(std::span<const uint8_t> b);
  static Address from_u128(U128 value, bool v6);

  size_t size() const { return v6 ? 16 : 4; }
  unsigned bits() const { return v6 ? 128 : 32; }
  std::span<const uint8_t> span() const { return {bytes.data(), size()}; }
  U128 to_u128() const;
  std::string to_string() const;  // RFC 5952 for IPv6

  friend bool operator==(const Address&, const Address&) = default;
  friend auto operator<=>(const Address&, const Address&) = default;
};

struct Prefix {
  Address address;  // host bits cleared
  unsigned length = 0;

  // "10.0.0.0/8", "2001:db8::/32"; a bare address is a host (/32, /128).
  // Host bits set after the length are an error ("10.0.0.1/8 has bits set
  // after /8 (write 10.0.0.0/8)").
  static Expected<Prefix> parse(std::string_view text);
  Address first() const { return address; }
  Address last() const;
  bool contains(const Address& a) const;
  std::string to_string() const;  // always with "/length"
  friend bool operator==(const Prefix&, const Prefix&) = default;
};

// The all-ones mask of the low `host_bits` bits (0..128).
U128 host_mask(unsigned host_bits);

// `text` quoted for error messages: control bytes escaped, long text cut.
std::string quote(std::string_view text);

}  // namespace tcpsec::selectors
