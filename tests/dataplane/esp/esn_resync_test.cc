// RFC 4303 Appendix A3: an ESN receiver that lost more than 2^32 packets
// resynchronises after kEspResyncThreshold ICV failures in a row, and only
// on a packet that authenticates in the next 2^32 block.
#include <gtest/gtest.h>

#include "dataplane/esp/esp.h"
#include "tests/dataplane/esp/esp_test_util.h"

namespace tcpsec::esp {
namespace {

using crypto::Algorithm;
using test::Bytes;
using test::SaSpec;

constexpr uint64_t k2To32 = uint64_t{1} << 32;

Bytes inner_packet(uint16_t payload) {
  test::InnerSpec s;
  s.payload = payload;
  return test::make_inner(s);
}

Bytes seal(test::SaPair& sender, const Bytes& inner) {
  return test::encrypt(sender, inner);
}

// The worker's inbound sequence: prepare, engine, finish, and the A3 retry
// for an ICV failure.
test::InResult open(test::SaPair& receiver, const Bytes& pkt) {
  return test::decrypt(receiver, pkt, /*resync=*/true);
}

// A sender 2^32 + 4 packets past a receiver whose window tops at 1000.
struct LostSubspace {
  explicit LostSubspace(Algorithm alg, bool esn = true) {
    SaSpec s;
    s.alg = alg;
    s.esn = esn;
    s.last_seq = (esn ? k2To32 : 0) + 1004;
    sender = test::make_sa(s);
    s.last_seq = 1000;  // same seed: same keys
    receiver = test::make_sa(s);
  }
  std::unique_ptr<test::SaPair> sender, receiver;
};

TEST(EspResync, AfterThresholdFailuresTheNextSubspaceIsTried) {
  for (Algorithm alg : {Algorithm::kAesGcm128, Algorithm::kChaCha20Poly1305,
                        Algorithm::kAesCbc128HmacSha256, Algorithm::kNullHmacSha256}) {
    SCOPED_TRACE(crypto::properties(alg).name);
    LostSubspace t(alg);
    const Bytes inner = inner_packet(60);
    for (uint32_t i = 0; i < kEspResyncThreshold; ++i) {
      test::InResult o = open(*t.receiver, seal(*t.sender, inner));
      EXPECT_EQ(o.drop, DropReason::kEspBadIcv) << i;  // A2 infers the old subspace
      EXPECT_FALSE(o.resynced);
      EXPECT_TRUE(o.unchanged);
    }
    EXPECT_EQ(t.receiver->in->window.top(), 1000u);
    test::InResult o = open(*t.receiver, seal(*t.sender, inner));
    ASSERT_EQ(o.drop, DropReason::kNone);
    EXPECT_TRUE(o.resynced);
    EXPECT_TRUE(test::SameBytes(o.out, inner));
    EXPECT_EQ(t.receiver->in->window.top(), k2To32 + 1005 + kEspResyncThreshold);
    EXPECT_EQ(t.receiver->in->icv_failures, 0u);
    // In step again: the next packet needs no retry.
    o = open(*t.receiver, seal(*t.sender, inner));
    EXPECT_EQ(o.drop, DropReason::kNone);
    EXPECT_FALSE(o.resynced);
  }
}

TEST(EspResync, AnAuthenticPacketResetsTheCount) {
  LostSubspace t(Algorithm::kAesGcm128);
  SaSpec old;
  old.esn = true;
  old.last_seq = 990;  // a straggler still in the receiver's subspace
  auto straggler = test::make_sa(old);
  const Bytes inner = inner_packet(30);
  for (uint32_t i = 0; i < kEspResyncThreshold; ++i) {
    EXPECT_EQ(open(*t.receiver, seal(*t.sender, inner)).drop, DropReason::kEspBadIcv);
  }
  EXPECT_EQ(open(*t.receiver, seal(*straggler, inner)).drop, DropReason::kNone);  // seq 991
  EXPECT_EQ(t.receiver->in->icv_failures, 0u);
  // The count starts again: threshold failures refused before a retry.
  for (uint32_t i = 0; i < kEspResyncThreshold; ++i) {
    test::InResult o = open(*t.receiver, seal(*t.sender, inner));
    EXPECT_EQ(o.drop, DropReason::kEspBadIcv) << i;
    EXPECT_FALSE(o.resynced);
  }
  EXPECT_TRUE(open(*t.receiver, seal(*t.sender, inner)).resynced);
}

TEST(EspResync, ForgeriesPastTheThresholdStayRefused) {
  LostSubspace t(Algorithm::kAesGcm256);
  const Bytes inner = inner_packet(40);
  for (uint32_t i = 0; i < kEspResyncThreshold + 5; ++i) {
    Bytes forged = seal(*t.sender, inner);
    forged[forged.size() - 20] ^= 0x10;  // ciphertext: fails in every subspace
    test::InResult o = open(*t.receiver, forged);
    EXPECT_EQ(o.drop, DropReason::kEspBadIcv) << i;
    EXPECT_FALSE(o.resynced);
    EXPECT_TRUE(o.unchanged) << i;
  }
  EXPECT_EQ(t.receiver->in->window.top(), 1000u);
  EXPECT_EQ(t.receiver->in->icv_failures, kEspResyncThreshold + 5);
}

TEST(EspResync, NotWithoutEsn) {
  // Without ESN there is no hidden high half: a bad ICV is only ever that.
  LostSubspace t(Algorithm::kAesGcm128, /*esn=*/false);
  const Bytes inner = inner_packet(40);
  for (uint32_t i = 0; i < kEspResyncThreshold + 3; ++i) {
    Bytes forged = seal(*t.sender, inner);
    forged.back() ^= 1;  // ICV
    test::InResult o = open(*t.receiver, forged);
    EXPECT_EQ(o.drop, DropReason::kEspBadIcv);
    EXPECT_FALSE(o.resynced);
    EXPECT_TRUE(o.unchanged);
  }
}

}  // namespace
}  // namespace tcpsec::esp
