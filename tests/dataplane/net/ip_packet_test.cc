#include "dataplane/net/ip_packet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <span>
#include <vector>

#include "tests/dataplane/net/net_test_util.h"

namespace tcpsec::net {
namespace {

using test_util::rfc1071_v4_header;
std::vector<uint8_t> v4_header() {
  return rfc1071_v4_header();
}

TEST(InternetChecksum, MatchesKnownHeader) {
  auto h = v4_header();
  EXPECT_EQ(internet_checksum(h), 0);  // a valid header sums to zero
  h[10] = h[11] = 0;
  EXPECT_EQ(internet_checksum(h), 0xb861);
}

// Checksums against a plain RFC 1071 reference: one big-endian 16-bit word
// at a time, folded at the end.
uint64_t ref_add(uint64_t acc, std::span<const uint8_t> d) {
  for (size_t i = 0; i < d.size(); i += 2) {
    acc += uint64_t{d[i]} << 8 | (i + 1 < d.size() ? d[i + 1] : 0);
  }
  return acc;
}

uint16_t ref_fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

uint16_t ref_l4(const uint8_t* ip, const IpPacketInfo& info, uint8_t proto,
                std::span<const uint8_t> l4, bool udp) {
  uint64_t acc;
  uint32_t len = static_cast<uint32_t>(l4.size());
  if (info.family == IpFamily::kV4) {
    acc = ref_add(0, {ip + 12, 8}) + proto + (len & 0xffff);
  } else {
    acc = ref_add(0, {ip + 8, 32}) + (len >> 16) + (len & 0xffff) + proto;
  }
  uint16_t v = static_cast<uint16_t>(~ref_fold(ref_add(acc, l4)));
  return udp && v == 0 ? 0xffff : v;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Every length 0..2000 at every offset 0..7 of a random buffer (and of an
// all-0xff one, where every add carries), for the word loop, its tail and
// the odd last byte.
TEST(InternetChecksum, MatchesReferenceAtAllLengthsAndOffsets) {
  for (int kind : {0, 1, 2}) {  // random, all zero, all 0xff
    std::vector<uint8_t> buf = random_bytes(2000 + 8, 1);
    if (kind != 0) std::fill(buf.begin(), buf.end(), kind == 1 ? 0x00 : 0xff);
    for (size_t off = 0; off < 8; ++off) {
      for (size_t len = 0; len <= 2000; ++len) {
        std::span<const uint8_t> d(buf.data() + off, len);
        uint16_t sum = ref_fold(ref_add(0, d));
        ASSERT_EQ(checksum_sum(d), sum) << "kind " << kind << " off " << off << " len " << len;
        ASSERT_EQ(internet_checksum(d), static_cast<uint16_t>(~sum))
            << "kind " << kind << " off " << off << " len " << len;
      }
    }
  }
}

TEST(InternetChecksum, LargeBuffersCarry) {
  for (size_t len : {65535u, 65536u, 70001u}) {
    std::vector<uint8_t> ff(len, 0xff);
    EXPECT_EQ(internet_checksum(ff), static_cast<uint16_t>(~ref_fold(ref_add(0, ff)))) << len;
    std::vector<uint8_t> r = random_bytes(len, static_cast<uint32_t>(len));
    EXPECT_EQ(internet_checksum(r), static_cast<uint16_t>(~ref_fold(ref_add(0, r)))) << len;
  }
  EXPECT_EQ(internet_checksum({}), 0xffff);
}

TEST(L4Checksum, MatchesReferenceAtAllLengthsAndOffsets) {
  std::vector<uint8_t> buf = random_bytes(40 + 2000 + 8, 7);
  for (IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
    IpPacketInfo info;
    info.family = family;
    for (size_t off = 0; off < 8; ++off) {
      const uint8_t* ip = buf.data() + off;  // addresses at odd offsets too
      for (size_t len = 0; len <= 2000; len += (len < 80 ? 1 : 7)) {
        std::span<const uint8_t> l4(ip + 40, len);
        for (uint8_t proto : {kProtoTcp, kProtoUdp}) {
          for (bool udp : {false, true}) {
            ASSERT_EQ(l4_checksum(ip, info, proto, l4, udp), ref_l4(ip, info, proto, l4, udp))
                << "v" << (family == IpFamily::kV4 ? 4 : 6) << " off " << off << " len " << len;
          }
        }
      }
    }
  }
}

TEST(L4Checksum, UdpZeroBecomesAllOnes) {
  // A UDP datagram whose checksum computes to zero is sent as 0xffff.
  std::vector<uint8_t> pkt(20 + 10, 0);
  pkt[0] = 0x45;
  IpPacketInfo info;
  info.family = IpFamily::kV4;
  info.l3_length = 20;
  info.packet_length = 30;
  std::span<uint8_t> l4(pkt.data() + 20, 10);
  // Pseudo-header sum: proto 17 + length 10 = 0x1b; make the data the rest.
  store_be16(&l4[8], static_cast<uint16_t>(0xffff - 0x1b));
  EXPECT_EQ(l4_checksum(pkt.data(), info, kProtoUdp, l4, /*udp=*/false), 0);
  EXPECT_EQ(l4_checksum(pkt.data(), info, kProtoUdp, l4, /*udp=*/true), 0xffff);
  EXPECT_EQ(ref_l4(pkt.data(), info, kProtoUdp, l4, true), 0xffff);
}

// Sums assembled from parts (as decapsulation does) equal a full pass: split
// anywhere, the part after an odd split adds byte-swapped; subtracting a
// part back out leaves the rest.
TEST(ChecksumParts, SplitsAddAndSubtract) {
  std::vector<uint8_t> buf = random_bytes(1500, 11);
  std::mt19937 rng(3);
  for (size_t len : {0u, 1u, 2u, 3u, 15u, 16u, 17u, 64u, 511u, 1400u, 1499u}) {
    std::span<const uint8_t> d(buf.data(), len);
    uint16_t whole = checksum_sum(d);
    for (size_t split = 0; split <= len; split += 1 + rng() % 13) {
      uint16_t head = checksum_sum(d.first(split));
      uint16_t tail = checksum_sum(d.subspan(split));
      if (split & 1) tail = checksum_swap(tail);
      uint16_t joined = checksum_add(head, tail);
      // Equal as one's complement numbers (0 and 0xffff are both zero).
      EXPECT_EQ(joined % 0xffff, whole % 0xffff) << len << " split " << split;
      EXPECT_EQ(checksum_sub(joined, tail) % 0xffff, head % 0xffff) << len << " split " << split;
    }
  }
  // And with a pseudo-header in front the final values are identical.
  IpPacketInfo info;
  info.family = IpFamily::kV6;
  std::span<const uint8_t> l4(buf.data() + 40, 333);
  uint16_t pseudo = pseudo_header_sum(buf.data(), info, kProtoUdp, 333);
  EXPECT_EQ(checksum_finish(checksum_add(pseudo, checksum_sum(l4)), true),
            l4_checksum(buf.data(), info, kProtoUdp, l4, true));
}

TEST(Ipv4HeaderChecksum, SetWritesTheKnownValue) {
  auto h = v4_header();
  h[10] = h[11] = 0;
  set_ipv4_header_checksum(h.data());
  EXPECT_EQ(h[10], 0xb8);
  EXPECT_EQ(h[11], 0x61);
  // With a 4-byte option (NOP NOP NOP EOL): the generic path.
  std::vector<uint8_t> o = v4_header();
  o[0] = 0x46;
  o.insert(o.end(), {0x01, 0x01, 0x01, 0x00});
  set_ipv4_header_checksum(o.data());
  EXPECT_EQ(internet_checksum(o), 0);
  EXPECT_EQ(o[10] << 8 | o[11], 0xb560);  // computed independently (Python)
}

// The 20-byte fast path of the header check and write agrees with the
// generic RFC 1071 sum on random headers, valid and with one bit flipped.
TEST(Ipv4HeaderChecksum, FastPathAgreesWithGenericSum) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> h(20);
    for (auto& b : h) b = static_cast<uint8_t>(rng());
    h[0] = 0x45;
    h[2] = 0;
    h[3] = 20;
    set_ipv4_header_checksum(h.data());
    ASSERT_EQ(internet_checksum(h), 0) << round;
    IpPacketInfo info;
    ASSERT_EQ(parse_ip_packet(h, info), DropReason::kNone) << round;
    const size_t bit = rng() % 160;
    if (bit < 32) continue;  // version, IHL, length: refused for other reasons
    h[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_NE(internet_checksum(h), 0);
    EXPECT_EQ(parse_ip_packet(h, info), DropReason::kIpBadChecksum) << round << " bit " << bit;
  }
}

// The RFC 1624 rewrite gives the checksum a full recomputation gives.
TEST(Ipv4HeaderChecksum, IncrementalRewriteMatchesRecomputation) {
  std::mt19937 rng(3);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> h(20);
    for (auto& b : h) b = static_cast<uint8_t>(rng());
    h[0] = 0x45;
    set_ipv4_header_checksum(h.data());
    const uint8_t proto = static_cast<uint8_t>(rng());
    const uint16_t total = static_cast<uint16_t>(rng());
    std::vector<uint8_t> want = h;
    want[9] = proto;
    want[2] = static_cast<uint8_t>(total >> 8);
    want[3] = static_cast<uint8_t>(total);
    set_ipv4_header_checksum(want.data());
    rewrite_ipv4_proto_and_length(h.data(), proto, total);
    ASSERT_EQ(h, want) << round;
  }
}

// checksum_sum (scalar and, from 256 bytes on CPUs with AVX2, vector path)
// against a byte-by-byte RFC 1071 sum, for every length up to 2 KB at odd and
// even offsets, random and all-0xff data (the largest word sums).
TEST(InternetChecksum, MatchesAReferenceSumAtEveryLength) {
  auto reference = [](const uint8_t* p, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i += 2) s += (uint32_t{p[i]} << 8) | (i + 1 < n ? p[i + 1] : 0);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(s);
  };
  std::mt19937 rng(5);
  std::vector<uint8_t> random(2100), ones(2100, 0xff);
  for (auto& b : random) b = static_cast<uint8_t>(rng());
  for (const auto* data : {&random, &ones}) {
    for (size_t offset : {0, 1, 3}) {
      for (size_t n = 0; n + offset <= 2050; ++n) {
        const uint8_t* p = data->data() + offset;
        ASSERT_EQ(checksum_sum({p, n}), reference(p, n)) << "length " << n << " offset " << offset;
      }
    }
  }
  // The longest segment a packet can hold, all ones: no lane overflows.
  std::vector<uint8_t> big(65535, 0xff);
  EXPECT_EQ(checksum_sum(big), reference(big.data(), big.size()));
}

TEST(ParseIp, Ipv4TotalLengthBeyondBufferIsRefused) {
  auto h = v4_header();  // claims 0x73 bytes, has 20
  IpPacketInfo info;
  EXPECT_EQ(parse_ip_packet(h, info), DropReason::kIpBadTotalLength);
}

TEST(ParseIp, Ipv4BadChecksumAndVersionAndIhl) {
  auto h = v4_header();
  h[2] = 0;
  h[3] = 20;
  set_ipv4_header_checksum(h.data());
  IpPacketInfo info;
  ASSERT_EQ(parse_ip_packet(h, info), DropReason::kNone);
  EXPECT_EQ(info.proto, kProtoUdp);
  EXPECT_EQ(info.l3_length, 20);
  h[11] ^= 1;
  EXPECT_EQ(parse_ip_packet(h, info), DropReason::kIpBadChecksum);
  h[0] = 0x44;
  EXPECT_EQ(parse_ip_packet(h, info), DropReason::kIpBadHeaderLength);
  h[0] = 0x55;
  EXPECT_EQ(parse_ip_packet(h, info), DropReason::kIpBadVersion);
  EXPECT_EQ(parse_ip_packet(std::span<const uint8_t>(h).first(10), info),
            DropReason::kIpBadVersion);
  h[0] = 0x45;
  EXPECT_EQ(parse_ip_packet(std::span<const uint8_t>(h).first(10), info), DropReason::kIpTruncated);
}

TEST(ParseIp, Ipv6WalksExtensionHeaders) {
  std::vector<uint8_t> p(40 + 8 + 16 + 8, 0);
  p[0] = 0x60;
  p[5] = static_cast<uint8_t>(p.size() - 40);
  p[6] = 0;    // hop-by-hop
  p[40] = 60;  // -> destination options
  p[41] = 0;   // 8 bytes
  p[48] = 50;  // -> ESP
  p[49] = 1;   // 16 bytes
  IpPacketInfo info;
  ASSERT_EQ(parse_ip_packet(p, info), DropReason::kNone);
  EXPECT_EQ(info.proto, kProtoEsp);
  EXPECT_EQ(info.l3_length, 64);
  EXPECT_EQ(info.proto_offset, 48);
  EXPECT_EQ(info.l4_length(), 8);
  p[49] = 4;  // destination options now run past the packet
  EXPECT_EQ(parse_ip_packet(p, info), DropReason::kIpv6ExtHeaderTruncated);
}

TEST(ParseIp, Ipv6ExtensionHeaderLoopIsBounded) {
  std::vector<uint8_t> p(40 + 8 * 10, 0);  // ten hop-by-hop headers in a row
  p[0] = 0x60;
  p[5] = 80;
  IpPacketInfo info;
  EXPECT_EQ(parse_ip_packet(p, info), DropReason::kIpv6ExtHeaderUnsupported);
}

// What a fast parse reports must be what the generic parse reports.
void expect_same_parse(const IpPacketInfo& fast, const IpPacketInfo& generic) {
  EXPECT_EQ(fast.family, generic.family);
  EXPECT_EQ(fast.l3_length, generic.l3_length);
  EXPECT_EQ(fast.packet_length, generic.packet_length);
  EXPECT_EQ(fast.proto, generic.proto);
  EXPECT_EQ(fast.proto_offset, generic.proto_offset);
  EXPECT_EQ(fast.fragment, generic.fragment);
}

// The inline fast parse accepts exactly the 20-byte headers the generic
// parse accepts, with the same result, over mutated headers and lengths;
// everything else it leaves to the generic parse.
TEST(ParseIp, PlainIpv4AgreesWithGenericParse) {
  std::mt19937 rng(11);
  int accepted = 0;
  for (int trial = 0; trial < 50000; ++trial) {
    std::vector<uint8_t> p(64);
    for (auto& b : p) b = static_cast<uint8_t>(rng());
    p[0] = 0x45;
    p[2] = 0;
    p[3] = static_cast<uint8_t>(20 + rng() % 45);
    set_ipv4_header_checksum(p.data());
    switch (rng() % 6) {  // one damage, or none
      case 0:
        p[rng() % 20] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:
        p[0] = static_cast<uint8_t>(rng());
        break;
      case 2:
        p[3] = static_cast<uint8_t>(rng() % 80);
        break;
      default:
        break;
    }
    const size_t avail = rng() % 70;
    std::span<const uint8_t> pkt(p.data(), std::min(avail, p.size()));
    IpPacketInfo fast, generic;
    const bool ok = parse_ipv4_plain(pkt.data(), pkt.size(), fast);
    const bool generic_ok = parse_ip_packet(pkt, generic, false) == DropReason::kNone &&
                            generic.family == IpFamily::kV4 && generic.l3_length == 20 &&
                            internet_checksum(pkt.first(20)) == 0;
    ASSERT_EQ(ok, generic_ok) << "trial " << trial;
    if (!ok) continue;
    ++accepted;
    expect_same_parse(fast, generic);
    IpPacketInfo full;
    ASSERT_EQ(parse_ip_packet(pkt, full), DropReason::kNone);
    EXPECT_EQ(full.packet_length, fast.packet_length);
  }
  EXPECT_GT(accepted, 5000);  // the comparison was not vacuous
}

// The same for IPv6: the fast parse takes exactly the packets without
// extension headers carrying TCP or UDP that the generic parse accepts.
TEST(ParseIp, PlainIpv6AgreesWithGenericParse) {
  std::mt19937 rng(17);
  static constexpr uint8_t kNext[] = {kProtoTcp, kProtoUdp, 0, 43, 44, 60, 58, 59, 50, 51};
  int accepted = 0;
  for (int trial = 0; trial < 50000; ++trial) {
    std::vector<uint8_t> p(120);
    for (auto& b : p) b = static_cast<uint8_t>(rng());
    p[0] = static_cast<uint8_t>(rng() % 8 ? 0x60 | (p[0] & 0x0f) : p[0]);
    p[6] = rng() % 4 ? kNext[rng() % std::size(kNext)] : static_cast<uint8_t>(rng());
    p[4] = 0;
    p[5] = static_cast<uint8_t>(rng() % 90);
    for (size_t off = 40; off < p.size(); off += 8) p[off + 1] = 0;  // short extension headers
    const size_t avail = rng() % 125;
    std::span<const uint8_t> pkt(p.data(), std::min(avail, p.size()));
    IpPacketInfo fast, generic;
    const bool ok = parse_ipv6_plain(pkt.data(), pkt.size(), fast);
    const bool generic_ok = parse_ip_packet(pkt, generic, false) == DropReason::kNone &&
                            generic.family == IpFamily::kV6 && generic.l3_length == 40 &&
                            (generic.proto == kProtoTcp || generic.proto == kProtoUdp);
    ASSERT_EQ(ok, generic_ok) << "trial " << trial;
    if (!ok) continue;
    ++accepted;
    expect_same_parse(fast, generic);
    EXPECT_FALSE(fast.fragment);
  }
  EXPECT_GT(accepted, 1000);  // the comparison was not vacuous
}

TEST(ParseIp, TransportPorts) {
  std::vector<uint8_t> p(28, 0);
  p[0] = 0x45;
  p[3] = 28;
  p[9] = kProtoUdp;
  p[20] = 0x12, p[21] = 0x34, p[22] = 0x01, p[23] = 0xf4;
  set_ipv4_header_checksum(p.data());
  IpPacketInfo info;
  ASSERT_EQ(parse_ip_packet(p, info), DropReason::kNone);
  uint16_t src = 1, dst = 1;
  transport_ports(p.data(), info, src, dst);
  EXPECT_EQ(src, 0x1234);
  EXPECT_EQ(dst, 500);
  info.fragment = true;  // a later fragment's "ports" are payload
  transport_ports(p.data(), info, src, dst);
  EXPECT_EQ(src + dst, 0);
  info.fragment = false;
  info.proto = kProtoEsp;
  transport_ports(p.data(), info, src, dst);
  EXPECT_EQ(src + dst, 0);
  info.proto = kProtoTcp;
  info.packet_length = 23;  // 3 bytes of TCP: no ports
  transport_ports(p.data(), info, src, dst);
  EXPECT_EQ(src + dst, 0);
}

}  // namespace
}  // namespace tcpsec::net
