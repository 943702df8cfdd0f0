#include "dataplane/net/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace tcpsec::net {

IpAddress IpAddress::v4(uint32_t host_order) {
  uint8_t b[4] = {static_cast<uint8_t>(host_order >> 24), static_cast<uint8_t>(host_order >> 16),
                  static_cast<uint8_t>(host_order >> 8), static_cast<uint8_t>(host_order)};
  return v4(b);
}

Expected<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  if (s.find('\0') != std::string::npos) return Status::error("address text holds a NUL byte");
  uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return v4(buf);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return v6(buf);
  return Status::error("'" + s + "' is not an IPv4 or IPv6 address");
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4())
    inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
  else if (is_v6())
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  else
    return "none";
  return buf;
}

Expected<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return addr.status();
  IpPrefix p{*addr, static_cast<uint8_t>(addr->is_v4() ? 32 : 128)};
  if (slash != std::string_view::npos) {
    auto len_text = text.substr(slash + 1);
    unsigned len = 0;
    auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (ec != std::errc() || ptr != len_text.data() + len_text.size() || len > p.length) {
      return Status::error("'" + std::string(text) + "' has a bad prefix length");
    }
    p.length = static_cast<uint8_t>(len);
  }
  return p;
}

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  unsigned full = length / 8, rest = length % 8;
  if (std::memcmp(a.bytes.data(), address.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (address.bytes[full] & mask);
}

std::string IpPrefix::to_string() const {
  return address.to_string() + "/" + std::to_string(length);
}

}  // namespace tcpsec::net
