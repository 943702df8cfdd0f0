// Pseudo-TCP framing: byte-exact against scapy-built vectors (see
// vectors/make_vectors.py), round trips, and one test per drop reason.
#include "dataplane/ctcp/framing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/dataplane/ctcp/vectors/ctcp_vectors.h"
#include "tests/support/packet_frame.h"

namespace tcpsec::ctcp {
namespace {

using net::IpPacketInfo;
using net::PacketBuffer;
using vectors::kControlVectors;
using vectors::kFramingVectors;

using Bytes = std::vector<uint8_t>;

Bytes to_bytes(std::span<const uint8_t> s) {
  return Bytes(s.begin(), s.end());
}

using tcpsec::testing::Frame;
using tcpsec::testing::SameBytes;

IpPacketInfo parse_ip(std::span<const uint8_t> pkt) {
  IpPacketInfo info;
  EXPECT_EQ(net::parse_ip_packet(pkt, info), DropReason::kNone);
  return info;
}

SegmentParams params_of(const vectors::FramingVector& v) {
  return {v.src_port, v.dst_port, v.seq, v.ack};
}

// Recomputes the IPv4 header checksum (if any) and the TCP checksum of a
// segment after a test has edited it.
void fix_checksums(Bytes& pkt) {
  IpPacketInfo info;
  ASSERT_EQ(net::parse_ip_packet(pkt, info, /*verify_ipv4_checksum=*/false), DropReason::kNone);
  if (info.family == net::IpFamily::kV4) net::set_ipv4_header_checksum(pkt.data());
  if (info.proto != net::kProtoTcp || info.l4_length() < kTcpHeaderLen) return;
  uint8_t* tcp = pkt.data() + info.l3_length;
  tcp[16] = tcp[17] = 0;
  net::store_be16(tcp + 16,
                  net::l4_checksum(pkt.data(), info, net::kProtoTcp, {tcp, info.l4_length()}));
}

const vectors::FramingVector& vec(std::string_view name) {
  for (const auto& v : kFramingVectors) {
    if (name == v.name) return v;
  }
  ADD_FAILURE() << "no vector " << name;
  return kFramingVectors[0];
}

// Offset of the trailer in an encapsulated packet.
size_t trailer_at(std::span<const uint8_t> pkt) {
  return pkt.size() - kTrailerLen;
}

// ---------------------------------------------------------------------------
// Byte-exact vectors

class FramingVectorTest : public ::testing::TestWithParam<vectors::FramingVector> {};

TEST_P(FramingVectorTest, EncapsulateMatchesScapy) {
  const auto& v = GetParam();
  Frame f(v.inner);
  IpPacketInfo inner = parse_ip(f.bytes());
  ASSERT_EQ(inner.proto, v.inner_proto);
  ASSERT_EQ(encapsulate(f.buf(), inner, params_of(v)), DropReason::kNone);
  EXPECT_TRUE(SameBytes(f.bytes(), v.encapsulated));
  EXPECT_EQ(f.buf().data_offset(), 128 - kTcpHeaderLen);
}

TEST_P(FramingVectorTest, EncapsulateTrimsLinkPadding) {
  const auto& v = GetParam();
  Bytes padded = to_bytes(v.inner);
  padded.insert(padded.end(), 7, 0xa5);  // Ethernet minimum-frame padding
  Frame f(padded, kTcpHeaderLen, /*tailroom=*/kTrailerLen - 7);
  IpPacketInfo inner = parse_ip(f.bytes());
  ASSERT_EQ(encapsulate(f.buf(), inner, params_of(v)), DropReason::kNone);
  EXPECT_TRUE(SameBytes(f.bytes(), v.encapsulated));
}

TEST_P(FramingVectorTest, ParseSegmentFields) {
  const auto& v = GetParam();
  TcpSegment seg;
  ASSERT_EQ(parse_tcp_segment(v.encapsulated, seg), DropReason::kNone);
  IpPacketInfo inner = parse_ip(v.inner);
  EXPECT_EQ(seg.ip.family, inner.family);
  EXPECT_EQ(seg.ip.l3_length, inner.l3_length);
  EXPECT_EQ(seg.ip.proto, net::kProtoTcp);
  EXPECT_EQ(seg.ip.packet_length, v.encapsulated.size());
  EXPECT_FALSE(seg.ip.fragment);
  EXPECT_EQ(seg.src_port, v.src_port);
  EXPECT_EQ(seg.dst_port, v.dst_port);
  EXPECT_EQ(seg.seq, v.seq);
  EXPECT_EQ(seg.ack, v.ack);
  EXPECT_EQ(seg.flags, tcp_flags::kAck);
  EXPECT_EQ(seg.tcp_header_length, kTcpHeaderLen);
  EXPECT_EQ(seg.payload_offset, inner.l3_length + kTcpHeaderLen);
  EXPECT_EQ(seg.payload_length, inner.l4_length() + kTrailerLen);
  EXPECT_EQ(seg.payload_length, sequence_advance(inner));
}

TEST_P(FramingVectorTest, DecapsulateMatchesScapy) {
  const auto& v = GetParam();
  for (bool strict : {true, false}) {
    Frame f(v.encapsulated);
    TcpSegment seg;
    ASSERT_EQ(parse_tcp_segment(f.bytes(), seg), DropReason::kNone);
    DecapResult r = decapsulate(f.buf(), seg, strict);
    ASSERT_EQ(r.drop, DropReason::kNone);
    EXPECT_EQ(static_cast<uint8_t>(r.proto), v.inner_proto);
    EXPECT_TRUE(SameBytes(f.bytes(), v.decapsulated)) << "strict " << strict;
    EXPECT_EQ(f.buf().data_offset(), 128 + kTcpHeaderLen);
  }
}

TEST_P(FramingVectorTest, DecapsulateTrimsLinkPaddingAndTcpOptions) {
  const auto& v = GetParam();
  // The same segment with 4 bytes of TCP options (NOP x4) and link padding.
  TcpSegment plain;
  ASSERT_EQ(parse_tcp_segment(v.encapsulated, plain), DropReason::kNone);
  Bytes pkt = to_bytes(v.encapsulated);
  pkt.insert(pkt.begin() + plain.payload_offset, 4, 0x01);
  pkt[plain.ip.l3_length + 12] = 6 << 4;
  IpPacketInfo info = plain.ip;
  net::set_ip_payload_length(pkt.data(), info, static_cast<uint16_t>(info.l4_length() + 4));
  fix_checksums(pkt);
  pkt.insert(pkt.end(), 5, 0x00);
  Frame f(pkt);
  TcpSegment seg;
  ASSERT_EQ(parse_tcp_segment(f.bytes(), seg), DropReason::kNone);
  EXPECT_EQ(seg.tcp_header_length, 24);
  EXPECT_EQ(seg.payload_length, plain.payload_length);
  ASSERT_EQ(decapsulate(f.buf(), seg, true).drop, DropReason::kNone);
  EXPECT_TRUE(SameBytes(f.bytes(), v.decapsulated));
}

TEST_P(FramingVectorTest, RoundTrip) {
  const auto& v = GetParam();
  Frame f(v.inner);
  ASSERT_EQ(encapsulate(f.buf(), parse_ip(f.bytes()), params_of(v)), DropReason::kNone);
  TcpSegment seg;
  ASSERT_EQ(parse_tcp_segment(f.bytes(), seg), DropReason::kNone);
  ASSERT_EQ(decapsulate(f.buf(), seg, true).drop, DropReason::kNone);
  EXPECT_TRUE(SameBytes(f.bytes(), v.decapsulated));
  // Decapsulated packets encapsulate back to the very same segment.
  ASSERT_EQ(encapsulate(f.buf(), parse_ip(f.bytes()), params_of(v)), DropReason::kNone);
  EXPECT_TRUE(SameBytes(f.bytes(), v.encapsulated));
  EXPECT_EQ(f.buf().data_offset(), 128 - kTcpHeaderLen);
}

TEST_P(FramingVectorTest, WiresharkClientToServerDirectionIsAccepted) {
  const auto& v = GetParam();
  Bytes pkt = to_bytes(v.encapsulated);
  net::store_be16(&pkt[trailer_at(pkt) + 6], 0x4000);
  fix_checksums(pkt);
  for (bool strict : {true, false}) {
    Frame f(pkt);
    TcpSegment seg;
    ASSERT_EQ(parse_tcp_segment(f.bytes(), seg), DropReason::kNone);
    ASSERT_EQ(decapsulate(f.buf(), seg, strict).drop, DropReason::kNone);
    EXPECT_TRUE(SameBytes(f.bytes(), v.decapsulated));
  }
}

INSTANTIATE_TEST_SUITE_P(Scapy, FramingVectorTest, ::testing::ValuesIn(kFramingVectors),
                         [](const auto& info) { return std::string(info.param.name); });

class ControlVectorTest : public ::testing::TestWithParam<vectors::ControlVector> {};

ControlSegment control_of(const vectors::ControlVector& v) {
  ControlSegment s{};
  s.src = v.v6 ? net::IpAddress::v6(v.src) : net::IpAddress::v4(v.src);
  s.dst = v.v6 ? net::IpAddress::v6(v.dst) : net::IpAddress::v4(v.dst);
  s.src_port = v.src_port;
  s.dst_port = v.dst_port;
  s.seq = v.seq;
  s.ack = v.ack;
  s.flags = v.flags;
  return s;
}

TEST_P(ControlVectorTest, BuildMatchesScapy) {
  const auto& v = GetParam();
  uint8_t out[kMaxControlSegmentLen + 8];
  std::memset(out, 0xee, sizeof(out));
  uint16_t n = build_control_segment(out, control_of(v));
  ASSERT_EQ(n, v.bytes.size());
  EXPECT_TRUE(SameBytes({out, n}, v.bytes));
  EXPECT_EQ(out[n], 0xee);  // nothing written past the segment
  TcpSegment seg;
  ASSERT_EQ(parse_tcp_segment({out, n}, seg), DropReason::kNone);
  EXPECT_EQ(seg.flags, v.flags);
  EXPECT_EQ(seg.payload_length, 0);
}

TEST_P(ControlVectorTest, RefusesSmallBufferAndMixedFamilies) {
  const auto& v = GetParam();
  Bytes out(v.bytes.size() - 1);
  EXPECT_EQ(build_control_segment(out, control_of(v)), 0);
  ControlSegment s = control_of(v);
  s.dst = v.v6 ? net::IpAddress::v4(v.dst) : net::IpAddress::v6(v.dst);
  uint8_t big[kMaxControlSegmentLen];
  EXPECT_EQ(build_control_segment(big, s), 0);
}

INSTANTIATE_TEST_SUITE_P(Scapy, ControlVectorTest, ::testing::ValuesIn(kControlVectors),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------
// Receive path: every drop reason, and the buffer untouched on failure.

// Parses and decapsulates `pkt`; expects `want` from whichever step refuses
// it and checks that a refused packet's buffer is left exactly as it was.
void ExpectDecapDrop(std::span<const uint8_t> pkt, DropReason want, bool strict = true,
                     bool verify_checksum = true) {
  Frame f(pkt);
  const auto before = f.snapshot();
  TcpSegment seg;
  DropReason r = parse_tcp_segment(f.bytes(), seg, verify_checksum);
  if (r == DropReason::kNone) r = decapsulate(f.buf(), seg, strict).drop;
  EXPECT_EQ(drop_reason_name(r), drop_reason_name(want));
  if (want != DropReason::kNone) {
    EXPECT_TRUE(f.snapshot() == before) << "buffer was modified";
  }
}

Bytes ike4() {
  return to_bytes(vec("ike_v4").encapsulated);
}
Bytes esp4() {
  return to_bytes(vec("esp_v4").encapsulated);
}
Bytes esp6() {
  return to_bytes(vec("esp_v6").encapsulated);
}

// Replaces the inner payload of an encapsulated packet (the trailer stays,
// lengths and checksums follow).
Bytes with_inner(const Bytes& encapsulated, std::span<const uint8_t> inner) {
  TcpSegment seg;
  EXPECT_EQ(parse_tcp_segment(encapsulated, seg), DropReason::kNone);
  Bytes pkt(encapsulated.begin(), encapsulated.begin() + seg.payload_offset);
  pkt.insert(pkt.end(), inner.begin(), inner.end());
  pkt.insert(pkt.end(), encapsulated.end() - kTrailerLen, encapsulated.end());
  net::set_ip_payload_length(
      pkt.data(), seg.ip,
      static_cast<uint16_t>(seg.tcp_header_length + inner.size() + kTrailerLen));
  fix_checksums(pkt);
  return pkt;
}

TEST(DecapDrop, IpTruncated) {
  Bytes pkt = ike4();
  ExpectDecapDrop(std::span<const uint8_t>(pkt).first(19), DropReason::kIpTruncated);
  ExpectDecapDrop(std::span<const uint8_t>(esp6()).first(39), DropReason::kIpTruncated);
  ExpectDecapDrop({}, DropReason::kIpTruncated);
  // IP says more bytes than the frame holds.
  ExpectDecapDrop(std::span<const uint8_t>(pkt).first(pkt.size() - 1),
                  DropReason::kIpBadTotalLength);
}

TEST(DecapDrop, Ipv6LengthBeyond16Bits) {
  // A payload length of 65535 makes a 65575-byte packet: IpPacketInfo and
  // PacketBuffer lengths are 16 bits, so it must be refused, not wrapped.
  Bytes pkt(net::kIpv6HeaderLen + 65535, 0);
  std::memcpy(pkt.data(), vec("esp_v6").encapsulated.data(), net::kIpv6HeaderLen);
  net::store_be16(&pkt[4], 65535);
  TcpSegment seg;
  EXPECT_EQ(parse_tcp_segment(pkt, seg), DropReason::kIpBadTotalLength);
  IpPacketInfo info;
  EXPECT_EQ(net::parse_ip_packet(pkt, info), DropReason::kIpBadTotalLength);
}

TEST(DecapDrop, Ipv4BadHeaderChecksum) {
  Bytes pkt = ike4();
  pkt[10] ^= 0x01;
  ExpectDecapDrop(pkt, DropReason::kIpBadChecksum);
}

TEST(DecapDrop, Ipv4Fragment) {
  for (uint16_t frag : {0x2000, 0x0001, 0x4001}) {  // MF; offset 8; DF + offset
    Bytes pkt = ike4();
    net::store_be16(&pkt[6], frag);
    fix_checksums(pkt);
    ExpectDecapDrop(pkt, DropReason::kIpFragment);
  }
}

TEST(DecapDrop, Ipv6FragmentHeader) {
  // esp_v6 with an (atomic) fragment header in front of TCP.
  Bytes pkt = esp6();
  Bytes frag = {net::kProtoTcp, 0, 0, 0, 0, 0, 0, 1};
  pkt.insert(pkt.begin() + 40, frag.begin(), frag.end());
  pkt[6] = 44;
  net::store_be16(&pkt[4], static_cast<uint16_t>(pkt.size() - 40));
  ExpectDecapDrop(pkt, DropReason::kIpFragment, true, /*verify_checksum=*/false);
}

TEST(DecapDrop, Ipv6ExtHeaderTruncated) {
  Bytes pkt = to_bytes(vec("esp_v6_ext").encapsulated);
  ASSERT_EQ(pkt[40], 60);  // hop-by-hop -> destination options
  ASSERT_EQ(pkt[49], 1);   // destination options: 16 bytes
  pkt[49] = 200;           // now they run past the packet
  ExpectDecapDrop(pkt, DropReason::kIpv6ExtHeaderTruncated);
  // Payload length too short for even the first extension header.
  pkt = to_bytes(vec("esp_v6_ext").encapsulated);
  net::store_be16(&pkt[4], 4);
  ExpectDecapDrop(pkt, DropReason::kIpv6ExtHeaderTruncated);
}

TEST(DecapDrop, Ipv6ExtHeaderChainIsBounded) {
  Bytes pkt = esp6();
  Bytes hbh = {0, 0, 1, 4, 0, 0, 0, 0};  // hop-by-hop, PadN
  for (int i = 0; i < 9; ++i) pkt.insert(pkt.begin() + 40, hbh.begin(), hbh.end());
  pkt[6] = 0;
  pkt[40 + 8 * 8] = net::kProtoTcp;
  net::store_be16(&pkt[4], static_cast<uint16_t>(pkt.size() - 40));
  ExpectDecapDrop(pkt, DropReason::kIpv6ExtHeaderUnsupported);
}

TEST(DecapDrop, NotTcp) {
  ExpectDecapDrop(vec("esp_v4").inner, DropReason::kIpUnsupportedProto);
  ExpectDecapDrop(vec("ike_v6").inner, DropReason::kIpUnsupportedProto);
}

TEST(DecapDrop, TcpTruncated) {
  Bytes pkt = ike4();
  pkt.resize(20 + kTcpHeaderLen - 1);
  net::store_be16(&pkt[2], static_cast<uint16_t>(pkt.size()));
  net::set_ipv4_header_checksum(pkt.data());
  ExpectDecapDrop(pkt, DropReason::kTcpTruncated);
  pkt = esp6();
  pkt.resize(40 + 8);
  net::store_be16(&pkt[4], 8);
  ExpectDecapDrop(pkt, DropReason::kTcpTruncated);
}

TEST(DecapDrop, TcpBadDataOffset) {
  for (uint8_t offset : {0, 4}) {
    Bytes pkt = ike4();
    pkt[20 + 12] = static_cast<uint8_t>(offset << 4);
    fix_checksums(pkt);
    ExpectDecapDrop(pkt, DropReason::kTcpBadDataOffset);
  }
  // A header longer than the segment.
  Bytes pkt = esp6();
  pkt.resize(40 + 40);
  net::store_be16(&pkt[4], 40);
  pkt[40 + 12] = 11 << 4;
  fix_checksums(pkt);
  ExpectDecapDrop(pkt, DropReason::kTcpBadDataOffset);
}

TEST(DecapDrop, TcpBadChecksum) {
  for (Bytes pkt : {ike4(), esp6()}) {
    pkt[pkt.size() - 20] ^= 0x40;  // a payload byte
    ExpectDecapDrop(pkt, DropReason::kTcpBadChecksum);
    // Not verifying (checksum offload did): the damaged ESP byte goes through.
    if (pkt[0] >> 4 == 6) ExpectDecapDrop(pkt, DropReason::kNone, true, false);
  }
}

TEST(DecapDrop, TcpSynWithFinOrRst) {
  for (uint8_t flags : {tcp_flags::kSyn | tcp_flags::kFin, tcp_flags::kSyn | tcp_flags::kRst,
                        tcp_flags::kSyn | tcp_flags::kFin | tcp_flags::kAck}) {
    Bytes pkt = esp4();
    pkt[20 + 13] = flags;
    fix_checksums(pkt);
    ExpectDecapDrop(pkt, DropReason::kTcpBadFlags);
  }
}

TEST(DecapDrop, TrailerTruncated) {
  Bytes pkt = esp4();
  TcpSegment seg;
  ASSERT_EQ(parse_tcp_segment(pkt, seg), DropReason::kNone);
  for (uint16_t keep : {uint16_t{1}, uint16_t{kTrailerLen - 1}}) {
    Bytes p(pkt.begin(), pkt.begin() + seg.payload_offset + keep);
    net::set_ip_payload_length(p.data(), seg.ip, static_cast<uint16_t>(kTcpHeaderLen + keep));
    fix_checksums(p);
    ExpectDecapDrop(p, DropReason::kCtcpTrailerTruncated);
  }
}

TEST(DecapDrop, TrailerLeadingBytesNotZero) {
  for (size_t i = 0; i < 4; ++i) {
    Bytes pkt = ike4();
    pkt[trailer_at(pkt) + i] = 0x80;
    fix_checksums(pkt);
    ExpectDecapDrop(pkt, DropReason::kCtcpTrailerBadZero);
    ExpectDecapDrop(pkt, DropReason::kCtcpTrailerBadZero, /*strict=*/false);
  }
}

TEST(DecapDrop, TrailerDirectionLowBits) {
  for (uint16_t dir : {0x0001, 0x0800, 0x4001, 0x0fff}) {
    Bytes pkt = esp4();
    net::store_be16(&pkt[trailer_at(pkt) + 6], dir);
    fix_checksums(pkt);
    ExpectDecapDrop(pkt, DropReason::kCtcpTrailerBadDirection);
    ExpectDecapDrop(pkt, DropReason::kCtcpTrailerBadDirection, /*strict=*/false);
  }
}

TEST(DecapDrop, TrailerIdAndHighDirectionBitsAreIgnored) {
  Bytes pkt = esp4();
  net::store_be16(&pkt[trailer_at(pkt) + 4], 0x7777);  // an "IPv4 ID" on ESP
  net::store_be16(&pkt[trailer_at(pkt) + 6], 0xc000);
  fix_checksums(pkt);
  ExpectDecapDrop(pkt, DropReason::kNone);
}

TEST(DecapDrop, TrailerMagicOnlyWhenStrict) {
  for (size_t i : {8, 9, 10, 11, 12, 14}) {
    Bytes pkt = ike4();
    pkt[trailer_at(pkt) + i] ^= 0x01;
    fix_checksums(pkt);
    ExpectDecapDrop(pkt, DropReason::kCtcpTrailerBadMagic, /*strict=*/true);
    // QuickSec never checked the magic: accepted, and decapsulated exactly.
    Frame f(pkt);
    TcpSegment seg;
    ASSERT_EQ(parse_tcp_segment(f.bytes(), seg), DropReason::kNone);
    ASSERT_EQ(decapsulate(f.buf(), seg, /*strict=*/false).drop, DropReason::kNone);
    EXPECT_TRUE(SameBytes(f.bytes(), vec("ike_v4").decapsulated));
  }
}

TEST(DecapDrop, TrailerBadProto) {
  for (uint8_t proto : {0, 6, 4, 41, 255}) {
    Bytes pkt = esp6();
    pkt[trailer_at(pkt) + 13] = proto;
    fix_checksums(pkt);
    ExpectDecapDrop(pkt, DropReason::kCtcpTrailerBadProto);
    ExpectDecapDrop(pkt, DropReason::kCtcpTrailerBadProto, /*strict=*/false);
  }
}

TEST(DecapDrop, AhAndIpcompRefused) {
  for (uint8_t proto : {net::kProtoAh, net::kProtoIpcomp}) {
    Bytes pkt = esp4();
    pkt[trailer_at(pkt) + 13] = proto;
    fix_checksums(pkt);
    ExpectDecapDrop(pkt, DropReason::kCtcpAhIpcompRefused);
    ExpectDecapDrop(pkt, DropReason::kCtcpAhIpcompRefused, /*strict=*/false);
  }
}

TEST(DecapDrop, InnerUdpTruncated) {
  Bytes udp = {0x01, 0xf4, 0x01, 0xf4, 0x00, 0x07, 0x00};  // 7 bytes
  ExpectDecapDrop(with_inner(ike4(), udp), DropReason::kCtcpInnerUdpTruncated);
  // A bare 8-byte UDP header is short but not truncated.
  Bytes empty_udp = {0x01, 0xf4, 0x01, 0xf4, 0x00, 0x08, 0x00, 0x00};
  ExpectDecapDrop(with_inner(ike4(), empty_udp), DropReason::kNone);
}

TEST(DecapDrop, InnerUdpBadLength) {
  const auto& v = vec("ike_v4");
  TcpSegment seg;
  ASSERT_EQ(parse_tcp_segment(v.encapsulated, seg), DropReason::kNone);
  for (int delta : {-1, 1, 100}) {
    Bytes pkt = to_bytes(v.encapsulated);
    uint8_t* udp_len = &pkt[seg.payload_offset + 4];
    net::store_be16(udp_len, static_cast<uint16_t>(net::load_be16(udp_len) + delta));
    fix_checksums(pkt);
    ExpectDecapDrop(pkt, DropReason::kCtcpInnerUdpBadLength);
  }
}

TEST(DecapDrop, InnerEspTruncated) {
  Bytes esp = {0x10, 0x00, 0xab, 0xcd, 0x00, 0x00, 0x00};  // 7 bytes
  ExpectDecapDrop(with_inner(esp4(), esp), DropReason::kCtcpInnerEspTruncated);
  ExpectDecapDrop(with_inner(esp6(), {}), DropReason::kCtcpInnerEspTruncated);
}

TEST(DecapDrop, InnerEspSpiZero) {
  Bytes esp = {0, 0, 0, 0, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd};
  ExpectDecapDrop(with_inner(esp4(), esp), DropReason::kCtcpInnerBadSpi);
  ExpectDecapDrop(with_inner(esp6(), esp), DropReason::kCtcpInnerBadSpi);
  esp[3] = 1;  // SPI 1 is reserved for future use but not refused here
  ExpectDecapDrop(with_inner(esp6(), esp), DropReason::kNone);
}

// IPv6 IKE: the inner UDP checksum derived from the verified TCP checksum
// (see decapsulate) equals a full pass, at odd and even lengths, with
// extension headers and TCP options, whatever checksum field the segment
// carried, including a result of 0 (sent as 0xffff).
TEST(Decap, Ipv6InnerUdpChecksumDerivedEqualsFullPass) {
  std::mt19937 rng(42);
  int checked = 0;
  for (const char* name : {"ike_v6", "ike_v6_ext"}) {
    const auto& v = vec(name);
    const IpPacketInfo tmpl = parse_ip(v.inner);
    for (uint16_t udp_len = 8; udp_len <= 1500; udp_len += (udp_len < 64 ? 1 : 1 + rng() % 61)) {
      // A random UDP datagram of udp_len bytes behind the vector's headers.
      Bytes inner(v.inner.begin(), v.inner.begin() + tmpl.l3_length);
      for (uint16_t i = 0; i < udp_len; ++i) inner.push_back(static_cast<uint8_t>(rng()));
      net::store_be16(&inner[tmpl.l3_length + 4], udp_len);
      net::set_ip_payload_length(inner.data(), tmpl, udp_len);
      bool zero_sum = checked % 4 == 3 && udp_len >= 10;
      if (zero_sum) {
        // Make the UDP checksum compute to 0, which is sent as 0xffff.
        uint8_t* udp = &inner[tmpl.l3_length];
        net::store_be16(udp + 6, 0);
        net::store_be16(udp + 8, 0);
        net::store_be16(udp + 8, net::l4_checksum(inner.data(), tmpl, net::kProtoUdp,
                                                  {udp, udp_len}, /*udp=*/false));
      }
      Frame e(inner);
      ASSERT_EQ(encapsulate(e.buf(), parse_ip(e.bytes()), params_of(v)), DropReason::kNone);
      Bytes seg_bytes = to_bytes(e.bytes());
      // The inner checksum field as a peer might send it (0, 0xffff, any).
      TcpSegment plain;
      ASSERT_EQ(parse_tcp_segment(seg_bytes, plain), DropReason::kNone);
      uint16_t field = checked % 3 == 0 ? 0 : checked % 3 == 1 ? 0xffff : rng() & 0xffff;
      net::store_be16(&seg_bytes[plain.payload_offset + 6], field);
      if (checked % 2 == 1) {
        // TCP options (NOPs), 4 or 12 bytes: the header length enters the
        // derivation.
        size_t opt_len = checked % 4 == 1 ? 4 : 12;
        seg_bytes.insert(seg_bytes.begin() + plain.payload_offset, opt_len, 0x01);
        seg_bytes[plain.ip.l3_length + 12] =
            static_cast<uint8_t>((kTcpHeaderLen + opt_len) / 4 << 4);
        net::set_ip_payload_length(seg_bytes.data(), plain.ip,
                                   static_cast<uint16_t>(plain.ip.l4_length() + opt_len));
      }
      fix_checksums(seg_bytes);

      Frame derived(seg_bytes);
      TcpSegment seg;
      ASSERT_EQ(parse_tcp_segment(derived.bytes(), seg), DropReason::kNone);
      ASSERT_TRUE(seg.checksum_verified);
      ASSERT_EQ(decapsulate(derived.buf(), seg, true).drop, DropReason::kNone);

      Frame full(seg_bytes);
      seg.checksum_verified = false;  // as after a parse without verification
      ASSERT_EQ(decapsulate(full.buf(), seg, true).drop, DropReason::kNone);
      TcpSegment unverified;
      ASSERT_EQ(parse_tcp_segment(seg_bytes, unverified, false), DropReason::kNone);
      EXPECT_FALSE(unverified.checksum_verified);

      ASSERT_TRUE(SameBytes(derived.bytes(), full.bytes())) << name << " udp_len " << udp_len;
      IpPacketInfo out = parse_ip(derived.bytes());
      const uint8_t* udp = derived.bytes().data() + out.l3_length;
      if (zero_sum) {
        EXPECT_EQ(net::load_be16(udp + 6), 0xffff);
      } else {
        EXPECT_NE(net::load_be16(udp + 6), 0);
      }
      EXPECT_EQ(net::l4_checksum(derived.bytes().data(), out, net::kProtoUdp, {udp, udp_len}), 0)
          << name << " udp_len " << udp_len;
      ++checked;
    }
  }
  EXPECT_GT(checked, 150);
}

// ---------------------------------------------------------------------------
// Transmit path

// Encapsulates `inner` in a buffer with the given room; expects `want` and,
// on failure, an untouched buffer.
void ExpectEncapDrop(std::span<const uint8_t> inner, DropReason want,
                     uint16_t headroom = kTcpHeaderLen, uint16_t tailroom = kTrailerLen) {
  Frame f(inner, headroom, tailroom);
  const auto before = f.snapshot();
  IpPacketInfo info;
  ASSERT_EQ(net::parse_ip_packet(f.bytes(), info), DropReason::kNone);
  DropReason r = encapsulate(f.buf(), info, {10000, 443, 1, 2});
  EXPECT_EQ(drop_reason_name(r), drop_reason_name(want));
  if (want != DropReason::kNone) {
    EXPECT_TRUE(f.snapshot() == before) << "buffer was modified";
  }
}

TEST(EncapDrop, ExactRoomIsEnough) {
  for (const auto& v : kFramingVectors) ExpectEncapDrop(v.inner, DropReason::kNone);
}

TEST(EncapDrop, NoHeadroom) {
  for (const auto& v : kFramingVectors) {
    ExpectEncapDrop(v.inner, DropReason::kEncapNoHeadroom, kTcpHeaderLen - 1);
    ExpectEncapDrop(v.inner, DropReason::kEncapNoHeadroom, 0);
  }
}

TEST(EncapDrop, NoTailroom) {
  for (const auto& v : kFramingVectors) {
    ExpectEncapDrop(v.inner, DropReason::kEncapNoTailroom, kTcpHeaderLen, kTrailerLen - 1);
    ExpectEncapDrop(v.inner, DropReason::kEncapNoTailroom, kTcpHeaderLen, 0);
  }
}

// An inner packet of `total` bytes (IPv4 or IPv6) carrying ESP.
Bytes big_esp(bool v6, size_t total) {
  Bytes pkt(total, 0x5a);
  const auto& v = vec(v6 ? "esp_v6" : "esp_v4");
  IpPacketInfo info = parse_ip(v.inner);
  std::memcpy(pkt.data(), v.inner.data(), info.l3_length + 8u);
  net::set_ip_payload_length(pkt.data(), info, static_cast<uint16_t>(total - info.l3_length));
  return pkt;
}

TEST(EncapDrop, TooBig) {
  for (bool v6 : {false, true}) {
    // The largest packet that still fits 16-bit lengths after encapsulation,
    ExpectEncapDrop(big_esp(v6, 65535 - kOverhead), DropReason::kNone);
    // and one byte more (its buffer has one byte less tailroom, so that the
    // storage itself still fits a PacketBuffer).
    ExpectEncapDrop(big_esp(v6, 65535 - kOverhead + 1), DropReason::kEncapTooBig, kTcpHeaderLen,
                    kTrailerLen - 1);
    ExpectEncapDrop(big_esp(v6, 65535 - kTcpHeaderLen), DropReason::kEncapTooBig, kTcpHeaderLen, 0);
  }
}

TEST(EncapDrop, BadInnerProto) {
  for (const char* name : {"esp_v4", "esp_v6_ext"}) {
    Bytes pkt = to_bytes(vec(name).inner);
    IpPacketInfo info = parse_ip(pkt);
    for (uint8_t proto : {net::kProtoTcp, net::kProtoIcmp, net::kProtoIcmpv6, uint8_t{4}}) {
      pkt[info.proto_offset] = proto;
      if (info.family == net::IpFamily::kV4) net::set_ipv4_header_checksum(pkt.data());
      ExpectEncapDrop(pkt, DropReason::kEncapBadInner);
    }
    for (uint8_t proto : {net::kProtoAh, net::kProtoIpcomp}) {
      pkt[info.proto_offset] = proto;
      if (info.family == net::IpFamily::kV4) net::set_ipv4_header_checksum(pkt.data());
      ExpectEncapDrop(pkt, DropReason::kCtcpAhIpcompRefused);
    }
  }
}

TEST(EncapDrop, InnerTooShort) {
  for (const char* name : {"ike_v4", "ike_v6_ext", "esp_v4", "esp_v6"}) {
    Bytes pkt = to_bytes(vec(name).inner);
    IpPacketInfo info = parse_ip(pkt);
    pkt.resize(info.l3_length + 7u);
    net::set_ip_payload_length(pkt.data(), info, 7);
    DropReason want = info.proto == net::kProtoUdp ? DropReason::kCtcpInnerUdpTruncated
                                                   : DropReason::kCtcpInnerEspTruncated;
    ExpectEncapDrop(pkt, want);
  }
}

TEST(EncapDrop, InnerUdpBadLength) {
  // The UDP length must be the inner length, as decapsulation demands.
  for (const char* name : {"ike_v4", "ike_v4_odd", "ike_v6", "ike_v6_ext"}) {
    const auto& v = vec(name);
    IpPacketInfo info = parse_ip(v.inner);
    for (int delta : {-1, 1, 100}) {
      Bytes pkt = to_bytes(v.inner);
      uint8_t* udp_len = &pkt[info.l3_length + 4];
      net::store_be16(udp_len, static_cast<uint16_t>(net::load_be16(udp_len) + delta));
      if (info.family == net::IpFamily::kV4) net::set_ipv4_header_checksum(pkt.data());
      ExpectEncapDrop(pkt, DropReason::kCtcpInnerUdpBadLength);
    }
    Bytes pkt = to_bytes(v.inner);
    net::store_be16(&pkt[info.l3_length + 4], 0);  // UDP jumbogram style
    ExpectEncapDrop(pkt, DropReason::kCtcpInnerUdpBadLength);
  }
}

TEST(EncapDrop, Fragment) {
  Bytes pkt = to_bytes(vec("ike_v4").inner);
  net::store_be16(&pkt[6], 0x2000);  // MF
  net::set_ipv4_header_checksum(pkt.data());
  ExpectEncapDrop(pkt, DropReason::kIpFragment);
}

TEST(Encap, SequenceAdvanceCoversPayloadAndTrailer) {
  for (const auto& v : kFramingVectors) {
    IpPacketInfo info = parse_ip(v.inner);
    EXPECT_EQ(sequence_advance(info), v.encapsulated.size() - info.l3_length - kTcpHeaderLen)
        << v.name;
  }
}

}  // namespace
}  // namespace tcpsec::ctcp
