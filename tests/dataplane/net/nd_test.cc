#include "dataplane/net/nd.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/dataplane/net/net_test_util.h"
#include "tests/dataplane/net/vectors/net_vectors.h"

namespace tcpsec::net {
namespace {

using test_util::fix_checksums;
using test_util::ip;
using test_util::mac;
using test_util::vec;
namespace v = vectors;

constexpr size_t kIcmp = 40;  // offset of the ICMPv6 message in the vectors

TEST(Nd, ParsesSolicitation) {
  NdInfo info{};
  ASSERT_TRUE(is_nd(v::kNsIn));
  ASSERT_EQ(parse_nd(v::kNsIn, info), DropReason::kNone);
  EXPECT_EQ(info.type, kNdNeighborSolicitation);
  EXPECT_EQ(info.source, ip(v::kPeerV6));
  EXPECT_EQ(info.target, ip(v::kOurV6));
  EXPECT_EQ(info.destination, solicited_node_address(ip(v::kOurV6)));
  EXPECT_TRUE(info.has_link_addr);
  EXPECT_EQ(info.link_addr, mac(v::kPeerMac));
  EXPECT_FALSE(info.solicited);
  EXPECT_FALSE(info.override_flag);
}

TEST(Nd, SkipsUnknownOptions) {
  NdInfo info{};
  ASSERT_EQ(parse_nd(v::kNsNonceIn, info), DropReason::kNone);
  EXPECT_TRUE(info.has_link_addr);
  EXPECT_EQ(info.link_addr, mac(v::kPeerMac));
  EXPECT_EQ(info.destination, ip(v::kOurV6));
}

TEST(Nd, ParsesDadSolicitation) {
  NdInfo info{};
  ASSERT_EQ(parse_nd(v::kNsDadIn, info), DropReason::kNone);
  EXPECT_EQ(info.source, ip("::"));
  EXPECT_EQ(info.target, ip(v::kOurV6));
  EXPECT_FALSE(info.has_link_addr);
}

TEST(Nd, ParsesAdvertisements) {
  NdInfo info{};
  ASSERT_EQ(parse_nd(v::kNaIn, info), DropReason::kNone);
  EXPECT_EQ(info.type, kNdNeighborAdvertisement);
  EXPECT_EQ(info.target, ip(v::kPeerV6));
  EXPECT_TRUE(info.has_link_addr);
  EXPECT_EQ(info.link_addr, mac(v::kPeerMac));
  EXPECT_TRUE(info.solicited);
  EXPECT_TRUE(info.override_flag);

  ASSERT_EQ(parse_nd(v::kNaNoOptionIn, info), DropReason::kNone);
  EXPECT_FALSE(info.has_link_addr);
  EXPECT_FALSE(info.solicited);
  EXPECT_FALSE(info.override_flag);
}

TEST(Nd, AcceptsLinkPadding) {
  auto p = vec(v::kNsIn);
  p.resize(p.size() + 6, 0xaa);
  NdInfo info{};
  EXPECT_EQ(parse_nd(p, info), DropReason::kNone);
}

DropReason parse(const std::vector<uint8_t>& p) {
  NdInfo info{};
  return parse_nd(p, info);
}

// Sets the IPv6 payload length and recomputes the checksum.
void resize_payload(std::vector<uint8_t>& p, size_t icmp_len) {
  p.resize(kIcmp + icmp_len);
  store_be16(&p[4], static_cast<uint16_t>(icmp_len));
  fix_checksums(p);
}

TEST(Nd, RefusesHopLimitOtherThan255) {
  auto p = vec(v::kNsIn);
  p[7] = 254;
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
  p = vec(v::kNaIn);
  p[7] = 1;
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
}

TEST(Nd, RefusesBadChecksum) {
  for (size_t at : {kIcmp + 2, kIcmp + 20, size_t{70}, size_t{8}}) {  // cksum, target, MAC, src
    auto p = vec(v::kNsIn);
    p[at] ^= 0x01;
    EXPECT_EQ(parse(p), DropReason::kNdMalformed) << at;
  }
}

TEST(Nd, RefusesNonZeroCode) {
  auto p = vec(v::kNaIn);
  p[kIcmp + 1] = 1;
  fix_checksums(p);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
}

TEST(Nd, RefusesZeroLengthOption) {
  auto p = vec(v::kNsIn);
  p[kIcmp + 25] = 0;
  fix_checksums(p);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
  p = vec(v::kNsNonceIn);
  p[kIcmp + 33] = 0;  // the SLLA after the nonce
  fix_checksums(p);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
}

TEST(Nd, RefusesOptionPastTheEnd) {
  auto p = vec(v::kNsIn);
  p[kIcmp + 25] = 2;  // 16 bytes, 8 present
  fix_checksums(p);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
  // A lone option type byte with no length.
  p = vec(v::kNsIn);
  resize_payload(p, 25);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
}

TEST(Nd, RefusesShortMessages) {
  auto p = vec(v::kNsIn);
  resize_payload(p, 23);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
  p = vec(v::kNsIn);
  resize_payload(p, 4);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
  p = vec(v::kNsIn);
  resize_payload(p, 3);
  EXPECT_EQ(parse(p), DropReason::kIcmpMalformed);
  // Buffer shorter than the IPv6 payload length says.
  p = vec(v::kNsIn);
  p.pop_back();
  EXPECT_EQ(parse(p), DropReason::kIpBadTotalLength);
  p.resize(39);
  EXPECT_EQ(parse(p), DropReason::kIpTruncated);
  EXPECT_EQ(parse({}), DropReason::kIpTruncated);
}

TEST(Nd, RefusesMulticastTarget) {
  auto p = vec(v::kNsIn);
  p[kIcmp + 8] = 0xff;
  fix_checksums(p);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
}

TEST(Nd, RefusesBadDad) {
  // From :: with an SLLA option.
  auto p = vec(v::kNsIn);
  std::fill(p.begin() + 8, p.begin() + 24, 0);
  fix_checksums(p);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
  // From :: to a unicast destination.
  p = vec(v::kNsDadIn);
  auto ours = ip(v::kOurV6);
  std::copy(ours.bytes.begin(), ours.bytes.end(), p.begin() + 24);
  fix_checksums(p);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
}

TEST(Nd, RefusesSolicitedAdvertisementToMulticast) {
  auto p = vec(v::kNaNoOptionIn);  // to ff02::1
  p[kIcmp + 4] |= 0x40;
  fix_checksums(p);
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
}

TEST(Nd, RefusesFragments) {
  // Insert a fragment header (offset 0, M = 0) before the ICMPv6 message; the
  // ICMPv6 checksum does not change.
  auto in = vec(v::kNsIn);
  std::vector<uint8_t> p(in.begin(), in.begin() + kIcmp);
  const uint8_t frag[8] = {kProtoIcmpv6, 0, 0, 0, 0, 0, 0x12, 0x34};
  p.insert(p.end(), frag, frag + 8);
  p.insert(p.end(), in.begin() + kIcmp, in.end());
  p[6] = 44;
  store_be16(&p[4], static_cast<uint16_t>(load_be16(&p[4]) + 8));
  EXPECT_EQ(parse(p), DropReason::kNdMalformed);
}

TEST(Nd, OtherMessagesAreNotNd) {
  EXPECT_FALSE(is_nd(v::kEchoV6In));
  EXPECT_EQ(parse(vec(v::kEchoV6In)), DropReason::kIcmpUnsupportedType);
  EXPECT_FALSE(is_nd(v::kPacketTooBigSmallIn));  // UDP
  EXPECT_EQ(parse(vec(v::kPacketTooBigSmallIn)), DropReason::kIpUnsupportedProto);
  EXPECT_FALSE(is_nd(v::kEchoV4In));
  EXPECT_EQ(parse(vec(v::kEchoV4In)), DropReason::kIpBadVersion);
  EXPECT_FALSE(is_nd({}));
}

TEST(Nd, BuildsAdvertisementsMatchingScapy) {
  std::vector<uint8_t> out(200, 0xee);
  uint16_t n = build_neighbor_advertisement(out, mac(v::kOurMac), ip(v::kOurV6), ip(v::kPeerV6),
                                            mac(v::kPeerMac), true);
  ASSERT_EQ(n, kNdFrameLen);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + n), vec(v::kNaSolicitedOut));

  IpAddress all_nodes = ip("ff02::1");
  n = build_neighbor_advertisement(out, mac(v::kOurMac), ip(v::kOurV6), all_nodes,
                                   ipv6_multicast_mac(all_nodes), false);
  ASSERT_EQ(n, kNdFrameLen);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + n), vec(v::kNaUnsolicitedOut));

  // And our own output parses.
  NdInfo info{};
  ASSERT_EQ(parse_nd(std::span<const uint8_t>(out).subspan(kEthHeaderLen, n - kEthHeaderLen), info),
            DropReason::kNone);
  EXPECT_EQ(info.target, ip(v::kOurV6));
  EXPECT_EQ(info.link_addr, mac(v::kOurMac));
  EXPECT_TRUE(info.override_flag);
}

TEST(Nd, BuildsSolicitationMatchingScapy) {
  std::vector<uint8_t> out(kNdFrameLen, 0xee);
  uint16_t n = build_neighbor_solicitation(out, mac(v::kOurMac), ip(v::kOurV6), ip(v::kNsTargetV6));
  ASSERT_EQ(n, kNdFrameLen);
  EXPECT_EQ(out, vec(v::kNsOut));
  NdInfo info{};
  ASSERT_EQ(parse_nd(std::span<const uint8_t>(out).subspan(kEthHeaderLen), info),
            DropReason::kNone);
  EXPECT_EQ(info.target, ip(v::kNsTargetV6));
  EXPECT_EQ(info.link_addr, mac(v::kOurMac));
}

TEST(Nd, BuildersRefuseSmallBuffersAndIpv4) {
  std::vector<uint8_t> out(kNdFrameLen - 1);
  EXPECT_EQ(build_neighbor_solicitation(out, mac(v::kOurMac), ip(v::kOurV6), ip(v::kPeerV6)), 0);
  EXPECT_EQ(build_neighbor_advertisement(out, mac(v::kOurMac), ip(v::kOurV6), ip(v::kPeerV6),
                                         mac(v::kPeerMac), true),
            0);
  out.resize(kNdFrameLen);
  EXPECT_EQ(build_neighbor_solicitation(out, mac(v::kOurMac), ip(v::kOurV4), ip(v::kPeerV6)), 0);
  EXPECT_EQ(build_neighbor_solicitation(out, mac(v::kOurMac), ip(v::kOurV6), ip(v::kPeerV4)), 0);
  EXPECT_EQ(build_neighbor_advertisement(out, mac(v::kOurMac), ip(v::kOurV6), ip(v::kPeerV4),
                                         mac(v::kPeerMac), true),
            0);
}

}  // namespace
}  // namespace tcpsec::net
