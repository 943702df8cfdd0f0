// Two IkeDaemons negotiate with each other through MockDataplaneLinks: a
// pump carries each PacketOut of one to the other as a PacketIn (and can
// lose UDP, or everything, to play a hostile network). Checks what each
// daemon installs in its "dataplane": mirrored SPIs and keys, policies,
// encapsulation; and the failure paths (wrong PSK, no common proposal,
// dead peer, UDP blocked -> pseudo-TCP, delete).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "controlplane/config/gateway_config.h"
#include "controlplane/daemon/ike_daemon.h"
#include "controlplane/link/mock_dataplane_link.h"
#include "tests/controlplane/daemon/daemon_pair.h"

namespace tcpsec::daemon {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::Pump;
using testing::Side;

constexpr const char* kA = "192.0.2.10";
constexpr const char* kB = "192.0.2.20";

v1::GatewayConfig config(bool a_side, const std::string& psk, const std::string& ike,
                         const std::string& extra_connection = "") {
  std::string me = a_side ? kA : kB, peer = a_side ? kB : kA;
  std::string text = R"(
    dataplane_socket: "/nonexistent/dp.sock"
    connections {
      name: "site"
      local_address: ")" +
                     me + R"("
      remote_address: ")" +
                     peer + R"("
      local_id: "fqdn:)" +
                     (a_side ? "a" : "b") + R"(.test"
      remote_id: "fqdn:)" +
                     (a_side ? "b" : "a") + R"(.test"
      ike_proposals: ")" +
                     ike + R"("
      esp_proposals: "aes128gcm16"
      local_ts: ")" + (a_side ? "10.1.0.0/24" : "10.2.0.0/24") +
                     R"("
      remote_ts: ")" +
                     (a_side ? "10.2.0.0/24" : "10.1.0.0/24") + R"("
      auto_start: )" +
                     (a_side ? "true" : "false") + "\n" + extra_connection + R"(
    }
    secrets { ids: "fqdn:)" +
                     (a_side ? "b" : "a") + R"(.test" secret: ")" + psk + R"(" }
    timers { retransmit_ms: 100 retransmit_tries: 3 }
  )";
  auto parsed = ikeconfig::parse_gateway_config(text, ikeconfig::ConfigFormat::kText, "test");
  EXPECT_TRUE(parsed) << parsed.error();
  auto s = ikeconfig::validate_gateway_config(*parsed);
  EXPECT_TRUE(s) << s.message();
  return ikeconfig::with_defaults(*parsed);
}

const v1::SecurityAssociation* find_sa(const std::vector<v1::ApplyRequest>& applied,
                                       v1::Direction d) {
  for (const auto& r : applied)
    for (const auto& sa : r.add_sas())
      if (sa.direction() == d) return &sa;
  return nullptr;
}

const v1::SecurityAssociation* find_sa_in(const v1::ApplyRequest& r, v1::Direction d) {
  for (const auto& sa : r.add_sas())
    if (sa.direction() == d) return &sa;
  return nullptr;
}

constexpr const char* kPsk = "a shared secret of some length";

TEST(IkeDaemon, TunnelComesUpWithMirroredChildSa) {
  Side a(config(true, kPsk, "aes128-sha256-ecp256")),
      b(config(false, kPsk, "aes128-sha256-ecp256"));
  Pump pump(a, b);
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return a.saw("child_up") && b.saw("ike_up"); }))
      << "A:\n"
      << a.event_text() << "B:\n"
      << b.event_text();
  auto sas_a = a.link.applied(), sas_b = b.link.applied();
  const auto* a_out = find_sa(sas_a, v1::DIRECTION_OUTBOUND);
  const auto* a_in = find_sa(sas_a, v1::DIRECTION_INBOUND);
  const auto* b_out = find_sa(sas_b, v1::DIRECTION_OUTBOUND);
  const auto* b_in = find_sa(sas_b, v1::DIRECTION_INBOUND);
  ASSERT_TRUE(a_out && a_in && b_out && b_in);
  // What one side encrypts with, the other decrypts with.
  EXPECT_EQ(a_out->spi(), b_in->spi());
  EXPECT_EQ(b_out->spi(), a_in->spi());
  EXPECT_EQ(a_out->encryption_key(), b_in->encryption_key());
  EXPECT_EQ(b_out->encryption_key(), a_in->encryption_key());
  EXPECT_NE(a_out->encryption_key(), b_out->encryption_key());
  EXPECT_EQ(a_out->encryption_key().size(), 20u);  // AES-GCM-128 key + salt
  EXPECT_EQ(a_out->algorithm(), v1::ESP_ALGORITHM_AES_GCM_128);
  EXPECT_EQ(a_out->tunnel_local(), kA);
  EXPECT_EQ(a_out->tunnel_peer(), kB);
  EXPECT_FALSE(a_out->encapsulation().has_udp());  // no NAT between them
  EXPECT_EQ(a_in->selector().local_prefixes(0), "10.1.0.0/24");
  EXPECT_EQ(a_in->selector().remote_prefixes(0), "10.2.0.0/24");
  // Outbound PROTECT policy naming the outbound SA.
  bool policy = false;
  for (const auto& r : sas_a)
    for (const auto& p : r.set_policies())
      policy |= p.direction() == v1::DIRECTION_OUTBOUND && p.sa_spi() == a_out->spi() &&
                p.action() == v1::POLICY_ACTION_PROTECT;
  EXPECT_TRUE(policy);
  auto list = a.daemon->list();
  ASSERT_EQ(list.ike_sas_size(), 1);
  EXPECT_EQ(list.ike_sas(0).state(), "ESTABLISHED");
  EXPECT_EQ(list.ike_sas(0).remote_id(), "fqdn:b.test");
  EXPECT_EQ(list.ike_sas(0).children_size(), 1);
}

TEST(IkeDaemon, DifferentDhGroupFirstGetsInvalidKeAndRetries) {
  // A prefers modp2048 but B accepts only ecp256: INVALID_KE_PAYLOAD, retry.
  Side a(config(true, kPsk, "aes128-sha256-modp2048-ecp256")),
      b(config(false, kPsk, "aes128-sha256-ecp256"));
  Pump pump(a, b);
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return a.saw("ike_up"); })) << a.event_text() << b.event_text();
  EXPECT_TRUE(b.saw("invalid_ke")) << b.event_text();
  EXPECT_NE(a.daemon->list().ike_sas(0).proposal().find("ecp256"), std::string::npos);
}

TEST(IkeDaemon, WrongPskIsRefusedAndNothingInstalled) {
  Side a(config(true, kPsk, "aes128-sha256-ecp256")),
      b(config(false, "another secret, not the same", "aes128-sha256-ecp256"));
  Pump pump(a, b);
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return b.saw("auth_failed") && a.saw("ike_down"); }))
      << a.event_text() << b.event_text();
  EXPECT_TRUE(b.link.applied().empty());
  auto applied_a = a.link.applied();
  EXPECT_TRUE(find_sa(applied_a, v1::DIRECTION_OUTBOUND) == nullptr);
  EXPECT_NE(a.event_text().find("AUTHENTICATION_FAILED"), std::string::npos) << a.event_text();
}

TEST(IkeDaemon, NoCommonProposal) {
  Side a(config(true, kPsk, "aes256gcm16-prfsha384-ecp384")),
      b(config(false, kPsk, "aes128-sha256-modp2048"));
  Pump pump(a, b);
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return a.saw("ike_down") && b.saw("no_proposal"); }))
      << a.event_text() << b.event_text();
  EXPECT_NE(a.event_text().find("NO_PROPOSAL_CHOSEN"), std::string::npos);
}

TEST(IkeDaemon, SilentPeerIsDeclaredDead) {
  Side a(config(true, kPsk, "aes128-sha256-ecp256"));
  a.start();
  // Nobody answers: 1 + 3 retransmissions at 100, 200, 400 ms.
  ASSERT_TRUE(eventually([&] { return a.saw("peer_dead"); }, 4s)) << a.event_text();
  EXPECT_EQ(a.link.take_sent().size() >= 4, true);
}

TEST(IkeDaemon, AutoFallsBackToPseudoTcpWhenUdpIsDropped) {
  std::string transport =
      "transport { encapsulation: IKE_ENCAPSULATION_AUTO remote_tcp_port: 4443 }";
  Side a(config(true, kPsk, "aes128-sha256-ecp256", transport)),
      b(config(false, kPsk, "aes128-sha256-ecp256"));
  Pump pump(a, b);
  pump.drop = [](const v1::PacketOut& p) { return p.transport() == v1::TRANSPORT_UDP; };
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return a.saw("child_up"); }, 8s))
      << a.event_text() << b.event_text();
  EXPECT_TRUE(a.saw("fallback_to_tcp"));
  EXPECT_GE(pump.udp_seen.load(), 2);  // the UDP tries (auto_fallback_retransmits 2)
  auto applied_a = a.link.applied(), applied_b = b.link.applied();
  const auto* out = find_sa(applied_a, v1::DIRECTION_OUTBOUND);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->encapsulation().has_pseudo_tcp());
  const auto* b_out = find_sa(applied_b, v1::DIRECTION_OUTBOUND);
  ASSERT_TRUE(b_out);
  EXPECT_TRUE(b_out->encapsulation().has_pseudo_tcp());  // the responder answers the same way
  EXPECT_EQ(a.daemon->list().ike_sas(0).transport(), "pseudo_tcp");
}

TEST(IkeDaemon, TerminateDeletesOnBothSides) {
  Side a(config(true, kPsk, "aes128-sha256-ecp256")),
      b(config(false, kPsk, "aes128-sha256-ecp256"));
  Pump pump(a, b);
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return a.saw("child_up") && b.saw("ike_up"); }));
  EXPECT_EQ(a.daemon->terminate("site"), 1u);
  ASSERT_TRUE(eventually([&] { return a.saw("ike_down") && b.saw("ike_down"); }))
      << a.event_text() << b.event_text();
  for (Side* s : {&a, &b}) {
    bool deleted = false;
    for (const auto& r : s->link.applied()) deleted |= r.delete_sas_size() == 2;
    EXPECT_TRUE(deleted);
    EXPECT_EQ(s->daemon->list().ike_sas_size(), 0);
  }
}

}  // namespace
}  // namespace tcpsec::daemon

namespace tcpsec::daemon {
namespace {

// The requests after the first `skip` ones.
std::vector<v1::ApplyRequest> since(Side& s, size_t skip) {
  auto all = s.link.applied();
  return {all.begin() + static_cast<long>(std::min(skip, all.size())), all.end()};
}

void up(Side& a, Side& b, Pump& pump) {
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return a.saw("child_up") && b.saw("ike_up"); }))
      << a.event_text() << b.event_text();
}

// Child SA rekey, make-before-break on both sides: the initiator adds the
// new pair and moves its policies in one request, then deletes only the
// old SAs; the responder adds the new pair, and moves the policies in the
// same request that deletes the old pair.
void check_child_rekey(Side& initiator, Side& responder, const std::string& esp_with) {
  size_t ni = initiator.link.applied().size(), nr = responder.link.applied().size();
  auto applied_before = initiator.link.applied();
  uint32_t old_out = find_sa(applied_before, v1::DIRECTION_OUTBOUND)->spi();
  ASSERT_TRUE(initiator.daemon->rekey("site", false));
  ASSERT_TRUE(eventually([&] {
    return since(initiator, ni).size() >= 2 && since(responder, nr).size() >= 2;
  })) << initiator.event_text()
      << responder.event_text();
  auto ri = since(initiator, ni), rr = since(responder, nr);
  // Initiator: 1) new SAs + policies onto the new outbound SA, 2) old SAs out.
  ASSERT_EQ(ri[0].add_sas_size(), 2);
  ASSERT_GE(ri[0].set_policies_size(), 1);
  const auto* new_out = find_sa_in(ri[0], v1::DIRECTION_OUTBOUND);
  EXPECT_EQ(ri[0].set_policies(0).sa_spi(), new_out->spi());
  EXPECT_NE(new_out->spi(), old_out);
  // The old outbound SA goes now; the old inbound one a few seconds later
  // (packets the peer sent on it may still be on their way).
  ASSERT_EQ(ri[1].delete_sas_size(), 1);
  EXPECT_EQ(ri[1].delete_sas(0).direction(), v1::DIRECTION_OUTBOUND);
  EXPECT_EQ(ri[1].delete_policies_size(), 0);  // they belong to the new SA now
  // Responder: 1) new SAs only, 2) policies moved + old SAs out, together.
  ASSERT_EQ(rr[0].add_sas_size(), 2);
  EXPECT_EQ(rr[0].set_policies_size(), 0);
  ASSERT_EQ(rr[1].delete_sas_size(), 1);
  EXPECT_EQ(rr[1].delete_sas(0).direction(), v1::DIRECTION_OUTBOUND);
  ASSERT_GE(rr[1].set_policies_size(), 1);
  const auto* r_new_in = find_sa_in(rr[0], v1::DIRECTION_INBOUND);
  const auto* r_new_out = find_sa_in(rr[0], v1::DIRECTION_OUTBOUND);
  EXPECT_EQ(rr[1].set_policies(0).sa_spi(), r_new_out->spi());
  EXPECT_EQ(r_new_in->spi(), new_out->spi());
  EXPECT_EQ(r_new_in->encryption_key(), new_out->encryption_key());
  EXPECT_TRUE(initiator.saw("child_rekeyed"));
  auto list = initiator.daemon->list();
  ASSERT_EQ(list.ike_sas_size(), 1);
  ASSERT_EQ(list.ike_sas(0).children_size(), 1) << list.DebugString();
  EXPECT_EQ(list.ike_sas(0).children(0).spi_out(), new_out->spi());
  (void)esp_with;
}

TEST(IkeDaemonRekey, ChildSaRekeyByEitherSide) {
  Side a(config(true, kPsk, "aes128-sha256-ecp256")),
      b(config(false, kPsk, "aes128-sha256-ecp256"));
  Pump pump(a, b);
  up(a, b, pump);
  size_t na = a.link.applied().size(), nb = b.link.applied().size();
  check_child_rekey(a, b, "");
  // The deferred removal of the old inbound SAs, on both sides.
  for (auto entry : {std::pair{&a, na}, std::pair{&b, nb}}) {
    // Named copies: lambdas capturing structured bindings are C++20 that
    // clang 14 (the fuzz builds' compiler) does not take.
    Side* side = entry.first;
    const size_t n = entry.second;
    ASSERT_TRUE(eventually(
        [&] {
          for (const auto& r : since(*side, n))
            if (r.delete_sas_size() == 1 && r.delete_sas(0).direction() == v1::DIRECTION_INBOUND)
              return true;
          return false;
        },
        8s));
  }
  check_child_rekey(b, a, "");  // the IKE SA's responder rekeys too
  check_child_rekey(a, b, "");  // and again
}

TEST(IkeDaemonRekey, ChildSaRekeyWithPfs) {
  std::string esp = "esp_proposals: \"aes256gcm16-ecp384\"";
  auto ca = config(true, kPsk, "aes128-sha256-ecp256"),
       cb = config(false, kPsk, "aes128-sha256-ecp256");
  ca.mutable_connections(0)->clear_esp_proposals();
  ca.mutable_connections(0)->add_esp_proposals("aes256gcm16-ecp384");
  cb.mutable_connections(0)->clear_esp_proposals();
  cb.mutable_connections(0)->add_esp_proposals("aes256gcm16-ecp384");
  Side a(ca), b(cb);
  Pump pump(a, b);
  up(a, b, pump);
  check_child_rekey(a, b, esp);
  // The rekeyed SA's keys came from a fresh DH: they differ from the first.
  auto all = a.link.applied();
  EXPECT_NE(find_sa_in(all.front(), v1::DIRECTION_OUTBOUND)->encryption_key(),
            find_sa_in(all[all.size() - 2], v1::DIRECTION_OUTBOUND)->encryption_key());
}

TEST(IkeDaemonRekey, IkeSaRekeyKeepsTheChildSas) {
  Side a(config(true, kPsk, "aes128-sha256-ecp256")),
      b(config(false, kPsk, "aes128-sha256-ecp256"));
  Pump pump(a, b);
  up(a, b, pump);
  auto before = a.daemon->list().ike_sas(0);
  size_t applies = a.link.applied().size();
  ASSERT_TRUE(a.daemon->rekey("site", true));
  ASSERT_TRUE(eventually([&] {
    return a.saw("ike_rekeyed") && b.saw("ike_rekeyed") && a.daemon->list().ike_sas_size() == 1 &&
           b.daemon->list().ike_sas_size() == 1;
  })) << a.event_text()
      << b.event_text();
  auto after = a.daemon->list().ike_sas(0);
  EXPECT_NE(after.initiator_spi(), before.initiator_spi());
  EXPECT_NE(after.responder_spi(), before.responder_spi());
  EXPECT_EQ(b.daemon->list().ike_sas(0).initiator_spi(), after.initiator_spi());
  ASSERT_EQ(after.children_size(), 1);  // the Child SA moved, untouched
  EXPECT_EQ(after.children(0).spi_in(), before.children(0).spi_in());
  EXPECT_EQ(a.link.applied().size(), applies);  // nothing changed in the dataplane
  EXPECT_FALSE(a.saw("ike_down") || b.saw("ike_down")) << a.event_text() << b.event_text();
  // The new IKE SA works: a Child SA rekey over it, then a delete.
  check_child_rekey(b, a, "");
  EXPECT_EQ(a.daemon->terminate("site"), 1u);
  ASSERT_TRUE(eventually([&] { return a.saw("ike_down") && b.saw("ike_down"); }));
}

}  // namespace
}  // namespace tcpsec::daemon

namespace tcpsec::daemon {
namespace {

// RFC 7383: an IKE_AUTH too large for one 1280-byte datagram (many traffic
// selectors) goes as SKF fragments, each authenticated, and is reassembled.
TEST(IkeDaemonFragmentation, LargeIkeAuthIsFragmentedAndReassembled) {
  auto ca = config(true, kPsk, "aes128-sha256-ecp256"),
       cb = config(false, kPsk, "aes128-sha256-ecp256");
  for (auto* c : {ca.mutable_connections(0), cb.mutable_connections(0)}) {
    bool a_side = c == ca.mutable_connections(0);
    c->clear_local_ts();
    c->clear_remote_ts();
    for (int i = 0; i < 60; ++i) {
      std::string mine = "10.1." + std::to_string(i) + ".0/24",
                  theirs = "10.2." + std::to_string(i) + ".0/24";
      c->add_local_ts(a_side ? mine : theirs);
      c->add_remote_ts(a_side ? theirs : mine);
    }
  }
  Side a(ca), b(cb);
  Pump pump(a, b);
  std::atomic<int> fragments{0}, largest{0};
  pump.drop = [&](const v1::PacketOut& p) {
    // Count datagrams that carry an SKF payload (next payload 53 in the header).
    if (p.ike().size() > 16 && static_cast<uint8_t>(p.ike()[16]) == 53) ++fragments;
    largest = std::max<int>(largest, static_cast<int>(p.ike().size()));
    return false;
  };
  up(a, b, pump);
  EXPECT_GE(fragments.load(), 4);  // request and response, 2+ fragments each
  EXPECT_LE(largest.load(), 1280 - 48);
  auto sas_a = a.link.applied();
  int policies = 0;
  for (const auto& r : sas_a) policies += r.set_policies_size();
  EXPECT_GE(policies, 1);
  EXPECT_EQ(a.daemon->list().ike_sas(0).state(), "ESTABLISHED");
}

}  // namespace
}  // namespace tcpsec::daemon
