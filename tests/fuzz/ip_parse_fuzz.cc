// libFuzzer target for IP parsing and checksums (dataplane/net/ip_packet.h).
// See README.md for how to build and run it.
//
// Invariants (a violation traps):
// * what parse_ip_packet reports is consistent with the bytes: version,
//   lengths within the input, the protocol byte at proto_offset, IPv4 header
//   fields, IPv6 extension headers in whole 8-byte units;
// * IPv4 header checksum verification refuses exactly the headers whose
//   checksum does not sum to zero, and changes nothing else;
// * set_ip_payload_length with the parsed length rewrites a packet that parses
//   to the same result, with a valid IPv4 header checksum;
// * internet_checksum, checksum_sum and l4_checksum (8 bytes at a time
//   underneath) agree with a plain RFC 1071 reference over any bytes, odd
//   lengths and odd start addresses included; sums of two parts, split
//   anywhere, add up to the whole; ipv4_header20_sum agrees with them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "dataplane/net/ip_packet.h"

namespace {

using namespace tcpsec;
using namespace tcpsec::net;

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

// RFC 1071, one 16-bit big-endian word at a time.
uint64_t ref_add(uint64_t acc, std::span<const uint8_t> d) {
  for (size_t i = 0; i < d.size(); i += 2) {
    acc += uint64_t{d[i]} << 8 | (i + 1 < d.size() ? d[i + 1] : 0);
  }
  return acc;
}

uint16_t ref_finish(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

uint16_t ref_l4(std::span<const uint8_t> pkt, const IpPacketInfo& info, uint8_t proto,
                std::span<const uint8_t> l4, bool udp) {
  uint64_t acc = 0;
  uint32_t len = static_cast<uint32_t>(l4.size());
  if (info.family == IpFamily::kV4) {
    acc = ref_add(acc, pkt.subspan(12, 8));
    acc += proto;
    acc += len & 0xffff;
  } else {
    acc = ref_add(acc, pkt.subspan(8, 32));
    acc += len >> 16;
    acc += len & 0xffff;
    acc += proto;
  }
  uint16_t v = ref_finish(ref_add(acc, l4));
  return udp && v == 0 ? 0xffff : v;
}

bool same_info(const IpPacketInfo& a, const IpPacketInfo& b) {
  return a.family == b.family && a.l3_length == b.l3_length && a.packet_length == b.packet_length &&
         a.proto_offset == b.proto_offset && a.proto == b.proto && a.fragment == b.fragment;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> pkt(data, size);
  CHECK(internet_checksum(pkt) == ref_finish(ref_add(0, pkt)));
  if (size > 0) {
    // From an odd address, and split in two at a point the data chooses.
    std::span<const uint8_t> rest = pkt.subspan(1);
    uint16_t whole = checksum_sum(rest);
    CHECK(static_cast<uint16_t>(~whole) == ref_finish(ref_add(0, rest)));
    size_t split = data[0] % (rest.size() + 1);
    uint16_t tail = checksum_sum(rest.subspan(split));
    if (split & 1) tail = checksum_swap(tail);
    CHECK(checksum_add(checksum_sum(rest.first(split)), tail) % 0xffff == whole % 0xffff);
  }
  if (size >= kIpv4HeaderLen) {
    // The 20-byte header sum (three wide loads) against the general one; and
    // without the checksum field it is the sum with bytes 10-11 zeroed.
    const uint16_t host = static_cast<uint16_t>(~ipv4_header20_sum(data));
    CHECK(static_cast<uint16_t>(host >> 8 | host << 8) == internet_checksum(pkt.first(20)));
    uint8_t copy[kIpv4HeaderLen];
    std::memcpy(copy, data, sizeof copy);
    copy[10] = copy[11] = 0;
    CHECK(ipv4_header20_sum(data, false) == ipv4_header20_sum(copy));
  }

  IpPacketInfo lax;
  DropReason r = parse_ip_packet(pkt, lax, /*verify_ipv4_checksum=*/false);
  IpPacketInfo strict;
  DropReason rs = parse_ip_packet(pkt, strict, /*verify_ipv4_checksum=*/true);
  if (r != DropReason::kNone) {
    CHECK(rs == r);
    return 0;
  }
  CHECK(lax.l3_length <= lax.packet_length && lax.packet_length <= size);
  CHECK(lax.proto_offset < lax.l3_length);
  if (lax.family == IpFamily::kV4) {
    CHECK(data[0] >> 4 == 4);
    uint16_t ihl = static_cast<uint16_t>((data[0] & 0x0f) * 4);
    CHECK(lax.l3_length == ihl && ihl >= kIpv4HeaderLen);
    CHECK(lax.packet_length == load_be16(data + 2));
    CHECK(lax.proto_offset == 9 && lax.proto == data[9]);
    CHECK(lax.fragment == ((load_be16(data + 6) & 0x3fff) != 0));
    bool sums_to_zero = internet_checksum(pkt.first(ihl)) == 0;
    CHECK(rs == (sums_to_zero ? DropReason::kNone : DropReason::kIpBadChecksum));
    if (rs == DropReason::kNone) CHECK(same_info(lax, strict));
  } else {
    CHECK(lax.family == IpFamily::kV6 && data[0] >> 4 == 6);
    CHECK(lax.l3_length >= kIpv6HeaderLen && lax.l3_length % 8 == 0);
    CHECK(lax.packet_length == load_be16(data + 4) + kIpv6HeaderLen);
    CHECK(lax.proto == data[lax.proto_offset]);
    CHECK(lax.proto_offset == 6 || lax.proto_offset >= kIpv6HeaderLen);
    CHECK(rs == DropReason::kNone && same_info(lax, strict));
  }
  (void)ip_source(pkt, lax);
  (void)ip_destination(pkt, lax);

  // Checksums of the upper layer against the reference, as TCP and as UDP.
  std::span<const uint8_t> l4 = pkt.subspan(lax.l3_length, lax.l4_length());
  for (bool udp : {false, true}) {
    CHECK(l4_checksum(data, lax, lax.proto, l4, udp) == ref_l4(pkt, lax, lax.proto, l4, udp));
  }

  // Rewriting the length it already has fixes the IPv4 checksum and nothing
  // else: the packet parses the same, strictly.
  std::vector<uint8_t> copy(data, data + size);
  set_ip_payload_length(copy.data(), lax, lax.l4_length());
  IpPacketInfo again;
  CHECK(parse_ip_packet(copy, again, true) == DropReason::kNone && same_info(lax, again));
  for (size_t i = 0; i < size; ++i) {
    if (lax.family == IpFamily::kV4 && (i == 10 || i == 11)) continue;
    CHECK(copy[i] == data[i]);
  }
  return 0;
}
