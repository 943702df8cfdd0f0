// The fast path's SPD keys from packet bytes (spd/packet_key.h) against the
// reference builders make_key4/make_key6 (addresses and host-order ports),
// on random packets of every kind the key treats differently: TCP, UDP and
// SCTP (ports), ICMP (no ports), fragments (no ports), too short for ports.
#include "dataplane/spd/packet_key.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "dataplane/net/ip_packet.h"

namespace tcpsec::spd {
namespace {

template <typename Key, typename Words>
void expect_key_image(const Key& want, const Words& got) {
  static_assert(sizeof(Key) == sizeof(got.w));
  uint8_t image[sizeof(Key)];
  std::memcpy(image, &want, sizeof image);
  EXPECT_EQ(0, std::memcmp(image, got.w, sizeof image));
}

// A packet of `family` with random addresses and ports, `l4_bytes` after
// the IP header, parsed as the dataplane parses it.
struct Packet {
  std::vector<uint8_t> bytes;
  net::IpPacketInfo info;
};
Packet make_packet(std::mt19937& rng, net::IpFamily family, uint8_t proto, uint16_t l4_bytes,
                   bool fragment) {
  const uint16_t l3 = family == net::IpFamily::kV4 ? 20 : 40;
  Packet p;
  p.bytes.resize(l3 + l4_bytes);
  for (auto& b : p.bytes) b = static_cast<uint8_t>(rng());
  const uint16_t total = static_cast<uint16_t>(p.bytes.size());
  uint8_t* ip = p.bytes.data();
  if (family == net::IpFamily::kV4) {
    ip[0] = 0x45;
    ip[2] = static_cast<uint8_t>(total >> 8);
    ip[3] = static_cast<uint8_t>(total);
    ip[6] = fragment ? 0x20 : 0x40;  // MF, or DF
    ip[7] = 0;
    ip[8] = 64;
    ip[9] = proto;
    net::set_ipv4_header_checksum(ip);
  } else {
    ip[0] = 0x60;
    ip[4] = static_cast<uint8_t>(l4_bytes >> 8);
    ip[5] = static_cast<uint8_t>(l4_bytes);
    ip[6] = proto;
    ip[7] = 64;
  }
  EXPECT_EQ(net::parse_ip_packet(p.bytes, p.info), DropReason::kNone);
  EXPECT_EQ(p.info.proto, proto);
  return p;
}

uint16_t port_at(const Packet& p, size_t at) {
  return static_cast<uint16_t>(p.bytes[p.info.l3_length + at] << 8 |
                               p.bytes[p.info.l3_length + at + 1]);
}

TEST(PacketKey, BothFamiliesMatchTheReferenceKeys) {
  std::mt19937 rng(7);
  struct Case {
    uint8_t proto;
    uint16_t l4_bytes;
    bool fragment;
    bool has_ports;
  };
  const Case cases[] = {{6, 20, false, true}, {17, 8, false, true},  {132, 12, false, true},
                        {1, 8, false, false}, {58, 8, false, false}, {17, 3, false, false},
                        {6, 20, true, false}, {50, 24, false, false}};
  for (int round = 0; round < 200; ++round) {
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << "proto " << int{c.proto} << " l4 " << c.l4_bytes
                                        << " fragment " << c.fragment);
      for (net::IpFamily family : {net::IpFamily::kV4, net::IpFamily::kV6}) {
        if (c.fragment && family == net::IpFamily::kV6) continue;  // needs an extension header
        const Packet p = make_packet(rng, family, c.proto, c.l4_bytes, c.fragment);
        const uint16_t sport = c.has_ports ? port_at(p, 0) : 0;
        const uint16_t dport = c.has_ports ? port_at(p, 2) : 0;
        const net::IpAddress src = net::ip_source(p.bytes, p.info);
        const net::IpAddress dst = net::ip_destination(p.bytes, p.info);
        if (family == net::IpFamily::kV4) {
          expect_key_image(make_key4(src, dst, c.proto, sport, dport),
                           packet_key4(p.bytes.data(), p.info));
        } else {
          SpdFlowCache6::Words got;
          std::memset(got.w, 0xa5, sizeof got.w);  // every word must be written
          packet_key6(p.bytes.data(), p.info, got);
          expect_key_image(make_key6(src, dst, c.proto, sport, dport), got);
        }
      }
    }
  }
}

}  // namespace
}  // namespace tcpsec::spd
