#include "dataplane/net/ethernet.h"

#include "dataplane/net/packet_buffer.h"

namespace tcpsec::net {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Expected<MacAddress> MacAddress::parse(std::string_view text) {
  MacAddress m;
  // Exactly six two-digit groups separated by ':'.
  bool ok = text.size() == 17;
  for (size_t i = 0; ok && i < 6; ++i) {
    int hi = hex_value(text[i * 3]);
    int lo = hex_value(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':')) {
      ok = false;
      break;
    }
    m.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (!ok) return Status::error("'" + std::string(text) + "' is not a MAC address");
  return m;
}

std::string MacAddress::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(17, ':');
  for (size_t i = 0; i < 6; ++i) {
    s[i * 3] = kHex[bytes[i] >> 4];
    s[i * 3 + 1] = kHex[bytes[i] & 0x0f];
  }
  return s;
}

void write_eth_header(uint8_t* p, const MacAddress& dst, const MacAddress& src,
                      uint16_t ethertype) {
  dst.store(p);
  src.store(p + 6);
  store_be16(p + 12, ethertype);
}

DropReason parse_eth_header(std::span<const uint8_t> frame, EthHeader& out) {
  if (frame.size() < kEthHeaderLen) return DropReason::kEthTruncated;
  out.dst = MacAddress::from(frame.data());
  out.src = MacAddress::from(frame.data() + 6);
  out.ethertype = load_be16(frame.data() + 12);
  return DropReason::kNone;
}

MacAddress ipv6_multicast_mac(const IpAddress& group) {
  return MacAddress{
      {0x33, 0x33, group.bytes[12], group.bytes[13], group.bytes[14], group.bytes[15]}};
}

IpAddress solicited_node_address(const IpAddress& target) {
  uint8_t b[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  b[13] = target.bytes[13];
  b[14] = target.bytes[14];
  b[15] = target.bytes[15];
  return IpAddress::v6(b);
}

}  // namespace tcpsec::net
