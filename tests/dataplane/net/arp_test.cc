#include "dataplane/net/arp.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/dataplane/net/net_test_util.h"
#include "tests/dataplane/net/vectors/net_vectors.h"

namespace tcpsec::net {
namespace {

using test_util::ip;
using test_util::mac;
using test_util::vec;
namespace v = vectors;

std::span<const uint8_t> arp_body(const std::vector<uint8_t>& frame) {
  return std::span<const uint8_t>(frame).subspan(kEthHeaderLen);
}

TEST(Arp, ParsesRequest) {
  auto frame = vec(v::kArpRequestIn);
  ArpInfo info;
  ASSERT_EQ(parse_arp(arp_body(frame), info), DropReason::kNone);
  EXPECT_EQ(info.op, kArpOpRequest);
  EXPECT_EQ(info.sender_mac, mac(v::kPeerMac));
  EXPECT_EQ(info.sender_ip, ip(v::kPeerV4));
  EXPECT_EQ(info.target_mac, MacAddress{});
  EXPECT_EQ(info.target_ip, ip(v::kOurV4));
  // Without the padding, too.
  ASSERT_EQ(parse_arp(arp_body(frame).first(kArpLen), info), DropReason::kNone);
}

TEST(Arp, ParsesReply) {
  auto frame = vec(v::kArpReplyOut);
  ArpInfo info;
  ASSERT_EQ(parse_arp(arp_body(frame), info), DropReason::kNone);
  EXPECT_EQ(info.op, kArpOpReply);
  EXPECT_EQ(info.sender_mac, mac(v::kOurMac));
  EXPECT_EQ(info.sender_ip, ip(v::kOurV4));
  EXPECT_EQ(info.target_mac, mac(v::kPeerMac));
  EXPECT_EQ(info.target_ip, ip(v::kPeerV4));
}

TEST(Arp, RefusesMalformed) {
  const auto good = vec(v::kArpRequestIn);
  ArpInfo info;
  EXPECT_EQ(parse_arp(arp_body(good).first(kArpLen - 1), info), DropReason::kArpMalformed);
  EXPECT_EQ(parse_arp({}, info), DropReason::kArpMalformed);
  struct Edit {
    size_t offset;  // in the ARP body
    uint8_t value;
  };
  for (Edit e : {Edit{1, 6},        // htype 6 (IEEE 802)
                 Edit{2, 0x86},     // ptype 0x8600
                 Edit{3, 0x06},     // ptype 0x0806
                 Edit{4, 8},        // hlen
                 Edit{5, 16},       // plen
                 Edit{7, 0},        // op 0
                 Edit{7, 3},        // op 3 (RARP)
                 Edit{6, 1},        // op 0x0101
                 Edit{8, 0x01}}) {  // multicast sender MAC
    auto frame = good;
    frame[kEthHeaderLen + e.offset] = e.value;
    EXPECT_EQ(parse_arp(arp_body(frame), info), DropReason::kArpMalformed)
        << "offset " << e.offset << " value " << int{e.value};
  }
  auto frame = good;
  for (size_t i = 8; i < 14; ++i) frame[kEthHeaderLen + i] = 0xff;  // broadcast sender
  EXPECT_EQ(parse_arp(arp_body(frame), info), DropReason::kArpMalformed);
}

TEST(Arp, AcceptsProbeFromUnspecifiedSender) {
  auto frame = vec(v::kArpRequestIn);
  for (size_t i = 14; i < 18; ++i) frame[kEthHeaderLen + i] = 0;
  ArpInfo info;
  ASSERT_EQ(parse_arp(arp_body(frame), info), DropReason::kNone);
  EXPECT_EQ(info.sender_ip, ip("0.0.0.0"));
}

// The request as received, in an mbuf-like buffer with head- and tailroom.
struct Frame {
  std::vector<uint8_t> storage;
  PacketBuffer buf;
  Frame(std::span<const uint8_t> bytes, uint16_t tailroom)
      : storage(64 + bytes.size() + tailroom, 0xee),
        buf(storage, 64, static_cast<uint16_t>(bytes.size())) {
    std::copy(bytes.begin(), bytes.end(), buf.data());
  }
};

TEST(Arp, MakesReplyMatchingScapy) {
  Frame f(v::kArpRequestIn, 100);
  ArpInfo info;
  ASSERT_EQ(parse_arp(f.buf.bytes().subspan(kEthHeaderLen), info), DropReason::kNone);
  make_arp_reply(f.buf, info, mac(v::kOurMac));
  EXPECT_EQ(vec(f.buf.bytes()), vec(v::kArpReplyOut));
  EXPECT_EQ(f.buf.data_offset(), 64);
}

TEST(Arp, ReplyLengthFollowsTheBuffer) {
  ArpInfo info;
  ASSERT_EQ(parse_arp(std::span<const uint8_t>(v::kArpRequestIn).subspan(kEthHeaderLen), info),
            DropReason::kNone);
  const std::span<const uint8_t> request(v::kArpRequestIn);
  // Unpadded request with tailroom: padded to 60.
  Frame shortf(request.first(42), 100);
  make_arp_reply(shortf.buf, info, mac(v::kOurMac));
  EXPECT_EQ(vec(shortf.buf.bytes()), vec(v::kArpReplyOut));
  // Unpadded request without tailroom: 42 bytes.
  Frame tight(request.first(42), 0);
  make_arp_reply(tight.buf, info, mac(v::kOurMac));
  EXPECT_EQ(vec(tight.buf.bytes()), vec(std::span<const uint8_t>(v::kArpReplyOut).first(42)));
  // 50 bytes without tailroom: cut to 42.
  Frame mid(request.first(50), 0);
  make_arp_reply(mid.buf, info, mac(v::kOurMac));
  EXPECT_EQ(vec(mid.buf.bytes()), vec(std::span<const uint8_t>(v::kArpReplyOut).first(42)));
  // Longer request (trailer junk): cut to 60.
  std::vector<uint8_t> longer = vec(v::kArpRequestIn);
  longer.resize(80, 0x55);
  Frame longf(longer, 0);
  make_arp_reply(longf.buf, info, mac(v::kOurMac));
  EXPECT_EQ(vec(longf.buf.bytes()), vec(v::kArpReplyOut));
}

TEST(Arp, BuildsRequestMatchingScapy) {
  std::vector<uint8_t> out(128, 0xee);
  uint16_t n = build_arp_request(out, mac(v::kOurMac), ip(v::kOurV4), ip(v::kArpTargetV4));
  ASSERT_EQ(n, 60);
  out.resize(n);
  EXPECT_EQ(out, vec(v::kArpRequestOut));
  ArpInfo info;
  ASSERT_EQ(parse_arp(arp_body(out), info), DropReason::kNone);
  EXPECT_EQ(info.target_ip, ip(v::kArpTargetV4));
}

TEST(Arp, BuildRequestRefusesSmallBufferOrIpv6) {
  std::vector<uint8_t> out(59);
  EXPECT_EQ(build_arp_request(out, mac(v::kOurMac), ip(v::kOurV4), ip(v::kArpTargetV4)), 0);
  out.resize(60);
  EXPECT_EQ(build_arp_request(out, mac(v::kOurMac), ip(v::kOurV6), ip(v::kArpTargetV4)), 0);
  EXPECT_EQ(build_arp_request(out, mac(v::kOurMac), ip(v::kOurV4), ip(v::kPeerV6)), 0);
  EXPECT_EQ(build_arp_request(out, mac(v::kOurMac), ip(v::kOurV4), ip(v::kArpTargetV4)), 60);
}

}  // namespace
}  // namespace tcpsec::net
