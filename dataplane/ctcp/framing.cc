#include "dataplane/ctcp/framing.h"

#include <cstring>

namespace tcpsec::ctcp {

using net::load_be16;
using net::load_be32;
using net::store_be16;
using net::store_be32;

namespace {

constexpr uint16_t kUdpHeaderLen = 8;
constexpr uint16_t kEspMinLen = 8;  // SPI and sequence number

void write_tcp_header(uint8_t* tcp, const SegmentParams& p, uint8_t flags) {
  store_be16(tcp + 0, p.src_port);
  store_be16(tcp + 2, p.dst_port);
  store_be32(tcp + 4, p.seq);
  store_be32(tcp + 8, p.ack);
  tcp[12] = (kTcpHeaderLen / 4) << 4;
  tcp[13] = flags;
  store_be16(tcp + 14, kWindow);
  store_be16(tcp + 16, 0);  // checksum, filled in last
  store_be16(tcp + 18, 0);  // urgent pointer
}

// What write_tcp_header(tcp, p, flags) writes, as a checksum sum (the
// checksum and urgent pointer fields are zero).
uint16_t tcp_header_sum(const SegmentParams& p, uint8_t flags) {
  uint32_t s = uint32_t{p.src_port} + p.dst_port + (p.seq >> 16) + (p.seq & 0xffff) +
               (p.ack >> 16) + (p.ack & 0xffff) +
               (uint32_t{(kTcpHeaderLen / 4) << 4} << 8 | flags) + kWindow;
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>((s & 0xffff) + (s >> 16));
}

// What write_trailer(t, proto, ipv4_id) writes, as a checksum sum.
uint16_t trailer_sum(InnerProto proto, uint16_t ipv4_id) {
  uint32_t s = uint32_t{ipv4_id} + (uint32_t{kMagic[0]} << 8 | kMagic[1]) +
               (uint32_t{kMagic[2]} << 8 | kMagic[3]) +
               (uint32_t{0x10} << 8 | static_cast<uint8_t>(proto)) + 0x0100;
  return static_cast<uint16_t>((s & 0xffff) + (s >> 16));
}

// The inner UDP checksum of an IPv6 IKE segment is recomputed on
// decapsulation. When parse_tcp_segment verified the TCP checksum, the UDP
// checksum follows from it and from the bytes that are not part of the UDP
// datagram (36 bytes: TCP header and trailer), without a second pass over
// the packet. In one's complement arithmetic modulo 0xffff (RFC 1071,
// RFC 1624), with S(x) the sum of x as 16-bit big-endian words:
//
//   segment  = TCP header H (hlen bytes), then payload P = U T: the UDP
//              datagram U (inner_len bytes) and the 16-byte trailer T
//   verified:  A + 6 + L + S(H) + S(P) = 0, where A is the sum of the IPv6
//              addresses and L = hlen + inner_len + 16 the TCP length (the
//              pseudo-header of RFC 8200 8.1; L < 2^16, so its upper word is 0)
//   S(P)     = S(U) + S(T)', S(T)' being S(T) byte-swapped when inner_len is
//              odd (T then sits at odd offsets, RFC 1071 2(B)); an odd last
//              byte of U is the high byte of a word both in P and in U alone
//   S(U)     = S(U0) + c, U0 being U with its checksum field zeroed and c the
//              value that field held in the segment
//   wanted:    the UDP sum A + 17 + inner_len + S(U0)
//            = A + 17 + inner_len - (A + 6 + L + S(H) + S(T)' + c)
//            = -(hlen + 5 + S(H) + S(T)' + c)
//
// and the checksum, its complement, is X = hlen + 5 + S(H) + S(T)' + c. The
// addresses cancel out. X is a one's complement sum with a non-zero term, so
// it lies in 1..0xffff: it equals the checksum of a full pass, except that a
// full pass giving 0 gives X = 0xffff here, which is what UDP sends for 0
// (RFC 768). So X is exactly the value to store (the unit tests and
// ctcp_decap_fuzz compare it with a full pass).
//
// Called before the packet is rewritten: `tcp` is the segment's TCP header.
uint16_t derived_inner_udp_checksum(const TcpSegment& seg, const uint8_t* tcp) {
  uint16_t inner_len = static_cast<uint16_t>(seg.payload_length - kTrailerLen);
  const uint8_t* payload = tcp + seg.tcp_header_length;
  uint16_t trailer = net::checksum_sum({payload + inner_len, kTrailerLen});
  if (inner_len & 1) trailer = net::checksum_swap(trailer);
  uint16_t x = net::checksum_add(static_cast<uint16_t>(seg.tcp_header_length + 5),
                                 net::checksum_sum({tcp, seg.tcp_header_length}));
  return net::checksum_add(net::checksum_add(x, trailer), load_be16(payload + 6));
}

}  // namespace

DropReason parse_tcp_segment(std::span<const uint8_t> l3, TcpSegment& seg, bool verify_checksum) {
  net::IpPacketInfo ip;
  DropReason r = net::parse_ip_packet(l3, ip);
  if (r != DropReason::kNone) return r;
  return parse_tcp_segment(l3, ip, seg, verify_checksum);
}

DropReason parse_tcp_segment(std::span<const uint8_t> l3, const net::IpPacketInfo& ip,
                             TcpSegment& seg, bool verify_checksum) {
  if (ip.packet_length > l3.size()) return DropReason::kIpBadTotalLength;
  seg.ip = ip;
  if (seg.ip.proto != net::kProtoTcp) return DropReason::kIpUnsupportedProto;
  if (seg.ip.fragment) return DropReason::kIpFragment;
  uint16_t l4_len = seg.ip.l4_length();
  if (l4_len < kTcpHeaderLen) return DropReason::kTcpTruncated;
  const uint8_t* tcp = l3.data() + seg.ip.l3_length;
  uint16_t hlen = static_cast<uint16_t>((tcp[12] >> 4) * 4);
  if (hlen < kTcpHeaderLen || hlen > l4_len) return DropReason::kTcpBadDataOffset;
  if (verify_checksum && net::l4_checksum(l3.data(), seg.ip, net::kProtoTcp, {tcp, l4_len}) != 0) {
    return DropReason::kTcpBadChecksum;
  }
  seg.checksum_verified = verify_checksum;
  seg.src_port = load_be16(tcp);
  seg.dst_port = load_be16(tcp + 2);
  seg.seq = load_be32(tcp + 4);
  seg.ack = load_be32(tcp + 8);
  seg.flags = tcp[13];
  seg.tcp_header_length = hlen;
  seg.payload_offset = static_cast<uint16_t>(seg.ip.l3_length + hlen);
  seg.payload_length = static_cast<uint16_t>(l4_len - hlen);
  // SYN with FIN or RST is nonsense (and a classic scanner probe).
  uint8_t f = seg.flags;
  if ((f & tcp_flags::kSyn) && (f & (tcp_flags::kFin | tcp_flags::kRst))) {
    return DropReason::kTcpBadFlags;
  }
  return DropReason::kNone;
}

DropReason encapsulate(net::PacketBuffer& buf, const net::IpPacketInfo& inner,
                       const SegmentParams& params) {
  if (inner.fragment) return DropReason::kIpFragment;
  InnerProto proto;
  uint16_t inner_len = inner.l4_length();
  switch (inner.proto) {
    case net::kProtoUdp:
      if (inner_len < kUdpHeaderLen) return DropReason::kCtcpInnerUdpTruncated;
      if (load_be16(buf.data() + inner.l3_length + 4) != inner_len) {
        return DropReason::kCtcpInnerUdpBadLength;
      }
      proto = InnerProto::kIke;
      break;
    case net::kProtoEsp:
      if (inner_len < kEspMinLen) return DropReason::kCtcpInnerEspTruncated;
      proto = InnerProto::kEsp;
      break;
    case net::kProtoAh:
    case net::kProtoIpcomp:
      return DropReason::kCtcpAhIpcompRefused;
    default:
      return DropReason::kEncapBadInner;
  }
  // The whole packet, IPv6 included, must fit the 16-bit lengths of
  // PacketBuffer and IpPacketInfo (an IPv6 payload length alone could go 40
  // bytes further, but no buffer can hold that).
  uint32_t new_total = uint32_t{inner.packet_length} + kOverhead;
  if (new_total > 0xffff) return DropReason::kEncapTooBig;
  if (buf.headroom() < kTcpHeaderLen) return DropReason::kEncapNoHeadroom;
  if (uint32_t{inner.packet_length} + kTrailerLen > uint32_t{buf.length()} + buf.tailroom()) {
    return DropReason::kEncapNoTailroom;
  }

  buf.trim(static_cast<uint16_t>(buf.length() - inner.packet_length));  // link padding
  uint8_t* old_ip = buf.data();
  const uint8_t* inner_payload = old_ip + inner.l3_length;  // stays where it is
  const uint16_t l4_len = static_cast<uint16_t>(kTcpHeaderLen + inner_len + kTrailerLen);
  uint16_t ipv4_id = 0;
  if (proto == InnerProto::kIke && inner.family == net::IpFamily::kV4) {
    ipv4_id = load_be16(old_ip + 4);
  }
  // The TCP checksum from what is read before anything is written: the
  // addresses and the inner packet from memory, the header and trailer
  // from the values about to be stored. Summing the segment after writing
  // it loaded words over fresh 2- and 4-byte stores, which the CPU cannot
  // forward (36% of the checksum's time).
  uint16_t sum = net::checksum_add(net::pseudo_header_sum(old_ip, inner, net::kProtoTcp, l4_len),
                                   net::checksum_sum({inner_payload, inner_len}));
  if (proto == InnerProto::kIke) {
    sum = net::checksum_sub(sum, load_be16(inner_payload + 6));  // zeroed below
  }
  sum = net::checksum_add(sum, tcp_header_sum(params, tcp_flags::kAck));
  const uint16_t trailer = trailer_sum(proto, ipv4_id);
  sum = net::checksum_add(sum, (inner_len & 1) ? net::checksum_swap(trailer) : trailer);

  uint8_t* ip = buf.prepend(kTcpHeaderLen);
  net::move_header(ip, old_ip, inner.l3_length);
  uint8_t* tcp = ip + inner.l3_length;
  uint8_t* payload = tcp + kTcpHeaderLen;
  if (proto == InnerProto::kIke) {
    store_be16(payload + 6, 0);  // inner UDP checksum: zero, as Cisco expects
  }
  write_trailer(buf.append(kTrailerLen), proto, ipv4_id);
  if (inner.family == net::IpFamily::kV4) {
    net::rewrite_ipv4_proto_and_length(ip, net::kProtoTcp,
                                       static_cast<uint16_t>(inner.l3_length + l4_len));
  } else {
    ip[inner.proto_offset] = net::kProtoTcp;
    net::set_ip_payload_length(ip, inner, l4_len);
  }
  write_tcp_header(tcp, params, tcp_flags::kAck);
  store_be16(tcp + 16, net::checksum_finish(sum));
  return DropReason::kNone;
}

DecapResult decapsulate(net::PacketBuffer& buf, const TcpSegment& seg, bool strict_trailer) {
  DecapResult res;
  if (seg.payload_length < kTrailerLen) {
    res.drop = DropReason::kCtcpTrailerTruncated;
    return res;
  }
  uint8_t* ip = buf.data();
  uint8_t* payload = ip + seg.payload_offset;
  uint16_t inner_len = static_cast<uint16_t>(seg.payload_length - kTrailerLen);
  res.drop = check_trailer(payload + inner_len, strict_trailer, res.proto);
  if (res.drop != DropReason::kNone) return res;

  if (res.proto == InnerProto::kIke) {
    if (inner_len < kUdpHeaderLen) {
      res.drop = DropReason::kCtcpInnerUdpTruncated;
      return res;
    }
    if (load_be16(payload + 4) != inner_len) {
      res.drop = DropReason::kCtcpInnerUdpBadLength;
      return res;
    }
  } else {
    if (inner_len < kEspMinLen) {
      res.drop = DropReason::kCtcpInnerEspTruncated;
      return res;
    }
    if (load_be32(payload) == 0) {  // SPI 0 is reserved (RFC 4303 2.1)
      res.drop = DropReason::kCtcpInnerBadSpi;
      return res;
    }
  }

  // IPv6 IKE: the inner UDP checksum, derived from the verified TCP
  // checksum where there is one (from the TCP header, before it goes).
  bool derive_udp =
      res.proto == InnerProto::kIke && seg.ip.family == net::IpFamily::kV6 && seg.checksum_verified;
  uint16_t udp_checksum = derive_udp ? derived_inner_udp_checksum(seg, ip + seg.ip.l3_length) : 0;

  // Checks are done: from here on the packet is rewritten.
  net::IpPacketInfo inner = seg.ip;
  inner.proto = static_cast<uint8_t>(res.proto);
  inner.packet_length = static_cast<uint16_t>(seg.ip.l3_length + inner_len);
  buf.trim(static_cast<uint16_t>(buf.length() - (seg.payload_offset + inner_len)));
  net::move_header(ip + seg.tcp_header_length, ip, seg.ip.l3_length);
  buf.adj(seg.tcp_header_length);
  ip = buf.data();
  if (inner.family == net::IpFamily::kV4) {
    net::rewrite_ipv4_proto_and_length(ip, inner.proto, inner.packet_length);
  } else {
    ip[inner.proto_offset] = inner.proto;
    net::set_ip_payload_length(ip, inner, inner_len);
  }
  if (res.proto == InnerProto::kIke) {
    uint8_t* udp = ip + inner.l3_length;
    store_be16(udp + 6, 0);
    if (inner.family == net::IpFamily::kV6) {
      // IPv6 forbids a zero UDP checksum (RFC 8200 8.1).
      uint16_t checksum =
          derive_udp ? udp_checksum
                     : net::l4_checksum(ip, inner, net::kProtoUdp, {udp, inner_len}, /*udp=*/true);
      store_be16(udp + 6, checksum);
    }
  }
  return res;
}

uint16_t build_control_segment(std::span<uint8_t> out, const ControlSegment& s) {
  bool v4 = s.src.is_v4();
  uint16_t l3_len = v4 ? net::kIpv4HeaderLen : net::kIpv6HeaderLen;
  uint16_t total = static_cast<uint16_t>(l3_len + kTcpHeaderLen);
  if (out.size() < total || s.src.family != s.dst.family) return 0;
  uint8_t* ip = out.data();
  std::memset(ip, 0, total);
  net::IpPacketInfo info;
  info.family = s.src.family;
  info.l3_length = l3_len;
  info.packet_length = total;
  if (v4) {
    ip[0] = 0x45;
    store_be16(ip + 6, 0x4000);  // DF; ID 0 is fine for atomic datagrams (RFC 6864)
    ip[8] = 64;
    ip[9] = net::kProtoTcp;
    std::memcpy(ip + 12, s.src.bytes.data(), 4);
    std::memcpy(ip + 16, s.dst.bytes.data(), 4);
  } else {
    ip[0] = 0x60;
    ip[6] = net::kProtoTcp;
    ip[7] = 64;
    std::memcpy(ip + 8, s.src.bytes.data(), 16);
    std::memcpy(ip + 24, s.dst.bytes.data(), 16);
  }
  net::set_ip_payload_length(ip, info, kTcpHeaderLen);
  uint8_t* tcp = ip + l3_len;
  write_tcp_header(tcp, {s.src_port, s.dst_port, s.seq, s.ack}, s.flags);
  store_be16(tcp + 16, net::l4_checksum(ip, info, net::kProtoTcp, {tcp, kTcpHeaderLen}));
  return total;
}

}  // namespace tcpsec::ctcp
