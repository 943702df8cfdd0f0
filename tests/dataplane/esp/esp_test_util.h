// Helpers shared by the ESP tests: buffers with head- and tailroom, inner
// packets, SA pairs, and an independent ESP implementation over OpenSSL
// (seal and open) to check the engine's packets against.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "dataplane/crypto/crypto_engine.h"
#include "dataplane/esp/esp.h"
#include "dataplane/net/ip_packet.h"
#include "tests/dataplane/crypto/openssl_reference.h"
#include "tests/support/packet_frame.h"

namespace tcpsec::esp::test {

using crypto::test::Bytes;

inline crypto::CryptoEngine& engine() {
  static crypto::CryptoEngine* e = [] {
    auto made = crypto::CryptoEngine::create();
    EXPECT_TRUE(made.has_value()) << (made ? "" : made.error());
    return new crypto::CryptoEngine(std::move(*made));
  }();
  return *e;
}

using tcpsec::testing::Frame;
using tcpsec::testing::SameBytes;

inline net::IpPacketInfo parse(std::span<const uint8_t> pkt) {
  net::IpPacketInfo info;
  EXPECT_EQ(net::parse_ip_packet(pkt, info), DropReason::kNone);
  return info;
}

enum class Fam { kV4, kV6 };
inline const char* fam_name(Fam f) {
  return f == Fam::kV4 ? "v4" : "v6";
}

// An IP packet carrying UDP with `payload` bytes (a pattern), `total` bytes
// in all when given; tos/traffic class, DF and IPv6 hop-by-hop as asked.
struct InnerSpec {
  Fam family = Fam::kV4;
  uint16_t payload = 64;
  uint8_t tos = 0;
  bool df = true;
  bool hop_by_hop = false;  // IPv6: an 8-byte hop-by-hop header first
  uint8_t seed = 0;
};

inline Bytes make_inner(const InnerSpec& s) {
  Bytes p;
  const uint16_t udp_len = static_cast<uint16_t>(8 + s.payload);
  if (s.family == Fam::kV4) {
    p.resize(20);
    p[0] = 0x45;
    p[1] = s.tos;
    net::store_be16(&p[2], static_cast<uint16_t>(20 + udp_len));
    net::store_be16(&p[4], static_cast<uint16_t>(0x1234 + s.seed));
    p[6] = s.df ? 0x40 : 0;
    p[8] = 63;
    p[9] = net::kProtoUdp;
    const uint8_t addrs[8] = {10, 1, 0, 5, 10, 2, 0, 9};
    std::copy(addrs, addrs + 8, p.begin() + 12);
    net::set_ipv4_header_checksum(p.data());
  } else {
    p.resize(40);
    net::store_be32(&p[0], 0x60000000u | uint32_t{s.tos} << 20 | 0xbeef);
    const uint16_t ext = s.hop_by_hop ? 8 : 0;
    net::store_be16(&p[4], static_cast<uint16_t>(udp_len + ext));
    p[6] = s.hop_by_hop ? 0 : net::kProtoUdp;
    p[7] = 63;
    const uint8_t src[16] = {0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
    const uint8_t dst[16] = {0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    std::copy(src, src + 16, p.begin() + 8);
    std::copy(dst, dst + 16, p.begin() + 24);
    if (s.hop_by_hop) {
      const uint8_t hbh[8] = {net::kProtoUdp, 0, 1, 4, 0, 0, 0, 0};  // PadN
      p.insert(p.end(), hbh, hbh + 8);
    }
  }
  uint8_t udp[8];
  net::store_be16(udp, 4000);
  net::store_be16(udp + 2, 5000);
  net::store_be16(udp + 4, udp_len);
  net::store_be16(udp + 6, 0);
  p.insert(p.end(), udp, udp + 8);
  for (uint16_t i = 0; i < s.payload; ++i) p.push_back(static_cast<uint8_t>(i * 13 + s.seed));
  return p;
}

inline net::IpAddress addr(Fam f, int host) {
  if (f == Fam::kV4) return net::IpAddress::v4(0xc0000200u + static_cast<uint32_t>(host));
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                   0,    0,    0,    0,    0, 0, 0, static_cast<uint8_t>(host)};
  return net::IpAddress::v6(b);
}

// Keys and the two ends of one SA.
struct SaPair {
  crypto::Algorithm alg;
  Bytes cipher_key;
  Bytes auth_key;
  std::unique_ptr<crypto::SaCrypto> keys_out = std::make_unique<crypto::SaCrypto>();
  std::unique_ptr<crypto::SaCrypto> keys_in = std::make_unique<crypto::SaCrypto>();
  std::unique_ptr<EspSaOut> out = std::make_unique<EspSaOut>();
  std::unique_ptr<EspSaIn> in = std::make_unique<EspSaIn>();

  const crypto::AlgorithmProperties& p() const { return crypto::properties(alg); }
};

struct SaSpec {
  crypto::Algorithm alg = crypto::Algorithm::kAesGcm128;
  EspMode mode = EspMode::kTunnel;
  Fam outer = Fam::kV4;
  bool esn = false;
  uint32_t spi = 0x1000abcd;
  uint64_t last_seq = 0;
  uint32_t window = 128;
  uint64_t seed = 1;
};

inline std::unique_ptr<SaPair> make_sa(const SaSpec& s) {
  auto sa = std::make_unique<SaPair>();
  sa->alg = s.alg;
  std::mt19937_64 rng(s.seed);
  const auto& p = crypto::properties(s.alg);
  sa->cipher_key = crypto::test::random_bytes(rng, size_t{p.key_length} + p.salt_length);
  sa->auth_key = crypto::test::random_bytes(rng, p.auth_key_length);
  EXPECT_TRUE(sa->keys_out->install(s.alg, sa->cipher_key, sa->auth_key).is_ok());
  EXPECT_TRUE(sa->keys_in->install(s.alg, sa->cipher_key, sa->auth_key).is_ok());
  EspSaOutConfig oc;
  oc.spi = s.spi;
  oc.mode = s.mode;
  oc.esn = s.esn;
  oc.tunnel_source = addr(s.outer, 1);
  oc.tunnel_destination = addr(s.outer, 2);
  oc.last_seq = s.last_seq;
  Status st = sa->out->init(oc, *sa->keys_out);
  EXPECT_TRUE(st.is_ok()) << st.message();
  EspSaInConfig ic;
  ic.spi = s.spi;
  ic.mode = s.mode;
  ic.esn = s.esn;
  ic.replay_window = s.window;
  st = sa->in->init(ic, *sa->keys_in);
  EXPECT_TRUE(st.is_ok()) << st.message();
  // Put the receiver where the sender is (as if it had seen the earlier packets).
  if (s.last_seq != 0) sa->in->window.update(s.last_seq);
  return sa;
}

// Inner payload sizes of a round trip: around the padding boundaries, and large.
inline constexpr uint16_t kRoundTripPayloads[] = {0, 1, 2, 3, 13, 14, 15, 16, 17, 100, 1000, 1400};

// The i-th inner packet of a round trip: kRoundTripPayloads[i] bytes of
// payload, TOS / traffic class i * 9 (DSCP and ECN vary), DF on even i,
// and for IPv6 a hop-by-hop header every third.
inline Bytes round_trip_inner(Fam family, size_t i) {
  InnerSpec is;
  is.family = family;
  is.payload = kRoundTripPayloads[i];
  is.tos = static_cast<uint8_t>(i * 9);
  is.df = i % 2 == 0;
  is.hop_by_hop = family == Fam::kV6 && i % 3 == 0;
  is.seed = static_cast<uint8_t>(i);
  return make_inner(is);
}

// One configuration of the round-trip tests.
struct RoundTrip {
  crypto::Algorithm alg;
  EspMode mode;
  Fam inner;
  Fam outer;
  bool esn;
};

// A test name: aes128gcm16_tunnel_v4_in_v6_esn, ...
inline std::string round_trip_name(const RoundTrip& r) {
  std::string n(crypto::properties(r.alg).name);
  for (char& c : n) {
    if (c == '-') c = '_';
  }
  n += r.mode == EspMode::kTunnel ? "_tunnel_" : "_transport_";
  n += fam_name(r.inner);
  if (r.mode == EspMode::kTunnel) n += std::string("_in_") + fam_name(r.outer);
  if (r.esn) n += "_esn";
  return n;
}

// Every mode x (IPv4/IPv6 inner x IPv4/IPv6 outer) x ESN on/off, for each
// of `algorithms` (default: all).
inline std::vector<RoundTrip> round_trips(std::vector<crypto::Algorithm> algorithms = {}) {
  if (algorithms.empty()) {
    for (size_t a = 0; a < crypto::kAlgorithms.size(); ++a) {
      algorithms.push_back(static_cast<crypto::Algorithm>(a));
    }
  }
  std::vector<RoundTrip> v;
  for (crypto::Algorithm alg : algorithms) {
    for (bool esn : {false, true}) {
      for (Fam inner : {Fam::kV4, Fam::kV6}) {
        for (Fam outer : {Fam::kV4, Fam::kV6}) {
          v.push_back({alg, EspMode::kTunnel, inner, outer, esn});
        }
        v.push_back({alg, EspMode::kTransport, inner, inner, esn});
      }
    }
  }
  return v;
}

// The SA of a round trip of packets of every size: with ESN the packets
// cross 2^32 (seq_hi 0 -> 1); without, the sequence starts low.
inline SaSpec round_trip_spec(crypto::Algorithm alg, EspMode mode, Fam outer, bool esn) {
  SaSpec spec;
  spec.alg = alg;
  spec.mode = mode;
  spec.outer = outer;
  spec.esn = esn;
  spec.last_seq = esn ? 0xfffffff8u : 0x100;
  spec.window = 1024;
  spec.seed = static_cast<uint64_t>(alg) * 7 + esn;
  return spec;
}

// ---------------------------------------------------------------------------
// The independent implementation (OpenSSL): ESP packet = SPI, seq, IV,
// ciphertext of (data, padding, pad length, next header), ICV.

struct Plain {
  Bytes data;
  Bytes padding;
  uint8_t pad_length = 0;
  uint8_t next_header = 0;
  Bytes iv;
};

inline Bytes be32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}

// Seals `plain` (trailer exactly as given: tests may make it wrong).
inline Bytes reference_seal(const SaPair& sa, uint32_t spi, uint64_t seq, bool esn,
                            const Plain& plain) {
  const auto& p = sa.p();
  Bytes header = crypto::test::concat(be32(spi), be32(static_cast<uint32_t>(seq)));
  Bytes pt = plain.data;
  pt.insert(pt.end(), plain.padding.begin(), plain.padding.end());
  pt.push_back(plain.pad_length);
  pt.push_back(plain.next_header);
  Bytes key(sa.cipher_key.begin(), sa.cipher_key.begin() + p.key_length);
  Bytes out = header;
  out.insert(out.end(), plain.iv.begin(), plain.iv.end());
  if (p.aead()) {
    Bytes aad = be32(spi);
    if (esn) aad = crypto::test::concat(aad, be32(static_cast<uint32_t>(seq >> 32)));
    aad = crypto::test::concat(aad, be32(static_cast<uint32_t>(seq)));
    Bytes nonce =
        crypto::test::concat(Bytes(sa.cipher_key.end() - 4, sa.cipher_key.end()), plain.iv);
    Bytes sealed = crypto::test::ossl_aead_seal(sa.alg, key, nonce, aad, pt);
    out.insert(out.end(), sealed.begin(), sealed.end());
    return out;
  }
  Bytes ct = p.cipher == crypto::Cipher::kAesCbc
                 ? crypto::test::ossl_cbc(sa.alg, key, plain.iv, pt, true)
                 : pt;
  out.insert(out.end(), ct.begin(), ct.end());
  Bytes mac_input = out;
  if (esn) mac_input = crypto::test::concat(mac_input, be32(static_cast<uint32_t>(seq >> 32)));
  Bytes icv = crypto::test::ossl_icv(sa.alg, sa.auth_key, mac_input);
  out.insert(out.end(), icv.begin(), icv.end());
  return out;
}

// Opens an ESP packet; nullopt when the ICV does not verify.
inline std::optional<Plain> reference_open(const SaPair& sa, std::span<const uint8_t> esp,
                                           uint32_t seq_hi, bool esn) {
  const auto& p = sa.p();
  if (esp.size() < 8u + p.iv_length + p.icv_length + 2) return std::nullopt;
  Bytes key(sa.cipher_key.begin(), sa.cipher_key.begin() + p.key_length);
  Plain r;
  r.iv.assign(esp.begin() + 8, esp.begin() + 8 + p.iv_length);
  std::span<const uint8_t> body = esp.subspan(8 + p.iv_length);
  Bytes pt;
  if (p.aead()) {
    Bytes aad(esp.begin(), esp.begin() + 4);
    if (esn) aad = crypto::test::concat(aad, be32(seq_hi));
    aad.insert(aad.end(), esp.begin() + 4, esp.begin() + 8);
    Bytes nonce = crypto::test::concat(Bytes(sa.cipher_key.end() - 4, sa.cipher_key.end()), r.iv);
    auto opened = crypto::test::ossl_aead_open(sa.alg, key, nonce, aad, body);
    if (!opened) return std::nullopt;
    pt = *opened;
  } else {
    size_t n = esp.size() - p.icv_length;
    Bytes mac_input(esp.begin(), esp.begin() + static_cast<ptrdiff_t>(n));
    if (esn) mac_input = crypto::test::concat(mac_input, be32(seq_hi));
    Bytes icv = crypto::test::ossl_icv(sa.alg, sa.auth_key, mac_input);
    if (!std::equal(icv.begin(), icv.end(), esp.begin() + static_cast<ptrdiff_t>(n))) {
      return std::nullopt;
    }
    std::span<const uint8_t> ct = body.first(body.size() - p.icv_length);
    pt = p.cipher == crypto::Cipher::kAesCbc ? crypto::test::ossl_cbc(sa.alg, key, r.iv, ct, false)
                                             : Bytes(ct.begin(), ct.end());
  }
  r.next_header = pt.back();
  r.pad_length = pt[pt.size() - 2];
  if (r.pad_length + 2u > pt.size()) return r;  // caller sees the bad trailer
  r.padding.assign(pt.end() - 2 - r.pad_length, pt.end() - 2);
  r.data.assign(pt.begin(), pt.end() - 2 - r.pad_length);
  return r;
}

// The RFC 4303 default padding for `data` bytes with this algorithm.
inline Bytes default_padding(const crypto::AlgorithmProperties& p, size_t data) {
  size_t pad = (p.block - (data + 2) % p.block) % p.block;
  Bytes b(pad);
  for (size_t i = 0; i < pad; ++i) b[i] = static_cast<uint8_t>(i + 1);
  return b;
}

// An outer header (tunnel, or the transport packet's own) around `esp`.
inline Bytes wrap_outer(Fam f, std::span<const uint8_t> esp, uint8_t tos = 0) {
  const net::IpAddress src = addr(f, 2), dst = addr(f, 1);  // the peer sends
  Bytes p;
  if (f == Fam::kV4) {
    p.resize(20);
    p[0] = 0x45;
    p[1] = tos;
    net::store_be16(&p[2], static_cast<uint16_t>(20 + esp.size()));
    p[6] = 0x40;
    p[8] = 64;
    p[9] = net::kProtoEsp;
    std::copy(src.bytes.begin(), src.bytes.begin() + 4, p.begin() + 12);
    std::copy(dst.bytes.begin(), dst.bytes.begin() + 4, p.begin() + 16);
    net::set_ipv4_header_checksum(p.data());
  } else {
    p.resize(40);
    net::store_be32(&p[0], 0x60000000u | uint32_t{tos} << 20);
    net::store_be16(&p[4], static_cast<uint16_t>(esp.size()));
    p[6] = net::kProtoEsp;
    p[7] = 64;
    std::copy(src.bytes.begin(), src.bytes.end(), p.begin() + 8);
    std::copy(dst.bytes.begin(), dst.bytes.end(), p.begin() + 24);
  }
  p.insert(p.end(), esp.begin(), esp.end());
  return p;
}

// Encapsulates `inner` with the SA's outbound side: the ESP packet.
inline Bytes encrypt(SaPair& sa, const Bytes& inner) {
  Frame f(inner);
  EspOp op;
  EXPECT_EQ(esp_outbound_prepare(f.buf(), parse(inner), *sa.out, op), DropReason::kNone);
  esp_process(engine(), std::span<EspOp>(&op, 1));
  EXPECT_EQ(esp_outbound_finish(f.buf(), op), DropReason::kNone);
  return f.copy();
}

// Runs the inbound path on `pkt` as a worker does (with `resync`, the ESN
// resynchronisation retry of an ICV failure too): the drop reason, whether
// a refused buffer was left untouched, the result, whether the retry took it.
struct InResult {
  DropReason drop;
  bool unchanged;
  Bytes out;
  bool resynced = false;
};

// One inbound path on `pkt` with `in`: the engine's (prepare, esp_process,
// finish) or, `direct`, the worker's for AES-GCM SAs (esp_inbound_open).
inline InResult decrypt_with(EspSaIn& in, const Bytes& pkt, bool resync, bool direct) {
  Frame f(pkt);
  const auto before = f.snapshot();
  net::IpPacketInfo info;
  DropReason r = net::parse_ip_packet(pkt, info);
  if (r != DropReason::kNone) return {r, true, {}};
  EspOp op;
  bool resynced = false;
  if (direct) {
    r = esp_inbound_open(f.buf(), info, in, op, engine());
  } else {
    r = esp_inbound_prepare(f.buf(), info, in, op);
    if (r != DropReason::kNone) {
      EXPECT_EQ(op.crypto.sa, nullptr);  // the engine would skip it
      return {r, f.snapshot() == before, f.copy()};
    }
    EXPECT_FALSE(f.snapshot() != before) << "prepare changed the buffer";
    esp_process(engine(), std::span<EspOp>(&op, 1));
    r = esp_inbound_finish(f.buf(), op);
  }
  if (resync && r == DropReason::kEspBadIcv && esp_inbound_resync(engine(), f.buf(), op)) {
    resynced = true;
    r = DropReason::kNone;
  }
  return {r, f.snapshot() == before, f.copy(), resynced};
}

// Runs the inbound path on `pkt` as a worker does. For AES-GCM SAs that is
// esp_inbound_open; the engine's path runs too, on a copy of the SA's state
// from before, and must agree on everything: verdict, buffer, SA state.
inline InResult decrypt(SaPair& sa, const Bytes& pkt, bool resync = false) {
  if (!esp_inbound_direct(*sa.in)) return decrypt_with(*sa.in, pkt, resync, false);
  static_assert(std::is_trivially_copyable_v<EspSaIn>);
  auto twin = std::make_unique<EspSaIn>(*sa.in);
  const InResult via_engine = decrypt_with(*twin, pkt, resync, false);
  const InResult direct = decrypt_with(*sa.in, pkt, resync, true);
  EXPECT_EQ(direct.drop, via_engine.drop) << "esp_inbound_open and the engine path disagree";
  EXPECT_EQ(direct.unchanged, via_engine.unchanged);
  EXPECT_TRUE(direct.out == via_engine.out);
  EXPECT_EQ(direct.resynced, via_engine.resynced);
  EXPECT_EQ(std::memcmp(twin.get(), sa.in.get(), sizeof(EspSaIn)), 0)
      << "esp_inbound_open left the SA (counters, window) unlike the engine path";
  return direct;
}

}  // namespace tcpsec::esp::test
