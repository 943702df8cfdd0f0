#include "dataplane/net/icmp.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/dataplane/net/net_test_util.h"
#include "tests/dataplane/net/vectors/net_vectors.h"

namespace tcpsec::net {
namespace {

using test_util::fix_checksums;
using test_util::ip;
using test_util::vec;
namespace v = vectors;

// An IP packet in an mbuf-like buffer with headroom (where the Ethernet
// header would be) and tailroom.
struct Packet {
  std::vector<uint8_t> storage;
  PacketBuffer buf;
  explicit Packet(std::span<const uint8_t> bytes)
      : storage(128 + bytes.size() + 64, 0xee),
        buf(storage, 128, static_cast<uint16_t>(bytes.size())) {
    std::copy(bytes.begin(), bytes.end(), buf.data());
  }
};

DropReason echo(std::span<const uint8_t> request, std::vector<uint8_t>* reply = nullptr) {
  Packet p(request);
  IpPacketInfo info;
  if (DropReason r = parse_ip_packet(p.buf.bytes(), info); r != DropReason::kNone) return r;
  std::vector<uint8_t> before = vec(p.buf.bytes());
  DropReason r = make_echo_reply(p.buf, info);
  EXPECT_EQ(p.buf.data_offset(), 128);
  if (r != DropReason::kNone) {
    EXPECT_EQ(vec(p.buf.bytes()), before) << "changed on refusal";
  }
  if (reply != nullptr) *reply = vec(p.buf.bytes());
  return r;
}

TEST(EchoReply, Ipv4MatchesScapy) {
  std::vector<uint8_t> reply;
  ASSERT_EQ(echo(v::kEchoV4In, &reply), DropReason::kNone);
  EXPECT_EQ(reply, vec(v::kEchoV4Out));
}

TEST(EchoReply, Ipv4OptionsAndPaddingAreDropped) {
  std::vector<uint8_t> reply;
  ASSERT_EQ(echo(v::kEchoV4OptionsIn, &reply), DropReason::kNone);
  EXPECT_EQ(reply, vec(v::kEchoV4Out));
  auto padded = vec(v::kEchoV4In);
  padded.resize(padded.size() + 7, 0x5a);
  ASSERT_EQ(echo(padded, &reply), DropReason::kNone);
  EXPECT_EQ(reply, vec(v::kEchoV4Out));
}

TEST(EchoReply, Ipv6MatchesScapy) {
  std::vector<uint8_t> reply;
  ASSERT_EQ(echo(v::kEchoV6In, &reply), DropReason::kNone);
  EXPECT_EQ(reply, vec(v::kEchoV6Out));
}

TEST(EchoReply, Ipv6ExtensionHeadersAndPaddingAreDropped) {
  std::vector<uint8_t> reply;
  ASSERT_EQ(echo(v::kEchoV6ExtIn, &reply), DropReason::kNone);
  EXPECT_EQ(reply, vec(v::kEchoV6Out));
  auto padded = vec(v::kEchoV6In);
  padded.resize(padded.size() + 3, 0x5a);
  ASSERT_EQ(echo(padded, &reply), DropReason::kNone);
  EXPECT_EQ(reply, vec(v::kEchoV6Out));
}

TEST(EchoReply, OddLengthPayload) {
  // 1 byte of data: checksums over an odd length. The reply must verify.
  for (auto request : {vec(v::kEchoV4In), vec(v::kEchoV6In)}) {
    bool v4 = (request[0] >> 4) == 4;
    size_t hdr = v4 ? 20 : 40;
    request.resize(hdr + 9);
    if (v4) {
      store_be16(&request[2], static_cast<uint16_t>(request.size()));
    } else {
      store_be16(&request[4], 9);
    }
    fix_checksums(request);
    std::vector<uint8_t> reply;
    ASSERT_EQ(echo(request, &reply), DropReason::kNone);
    ASSERT_EQ(reply.size(), hdr + 9);
    IpPacketInfo info;
    ASSERT_EQ(parse_ip_packet(reply, info), DropReason::kNone);
    std::span<const uint8_t> icmp(&reply[hdr], 9);
    EXPECT_EQ(v4 ? internet_checksum(icmp) : l4_checksum(reply.data(), info, kProtoIcmpv6, icmp),
              0);
  }
}

TEST(EchoReply, RefusesBadChecksum) {
  for (auto p : {vec(v::kEchoV4In), vec(v::kEchoV6In)}) {
    p[p.size() - 1] ^= 0x20;
    EXPECT_EQ(echo(p), DropReason::kIcmpMalformed);
  }
}

TEST(EchoReply, RefusesShortMessages) {
  auto p = vec(v::kEchoV4In);
  p.resize(27);
  store_be16(&p[2], 27);
  fix_checksums(p);  // ICMP checksum field is inside the 7 bytes
  EXPECT_EQ(echo(p), DropReason::kIcmpMalformed);
  p = vec(v::kEchoV6In);
  p.resize(47);
  store_be16(&p[4], 7);
  fix_checksums(p);
  EXPECT_EQ(echo(p), DropReason::kIcmpMalformed);
}

TEST(EchoReply, RefusesNonZeroCode) {
  for (auto p : {vec(v::kEchoV4In), vec(v::kEchoV6In)}) {
    size_t icmp = (p[0] >> 4) == 4 ? 20 : 40;
    p[icmp + 1] = 1;
    fix_checksums(p);
    EXPECT_EQ(echo(p), DropReason::kIcmpMalformed);
  }
}

TEST(EchoReply, OtherTypesAreUnsupported) {
  EXPECT_EQ(echo(v::kEchoV4Out), DropReason::kIcmpUnsupportedType);  // an echo reply
  EXPECT_EQ(echo(v::kEchoV6Out), DropReason::kIcmpUnsupportedType);
  EXPECT_EQ(echo(v::kNsIn), DropReason::kIcmpUnsupportedType);
  EXPECT_EQ(echo(v::kFragNeededSmallOut), DropReason::kIcmpUnsupportedType);
  EXPECT_EQ(echo(v::kFragNeededSmallIn), DropReason::kIpUnsupportedProto);    // TCP
  EXPECT_EQ(echo(v::kPacketTooBigSmallIn), DropReason::kIpUnsupportedProto);  // UDP
}

TEST(EchoReply, RefusesBadSources) {
  for (const char* src : {"0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255", "240.0.0.1"}) {
    auto p = vec(v::kEchoV4In);
    auto a = ip(src);
    std::copy(a.bytes.begin(), a.bytes.begin() + 4, p.begin() + 12);
    fix_checksums(p);
    EXPECT_EQ(echo(p), DropReason::kIcmpBadSource) << src;
  }
  for (const char* src : {"::", "::1", "ff02::1"}) {
    auto p = vec(v::kEchoV6In);
    auto a = ip(src);
    std::copy(a.bytes.begin(), a.bytes.end(), p.begin() + 8);
    fix_checksums(p);
    EXPECT_EQ(echo(p), DropReason::kIcmpBadSource) << src;
  }
}

TEST(EchoReply, RefusesMulticastDestinations) {
  for (const char* dst : {"224.0.0.1", "255.255.255.255"}) {
    auto p = vec(v::kEchoV4In);
    auto a = ip(dst);
    std::copy(a.bytes.begin(), a.bytes.begin() + 4, p.begin() + 16);
    fix_checksums(p);
    EXPECT_EQ(echo(p), DropReason::kIpNotForUs) << dst;
  }
  auto p = vec(v::kEchoV6In);
  auto a = ip("ff02::1");
  std::copy(a.bytes.begin(), a.bytes.end(), p.begin() + 24);
  fix_checksums(p);
  EXPECT_EQ(echo(p), DropReason::kIpNotForUs);
}

TEST(EchoReply, RefusesFragments) {
  auto p = vec(v::kEchoV4In);
  p[6] = 0x20;  // MF
  fix_checksums(p);
  EXPECT_EQ(echo(p), DropReason::kIpFragment);
}

TEST(EchoReply, RefusesInfoThatDoesNotMatchTheBuffer) {
  Packet p(v::kEchoV4In);
  IpPacketInfo info;
  ASSERT_EQ(parse_ip_packet(p.buf.bytes(), info), DropReason::kNone);
  p.buf.trim(1);
  EXPECT_EQ(make_echo_reply(p.buf, info), DropReason::kIpBadTotalLength);
  IpPacketInfo none;
  EXPECT_EQ(make_echo_reply(p.buf, none), DropReason::kIpBadVersion);
}

// --- fragmentation needed / packet too big ----------------------------------

std::vector<uint8_t> too_big(std::span<const uint8_t> offending, const char* src,
                             size_t room = 2048) {
  std::vector<uint8_t> out(room, 0xee);
  uint16_t n = build_packet_too_big(out, offending, ip(src), v::kMtu);
  out.resize(n);
  return out;
}

TEST(PacketTooBig, FragmentationNeededMatchesScapy) {
  EXPECT_EQ(too_big(v::kFragNeededBigIn, v::kOurV4), vec(v::kFragNeededBigOut));
  EXPECT_EQ(too_big(v::kFragNeededSmallIn, v::kOurV4), vec(v::kFragNeededSmallOut));
  // Link padding after the IP packet is not quoted.
  auto padded = vec(v::kFragNeededSmallIn);
  padded.resize(padded.size() + 20, 0x77);
  EXPECT_EQ(too_big(padded, v::kOurV4), vec(v::kFragNeededSmallOut));
}

TEST(PacketTooBig, PacketTooBigMatchesScapy) {
  EXPECT_EQ(too_big(v::kPacketTooBigBigIn, v::kOurV6), vec(v::kPacketTooBigBigOut));
  EXPECT_EQ(too_big(v::kPacketTooBigSmallIn, v::kOurV6), vec(v::kPacketTooBigSmallOut));
}

// Shortens the offending packet to `total` bytes, fixing its length fields.
std::vector<uint8_t> shortened(std::span<const uint8_t> pkt, size_t total) {
  std::vector<uint8_t> p(pkt.begin(), pkt.begin() + total);
  if ((p[0] >> 4) == 4) {
    store_be16(&p[2], static_cast<uint16_t>(total));
    set_ipv4_header_checksum(p.data());
  } else {
    store_be16(&p[4], static_cast<uint16_t>(total - 40));
  }
  return p;
}

void expect_valid_error(const std::vector<uint8_t>& out, std::span<const uint8_t> offending,
                        size_t quoted) {
  IpPacketInfo info;
  ASSERT_EQ(parse_ip_packet(out, info), DropReason::kNone);
  ASSERT_EQ(info.packet_length, out.size());
  std::span<const uint8_t> icmp(&out[info.l3_length], info.l4_length());
  ASSERT_EQ(icmp.size(), 8 + quoted);
  if (info.family == IpFamily::kV4) {
    EXPECT_EQ(internet_checksum(icmp), 0);
    EXPECT_EQ(icmp[0], 3);
    EXPECT_EQ(icmp[1], 4);
    EXPECT_EQ(load_be16(&icmp[6]), v::kMtu);
  } else {
    EXPECT_EQ(l4_checksum(out.data(), info, kProtoIcmpv6, icmp), 0);
    EXPECT_EQ(icmp[0], 2);
    EXPECT_EQ(load_be32(&icmp[4]), v::kMtu);
  }
  EXPECT_TRUE(std::equal(icmp.begin() + 8, icmp.end(), offending.begin()));
}

TEST(PacketTooBig, QuoteLengthsAtTheLimits) {
  // IPv4: 20 + 8 + 548 = 576.
  for (size_t total : {547u, 548u, 549u, 600u}) {
    auto off = shortened(v::kFragNeededBigIn, total);
    auto out = too_big(off, v::kOurV4);
    ASSERT_EQ(out.size(), std::min<size_t>(28 + total, 576)) << total;
    expect_valid_error(out, off, std::min<size_t>(total, 548));
  }
  // IPv6: 40 + 8 + 1232 = 1280.
  for (size_t total : {1231u, 1232u, 1233u, 1280u}) {
    auto off = shortened(v::kPacketTooBigBigIn, total);
    auto out = too_big(off, v::kOurV6);
    ASSERT_EQ(out.size(), std::min<size_t>(48 + total, 1280)) << total;
    expect_valid_error(out, off, std::min<size_t>(total, 1232));
  }
}

TEST(PacketTooBig, RefusesSmallOutput) {
  EXPECT_TRUE(too_big(v::kFragNeededBigIn, v::kOurV4, 575).empty());
  EXPECT_EQ(too_big(v::kFragNeededBigIn, v::kOurV4, 576).size(), 576u);
  EXPECT_TRUE(too_big(v::kPacketTooBigBigIn, v::kOurV6, 1279).empty());
  EXPECT_EQ(too_big(v::kPacketTooBigBigIn, v::kOurV6, 1280).size(), 1280u);
  EXPECT_TRUE(too_big(v::kFragNeededSmallIn, v::kOurV4, 127).empty());
}

TEST(PacketTooBig, NoErrorAboutAnError) {
  EXPECT_TRUE(too_big(v::kFragNeededSmallOut, v::kOurV4).empty());
  EXPECT_TRUE(too_big(v::kPacketTooBigSmallOut, v::kOurV6).empty());
  // Informational messages do get one.
  EXPECT_FALSE(too_big(v::kEchoV4In, v::kOurV4).empty());
  EXPECT_FALSE(too_big(v::kEchoV6In, v::kOurV6).empty());
  // Unknown ICMPv4 types count as errors.
  auto p = vec(v::kEchoV4In);
  p[20] = 200;
  EXPECT_TRUE(too_big(p, v::kOurV4).empty());
}

TEST(PacketTooBig, OnlyFirstIpv4Fragment) {
  auto p = vec(v::kFragNeededSmallIn);
  p[6] = 0x20;  // MF, offset 0: the first fragment
  set_ipv4_header_checksum(p.data());
  EXPECT_FALSE(too_big(p, v::kOurV4).empty());
  p[6] = 0x00;
  p[7] = 0x10;  // offset 16 * 8
  set_ipv4_header_checksum(p.data());
  EXPECT_TRUE(too_big(p, v::kOurV4).empty());
}

TEST(PacketTooBig, Ipv6LaterFragmentOfIcmpv6) {
  // Echo request behind a fragment header: the first fragment gets an error,
  // a later one (whose ICMPv6 type cannot be seen) does not.
  auto in = vec(v::kEchoV6In);
  std::vector<uint8_t> p(in.begin(), in.begin() + 40);
  const uint8_t frag[8] = {kProtoIcmpv6, 0, 0, 1, 0, 0, 0x12, 0x34};  // M = 1, offset 0
  p.insert(p.end(), frag, frag + 8);
  p.insert(p.end(), in.begin() + 40, in.end());
  p[6] = 44;
  store_be16(&p[4], static_cast<uint16_t>(load_be16(&p[4]) + 8));
  EXPECT_FALSE(too_big(p, v::kOurV6).empty());
  p[42] = 0x01;  // offset 32 * 8
  EXPECT_TRUE(too_big(p, v::kOurV6).empty());
}

TEST(PacketTooBig, RefusesBadSourcesAndV4MulticastDestinations) {
  for (const char* src : {"0.0.0.0", "127.0.0.1", "224.0.0.5", "255.255.255.255"}) {
    auto p = vec(v::kFragNeededSmallIn);
    auto a = ip(src);
    std::copy(a.bytes.begin(), a.bytes.begin() + 4, p.begin() + 12);
    set_ipv4_header_checksum(p.data());
    EXPECT_TRUE(too_big(p, v::kOurV4).empty()) << src;
  }
  for (const char* dst : {"239.1.2.3", "255.255.255.255"}) {
    auto p = vec(v::kFragNeededSmallIn);
    auto a = ip(dst);
    std::copy(a.bytes.begin(), a.bytes.begin() + 4, p.begin() + 16);
    set_ipv4_header_checksum(p.data());
    EXPECT_TRUE(too_big(p, v::kOurV4).empty()) << dst;
  }
  for (const char* src : {"::", "::1", "ff02::1"}) {
    auto p = vec(v::kPacketTooBigSmallIn);
    auto a = ip(src);
    std::copy(a.bytes.begin(), a.bytes.end(), p.begin() + 8);
    EXPECT_TRUE(too_big(p, v::kOurV6).empty()) << src;
  }
  // IPv6 multicast destinations do get "packet too big" (RFC 4443 2.4 (e.2)).
  auto p = vec(v::kPacketTooBigSmallIn);
  auto a = ip("ff0e::1");
  std::copy(a.bytes.begin(), a.bytes.end(), p.begin() + 24);
  EXPECT_FALSE(too_big(p, v::kOurV6).empty());
}

TEST(PacketTooBig, RefusesFamilyMismatchAndGarbage) {
  EXPECT_TRUE(too_big(v::kFragNeededSmallIn, v::kOurV6).empty());
  EXPECT_TRUE(too_big(v::kPacketTooBigSmallIn, v::kOurV4).empty());
  EXPECT_TRUE(
      too_big(std::span<const uint8_t>(v::kFragNeededSmallIn).first(19), v::kOurV4).empty());
  EXPECT_TRUE(too_big({}, v::kOurV4).empty());
}

}  // namespace
}  // namespace tcpsec::net
