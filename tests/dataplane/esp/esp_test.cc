// ESP prepare / engine / finish: round trips for every algorithm x mode x
// (IPv4/IPv6 inner x IPv4/IPv6 outer) x ESN on/off, each packet checked
// against an independent ESP implementation over OpenSSL (both directions),
// then one test per refusal, each checking that a refused buffer is left
// exactly as it was.
#include "dataplane/esp/esp.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/dataplane/esp/esp_test_util.h"

namespace tcpsec::esp {
namespace {

using crypto::Algorithm;
using crypto::Cipher;
using test::Bytes;
using test::Fam;
using test::Frame;
using test::InnerSpec;
using test::RoundTrip;
using test::SaSpec;

// The CBC IV our outbound path must have used: E_K(seq || SPI || 0).
Bytes expected_cbc_iv(const test::SaPair& sa, uint64_t seq, uint32_t spi) {
  Bytes nonce = crypto::test::concat(test::be32(static_cast<uint32_t>(seq >> 32)),
                                     test::be32(static_cast<uint32_t>(seq)));
  nonce = crypto::test::concat(nonce, test::be32(spi));
  nonce = crypto::test::concat(nonce, test::be32(0));
  Bytes key(sa.cipher_key.begin(), sa.cipher_key.begin() + sa.p().key_length);
  return crypto::test::ossl_cbc(sa.alg, key, Bytes(16, 0), nonce, true);
}

class EspRoundTrip : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(EspRoundTrip, MatchesReferenceBothWays) {
  const RoundTrip& r = GetParam();
  const SaSpec spec = test::round_trip_spec(r.alg, r.mode, r.outer, r.esn);
  auto sa = test::make_sa(spec);
  const auto& p = sa->p();
  const bool tunnel = r.mode == EspMode::kTunnel;

  // ---- outbound: one burst of every size
  std::vector<Bytes> inner;
  std::vector<std::unique_ptr<Frame>> frames;
  std::vector<EspOp> ops(std::size(test::kRoundTripPayloads));
  for (size_t i = 0; i < std::size(test::kRoundTripPayloads); ++i) {
    inner.push_back(test::round_trip_inner(r.inner, i));
    frames.push_back(std::make_unique<Frame>(inner.back()));
    net::IpPacketInfo info = test::parse(inner.back());
    ASSERT_EQ(esp_outbound_prepare(frames[i]->buf(), info, *sa->out, ops[i]), DropReason::kNone);
  }
  esp_process(test::engine(), ops);
  for (size_t i = 0; i < frames.size(); ++i) {
    SCOPED_TRACE("outbound packet " + std::to_string(i));
    ASSERT_EQ(esp_outbound_finish(frames[i]->buf(), ops[i]), DropReason::kNone);
    const uint64_t seq = spec.last_seq + 1 + i;
    EXPECT_EQ(ops[i].seq, seq);
    Bytes pkt = frames[i]->copy();
    net::IpPacketInfo out = test::parse(pkt);
    ASSERT_EQ(out.proto, net::kProtoEsp);
    ASSERT_EQ(out.packet_length, pkt.size());
    const net::IpPacketInfo in = test::parse(inner[i]);
    if (tunnel) {
      ASSERT_EQ(out.family, r.outer == Fam::kV4 ? net::IpFamily::kV4 : net::IpFamily::kV6);
      EXPECT_EQ(net::ip_source(pkt, out), test::addr(r.outer, 1));
      EXPECT_EQ(net::ip_destination(pkt, out), test::addr(r.outer, 2));
      const uint8_t tos = static_cast<uint8_t>(i * 9);
      if (r.outer == Fam::kV4) {
        EXPECT_EQ(pkt[1], tos);  // DSCP and ECN copied
        EXPECT_EQ(pkt[8], 64);   // TTL from the SA
        EXPECT_EQ(net::load_be16(&pkt[4]), static_cast<uint16_t>(seq));
        const bool df = r.inner == Fam::kV6 || i % 2 == 0;
        EXPECT_EQ(pkt[6], df ? 0x40 : 0x00);
      } else {
        EXPECT_EQ(static_cast<uint8_t>((pkt[0] & 0x0f) << 4 | pkt[1] >> 4), tos);
        EXPECT_EQ(pkt[7], 64);
      }
    } else {
      // Transport: the same IP header chain, with protocol 50 and new lengths.
      ASSERT_EQ(out.l3_length, in.l3_length);
      for (size_t b = 0; b < in.l3_length; ++b) {
        bool length_field =
            r.inner == Fam::kV4 ? (b == 2 || b == 3 || b == 10 || b == 11) : (b == 4 || b == 5);
        if (b == in.proto_offset) {
          EXPECT_EQ(pkt[b], net::kProtoEsp);
        } else if (!length_field) {
          EXPECT_EQ(pkt[b], inner[i][b]) << "header byte " << b;
        }
      }
    }
    std::span<const uint8_t> esp(pkt.data() + out.l3_length, out.l4_length());
    EXPECT_EQ(net::load_be32(esp.data()), spec.spi);
    EXPECT_EQ(net::load_be32(esp.data() + 4), static_cast<uint32_t>(seq));
    auto opened = test::reference_open(*sa, esp, static_cast<uint32_t>(seq >> 32), r.esn);
    ASSERT_TRUE(opened.has_value()) << "OpenSSL does not verify our ICV";
    Bytes want_data = tunnel ? inner[i] : Bytes(inner[i].begin() + in.l3_length, inner[i].end());
    EXPECT_TRUE(test::SameBytes(opened->data, want_data));
    EXPECT_EQ(opened->padding, test::default_padding(p, want_data.size()));
    EXPECT_EQ(opened->next_header,
              tunnel ? (r.inner == Fam::kV4 ? kNextHeaderIpv4 : kNextHeaderIpv6) : net::kProtoUdp);
    if (p.cipher == Cipher::kAesCbc) {
      EXPECT_EQ(opened->iv, expected_cbc_iv(*sa, seq, spec.spi));
    } else if (p.iv_length == 8) {
      EXPECT_EQ(opened->iv, crypto::test::concat(test::be32(static_cast<uint32_t>(seq >> 32)),
                                                 test::be32(static_cast<uint32_t>(seq))));
    }
    EXPECT_EQ(esp.size() % 4, 0u);  // RFC 4303 2.4: 32-bit alignment
  }
  EXPECT_EQ(sa->out->seq, spec.last_seq + frames.size());
  EXPECT_EQ(sa->out->packets, frames.size());

  // ---- inbound: our packets back to the originals, in one burst
  std::vector<EspOp> in_ops(frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    net::IpPacketInfo info = test::parse(frames[i]->bytes());
    ASSERT_EQ(esp_inbound_prepare(frames[i]->buf(), info, *sa->in, in_ops[i]), DropReason::kNone);
  }
  esp_process(test::engine(), in_ops);
  for (size_t i = 0; i < frames.size(); ++i) {
    ASSERT_EQ(esp_inbound_finish(frames[i]->buf(), in_ops[i]), DropReason::kNone) << i;
    EXPECT_TRUE(test::SameBytes(frames[i]->bytes(), inner[i])) << "inbound packet " << i;
  }
  EXPECT_EQ(sa->in->packets, frames.size());
  EXPECT_EQ(sa->in->window.top(), spec.last_seq + frames.size());

  // ---- inbound of the reference implementation's packets (random CBC
  // IVs, as other implementations send), continuing the sequence.
  std::mt19937_64 rng(spec.seed);
  std::vector<std::unique_ptr<Frame>> ref_frames;
  std::vector<EspOp> ref_ops(inner.size());
  for (size_t i = 0; i < inner.size(); ++i) {
    const uint64_t seq = spec.last_seq + frames.size() + 1 + i;
    const net::IpPacketInfo in = test::parse(inner[i]);
    test::Plain plain;
    plain.data = tunnel ? inner[i] : Bytes(inner[i].begin() + in.l3_length, inner[i].end());
    plain.padding = test::default_padding(p, plain.data.size());
    plain.pad_length = static_cast<uint8_t>(plain.padding.size());
    plain.next_header =
        tunnel ? (r.inner == Fam::kV4 ? kNextHeaderIpv4 : kNextHeaderIpv6) : net::kProtoUdp;
    plain.iv = crypto::test::random_bytes(rng, p.iv_length);
    Bytes esp = test::reference_seal(*sa, spec.spi, seq, r.esn, plain);
    Bytes pkt;
    if (tunnel) {
      pkt = test::wrap_outer(r.outer, esp);
    } else {
      pkt.assign(inner[i].begin(), inner[i].begin() + in.l3_length);
      pkt[in.proto_offset] = net::kProtoEsp;
      pkt.insert(pkt.end(), esp.begin(), esp.end());
      net::set_ip_payload_length(pkt.data(), in, static_cast<uint16_t>(esp.size()));
    }
    ref_frames.push_back(std::make_unique<Frame>(pkt));
    net::IpPacketInfo info = test::parse(pkt);
    ASSERT_EQ(esp_inbound_prepare(ref_frames[i]->buf(), info, *sa->in, ref_ops[i]),
              DropReason::kNone);
  }
  esp_process(test::engine(), ref_ops);
  for (size_t i = 0; i < ref_frames.size(); ++i) {
    ASSERT_EQ(esp_inbound_finish(ref_frames[i]->buf(), ref_ops[i]), DropReason::kNone) << i;
    EXPECT_TRUE(test::SameBytes(ref_frames[i]->bytes(), inner[i])) << "reference packet " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(All, EspRoundTrip, ::testing::ValuesIn(test::round_trips()),
                         [](const auto& info) { return test::round_trip_name(info.param); });

// ---------------------------------------------------------------------------
// Helpers for the refusals

using test::decrypt;
using test::encrypt;
using test::InResult;

Bytes udp_v4(uint16_t payload = 40) {
  InnerSpec s;
  s.payload = payload;
  return test::make_inner(s);
}

// An ESP packet from the reference implementation with the given trailer.
Bytes reference_packet(test::SaPair& sa, uint64_t seq, const test::Plain& plain,
                       Fam outer = Fam::kV4, uint8_t tos = 0) {
  return test::wrap_outer(outer, test::reference_seal(sa, 0x1000abcd, seq, false, plain), tos);
}

test::Plain plain_of(const test::SaPair& sa, Bytes data, uint8_t next_header) {
  test::Plain plain;
  plain.data = std::move(data);
  plain.padding = test::default_padding(sa.p(), plain.data.size());
  plain.pad_length = static_cast<uint8_t>(plain.padding.size());
  plain.next_header = next_header;
  plain.iv = Bytes(sa.p().iv_length, 0x5a);
  return plain;
}

constexpr Algorithm kSome[] = {Algorithm::kAesGcm128, Algorithm::kChaCha20Poly1305,
                               Algorithm::kAesCbc256HmacSha256, Algorithm::kAesCbc128HmacSha1,
                               Algorithm::kNullHmacSha256};

// ---------------------------------------------------------------------------
// Inbound refusals

TEST(EspInbound, BadIcvAnywhereIsRefusedUnchanged) {
  for (Algorithm alg : kSome) {
    for (bool esn : {false, true}) {
      SaSpec s;
      s.alg = alg;
      s.esn = esn;
      auto sa = test::make_sa(s);
      const Bytes pkt = encrypt(*sa, udp_v4(77));
      // Every byte after the SPI and sequence number: IV, ciphertext, ICV.
      for (size_t pos = 28; pos < pkt.size(); ++pos) {
        Bytes bad = pkt;
        bad[pos] ^= 0x04;
        InResult r = decrypt(*sa, bad);
        EXPECT_EQ(r.drop, DropReason::kEspBadIcv) << crypto::properties(alg).name << " @" << pos;
        EXPECT_TRUE(r.unchanged) << crypto::properties(alg).name << " @" << pos;
      }
      // The sequence number is authenticated too (here still in the window).
      Bytes bad = pkt;
      bad[27] ^= 0x02;
      EXPECT_EQ(decrypt(*sa, bad).drop, DropReason::kEspBadIcv);
      // Nothing refused moved the window; the real packet still goes in.
      EXPECT_EQ(sa->in->window.top(), 0u);
      EXPECT_EQ(decrypt(*sa, pkt).drop, DropReason::kNone);
    }
  }
}

TEST(EspInbound, EsnHighBitsAreAuthenticated) {
  // The sender is past 2^32; a receiver that infers seq_hi = 0 (its window
  // at the start) must fail the ICV, never accept.
  for (Algorithm alg : {Algorithm::kAesGcm256, Algorithm::kAesCbc128HmacSha256}) {
    SaSpec s;
    s.alg = alg;
    s.esn = true;
    s.last_seq = (uint64_t{1} << 32) + 10;
    auto sa = test::make_sa(s);
    const Bytes pkt = encrypt(*sa, udp_v4());
    EXPECT_EQ(decrypt(*sa, pkt).drop, DropReason::kNone);
    SaSpec fresh = s;
    fresh.last_seq = 20;  // receiver window around seq_hi 0
    auto other = test::make_sa(fresh);
    InResult r = decrypt(*other, pkt);
    EXPECT_EQ(r.drop, DropReason::kEspBadIcv);
    EXPECT_TRUE(r.unchanged);
  }
}

TEST(EspInbound, ReplayedPacketIsRefusedUnchanged) {
  for (Algorithm alg : kSome) {
    SaSpec s;
    s.alg = alg;
    auto sa = test::make_sa(s);
    const Bytes pkt = encrypt(*sa, udp_v4());
    EXPECT_EQ(decrypt(*sa, pkt).drop, DropReason::kNone);
    InResult r = decrypt(*sa, pkt);
    EXPECT_EQ(r.drop, DropReason::kEspReplay);
    EXPECT_TRUE(r.unchanged);
    EXPECT_EQ(sa->in->packets, 1u);
  }
}

TEST(EspInbound, DuplicateInTheSameBurstIsRefusedUnchanged) {
  // Both copies pass the window check before crypto; only the first may
  // advance it, the second is refused after decryption and restored.
  for (Algorithm alg : kSome) {
    SaSpec s;
    s.alg = alg;
    auto sa = test::make_sa(s);
    const Bytes pkt = encrypt(*sa, udp_v4());
    Frame a(pkt), b(pkt);
    const auto before = b.snapshot();
    EspOp ops[2];
    ASSERT_EQ(esp_inbound_prepare(a.buf(), test::parse(pkt), *sa->in, ops[0]), DropReason::kNone);
    ASSERT_EQ(esp_inbound_prepare(b.buf(), test::parse(pkt), *sa->in, ops[1]), DropReason::kNone);
    esp_process(test::engine(), ops);
    EXPECT_EQ(esp_inbound_finish(a.buf(), ops[0]), DropReason::kNone);
    EXPECT_EQ(esp_inbound_finish(b.buf(), ops[1]), DropReason::kEspReplay);
    EXPECT_TRUE(b.snapshot() == before) << crypto::properties(alg).name;
  }
}

TEST(EspInbound, TooOldIsRefusedBeforeCrypto) {
  SaSpec s;
  s.window = 64;
  auto sa = test::make_sa(s);
  std::vector<Bytes> pkts;
  for (int i = 0; i < 100; ++i) pkts.push_back(encrypt(*sa, udp_v4()));
  EXPECT_EQ(decrypt(*sa, pkts[99]).drop, DropReason::kNone);  // seq 100
  EXPECT_EQ(decrypt(*sa, pkts[36]).drop, DropReason::kNone);  // seq 37: 100 - 63
  InResult r = decrypt(*sa, pkts[35]);                        // seq 36: 100 - 64
  EXPECT_EQ(r.drop, DropReason::kEspReplayTooOld);
  EXPECT_TRUE(r.unchanged);
  // A forged packet with an old sequence number costs no crypto either way.
  Bytes forged = pkts[0];
  forged[forged.size() - 1] ^= 1;
  EXPECT_EQ(decrypt(*sa, forged).drop, DropReason::kEspReplayTooOld);
}

TEST(EspInbound, BadPaddingIsRefusedUnchanged) {
  for (Algorithm alg : kSome) {
    SaSpec s;
    s.alg = alg;
    auto sa = test::make_sa(s);
    const Bytes inner = udp_v4(41);
    // Padding bytes not 1, 2, 3, ...
    test::Plain wrong = plain_of(*sa, inner, kNextHeaderIpv4);
    if (wrong.padding.empty()) {  // make room: a full block of padding
      for (int i = 0; i < sa->p().block; ++i) wrong.padding.push_back(static_cast<uint8_t>(i + 1));
      wrong.pad_length = static_cast<uint8_t>(wrong.padding.size());
    }
    wrong.padding.back() ^= 0x40;
    InResult r = decrypt(*sa, reference_packet(*sa, 1, wrong));
    EXPECT_EQ(r.drop, DropReason::kEspBadPadding) << crypto::properties(alg).name;
    EXPECT_TRUE(r.unchanged);
    // Pad length beyond the payload.
    test::Plain too_long = plain_of(*sa, {}, kNextHeaderIpv4);
    too_long.pad_length = 200;
    r = decrypt(*sa, reference_packet(*sa, 2, too_long));
    EXPECT_EQ(r.drop, DropReason::kEspBadPadding);
    EXPECT_TRUE(r.unchanged);
    // A refused packet does not take its sequence number: the good one goes in.
    r = decrypt(*sa, reference_packet(*sa, 1, plain_of(*sa, inner, kNextHeaderIpv4)));
    EXPECT_EQ(r.drop, DropReason::kNone);
    EXPECT_TRUE(test::SameBytes(r.out, inner));
  }
}

TEST(EspInbound, NextHeaderAndInnerPacketAreChecked) {
  for (Algorithm alg : kSome) {
    SaSpec s;
    s.alg = alg;
    auto sa = test::make_sa(s);
    const Bytes inner = udp_v4();
    uint64_t seq = 1;
    auto check = [&](const test::Plain& plain, DropReason want) {
      InResult r = decrypt(*sa, reference_packet(*sa, seq++, plain));
      EXPECT_EQ(r.drop, want) << crypto::properties(alg).name << " seq " << seq - 1;
      EXPECT_TRUE(r.unchanged);
    };
    check(plain_of(*sa, inner, net::kProtoUdp), DropReason::kEspBadNextHeader);  // tunnel mode
    check(plain_of(*sa, inner, kNextHeaderIpv6), DropReason::kEspBadInner);      // v4 inside
    check(plain_of(*sa, {}, kNextHeaderNone), DropReason::kEspDummyPacket);      // RFC 4303 2.6
    Bytes bad_sum = inner;
    bad_sum[10] ^= 1;
    check(plain_of(*sa, bad_sum, kNextHeaderIpv4), DropReason::kEspBadInner);
    Bytes cut(inner.begin(), inner.begin() + 30);  // IPv4 total length says more
    check(plain_of(*sa, cut, kNextHeaderIpv4), DropReason::kEspBadInner);
  }
}

TEST(EspInbound, TfcPaddingAfterTheInnerPacketIsRemoved) {
  SaSpec s;
  auto sa = test::make_sa(s);
  const Bytes inner = udp_v4(20);
  Bytes padded = inner;
  padded.resize(inner.size() + 37, 0);  // RFC 4303 2.7
  InResult r = decrypt(*sa, reference_packet(*sa, 1, plain_of(*sa, padded, kNextHeaderIpv4)));
  EXPECT_EQ(r.drop, DropReason::kNone);
  EXPECT_TRUE(test::SameBytes(r.out, inner));
}

TEST(EspInbound, EcnCongestionMarkIsPropagated) {
  SaSpec s;
  auto sa = test::make_sa(s);
  InnerSpec is;
  uint64_t seq = 1;
  for (uint8_t inner_ecn : {0, 1, 2, 3}) {
    is.tos = static_cast<uint8_t>(0xb8 | inner_ecn);  // EF
    const Bytes inner = test::make_inner(is);
    for (uint8_t outer_ecn : {0, 1, 2, 3}) {
      InResult r = decrypt(*sa, reference_packet(*sa, seq++, plain_of(*sa, inner, kNextHeaderIpv4),
                                                 Fam::kV4, outer_ecn));
      if (outer_ecn == 3 && inner_ecn == 0) {  // RFC 6040 4.2: drop
        EXPECT_EQ(r.drop, DropReason::kEspEcnCeNotEct);
        EXPECT_TRUE(r.unchanged);
        continue;
      }
      ASSERT_EQ(r.drop, DropReason::kNone);
      Bytes want = inner;
      if (outer_ecn == 3) {
        want[1] |= 3;
        net::set_ipv4_header_checksum(want.data());
      }
      EXPECT_TRUE(test::SameBytes(r.out, want)) << int{inner_ecn} << "/" << int{outer_ecn};
    }
  }
}

TEST(EspInbound, MalformedPacketsAreRefusedUnchanged) {
  for (Algorithm alg : kSome) {
    SaSpec s;
    s.alg = alg;
    auto sa = test::make_sa(s);
    const auto& p = sa->p();
    const Bytes pkt = encrypt(*sa, udp_v4());
    auto cut = [&](size_t esp_bytes) {
      Bytes esp(pkt.begin() + 20, pkt.begin() + 20 + static_cast<ptrdiff_t>(esp_bytes));
      return test::wrap_outer(Fam::kV4, esp);
    };
    const size_t min = 8u + p.iv_length + p.block + p.icv_length;
    for (size_t n : {size_t{0}, size_t{4}, size_t{7}, size_t{8}, min - 1}) {
      InResult r = decrypt(*sa, cut(n));
      EXPECT_EQ(r.drop, DropReason::kEspTruncated) << p.name << " " << n;
      EXPECT_TRUE(r.unchanged);
    }
    // A payload that is not a whole number of blocks.
    InResult r = decrypt(*sa, cut(pkt.size() - 20 - 1));
    EXPECT_EQ(r.drop, DropReason::kEspBadLength) << p.name;
    EXPECT_TRUE(r.unchanged);
    // Wrong SPI (another SA's packet, or no SA at all).
    Bytes other = pkt;
    other[20] ^= 0x80;
    net::set_ipv4_header_checksum(other.data());
    r = decrypt(*sa, other);
    EXPECT_EQ(r.drop, DropReason::kEspNoSa);
    EXPECT_TRUE(r.unchanged);
  }
  SaSpec s;
  auto sa = test::make_sa(s);
  const Bytes pkt = encrypt(*sa, udp_v4());
  // Not ESP; a fragment.
  Bytes udp = udp_v4();
  Frame f(udp);
  EspOp op;
  EXPECT_EQ(esp_inbound_prepare(f.buf(), test::parse(udp), *sa->in, op),
            DropReason::kIpUnsupportedProto);
  Bytes frag = pkt;
  frag[6] |= 0x20;  // MF
  net::set_ipv4_header_checksum(frag.data());
  EXPECT_EQ(decrypt(*sa, frag).drop, DropReason::kIpFragment);
  // No keys.
  EspSaIn empty;
  Frame g(pkt);
  EXPECT_EQ(esp_inbound_prepare(g.buf(), test::parse(pkt), empty, op), DropReason::kEspNoSa);
}

TEST(EspInbound, PeekSpi) {
  SaSpec s;
  auto sa = test::make_sa(s);
  const Bytes pkt = encrypt(*sa, udp_v4());
  SpiPeek peek = esp_peek_spi(pkt, test::parse(pkt));
  EXPECT_EQ(peek.drop, DropReason::kNone);
  EXPECT_EQ(peek.spi, 0x1000abcdu);
  const Bytes udp = udp_v4();
  EXPECT_EQ(esp_peek_spi(udp, test::parse(udp)).drop, DropReason::kIpUnsupportedProto);
  Bytes short_esp = test::wrap_outer(Fam::kV4, Bytes{1, 2, 3});
  EXPECT_EQ(esp_peek_spi(short_esp, test::parse(short_esp)).drop, DropReason::kEspTruncated);
}

TEST(EspInbound, HardLifetimeRefusesAndSoftLifetimeFlags) {
  SaSpec s;
  auto sa = test::make_sa(s);
  sa->in->lifetime.soft_packets = 2;
  sa->in->lifetime.hard_packets = 3;
  std::vector<Bytes> pkts;
  for (int i = 0; i < 4; ++i) pkts.push_back(encrypt(*sa, udp_v4()));
  EXPECT_EQ(decrypt(*sa, pkts[0]).drop, DropReason::kNone);
  EXPECT_FALSE(sa->in->soft_expired);
  EXPECT_EQ(decrypt(*sa, pkts[1]).drop, DropReason::kNone);
  EXPECT_TRUE(sa->in->soft_expired);
  EXPECT_EQ(decrypt(*sa, pkts[2]).drop, DropReason::kNone);
  InResult r = decrypt(*sa, pkts[3]);
  EXPECT_EQ(r.drop, DropReason::kEspSaExpired);
  EXPECT_TRUE(r.unchanged);
}

TEST(EspInbound, WindowWrapsAt2To32WithEsn) {
  SaSpec s;
  s.alg = Algorithm::kAesCbc128HmacSha256;
  s.esn = true;
  s.last_seq = 0xfffffff0u;
  s.window = 64;
  auto sa = test::make_sa(s);
  std::vector<Bytes> pkts;
  for (int i = 0; i < 40; ++i) pkts.push_back(encrypt(*sa, udp_v4()));  // to 2^32 + 24
  EXPECT_EQ(decrypt(*sa, pkts[39]).drop, DropReason::kNone);
  EXPECT_EQ(sa->in->window.top(), (uint64_t{1} << 32) + 24);
  // Late packets from before the wrap (seq_hi inferred 0) still go in.
  EXPECT_EQ(decrypt(*sa, pkts[0]).drop, DropReason::kNone);   // 0xfffffff1
  EXPECT_EQ(decrypt(*sa, pkts[14]).drop, DropReason::kNone);  // 0xffffffff
  EXPECT_EQ(decrypt(*sa, pkts[15]).drop, DropReason::kNone);  // 2^32: seq_lo 0
  EXPECT_EQ(decrypt(*sa, pkts[15]).drop, DropReason::kEspReplay);
  EXPECT_EQ(decrypt(*sa, pkts[20]).drop, DropReason::kNone);
  EXPECT_EQ(sa->in->window.top(), (uint64_t{1} << 32) + 24);
}

// ---------------------------------------------------------------------------
// Outbound

TEST(EspOutbound, SequenceNumberExhaustionWithoutEsn) {
  SaSpec s;
  s.last_seq = 0xfffffffeu;
  auto sa = test::make_sa(s);
  const Bytes inner = udp_v4();
  const Bytes last = encrypt(*sa, inner);
  EXPECT_EQ(net::load_be32(&last[24]), 0xffffffffu);
  Frame f(inner);
  const auto before = f.snapshot();
  EspOp op;
  EXPECT_EQ(esp_outbound_prepare(f.buf(), test::parse(inner), *sa->out, op),
            DropReason::kEspSeqExhausted);
  EXPECT_TRUE(f.snapshot() == before);
  EXPECT_EQ(sa->out->seq, 0xffffffffu);
  EXPECT_EQ(op.crypto.sa, nullptr);

  // With ESN the same SA goes on: seq_lo wraps to 0, seq_hi becomes 1.
  SaSpec e = s;
  e.esn = true;
  auto esa = test::make_sa(e);
  encrypt(*esa, inner);
  const Bytes next = encrypt(*esa, inner);
  EXPECT_EQ(net::load_be32(&next[24]), 0u);
  EXPECT_EQ(esa->out->seq, uint64_t{1} << 32);
  EXPECT_EQ(decrypt(*esa, next).drop, DropReason::kNone);
  // An ESN SA at 2^64 - 1 is exhausted too.
  esa->out->seq = ~uint64_t{0};
  Frame g(inner);
  EXPECT_EQ(esp_outbound_prepare(g.buf(), test::parse(inner), *esa->out, op),
            DropReason::kEspSeqExhausted);
}

TEST(EspOutbound, RefusalsLeaveBufferAndSaUnchanged) {
  SaSpec s;
  s.alg = Algorithm::kAesCbc256HmacSha1;
  auto sa = test::make_sa(s);
  const Bytes inner = udp_v4(100);
  const net::IpPacketInfo info = test::parse(inner);
  auto refuse = [&](Frame& f, const net::IpPacketInfo& i, DropReason want) {
    const auto before = f.snapshot();
    const uint64_t seq = sa->out->seq;
    EspOp op;
    EXPECT_EQ(esp_outbound_prepare(f.buf(), i, *sa->out, op), want);
    EXPECT_TRUE(f.snapshot() == before);
    EXPECT_EQ(sa->out->seq, seq);
    EXPECT_EQ(op.crypto.sa, nullptr);
  };
  const uint16_t front = 20 + 8 + 16;
  const uint16_t back = esp_overhead(*sa->out, static_cast<uint16_t>(inner.size())) - front;
  Frame no_head(inner, front - 1, 200);
  refuse(no_head, info, DropReason::kEncapNoHeadroom);
  Frame no_tail(inner, 128, static_cast<uint16_t>(back - 1));
  refuse(no_tail, info, DropReason::kEncapNoTailroom);
  Frame exact(inner, front, back);  // exactly enough
  EspOp op;
  EXPECT_EQ(esp_outbound_prepare(exact.buf(), info, *sa->out, op), DropReason::kNone);
  EXPECT_EQ(exact.buf().headroom(), 0);
  EXPECT_EQ(exact.buf().tailroom(), 0);

  Frame f(inner);
  net::IpPacketInfo bad = info;
  bad.packet_length = static_cast<uint16_t>(inner.size() + 1);
  refuse(f, bad, DropReason::kEncapBadInner);
  bad = info;
  bad.family = net::IpFamily::kNone;
  refuse(f, bad, DropReason::kEncapBadInner);
  net::IpPacketInfo huge = info;
  Bytes big(65500, 0);
  Frame fb(big, 10, 10);
  huge.packet_length = 65500;
  refuse(fb, huge, DropReason::kEncapTooBig);

  sa->out->lifetime.hard_bytes = sa->out->bytes;
  refuse(f, info, DropReason::kEspSaExpired);
  EspSaOut empty;
  EXPECT_EQ(esp_outbound_prepare(f.buf(), info, empty, op), DropReason::kEspNoSa);

  SaSpec t;
  t.mode = EspMode::kTransport;
  auto tsa = test::make_sa(t);
  Bytes frag = inner;
  frag[6] = 0x20;  // MF
  net::set_ipv4_header_checksum(frag.data());
  Frame ff(frag);
  EXPECT_EQ(esp_outbound_prepare(ff.buf(), test::parse(frag), *tsa->out, op),
            DropReason::kEspTransportFragment);
}

TEST(EspOutbound, TrailingLinkPaddingIsDropped) {
  SaSpec s;
  auto sa = test::make_sa(s);
  const Bytes inner = udp_v4(2);
  Bytes padded = inner;
  padded.resize(60, 0);  // Ethernet minimum
  Frame f(padded);
  EspOp op;
  ASSERT_EQ(esp_outbound_prepare(f.buf(), test::parse(inner), *sa->out, op), DropReason::kNone);
  esp_process(test::engine(), std::span<EspOp>(&op, 1));
  ASSERT_EQ(esp_outbound_finish(f.buf(), op), DropReason::kNone);
  InResult r = decrypt(*sa, f.copy());
  EXPECT_EQ(r.drop, DropReason::kNone);
  EXPECT_TRUE(test::SameBytes(r.out, inner));
}

TEST(EspOutbound, OuterHeaderPolicies) {
  InnerSpec is;
  is.tos = 0x2e << 2 | 1;  // DSCP 46, ECT(1)
  is.df = false;
  const Bytes inner = test::make_inner(is);
  struct Case {
    DfMode df;
    uint8_t dscp;
    uint8_t want_tos;
    uint8_t want_df;
  };
  for (const Case& c :
       {Case{DfMode::kCopy, kCopyDscp, 0xb9, 0x00}, Case{DfMode::kSet, 10, 10 << 2 | 1, 0x40},
        Case{DfMode::kClear, 0, 0x01, 0x00}}) {
    SaSpec s;
    auto sa = test::make_sa(s);
    sa->out->df = c.df;
    sa->out->dscp = c.dscp;
    const Bytes pkt = encrypt(*sa, inner);
    EXPECT_EQ(pkt[1], c.want_tos);
    EXPECT_EQ(pkt[6], c.want_df);
    EXPECT_EQ(net::internet_checksum({pkt.data(), 20}), 0);
  }
}

TEST(EspSa, ConfigurationIsValidated) {
  crypto::SaCrypto keys;
  EspSaOut out;
  EspSaOutConfig oc;
  oc.spi = 0x1234;
  oc.tunnel_source = test::addr(Fam::kV4, 1);
  oc.tunnel_destination = test::addr(Fam::kV4, 2);
  EXPECT_FALSE(out.init(oc, keys).is_ok());  // keys not installed
  ASSERT_TRUE(keys.install(Algorithm::kAesGcm128, Bytes(20, 1), {}).is_ok());
  EXPECT_TRUE(out.init(oc, keys).is_ok());
  auto bad = oc;
  bad.spi = 255;
  EXPECT_FALSE(out.init(bad, keys).is_ok());
  bad = oc;
  bad.tunnel_destination = test::addr(Fam::kV6, 2);
  EXPECT_FALSE(out.init(bad, keys).is_ok());
  bad = oc;
  bad.last_seq = uint64_t{1} << 32;
  EXPECT_FALSE(out.init(bad, keys).is_ok());
  bad.esn = true;
  EXPECT_TRUE(out.init(bad, keys).is_ok());
  bad = oc;
  bad.lifetime.soft_packets = 10;
  bad.lifetime.hard_packets = 5;
  EXPECT_FALSE(out.init(bad, keys).is_ok());
  bad = oc;
  bad.dscp = 64;
  EXPECT_FALSE(out.init(bad, keys).is_ok());
  bad = oc;
  bad.mode = EspMode::kTransport;
  bad.tunnel_source = {};
  EXPECT_TRUE(out.init(bad, keys).is_ok());
  EXPECT_EQ(out.outer_length, 0);

  EspSaIn in;
  EspSaInConfig ic;
  ic.spi = 0x1234;
  EXPECT_TRUE(in.init(ic, keys).is_ok());
  ic.replay_window = 32;
  EXPECT_FALSE(in.init(ic, keys).is_ok());
  ic.replay_window = 4097;
  EXPECT_FALSE(in.init(ic, keys).is_ok());
  ic.replay_window = 4096;
  EXPECT_TRUE(in.init(ic, keys).is_ok());
  EXPECT_EQ(in.window.size(), 4096u);
}

}  // namespace
}  // namespace tcpsec::esp
