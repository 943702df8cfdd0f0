// Message IDs of a responder IkeDaemon (RFC 7296 2.1, 2.2): a retransmitted
// request is answered with the same response bytes and changes nothing; a
// request with an old or a future message ID, or with a bad ICV, gets no
// answer and leaves the IKE SA working.
//
// The daemon runs on a MockDataplaneLink and is driven synchronously
// (handle_for_test); the peer is an initiator IkeSa driven with the ikesa
// tasks in the test itself, so every byte it sends is under the test's
// control (replays, forged ICVs).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/config/gateway_config.h"
#include "controlplane/daemon/ike_daemon.h"
#include "controlplane/ikesa/ike_auth.h"
#include "controlplane/ikesa/ike_init.h"
#include "controlplane/link/mock_dataplane_link.h"
#include "controlplane/message/message_codec.h"
#include "tests/controlplane/daemon/site_config.h"

namespace tcpsec::daemon {
namespace {

constexpr const char* kUs = testing::kSiteB;
constexpr const char* kPeer = testing::kSiteA;

v1::GatewayConfig config(bool responder) {
  const std::string text = testing::site_config_text(responder);
  auto parsed = ikeconfig::parse_gateway_config(text, ikeconfig::ConfigFormat::kText, "test");
  EXPECT_TRUE(parsed) << parsed.error();
  EXPECT_TRUE(ikeconfig::validate_gateway_config(*parsed));
  return ikeconfig::with_defaults(*parsed);
}

v1::PacketIn packet(const ike::Bytes& ike, uint32_t port) {
  v1::PacketIn p;
  p.set_transport(v1::TRANSPORT_UDP);
  p.set_port("public");
  p.set_local_address(kUs);
  p.set_peer_address(kPeer);
  p.set_local_port(port);
  p.set_peer_port(port);
  p.set_ike(std::string(ike.begin(), ike.end()));
  return p;
}

ike::Bytes bytes_of(const std::string& s) {
  return ike::Bytes(s.begin(), s.end());
}

class MessageIds : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.set_event_sink([this](const v1::GatewayEvent& e) { events_.push_back(e.kind()); });
    ASSERT_TRUE(daemon_.start());
    peer_.path().local_address = kPeer;
    peer_.path().peer_address = kUs;
  }

  // Delivers `message` and returns what the daemon sent back.
  std::vector<ike::Bytes> exchange(const ike::Bytes& message, uint32_t port = 4500) {
    std::vector<ike::Bytes> out;
    for (const auto& p : exchange_packets(message, port)) out.push_back(bytes_of(p.ike()));
    return out;
  }
  std::vector<v1::PacketOut> exchange_packets(const ike::Bytes& message, uint32_t port) {
    daemon_.handle_for_test(packet(message, port));
    return link_.take_sent();
  }

  // IKE_SA_INIT: returns the request; the peer holds the keys afterwards.
  ike::Bytes ike_sa_init() {
    ike::Message m;
    EXPECT_TRUE(init_.build_request(peer_, ctx_, m.payloads));
    m.header.initiator_spi = peer_.spi_i();
    m.header.exchange = ike::ExchangeType::kIkeSaInit;
    m.header.initiator = true;
    auto request = ike::serialize(m);
    EXPECT_TRUE(request);
    peer_.init_request = *request;
    auto out = exchange(*request, 500);
    EXPECT_EQ(out.size(), 1u);
    if (out.size() != 1) return {};
    auto response = ike::parse(out[0]);
    EXPECT_TRUE(response);
    peer_.set_spi_r(response->header.responder_spi);
    peer_.init_response = out[0];
    EXPECT_TRUE(init_.process_response(peer_, ctx_, response->payloads));
    return *request;
  }

  // IKE_AUTH request (message ID 1) with the first Child SA.
  ike::Bytes ike_auth_request() {
    std::vector<ike::Payload> payloads;
    EXPECT_TRUE(auth_.build_request(peer_, ctx_, payloads));
    auto m = peer_.protect(ike::ExchangeType::kIkeAuth, false, 1, payloads);
    EXPECT_TRUE(m);
    return *m;
  }

  ike::Bytes informational(uint32_t message_id) {
    auto m = peer_.protect(ike::ExchangeType::kInformational, false, message_id, {});
    EXPECT_TRUE(m);
    return *m;
  }

  int count(const std::string& kind) const {
    return static_cast<int>(std::count(events_.begin(), events_.end(), kind));
  }

  link::MockDataplaneLink link_;
  IkeDaemon daemon_{config(true), link_};
  std::vector<std::string> events_;
  // The peer (initiator): its own config, a mock link for its Child SA.
  v1::GatewayConfig peer_config_ = config(false);
  link::MockDataplaneLink peer_link_;
  uint32_t priority_ = 1000;
  uint32_t child_id_ = 1;
  ikesa::TaskContext ctx_{
      .link = peer_link_,
      .config = peer_config_,
      .event = [](const std::string&, const std::string&, const std::string&) {},
      .next_policy_priority = &priority_,
      .next_child_id = &child_id_};
  ikesa::IkeSa peer_{peer_config_.connections(0), true, 0x0123456789abcdefull};
  ikesa::IkeInit init_{true};
  ikesa::IkeAuth auth_{true};
};

TEST_F(MessageIds, RetransmittedIkeAuthGetsTheSameResponseBytes) {
  ike_sa_init();
  ike::Bytes request = ike_auth_request();
  auto first = exchange(request);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(count("ike_up"), 1);
  const size_t applied = link_.applied().size();
  // The response was "lost": the peer sends the same request again.
  for (int i = 0; i < 3; ++i) {
    auto again = exchange(request);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0], first[0]) << "retransmission " << i;
  }
  EXPECT_EQ(link_.applied().size(), applied);  // no second Child SA installed
  EXPECT_EQ(count("ike_up"), 1);
  EXPECT_EQ(count("child_up"), 1);
  // And the response is a good one.
  auto inner = peer_.open(first[0]);
  ASSERT_TRUE(inner) << inner.error();
  EXPECT_TRUE(auth_.process_response(peer_, ctx_, *inner));
}

TEST_F(MessageIds, RetransmittedIkeSaInitGetsTheIkeSaInitResponse) {
  ike::Bytes init = ike_sa_init();
  // Before IKE_AUTH: the IKE_SA_INIT response again, the same bytes.
  auto again = exchange(init, 500);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0], peer_.init_response);
  ASSERT_EQ(exchange(ike_auth_request()).size(), 1u);
  // After IKE_AUTH: still the IKE_SA_INIT response (never the IKE_AUTH one).
  again = exchange(init, 500);
  for (const auto& b : again) EXPECT_EQ(b, peer_.init_response);
}

TEST_F(MessageIds, OldAndFutureMessageIdsAreDropped) {
  ike_sa_init();
  ike::Bytes auth = ike_auth_request();
  ASSERT_EQ(exchange(auth).size(), 1u);
  // Message ID 2: answered.
  ike::Bytes dpd2 = informational(2);
  auto r2 = exchange(dpd2);
  ASSERT_EQ(r2.size(), 1u);
  auto opened = peer_.open(r2[0]);
  ASSERT_TRUE(opened) << opened.error();
  // Now expecting 3: the IKE_AUTH request (1) is old, no answer; nor for 5
  // (in the future: no window beyond one request).
  EXPECT_TRUE(exchange(auth).empty());
  EXPECT_TRUE(exchange(informational(5)).empty());
  EXPECT_TRUE(exchange(informational(0)).empty());
  // 2 again is a retransmission: the same response bytes.
  auto again = exchange(dpd2);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0], r2[0]);
  // The SA still works: 3 is answered, and it is still up.
  EXPECT_EQ(exchange(informational(3)).size(), 1u);
  EXPECT_EQ(count("ike_down"), 0);
  EXPECT_EQ(count("ike_up"), 1);
}

TEST_F(MessageIds, BadIcvIsNotAnsweredAndTheSaStillComesUp) {
  ike_sa_init();
  ike::Bytes auth = ike_auth_request();
  ike::Bytes forged = auth;
  forged.back() ^= 0x01;  // the ICV's last byte
  EXPECT_TRUE(exchange(forged).empty());
  forged = auth;
  forged[forged.size() - 20] ^= 0x80;  // ciphertext
  EXPECT_TRUE(exchange(forged).empty());
  EXPECT_EQ(count("ike_up"), 0);
  // The genuine request still gets through.
  ASSERT_EQ(exchange(auth).size(), 1u);
  EXPECT_EQ(count("ike_up"), 1);
}

TEST_F(MessageIds, UnknownSpiAndGarbageAreDropped) {
  ike::Bytes init = ike_sa_init();
  ike::Bytes auth = ike_auth_request();
  ike::Bytes unknown = auth;
  unknown[8] ^= 0xff;  // responder SPI: not ours
  EXPECT_TRUE(exchange(unknown).empty());
  EXPECT_TRUE(exchange(ike::Bytes{0x00, 0x01, 0x02}).empty());
  ike::Bytes truncated(init.begin(), init.begin() + 40);
  EXPECT_TRUE(exchange(truncated, 500).empty());
  ASSERT_EQ(exchange(auth).size(), 1u);
  EXPECT_EQ(count("ike_up"), 1);
}

TEST_F(MessageIds, HalfOpenSaExpires) {
  ike_sa_init();
  ike::Bytes auth = ike_auth_request();
  daemon_.tick_for_test();  // not yet
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  daemon_.tick_for_test();
  // Forgotten: its IKE_AUTH finds no SA.
  EXPECT_TRUE(exchange(auth).empty());
  EXPECT_EQ(count("ike_up"), 0);
}

TEST_F(MessageIds, UnauthenticatedCopiesDoNotMoveThePeersPorts) {
  ike_sa_init();
  ike::Bytes auth = ike_auth_request();
  auto first = exchange_packets(auth, 4500);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].peer_port(), 4500u);
  // A forged request (bad ICV) from another port: no answer.
  ike::Bytes forged = informational(2);
  forged.back() ^= 1;
  EXPECT_TRUE(exchange_packets(forged, 6666).empty());
  // A copy of the IKE_AUTH request from yet another port: the cached
  // response, still to 4500 (where the authenticated request came from).
  auto again = exchange_packets(auth, 7777);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].peer_port(), 4500u);
  EXPECT_EQ(again[0].local_port(), 4500u);
  EXPECT_EQ(again[0].ike(), first[0].ike());
  // An authentic request from a new port moves IKE there (NAT rebinding).
  auto moved = exchange_packets(informational(2), 4501);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].peer_port(), 4501u);
}

}  // namespace
}  // namespace tcpsec::daemon
