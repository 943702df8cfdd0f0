// libFuzzer target for the pseudo-TCP receive path: parse_tcp_segment, then
// decapsulate, then encapsulate the result again, on a buffer with head- and
// tailroom exactly like an mbuf. See README.md for how to build and run it.
//
// The input is one IP packet. Checksums would stop the fuzzer at the door,
// so the harness fixes the IPv4 header checksum and parses without TCP
// checksum verification (and checks that verification then agrees).
//
// Invariants (a violation traps):
// * a parsed segment is consistent with the IP lengths;
// * a refused decapsulation leaves the whole buffer untouched;
// * a decapsulation that succeeds yields an IP packet that parses, carries
//   UDP (17) or ESP (50) as the trailer said, with the same addresses, and
//   whose L4 length is the segment's payload length minus the 16-byte trailer;
//   IKE has a consistent UDP length and a zero (IPv4) or valid (IPv6) checksum;
//   ESP has a non-zero SPI;
// * with the TCP checksum verified, decapsulation that derives the IPv6 inner
//   UDP checksum from it gives the same bytes as one that recomputes it;
// * encapsulating that packet again succeeds, parses with a valid checksum,
//   carries the segment's ports and numbers, and decapsulates (strictly) back
//   to the very same bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/ctcp/framing.h"

namespace {

using namespace tcpsec;
using namespace tcpsec::ctcp;

constexpr uint16_t kHeadroom = 64;
constexpr uint16_t kTailroom = 64;

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

void fix_ipv4_header_checksum(std::vector<uint8_t>& pkt, size_t off) {
  if (pkt.size() - off < net::kIpv4HeaderLen || (pkt[off] >> 4) != 4) return;
  size_t ihl = (pkt[off] & 0x0f) * 4u;
  if (ihl < net::kIpv4HeaderLen || ihl > pkt.size() - off) return;
  net::set_ipv4_header_checksum(&pkt[off]);
}

// `ip` holds a decapsulated packet: check what the trailer promised.
void check_inner(std::span<const uint8_t> ip, const TcpSegment& seg, InnerProto proto) {
  net::IpPacketInfo info;
  CHECK(net::parse_ip_packet(ip, info) == DropReason::kNone);
  CHECK(info.packet_length == ip.size());
  CHECK(info.family == seg.ip.family);
  CHECK(info.l3_length == seg.ip.l3_length);
  CHECK(info.proto == static_cast<uint8_t>(proto));
  CHECK(!info.fragment);
  CHECK(info.l4_length() == seg.payload_length - kTrailerLen);
  const uint8_t* l4 = ip.data() + info.l3_length;
  if (proto == InnerProto::kIke) {
    CHECK(info.l4_length() >= 8);
    CHECK(net::load_be16(l4 + 4) == info.l4_length());
    if (info.family == net::IpFamily::kV4) {
      CHECK(net::load_be16(l4 + 6) == 0);
    } else {
      CHECK(net::load_be16(l4 + 6) != 0);
      CHECK(net::l4_checksum(ip.data(), info, net::kProtoUdp, {l4, info.l4_length()}) == 0);
    }
  } else {
    CHECK(info.l4_length() >= 8);
    CHECK(net::load_be32(l4) != 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65535 - kHeadroom - kTailroom) return 0;
  const size_t cap = kHeadroom + size + kTailroom;

  // Exactly sized heap storage, so that ASan sees any access past it.
  std::vector<uint8_t> storage(cap, 0xa5);
  std::memcpy(storage.data() + kHeadroom, data, size);
  fix_ipv4_header_checksum(storage, kHeadroom);
  const std::vector<uint8_t> original = storage;

  net::PacketBuffer buf(storage, kHeadroom, static_cast<uint16_t>(size));
  TcpSegment seg;
  if (parse_tcp_segment(buf.bytes(), seg, /*verify_checksum=*/false) != DropReason::kNone) {
    return 0;
  }
  CHECK(seg.ip.proto == net::kProtoTcp && !seg.ip.fragment);
  CHECK(seg.ip.packet_length <= size);
  CHECK(seg.tcp_header_length >= kTcpHeaderLen && seg.tcp_header_length % 4 == 0);
  CHECK(seg.payload_offset == seg.ip.l3_length + seg.tcp_header_length);
  CHECK(seg.payload_offset + seg.payload_length == seg.ip.packet_length);

  // With the TCP checksum made right, verification must agree with the parse.
  {
    std::vector<uint8_t> fixed(buf.data(), buf.data() + size);
    uint8_t* tcp = fixed.data() + seg.ip.l3_length;
    net::store_be16(tcp + 16, 0);
    net::store_be16(tcp + 16, net::l4_checksum(fixed.data(), seg.ip, net::kProtoTcp,
                                               {tcp, seg.ip.l4_length()}));
    TcpSegment verified;
    CHECK(parse_tcp_segment(fixed, verified, true) == DropReason::kNone);
    CHECK(verified.payload_offset == seg.payload_offset && verified.seq == seg.seq);
    CHECK(verified.checksum_verified);
    // Decapsulation relying on the verified TCP checksum (the IPv6 inner UDP
    // checksum derived without a second pass) equals a full computation.
    {
      std::vector<uint8_t> a = fixed, b = fixed;
      net::PacketBuffer ba(a, 0, static_cast<uint16_t>(size));
      net::PacketBuffer bb(b, 0, static_cast<uint16_t>(size));
      TcpSegment full = verified;
      full.checksum_verified = false;
      DecapResult ra = decapsulate(ba, verified, false);
      DecapResult rb = decapsulate(bb, full, false);
      CHECK(ra.drop == rb.drop && ra.proto == rb.proto);
      CHECK(ba.data_offset() == bb.data_offset() && ba.length() == bb.length());
      CHECK(a == b);
    }
    tcp[16] ^= 0x01;  // and a wrong one is refused
    CHECK(parse_tcp_segment(fixed, verified, true) == DropReason::kTcpBadChecksum);
  }

  // Strict and lenient trailer checks: strict acceptance implies lenient.
  DecapResult strict_res;
  for (bool strict : {true, false}) {
    std::memcpy(storage.data(), original.data(), cap);
    net::PacketBuffer b(storage, kHeadroom, static_cast<uint16_t>(size));
    DecapResult res = decapsulate(b, seg, strict);
    if (strict) strict_res = res;
    if (res.drop != DropReason::kNone) {
      CHECK(!(strict == false && strict_res.drop == DropReason::kNone));
      CHECK(b.data_offset() == kHeadroom && b.length() == size);
      CHECK(std::memcmp(storage.data(), original.data(), cap) == 0);
      continue;
    }
    CHECK(res.proto == InnerProto::kIke || res.proto == InnerProto::kEsp);
    CHECK(b.data_offset() == kHeadroom + seg.tcp_header_length);
    check_inner(b.bytes(), seg, res.proto);
    const net::IpAddress src = net::ip_source({original.data() + kHeadroom, size}, seg.ip);
    const net::IpAddress dst = net::ip_destination({original.data() + kHeadroom, size}, seg.ip);
    CHECK(net::ip_source(b.bytes(), seg.ip) == src);
    CHECK(net::ip_destination(b.bytes(), seg.ip) == dst);
    const std::vector<uint8_t> inner(b.data(), b.data() + b.length());

    // Encapsulate it again: always possible, and it round-trips exactly.
    net::IpPacketInfo info;
    CHECK(net::parse_ip_packet(b.bytes(), info) == DropReason::kNone);
    SegmentParams params{seg.src_port, seg.dst_port, seg.seq, seg.ack};
    CHECK(encapsulate(b, info, params) == DropReason::kNone);
    CHECK(b.length() == inner.size() + kOverhead);
    CHECK(sequence_advance(info) == seg.payload_length);
    TcpSegment again;
    CHECK(parse_tcp_segment(b.bytes(), again, true) == DropReason::kNone);
    CHECK(again.src_port == seg.src_port && again.dst_port == seg.dst_port);
    CHECK(again.seq == seg.seq && again.ack == seg.ack);
    CHECK(again.flags == tcp_flags::kAck && again.tcp_header_length == kTcpHeaderLen);
    CHECK(again.payload_length == seg.payload_length);
    DecapResult back = decapsulate(b, again, /*strict=*/true);
    CHECK(back.drop == DropReason::kNone && back.proto == res.proto);
    CHECK(b.length() == inner.size() && std::memcmp(b.data(), inner.data(), inner.size()) == 0);
  }
  return 0;
}
