#include "dataplane/net/ip_packet.h"

#include <immintrin.h>

#include <cstring>

namespace tcpsec::net {
namespace {

constexpr uint8_t kV6HopByHop = 0;
constexpr uint8_t kV6Routing = 43;
constexpr uint8_t kV6Fragment = 44;
constexpr uint8_t kV6DestOpts = 60;
constexpr uint8_t kV6NoNext = 59;

DropReason parse_v4(std::span<const uint8_t> pkt, IpPacketInfo& info, bool verify) {
  if (verify && parse_ipv4_plain(pkt.data(), pkt.size(), info)) return DropReason::kNone;
  if (pkt.size() < kIpv4HeaderLen) return DropReason::kIpTruncated;
  uint16_t ihl = static_cast<uint16_t>((pkt[0] & 0x0f) * 4);
  if (ihl < kIpv4HeaderLen) return DropReason::kIpBadHeaderLength;
  if (pkt.size() < ihl) return DropReason::kIpTruncated;
  uint16_t total = load_be16(&pkt[2]);
  if (total < ihl || total > pkt.size()) return DropReason::kIpBadTotalLength;
  if (verify && (ihl == kIpv4HeaderLen ? ipv4_header20_sum(pkt.data()) != 0xffff
                                       : internet_checksum(pkt.first(ihl)) != 0)) {
    return DropReason::kIpBadChecksum;
  }
  uint16_t frag = load_be16(&pkt[6]);
  info.family = IpFamily::kV4;
  info.l3_length = ihl;
  info.packet_length = total;
  info.proto_offset = 9;
  info.proto = pkt[9];
  info.fragment = (frag & 0x3fff) != 0;  // MF set or offset non-zero
  return DropReason::kNone;
}

DropReason parse_v6(std::span<const uint8_t> pkt, IpPacketInfo& info) {
  if (pkt.size() < kIpv6HeaderLen) return DropReason::kIpTruncated;
  uint32_t total = uint32_t{load_be16(&pkt[4])} + kIpv6HeaderLen;
  // IpPacketInfo (and PacketBuffer) lengths are 16 bits: a payload length
  // above 65495 cannot be represented and would wrap.
  if (total > pkt.size() || total > 0xffff) return DropReason::kIpBadTotalLength;
  // Jumbograms (payload length 0 with a hop-by-hop option) are not supported:
  // they cannot occur on an Ethernet MTU and a zero length is refused below.
  uint16_t proto_offset = 6;
  uint8_t next = pkt[6];
  uint32_t off = kIpv6HeaderLen;
  bool fragment = false;
  for (int hops = 0;; ++hops) {
    if (next != kV6HopByHop && next != kV6Routing && next != kV6DestOpts && next != kV6Fragment) {
      break;
    }
    if (hops >= 8) return DropReason::kIpv6ExtHeaderUnsupported;  // bounded walk
    if (off + 8 > total) return DropReason::kIpv6ExtHeaderTruncated;
    uint32_t len = next == kV6Fragment ? 8 : (uint32_t{pkt[off + 1]} + 1) * 8;
    if (off + len > total) return DropReason::kIpv6ExtHeaderTruncated;
    if (next == kV6Fragment) fragment = true;
    proto_offset = static_cast<uint16_t>(off);
    next = pkt[off];
    off += len;
  }
  if (next == kV6NoNext) return DropReason::kIpUnsupportedProto;
  info.family = IpFamily::kV6;
  info.l3_length = static_cast<uint16_t>(off);
  info.packet_length = static_cast<uint16_t>(total);
  info.proto_offset = proto_offset;
  info.proto = next;
  info.fragment = fragment;
  return DropReason::kNone;
}

}  // namespace

DropReason parse_ip_packet(std::span<const uint8_t> pkt, IpPacketInfo& info,
                           bool verify_ipv4_checksum) {
  if (pkt.empty()) return DropReason::kIpTruncated;
  switch (pkt[0] >> 4) {
    case 4:
      return parse_v4(pkt, info, verify_ipv4_checksum);
    case 6:
      return parse_v6(pkt, info);
    default:
      return DropReason::kIpBadVersion;
  }
}

IpAddress ip_source(std::span<const uint8_t> pkt, const IpPacketInfo& info) {
  return info.family == IpFamily::kV4 ? IpAddress::v4(&pkt[12]) : IpAddress::v6(&pkt[8]);
}

IpAddress ip_destination(std::span<const uint8_t> pkt, const IpPacketInfo& info) {
  return info.family == IpFamily::kV4 ? IpAddress::v4(&pkt[16]) : IpAddress::v6(&pkt[24]);
}

void set_ipv4_header_checksum(uint8_t* ip) {
  uint16_t ihl = static_cast<uint16_t>((ip[0] & 0x0f) * 4);
  if (ihl == kIpv4HeaderLen) {
    // The sum without the old checksum (no zeroing store that the sum's
    // loads would wait for). A host-order word sum is the byte-swapped
    // big-endian one (RFC 1071 2(B)): stored in host order, its bytes are right.
    const uint16_t checksum = static_cast<uint16_t>(~ipv4_header20_sum(ip, false));
    std::memcpy(ip + 10, &checksum, 2);
    return;
  }
  ip[10] = ip[11] = 0;
  store_be16(ip + 10, internet_checksum({ip, ihl}));
}

void set_ip_payload_length(uint8_t* ip, const IpPacketInfo& info, uint16_t l4_length) {
  uint16_t total = static_cast<uint16_t>(info.l3_length + l4_length);
  if (info.family == IpFamily::kV4) {
    store_be16(ip + 2, total);
    set_ipv4_header_checksum(ip);
  } else {
    store_be16(ip + 4, static_cast<uint16_t>(total - kIpv6HeaderLen));
  }
}

// Checksums. The bytes are summed as 16-bit words in the host's byte order,
// 8 bytes at a time: RFC 1071 2(B) shows that the one's complement sum is
// byte-order independent (summing byte-swapped words gives the byte-swapped
// sum), and since 2^16 = 1 modulo 0xffff a 64-bit word is congruent to the
// sum of its four 16-bit words. The 64-bit adds count their carries apart
// (each carry is worth 2^64 = 1), so the result is the exact integer sum
// modulo 0xffff, and zero only when every byte is. Loads go through memcpy:
// packets are not aligned, and compilers turn it into plain loads.
namespace {

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The host-order 16-bit word whose memory bytes are big-endian `v`; the
// same function turns a host-order word sum back into a big-endian value.
inline uint16_t host_word(uint16_t v) {
  const uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  return load16(b);
}

// Adds `n` bytes at `p` to `acc` (a value from a previous call, or a small
// start value); the result is below 2^35 and congruent to the word sum.
[[gnu::always_inline]] inline uint64_t add_words(uint64_t acc, const uint8_t* p, size_t n) {
  // Two independent chains of add-with-carry; 32 bytes per round.
  uint64_t s0 = acc, s1 = 0, c0 = 0, c1 = 0;
  while (n >= 32) {
    uint64_t a = load64(p), b = load64(p + 8), c = load64(p + 16), d = load64(p + 24);
    s0 += a;
    c0 += s0 < a;
    s1 += b;
    c1 += s1 < b;
    s0 += c;
    c0 += s0 < c;
    s1 += d;
    c1 += s1 < d;
    p += 32;
    n -= 32;
  }
  s0 += s1;
  c0 += c1 + (s0 < s1);
  while (n >= 8) {
    uint64_t a = load64(p);
    s0 += a;
    c0 += s0 < a;
    p += 8;
    n -= 8;
  }
  uint64_t t = 0;  // below 2^34
  if (n & 4) {
    t += load32(p);
    p += 4;
  }
  if (n & 2) {
    t += load16(p);
    p += 2;
  }
  if (n & 1) {
    const uint8_t last[2] = {*p, 0};  // padded with a zero byte (RFC 1071)
    t += load16(last);
  }
  s0 += t;
  c0 += s0 < t;
  // s0 + c0 * 2^64, with 2^64 and 2^32 both congruent to 1.
  return (s0 & 0xffffffff) + (s0 >> 32) + c0;
}

// add_words for long data on CPUs with AVX2 (pseudo-TCP sums every ESP
// packet it frames or receives: ~12% of a 1400-byte packet's cost with the
// scalar loop). 64 bytes per step into 32-bit lanes that add the even and
// the odd 16-bit words of their 4 bytes apart (x & 0xffff, x >> 16): a lane
// grows by under 2^16 per step, so none overflows below 2^14 steps (1 MiB;
// packets are at most 64 KiB), nor their sum. The lanes' total is congruent to the
// word sum; the tail goes through the scalar loop. Chosen at run time, as
// the build targets a baseline CPU.
[[gnu::target("avx2")]] uint64_t add_words_avx2(uint64_t acc, const uint8_t* p, size_t n) {
  const __m256i mask = _mm256_set1_epi32(0xffff);
  __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
  __m256i b0 = _mm256_setzero_si256(), b1 = _mm256_setzero_si256();
  while (n >= 64) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    a0 = _mm256_add_epi32(a0, _mm256_and_si256(x, mask));
    a1 = _mm256_add_epi32(a1, _mm256_srli_epi32(x, 16));
    b0 = _mm256_add_epi32(b0, _mm256_and_si256(y, mask));
    b1 = _mm256_add_epi32(b1, _mm256_srli_epi32(y, 16));
    p += 64;
    n -= 64;
  }
  const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(b0, b1));
  alignas(32) uint32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
  uint64_t total = acc;
  for (uint32_t lane : lanes) total += lane;
  return add_words(total, p, n);
}

// add_words, on the vector path where it pays.
inline uint64_t add_words_any(uint64_t acc, const uint8_t* p, size_t n) {
  if (n >= 256 && __builtin_cpu_supports("avx2")) return add_words_avx2(acc, p, n);
  return add_words(acc, p, n);
}

// Folds a value below 2^63 to 16 bits with end-around carries; only an
// all-zero sum folds to 0.
inline uint16_t fold(uint64_t s) {
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// The pseudo-header as a host-order word sum (below 2^36).
uint64_t pseudo_header_words(const uint8_t* ip, const IpPacketInfo& info, uint8_t proto,
                             uint32_t len) {
  if (info.family == IpFamily::kV4) {
    return add_words(0, ip + 12, 8) + host_word(proto) + host_word(static_cast<uint16_t>(len));
  }
  return add_words(0, ip + 8, 32) + host_word(static_cast<uint16_t>(len >> 16)) +
         host_word(static_cast<uint16_t>(len)) + host_word(proto);
}

}  // namespace

uint16_t checksum_sum(std::span<const uint8_t> data) {
  return host_word(fold(add_words_any(0, data.data(), data.size())));
}

uint16_t pseudo_header_sum(const uint8_t* ip, const IpPacketInfo& info, uint8_t proto,
                           uint32_t l4_length) {
  return host_word(fold(pseudo_header_words(ip, info, proto, l4_length)));
}

uint16_t internet_checksum(std::span<const uint8_t> data) {
  return checksum_finish(checksum_sum(data));
}

uint16_t l4_checksum(const uint8_t* ip, const IpPacketInfo& info, uint8_t proto,
                     std::span<const uint8_t> l4, bool udp) {
  uint64_t acc = pseudo_header_words(ip, info, proto, static_cast<uint32_t>(l4.size()));
  return checksum_finish(host_word(fold(add_words_any(acc, l4.data(), l4.size()))), udp);
}

}  // namespace tcpsec::net
