// esp_outbound_seal and esp_inbound_open, the worker's paths for AES-GCM SAs
// (framed and encrypted, or checked and decrypted, on the spot, no engine
// op): for every GCM key size x mode x (IPv4/IPv6 inner x IPv4/IPv6 outer) x
// ESN on/off, seal must write exactly the bytes prepare / engine / finish
// write, leave the SA in the same state, and open with the OpenSSL
// reference, and open must take the packet back as the engine path does
// (test::decrypt compares the two on every inbound test); seal's refusals
// leave the buffer and the SA as they were.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/esp/esp.h"
#include "tests/dataplane/esp/esp_test_util.h"

namespace tcpsec::esp {
namespace {

using crypto::Algorithm;
using test::Bytes;
using test::Fam;
using test::Frame;
using test::SaSpec;

class EspSeal : public ::testing::TestWithParam<test::RoundTrip> {};

TEST_P(EspSeal, SameBytesAsTheEnginePath) {
  const test::RoundTrip& c = GetParam();
  // With ESN the packets cross 2^32: seq_hi in the AAD goes from 0 to 1.
  const SaSpec spec = test::round_trip_spec(c.alg, c.mode, c.outer, c.esn);
  // Two SAs with the same keys and state: one per path.
  auto engine_sa = test::make_sa(spec);
  auto sealed_sa = test::make_sa(spec);
  ASSERT_TRUE(esp_outbound_direct(*sealed_sa->out));

  for (size_t i = 0; i < std::size(test::kRoundTripPayloads); ++i) {
    SCOPED_TRACE("packet " + std::to_string(i));
    const Bytes inner = test::round_trip_inner(c.inner, i);
    const Bytes want = test::encrypt(*engine_sa, inner);

    Frame f(inner);
    ASSERT_EQ(esp_outbound_seal(f.buf(), test::parse(inner), *sealed_sa->out, test::engine()),
              DropReason::kNone);
    const Bytes got = f.copy();
    EXPECT_TRUE(got == want) << "sealed packet differs from the engine path's";
    EXPECT_EQ(sealed_sa->out->seq, engine_sa->out->seq);
    EXPECT_EQ(sealed_sa->out->packets, engine_sa->out->packets);
    EXPECT_EQ(sealed_sa->out->bytes, engine_sa->out->bytes);

    // And independently: the OpenSSL reference opens it back to the inner packet.
    const net::IpPacketInfo out = test::parse(got);
    const uint64_t seq = sealed_sa->out->seq;
    auto plain = test::reference_open(*sealed_sa, std::span(got).subspan(out.l3_length),
                                      static_cast<uint32_t>(seq >> 32), c.esn);
    ASSERT_TRUE(plain.has_value()) << "ICV does not verify";
    const net::IpPacketInfo in = test::parse(inner);
    const Bytes data =
        c.mode == EspMode::kTunnel ? inner : Bytes(inner.begin() + in.l3_length, inner.end());
    EXPECT_TRUE(plain->data == data);

    // Back in through esp_inbound_open (and the engine path, which must
    // agree: test::decrypt runs both): the original packet.
    const test::InResult back = test::decrypt(*sealed_sa, got);
    ASSERT_EQ(back.drop, DropReason::kNone);
    EXPECT_TRUE(back.out == inner);
  }
  EXPECT_EQ(sealed_sa->in->packets, std::size(test::kRoundTripPayloads));
}

INSTANTIATE_TEST_SUITE_P(AllGcm, EspSeal,
                         ::testing::ValuesIn(test::round_trips({Algorithm::kAesGcm128,
                                                                Algorithm::kAesGcm256})),
                         [](const auto& info) { return test::round_trip_name(info.param); });

TEST(EspSealRefusals, LeaveBufferAndSaUnchanged) {
  SaSpec s;
  auto sa = test::make_sa(s);
  const Bytes inner = test::make_inner({});
  const net::IpPacketInfo info = test::parse(inner);
  auto refuse = [&](Frame& f, const net::IpPacketInfo& i, EspSaOut& out, DropReason want) {
    const auto before = f.snapshot();
    const uint64_t seq = out.seq;
    const uint64_t packets = out.packets;
    EXPECT_EQ(esp_outbound_seal(f.buf(), i, out, test::engine()), want);
    EXPECT_TRUE(f.snapshot() == before);
    EXPECT_EQ(out.seq, seq);
    EXPECT_EQ(out.packets, packets);
  };
  const uint16_t front = 20 + 8 + 8;
  const uint16_t back = esp_overhead(*sa->out, static_cast<uint16_t>(inner.size())) - front;
  Frame no_head(inner, front - 1, 200);
  refuse(no_head, info, *sa->out, DropReason::kEncapNoHeadroom);
  Frame no_tail(inner, 128, static_cast<uint16_t>(back - 1));
  refuse(no_tail, info, *sa->out, DropReason::kEncapNoTailroom);
  Frame exact(inner, front, back);  // exactly enough
  EXPECT_EQ(esp_outbound_seal(exact.buf(), info, *sa->out, test::engine()), DropReason::kNone);
  EXPECT_EQ(exact.buf().headroom(), 0);
  EXPECT_EQ(exact.buf().tailroom(), 0);

  Frame f(inner);
  net::IpPacketInfo bad = info;
  bad.packet_length = static_cast<uint16_t>(inner.size() + 1);
  refuse(f, bad, *sa->out, DropReason::kEncapBadInner);

  const uint64_t seq = sa->out->seq;
  sa->out->seq = 0xffffffffu;  // no ESN: the last number is spent
  refuse(f, info, *sa->out, DropReason::kEspSeqExhausted);
  sa->out->seq = seq;
  sa->out->lifetime.hard_packets = sa->out->packets;
  refuse(f, info, *sa->out, DropReason::kEspSaExpired);

  EspSaOut empty;
  refuse(f, info, empty, DropReason::kEspNoSa);

  // Keys wiped under the SA (replaced while a burst was being built): the
  // engine's path counts a crypto error, and so does this one, before
  // anything is consumed.
  auto wiped = test::make_sa(s);
  wiped->keys_out->wipe();
  refuse(f, info, *wiped->out, DropReason::kEspCryptoError);

  // Not an AES-GCM SA: the engine's path only.
  SaSpec cbc;
  cbc.alg = Algorithm::kAesCbc128HmacSha256;
  auto csa = test::make_sa(cbc);
  EXPECT_FALSE(esp_outbound_direct(*csa->out));
  refuse(f, info, *csa->out, DropReason::kEspCryptoError);
  SaSpec chacha;
  chacha.alg = Algorithm::kChaCha20Poly1305;
  auto xsa = test::make_sa(chacha);
  EXPECT_FALSE(esp_outbound_direct(*xsa->out));
  refuse(f, info, *xsa->out, DropReason::kEspCryptoError);

  // esp_inbound_open too: a CBC SA's packet is left alone, SA untouched.
  EXPECT_FALSE(esp_inbound_direct(*csa->in));
  const Bytes cbc_packet = test::encrypt(*csa, inner);
  Frame g(cbc_packet);
  const auto before = g.snapshot();
  const uint64_t top = csa->in->window.top();
  EspOp op;
  EXPECT_EQ(esp_inbound_open(g.buf(), test::parse(cbc_packet), *csa->in, op, test::engine()),
            DropReason::kEspCryptoError);
  EXPECT_TRUE(g.snapshot() == before);
  EXPECT_EQ(csa->in->window.top(), top);
  EXPECT_EQ(csa->in->packets, 0u);
}

}  // namespace
}  // namespace tcpsec::esp
