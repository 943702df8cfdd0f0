// libFuzzer target for tcpsec-ike's packet handling (IkeDaemon): whatever
// arrives from the dataplane as a PacketIn, before and after an IKE SA
// exists. A fresh daemon (responder, one connection, PSK, on a mock
// DataplaneLink) per input, driven synchronously through
// IkeDaemon::handle_for_test() / tick_for_test() (no threads).
//
// Byte 0 of the input picks what the rest is:
//   0: one datagram over UDP 500 to a daemon with no IKE SA;
//   1: the same over pseudo-TCP;
//   2: mid-exchange: a valid IKE_SA_INIT (made by an initiator IkeSa here,
//      with the ikesa tasks) first, then the input as a datagram with its
//      first 16 bytes overwritten by the half-open SA's SPIs, so the SA is
//      found and the message-ID checks and the SK/ICV path are reached;
//   3: mid-exchange, authentic: byte 1 = exchange type, byte 2 = flags
//      (bit 0: response; bits 1-2: message ID 0..3), byte 3 = the first inner
//      payload type, the rest an inner payload chain; when the chain parses
//      it is protected with the initiator's keys (a valid ICV), so the
//      tasks behind SK (IKE_AUTH, INFORMATIONAL, CREATE_CHILD_SA) see it.
//      It is delivered twice (the second time as a retransmission);
//   4: the same once the IKE SA is up (a valid IKE_AUTH with a Child SA
//      first), message ID 1 + bits 1-2 of byte 2 (2 expected): INFORMATIONAL
//      deletes, CREATE_CHILD_SA rekeys of the Child SA and the IKE SA.
// After the input, a timer tick. The daemon must not crash, leak, or hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "controlplane/config/gateway_config.h"
#include "controlplane/daemon/ike_daemon.h"
#include "controlplane/ikesa/ike_auth.h"
#include "controlplane/ikesa/ike_init.h"
#include "controlplane/ikesa/ike_sa.h"
#include "controlplane/link/mock_dataplane_link.h"
#include "controlplane/message/message_codec.h"
#include "tests/controlplane/daemon/site_config.h"

namespace {

using namespace tcpsec;

constexpr const char* kUs = daemon::testing::kSiteB;
constexpr const char* kPeer = daemon::testing::kSiteA;

v1::GatewayConfig make_config(bool responder) {
  const std::string text = daemon::testing::site_config_text(responder, "dpd_delay_s: 1");
  auto parsed = ikeconfig::parse_gateway_config(text, ikeconfig::ConfigFormat::kText, "fuzz");
  if (!parsed) std::abort();
  if (!ikeconfig::validate_gateway_config(*parsed)) std::abort();
  return ikeconfig::with_defaults(*parsed);
}

const v1::GatewayConfig& responder_config() {
  static const v1::GatewayConfig c = make_config(true);
  return c;
}
const v1::GatewayConfig& initiator_config() {
  static const v1::GatewayConfig c = make_config(false);
  return c;
}

v1::PacketIn packet(std::span<const uint8_t> ike, bool tcp, uint32_t port = 500) {
  v1::PacketIn p;
  p.set_transport(tcp ? v1::TRANSPORT_PSEUDO_TCP : v1::TRANSPORT_UDP);
  p.set_port("public");
  p.set_local_address(kUs);
  p.set_peer_address(kPeer);
  p.set_local_port(port);
  p.set_peer_port(port);
  p.set_ike(std::string(ike.begin(), ike.end()));
  return p;
}

struct Peer {
  link::MockDataplaneLink link;
  uint32_t priority = 1000;
  uint32_t child_id = 1;
  ikesa::TaskContext ctx{.link = link,
                         .config = initiator_config(),
                         .event = [](const std::string&, const std::string&, const std::string&) {},
                         .next_policy_priority = &priority,
                         .next_child_id = &child_id};
  ikesa::IkeSa sa{initiator_config().connections(0), true, 0x0123456789abcdefull};
};

// A valid IKE_SA_INIT from `peer` to `daemon`; true when the daemon
// answered and `peer` holds the keys.
bool ike_sa_init(daemon::IkeDaemon& d, link::MockDataplaneLink& dl, Peer& peer) {
  peer.sa.path().local_address = kPeer;
  peer.sa.path().peer_address = kUs;
  ikesa::IkeInit init(true);
  ike::Message m;
  if (!init.build_request(peer.sa, peer.ctx, m.payloads)) return false;
  m.header.initiator_spi = peer.sa.spi_i();
  m.header.exchange = ike::ExchangeType::kIkeSaInit;
  m.header.initiator = true;
  auto request = ike::serialize(m);
  if (!request) return false;
  peer.sa.init_request = *request;
  d.handle_for_test(packet(*request, false));
  auto sent = dl.take_sent();
  if (sent.size() != 1) return false;
  const std::string& r = sent[0].ike();
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(r.data()), r.size());
  auto response = ike::parse(bytes);
  if (!response) return false;
  peer.sa.set_spi_r(response->header.responder_spi);
  peer.sa.init_response.assign(bytes.begin(), bytes.end());
  return static_cast<bool>(init.process_response(peer.sa, peer.ctx, response->payloads)) &&
         !init.restart();
}

// A valid IKE_AUTH (message ID 1) with a Child SA; true when the daemon
// answered and `peer` accepted the answer.
bool ike_auth(daemon::IkeDaemon& d, link::MockDataplaneLink& dl, Peer& peer) {
  ikesa::IkeAuth auth(true);
  std::vector<ike::Payload> payloads;
  if (!auth.build_request(peer.sa, peer.ctx, payloads)) return false;
  auto request = peer.sa.protect(ike::ExchangeType::kIkeAuth, false, 1, payloads);
  if (!request) return false;
  d.handle_for_test(packet(*request, false, 4500));
  auto sent = dl.take_sent();
  if (sent.size() != 1) return false;
  const std::string& r = sent[0].ike();
  auto inner = peer.sa.open({reinterpret_cast<const uint8_t*>(r.data()), r.size()});
  return inner && auth.process_response(peer.sa, peer.ctx, *inner) && peer.sa.children.size() == 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 5;
  std::span<const uint8_t> rest(data + 1, size - 1);
  link::MockDataplaneLink link;
  daemon::IkeDaemon d(responder_config(), link);
  if (!d.start()) std::abort();
  if (mode <= 1) {
    d.handle_for_test(packet(rest, mode == 1));
    d.tick_for_test();
    return 0;
  }
  Peer peer;
  if (!ike_sa_init(d, link, peer)) std::abort();  // a valid IKE_SA_INIT must be answered
  if (mode == 2) {
    std::string bytes(rest.begin(), rest.end());
    if (bytes.size() >= 16) {
      auto spis = ikesa::spi_bytes(peer.sa.spi_i());
      auto spir = ikesa::spi_bytes(peer.sa.spi_r());
      bytes.replace(0, 8, reinterpret_cast<const char*>(spis.data()), 8);
      bytes.replace(8, 8, reinterpret_cast<const char*>(spir.data()), 8);
    }
    auto b = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    d.handle_for_test(packet(b, false, 4500));
    d.tick_for_test();
    return 0;
  }
  if (rest.size() < 3) return 0;
  if (mode == 4 && !ike_auth(d, link, peer)) std::abort();  // a valid IKE_AUTH must work
  auto exchange = static_cast<ike::ExchangeType>(rest[0]);
  const bool response = rest[1] & 1;
  const uint32_t message_id = ((rest[1] >> 1) & 3) + (mode == 4 ? 1 : 0);
  auto inner = ike::parse_payload_chain(static_cast<ike::PayloadType>(rest[2]), rest.subspan(3));
  if (!inner) return 0;
  auto message = peer.sa.protect(exchange, response, message_id, *inner);
  if (!message) return 0;
  d.handle_for_test(packet(*message, false, 4500));
  d.handle_for_test(packet(*message, false, 4500));
  d.tick_for_test();
  return 0;
}
