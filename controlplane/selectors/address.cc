#include "controlplane/selectors/address.h"

#include <arpa/inet.h>

#include <algorithm>

namespace tcpsec::selectors {

namespace {

constexpr size_t kMaxAddressText = 64;

}  // namespace

std::string quote(std::string_view text) {
  static constexpr size_t kMaxShown = 80;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

U128 host_mask(unsigned host_bits) {
  if (host_bits >= 128) return ~U128{0};
  return (U128{1} << host_bits) - 1;
}

Expected<Address> Address::parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxAddressText || text.find('\0') != std::string_view::npos) {
    return Status::error(quote(text) + " is not an IPv4 or IPv6 address");
  }
  std::string s(text);
  Address a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
  return Status::error(quote(text) + " is not an IPv4 or IPv6 address");
}

Expected<Address> Address::from_bytes(std::span<const uint8_t> b) {
  if (b.size() != 4 && b.size() != 16) {
    return Status::error("an address of " + std::to_string(b.size()) + " bytes (4 or 16 expected)");
  }
  Address a;
  a.v6 = b.size() == 16;
  std::copy(b.begin(), b.end(), a.bytes.begin());
  return a;
}

Address Address::from_u128(U128 value, bool v6) {
  Address a;
  a.v6 = v6;
  size_t n = a.size();
  for (size_t i = 0; i < n; ++i) {
    a.bytes[n - 1 - i] = static_cast<uint8_t>(value & 0xff);
    value >>= 8;
  }
  return a;
}

U128 Address::to_u128() const {
  U128 v = 0;
  for (size_t i = 0; i < size(); ++i) v = (v << 8) | bytes[i];
  return v;
}

std::string Address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof(buf));
  return buf;
}

Expected<Prefix> Prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto a = Address::parse(text.substr(0, slash));
  if (!a) return a.status();
  Prefix p;
  p.address = *a;
  p.length = a->bits();
  if (slash != std::string_view::npos) {
    std::string_view len = text.substr(slash + 1);
    bool digits = !len.empty() && len.size() <= 3 &&
                  std::all_of(len.begin(), len.end(), [](char c) { return c >= '0' && c <= '9'; });
    unsigned n = 0;
    for (char c : len) n = n * 10 + static_cast<unsigned>(c - '0');
    if (!digits || n > a->bits()) {
      return Status::error(quote(text) + " has a bad prefix length (0-" +
                           std::to_string(a->bits()) + ")");
    }
    p.length = n;
  }
  U128 hosts = host_mask(a->bits() - p.length);
  if ((a->to_u128() & hosts) != 0) {
    Prefix net{Address::from_u128(a->to_u128() & ~hosts, a->v6), p.length};
    return Status::error(quote(text) + " has bits set after /" + std::to_string(p.length) +
                         " (write " + net.to_string() + ")");
  }
  return p;
}

Address Prefix::last() const {
  return Address::from_u128(address.to_u128() | host_mask(address.bits() - length), address.v6);
}

bool Prefix::contains(const Address& a) const {
  if (a.v6 != address.v6) return false;
  U128 hosts = host_mask(address.bits() - length);
  return (a.to_u128() & ~hosts) == address.to_u128();
}

std::string Prefix::to_string() const {
  return address.to_string() + "/" + std::to_string(length);
}

}  // namespace tcpsec::selectors
