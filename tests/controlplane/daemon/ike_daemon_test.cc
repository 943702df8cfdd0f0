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

namespace tcpsec::daemon {
namespace {

using namespace std::chrono_literals;

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

// One side: a daemon on a mock link, running on its own thread.
struct Side {
  link::MockDataplaneLink link;
  std::unique_ptr<IkeDaemon> daemon;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<v1::GatewayEvent> events;

  explicit Side(v1::GatewayConfig c) {
    daemon = std::make_unique<IkeDaemon>(std::move(c), link);
    daemon->set_event_sink([this](const v1::GatewayEvent& e) {
      std::lock_guard lock(mu);
      events.push_back(e);
    });
  }
  void start() {
    ASSERT_TRUE(daemon->start());
    thread = std::thread([this] { daemon->run(stop); });
  }
  ~Side() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  bool saw(const std::string& kind) {
    std::lock_guard lock(mu);
    for (const auto& e : events)
      if (e.kind() == kind) return true;
    return false;
  }
  std::string event_text() {
    std::lock_guard lock(mu);
    std::string s;
    for (const auto& e : events) s += e.kind() + ": " + e.message() + "\n";
    return s;
  }
};

v1::PacketIn arrive(const v1::PacketOut& out) {
  v1::PacketIn in;
  in.set_transport(out.transport());
  in.set_port("public");
  in.set_local_address(out.peer_address());
  in.set_peer_address(out.local_address());
  in.set_local_port(out.peer_port());
  in.set_peer_port(out.local_port());
  in.set_ike(out.ike());
  return in;
}

// Carries packets both ways until stopped; `drop(packet)` loses one.
struct Pump {
  Side& a;
  Side& b;
  std::function<bool(const v1::PacketOut&)> drop = [](const v1::PacketOut&) { return false; };
  std::atomic<bool> stop{false};
  std::atomic<int> udp_seen{0}, tcp_seen{0};
  std::thread thread;
  Pump(Side& a_, Side& b_) : a(a_), b(b_) {}
  void start() {
    thread = std::thread([this] {
      while (!stop) {
        for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
          for (const auto& p : from->link.take_sent()) {
            (p.transport() == v1::TRANSPORT_UDP ? udp_seen : tcp_seen)++;
            if (!drop(p)) to->link.deliver(arrive(p));
          }
        }
        std::this_thread::sleep_for(2ms);
      }
    });
  }
  ~Pump() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

template <typename F>
bool eventually(F&& f, std::chrono::milliseconds limit = 5s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

const v1::SecurityAssociation* find_sa(const std::vector<v1::ApplyRequest>& applied,
                                       v1::Direction d) {
  for (const auto& r : applied)
    for (const auto& sa : r.add_sas())
      if (sa.direction() == d) return &sa;
  return nullptr;
}

constexpr const char* kPsk = "a shared secret of some length";

TEST(IkeDaemon, TunnelComesUpWithMirroredChildSa) {
  Side a(config(true, kPsk, "aes128-sha256-ecp256")),
      b(config(false, kPsk, "aes128-sha256-ecp256"));
  Pump pump(a, b);
  pump.start();
  b.start();
  a.start();
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
  pump.start();
  b.start();
  a.start();
  ASSERT_TRUE(eventually([&] { return a.saw("ike_up"); })) << a.event_text() << b.event_text();
  EXPECT_TRUE(b.saw("invalid_ke")) << b.event_text();
  EXPECT_NE(a.daemon->list().ike_sas(0).proposal().find("ecp256"), std::string::npos);
}

TEST(IkeDaemon, WrongPskIsRefusedAndNothingInstalled) {
  Side a(config(true, kPsk, "aes128-sha256-ecp256")),
      b(config(false, "another secret, not the same", "aes128-sha256-ecp256"));
  Pump pump(a, b);
  pump.start();
  b.start();
  a.start();
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
  pump.start();
  b.start();
  a.start();
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
  pump.start();
  b.start();
  a.start();
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
  pump.start();
  b.start();
  a.start();
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
