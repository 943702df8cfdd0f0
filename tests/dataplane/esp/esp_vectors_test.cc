// ESP against scapy, byte for byte (vectors/make_esp_vectors.py): our
// outbound path turns each inner packet into exactly scapy's ESP packet
// (deterministic IVs: the sequence number for the AEADs, E_K(seq || SPI || 0)
// for AES-CBC), and our inbound path turns scapy's packet back into the
// inner one.
#include <gtest/gtest.h>

#include <string>

#include "dataplane/esp/esp.h"
#include "tests/dataplane/esp/esp_test_util.h"
#include "tests/dataplane/esp/vectors/esp_vectors.h"

namespace tcpsec::esp {
namespace {

using test::Frame;
using vectors::EspVector;
using vectors::kEspVectors;

void install(crypto::SaCrypto& keys, const EspVector& v) {
  Status st = keys.install(static_cast<crypto::Algorithm>(v.algorithm), v.cipher_key, v.auth_key);
  ASSERT_TRUE(st.is_ok()) << st.message();
}

class EspVectorTest : public ::testing::TestWithParam<EspVector> {};

TEST_P(EspVectorTest, OutboundMatchesScapy) {
  const EspVector& v = GetParam();
  auto keys = std::make_unique<crypto::SaCrypto>();
  install(*keys, v);
  EspSaOutConfig c;
  c.spi = v.spi;
  c.mode = v.tunnel ? EspMode::kTunnel : EspMode::kTransport;
  c.esn = v.esn;
  if (v.tunnel) {
    c.tunnel_source =
        *net::IpAddress::parse(v.outer_v6 ? vectors::kTunnelV6Source : vectors::kTunnelV4Source);
    c.tunnel_destination = *net::IpAddress::parse(v.outer_v6 ? vectors::kTunnelV6Destination
                                                             : vectors::kTunnelV4Destination);
  }
  c.ttl = vectors::kTunnelTtl;
  c.last_seq = v.seq - 1;
  auto sa = std::make_unique<EspSaOut>();
  Status st = sa->init(c, *keys);
  ASSERT_TRUE(st.is_ok()) << st.message();

  Frame f(v.inner);
  EspOp op;
  ASSERT_EQ(esp_outbound_prepare(f.buf(), test::parse(v.inner), *sa, op), DropReason::kNone);
  esp_process(test::engine(), std::span<EspOp>(&op, 1));
  ASSERT_EQ(esp_outbound_finish(f.buf(), op), DropReason::kNone);
  EXPECT_TRUE(test::SameBytes(f.bytes(), v.encrypted));
  EXPECT_EQ(sa->seq, v.seq);
}

TEST_P(EspVectorTest, InboundRestoresTheInnerPacket) {
  const EspVector& v = GetParam();
  auto keys = std::make_unique<crypto::SaCrypto>();
  install(*keys, v);
  EspSaInConfig c;
  c.spi = v.spi;
  c.mode = v.tunnel ? EspMode::kTunnel : EspMode::kTransport;
  c.esn = v.esn;
  c.replay_window = 64;
  auto sa = std::make_unique<EspSaIn>();
  Status st = sa->init(c, *keys);
  ASSERT_TRUE(st.is_ok()) << st.message();
  if (v.seq > 1) sa->window.update(v.seq - 1);  // the receiver saw the packet before

  Frame f(v.encrypted);
  EspOp op;
  ASSERT_EQ(esp_inbound_prepare(f.buf(), test::parse(v.encrypted), *sa, op), DropReason::kNone);
  EXPECT_EQ(op.seq, v.seq);  // ESN: the high bits inferred
  esp_process(test::engine(), std::span<EspOp>(&op, 1));
  ASSERT_EQ(esp_inbound_finish(f.buf(), op), DropReason::kNone);
  EXPECT_TRUE(test::SameBytes(f.bytes(), v.inner));
  EXPECT_EQ(sa->window.top(), v.seq);
}

INSTANTIATE_TEST_SUITE_P(Scapy, EspVectorTest, ::testing::ValuesIn(kEspVectors),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tcpsec::esp
