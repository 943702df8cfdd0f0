// libFuzzer target for the local network plumbing parsers: parse_arp,
// is_nd / parse_nd, make_echo_reply (on a copy, in a buffer with head- and
// tailroom) and build_packet_too_big, checking a few invariants on the way.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "dataplane/net/arp.h"
#include "dataplane/net/icmp.h"
#include "dataplane/net/ip_packet.h"
#include "dataplane/net/nd.h"

using namespace tcpsec;
using namespace tcpsec::net;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 9000) return 0;
  std::span<const uint8_t> in(data, size);

  ArpInfo arp{};
  if (parse_arp(in, arp) == DropReason::kNone) {
    check(arp.op == kArpOpRequest || arp.op == kArpOpReply);
    check(!arp.sender_mac.is_multicast());
    // The reply to it, built in a frame that holds the request.
    static uint8_t frame_storage[128];
    PacketBuffer frame(frame_storage, 16, static_cast<uint16_t>(kEthHeaderLen + kArpLen));
    make_arp_reply(frame, arp, MacAddress{{2, 0, 0, 0, 0, 1}});
    ArpInfo reply{};
    check(parse_arp(frame.bytes().subspan(kEthHeaderLen), reply) == DropReason::kNone);
    check(reply.op == kArpOpReply && reply.target_ip == arp.sender_ip);
  }

  NdInfo nd{};
  bool looks_nd = is_nd(in);
  DropReason nd_reason = parse_nd(in, nd);
  if (nd_reason == DropReason::kNone) {
    check(looks_nd);
    check(nd.type == kNdNeighborSolicitation || nd.type == kNdNeighborAdvertisement);
    check(nd.target.is_v6() && nd.target.bytes[0] != 0xff);
  }

  // Echo reply on a copy: head- and tailroom around the packet.
  static uint8_t storage[9000 + 256];
  std::memcpy(storage + 128, data, size);
  PacketBuffer l3(storage, 128, static_cast<uint16_t>(size));
  IpPacketInfo info;
  if (parse_ip_packet(l3.bytes(), info) == DropReason::kNone) {
    DropReason r = make_echo_reply(l3, info);
    if (r == DropReason::kNone) {
      IpPacketInfo reply;
      check(parse_ip_packet(l3.bytes(), reply) == DropReason::kNone);
      check(reply.packet_length == l3.length() && l3.length() <= size);
    } else {
      check(l3.length() == size && std::memcmp(l3.data(), data, size) == 0);
    }
  }

  static uint8_t out[1500];
  for (const IpAddress& src : {IpAddress::v4(0xc0000201u), IpAddress{}}) {
    uint16_t n = build_packet_too_big(out, in, src, 1400);
    check(n <= 1280);
    if (n != 0) {
      IpPacketInfo err;
      check(parse_ip_packet({out, n}, err) == DropReason::kNone && err.packet_length == n);
    }
  }
  uint8_t v6src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  uint16_t n = build_packet_too_big(out, in, IpAddress::v6(v6src), 1400);
  check(n <= 1280);
  return 0;
}
