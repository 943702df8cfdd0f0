#include "dataplane/net/arp.h"

#include <cstring>

namespace tcpsec::net {
namespace {

constexpr uint16_t kArpFrameLen = kEthHeaderLen + kArpLen;  // 42

// Writes an Ethernet/IPv4 ARP body at p.
void write_arp(uint8_t* p, uint16_t op, const MacAddress& sha, const IpAddress& spa,
               const MacAddress& tha, const IpAddress& tpa) {
  store_be16(p, 1);  // Ethernet
  store_be16(p + 2, kEtherTypeIpv4);
  p[4] = 6;
  p[5] = 4;
  store_be16(p + 6, op);
  sha.store(p + 8);
  std::memcpy(p + 14, spa.bytes.data(), 4);
  tha.store(p + 18);
  std::memcpy(p + 24, tpa.bytes.data(), 4);
}

}  // namespace

DropReason parse_arp(std::span<const uint8_t> arp, ArpInfo& out) {
  if (arp.size() < kArpLen) return DropReason::kArpMalformed;
  const uint8_t* p = arp.data();
  if (load_be16(p) != 1 || load_be16(p + 2) != kEtherTypeIpv4 || p[4] != 6 || p[5] != 4) {
    return DropReason::kArpMalformed;
  }
  uint16_t op = load_be16(p + 6);
  if (op != kArpOpRequest && op != kArpOpReply) return DropReason::kArpMalformed;
  MacAddress sender = MacAddress::from(p + 8);
  if (sender.is_multicast()) return DropReason::kArpMalformed;
  out.op = op;
  out.sender_mac = sender;
  out.sender_ip = IpAddress::v4(p + 14);
  out.target_mac = MacAddress::from(p + 18);
  out.target_ip = IpAddress::v4(p + 24);
  return DropReason::kNone;
}

void make_arp_reply(PacketBuffer& frame, const ArpInfo& request, const MacAddress& our_mac) {
  uint16_t len = frame.length();
  if (len >= kEthMinFrameLen) {
    frame.trim(static_cast<uint16_t>(len - kEthMinFrameLen));
  } else if (frame.append(static_cast<uint16_t>(kEthMinFrameLen - len)) == nullptr) {
    if (len >= kArpFrameLen) {
      frame.trim(static_cast<uint16_t>(len - kArpFrameLen));
    } else if (frame.append(static_cast<uint16_t>(kArpFrameLen - len)) == nullptr) {
      return;  // cannot happen for a frame parse_arp accepted
    }
  }
  uint8_t* p = frame.data();
  write_eth_header(p, request.sender_mac, our_mac, kEtherTypeArp);
  write_arp(p + kEthHeaderLen, kArpOpReply, our_mac, request.target_ip, request.sender_mac,
            request.sender_ip);
  std::memset(p + kArpFrameLen, 0, frame.length() - kArpFrameLen);
}

uint16_t build_arp_request(std::span<uint8_t> out, const MacAddress& src_mac,
                           const IpAddress& src_ip, const IpAddress& target) {
  if (out.size() < kEthMinFrameLen || !src_ip.is_v4() || !target.is_v4()) return 0;
  uint8_t* p = out.data();
  write_eth_header(p, MacAddress::broadcast(), src_mac, kEtherTypeArp);
  write_arp(p + kEthHeaderLen, kArpOpRequest, src_mac, src_ip, MacAddress{}, target);
  std::memset(p + kArpFrameLen, 0, kEthMinFrameLen - kArpFrameLen);
  return kEthMinFrameLen;
}

}  // namespace tcpsec::net
