// Worker: one run-to-completion lcore. It polls its RX queues, handles each
// burst to completion (local plumbing, pseudo-TCP in and out) and transmits
// on its own TX queue of every port, so no two lcores share a queue.
//
// Worker 0 also runs the connection timers (SYN retransmits, handshake
// timeouts, grace and idle closes) between bursts.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "dataplane/crypto/crypto_engine.h"
#include "dataplane/ctcp/flow_lookup_cache.h"
#include "dataplane/ctcp/framing.h"
#include "dataplane/esp/esp.h"
#include "dataplane/net/destination_cache.h"
#include "dataplane/pipeline/gateway.h"
#include "dataplane/spd/spd_flow_cache.h"
#include "dataplane/stats/counters.h"
#include "dataplane/stats/drop_reason.h"

namespace tcpsec::pipeline {

struct RxQueue {
  uint16_t port;
  uint16_t queue;
};

struct WorkerOptions {
  unsigned index = 0;       // also the RCU reader id and the TX queue used on every port
  std::vector<RxQueue> rx;  // queues this worker polls
  uint16_t burst = 32;
  uint32_t idle_sleep_us = 0;  // back-off when a whole poll round found nothing
  bool run_timers = false;
  // Benchmark baseline: forward every frame unchanged to port (in + 1) %
  // ports, one TX burst per RX burst, nothing else (workers.plain_forward).
  bool plain_forward = false;
};

class Worker {
 public:
  static constexpr uint16_t kMaxBurst = 256;
  static constexpr uint16_t kMaxPorts = 16;
  // Fragments one packet may become before encryption: a 9216-byte jumbo
  // packet into a 576-byte MTU less the ESP overhead takes 19.
  static constexpr uint16_t kMaxFragments = 32;

  Worker(Gateway& gateway, WorkerOptions options);
  // Slow-path setup that can fail (the crypto engine): call before run().
  Status init();
  // Polls until the gateway's stop flag is set. Registers with RCU itself.
  void run();
  // One poll round over every RX queue; returns packets received. Public for tests.
  unsigned poll_once();
  void run_timers(uint64_t now);
  // Retransmits or times out one handshake; false once it is no longer one.
  bool handshake_timer(ctcp::ConnId id, ctcp::Connection& c, uint64_t now);

  const Counters& counters() const { return counters_; }
  const DropCounters& drops() const { return drops_; }

 private:
  void handle_frame(const Interface& in, rte_mbuf* m);
  void handle_arp(const Interface& in, rte_mbuf* m);
  void handle_ipv4(const Interface& in, rte_mbuf* m);
  void handle_ipv6(const Interface& in, rte_mbuf* m);
  void public_input(const Interface& in, rte_mbuf* m, net::IpPacketInfo& info);
  bool handle_icmp_to_us(const Interface& in, rte_mbuf* m, const net::IpPacketInfo& info);

  // Pseudo-TCP receive side (public port, segment addressed to us).
  // `info`: the packet as parsed on arrival (not parsed again).
  void ctcp_input(const Interface& in, rte_mbuf* m, const net::IpPacketInfo& info);
  void ctcp_data(ctcp::ConnId id, ctcp::Connection& c, rte_mbuf* m, const ctcp::TcpSegment& seg);
  void ctcp_no_connection(const Interface& in, rte_mbuf* m, const ctcp::TcpSegment& seg,
                          const ctcp::FlowKey& key);
  void ctcp_establish(ctcp::ConnId id, ctcp::Connection& c, uint64_t now);
  void ctcp_close(ctcp::ConnId id, ctcp::Connection& c, bool send_rst, CloseReason reason);
  void post_connection_event(ControlEventType type, const ctcp::Connection& c, CloseReason reason);
  void learn_ike(ctcp::ConnId id, ctcp::Connection& c, rte_mbuf* inner);

  // Pseudo-TCP send side (IKE/ESP from the local port towards a peer).
  void local_input(rte_mbuf* m);
  // `sa`: the packet is ESP this worker just built for that SA (its headers
  // are not verified again; it leaves through the SA's egress cache).
  void ctcp_output(ctcp::ConnId id, ctcp::Connection& c, rte_mbuf* m, OutboundSa* sa = nullptr);
  // Opens a connection to a configured TCP peer for an IKE SA (ike_spi) or
  // an outbound ESP SA (esp_spi); the first packet waits for the handshake.
  // `remote_port` (non-zero) connects to that port of a peer that need not
  // be configured.
  ctcp::ConnId ctcp_open(const net::IpAddress& local, const net::IpAddress& peer, uint64_t ike_spi,
                         uint32_t esp_spi = 0, uint16_t remote_port = 0);

  // The control plane's packet stream (control_path.cc): IKE up while a
  // stream is attached (else to the LOCAL port), IKE down and connection
  // closes from worker 0's queue.
  void punt_ike(rte_mbuf* m, IkeTransport transport, ctcp::ConnId id);
  void drain_injected();
  void inject_ctcp(rte_mbuf* m, uint16_t remote_port);

  // Protected traffic (protected_path.cc): a burst from the protected port,
  // its usual frames classified in two passes, the rest by handle_frame.
  void protected_burst(const Interface& in, rte_mbuf* const* pkts, uint16_t n);
  // The usual frame (Ethernet, 20-byte IPv4 header, whole, TTL > 1, not a
  // fragment, not for us): its parse and SPD key. False for any other.
  bool protected_plain_v4(const rte_mbuf* m, net::IpPacketInfo& info,
                          spd::SpdFlowCache::Words& key) const;
  // The same for IPv6 (no extension header, TCP or UDP, hop limit > 1).
  bool protected_plain_v6(const rte_mbuf* m, net::IpPacketInfo& info,
                          spd::SpdFlowCache6::Words& key) const;
  void protected_input(rte_mbuf* m, const net::IpPacketInfo& info);
  // Flow cache, else queued for the burst's rte_acl call.
  void spd_classify4(rte_mbuf* m, const net::IpPacketInfo& info,
                     const spd::SpdFlowCache::Words& key);
  void spd_classify6(rte_mbuf* m, const net::IpPacketInfo& info,
                     const spd::SpdFlowCache6::Words& key);

  // IPsec (esp_path.cc): packets are collected per direction and run through
  // the crypto engine once per burst.
  void public_udp_input(rte_mbuf* m, net::IpPacketInfo& info);
  void esp_input(rte_mbuf* m, const net::IpPacketInfo& outer);
  // esp_input for a packet whose inbound SA is already known.
  void esp_input_to(rte_mbuf* m, const net::IpPacketInfo& outer, sad::SaIndex idx);
  // `outer`: the ESP packet as parsed on arrival (it is not parsed again).
  void esp_in_add(rte_mbuf* m, uint32_t sa_index, const net::IpPacketInfo& outer);
  // `info`: the packet as parsed on arrival (it is not parsed again).
  void esp_out_add(rte_mbuf* m, OutboundSa* sa, const net::IpPacketInfo& info);
  void esp_out_enqueue(rte_mbuf* m, OutboundSa* sa, const net::IpPacketInfo& info);
  void esp_in_flush();
  void esp_out_flush();
  void esp_sent(rte_mbuf* m, OutboundSa& sa);
  // send_l3_via(m, sa.route) through the SA's egress cache: no route or
  // neighbour lookup while the neighbour table is unchanged.
  void send_via_sa(rte_mbuf* m, OutboundSa& sa);
  void handoff(unsigned owner, rte_mbuf* m, uint32_t key, bool inbound);
  void drain_handoff();

  // Output helpers.
  void send_control(const ctcp::ControlSegment& s);
  void send_l3(rte_mbuf* m);  // route, resolve, add Ethernet, enqueue
  // Route already known. Returns the frame's two MACs (destination, source:
  // 12 bytes, valid until the next call) when it was queued, else nullptr.
  const uint8_t* send_l3_via(rte_mbuf* m, const net::RouteResult& route);
  // Adds the Ethernet header from `macs` (destination, source: 12 bytes) to
  // the IP packet `m` and queues it on `port`; false (dropped) without headroom.
  bool send_with_macs(rte_mbuf* m, uint16_t port, const uint8_t* macs);
  void punt_to_local(rte_mbuf* m);
  void send_packet_too_big(rte_mbuf* offending, uint16_t mtu);
  void solicit(const Interface& out, const net::IpAddress& next_hop);
  void enqueue(uint16_t port, rte_mbuf* m);
  void flush();
  void drop(rte_mbuf* m, DropReason r);

  Gateway& gw_;
  WorkerOptions opt_;
  Counters counters_;
  DropCounters drops_;
  uint64_t next_timer_tsc_ = 0;
  uint64_t burst_tsc_ = 0;  // rte_rdtsc() at the start of this poll: "now" for per-packet stamps
  // SPI -> SA answers of the IPsec tables, kept while the tables are unchanged.
  sad::SaLookupCache inbound_sas_;
  sad::SaLookupCache outbound_sas_;
  // Flow -> connection answers for pseudo-TCP segments, kept while unchanged.
  ctcp::FlowLookupCache flows_;
  uint32_t timer_cursor_ = 0;   // connection sweep position
  net::MacAddress rx_src_mac_;  // source MAC of the frame being handled
  struct TxQueue {
    uint16_t count = 0;
    std::array<rte_mbuf*, kMaxBurst * 2> pkts;
  };
  std::array<TxQueue, kMaxPorts> tx_{};
  // Packets waiting for ARP/ND of their next hop.
  static constexpr uint16_t kMaxPending = 32;
  struct Pending {
    rte_mbuf* m;
    uint64_t since;
  };
  std::array<Pending, kMaxPending> pending_{};
  uint16_t pending_count_ = 0;
  uint64_t last_retry_tsc_ = 0;
  void retry_unresolved(uint64_t now);
  // Resolved next hops of send_l3_via, per worker (direct-mapped): the two
  // MACs of the frame, valid while the neighbour table's generation() is
  // still `generation` (0: empty). Saves the table's hash and probe.
  struct NextHopCache {
    uint64_t generation = 0;
    net::IpAddress next_hop;
    uint16_t port = 0;
    uint8_t macs[12] = {};
  };
  static constexpr uint32_t kNextHopCache = 16;
  std::array<NextHopCache, kNextHopCache> next_hops_{};
  // Resolved destinations of send_l3 (egress port and MACs by address).
  net::DestinationCache destinations_;

  // Per-burst ESP batches (parallel arrays: packet, SA, engine op).
  static constexpr uint16_t kEspBatch = 64;
  struct EspInBatch {
    uint16_t n = 0;
    std::array<rte_mbuf*, kEspBatch> m;
    std::array<uint32_t, kEspBatch> sa;
    std::array<net::IpPacketInfo, kEspBatch> info;
    std::array<DropReason, kEspBatch> result;
    std::array<bool, kEspBatch> opened;  // esp_inbound_open: done, no engine pass
    std::array<esp::EspOp, kEspBatch> op;
  };
  struct EspOutBatch {
    uint16_t n = 0;
    std::array<rte_mbuf*, kEspBatch> m;
    std::array<OutboundSa*, kEspBatch> sa;
    std::array<net::IpPacketInfo, kEspBatch> info;
    std::array<DropReason, kEspBatch> result;
    std::array<bool, kEspBatch> sealed;  // esp_outbound_seal: done, no op
    std::array<esp::EspOp, kEspBatch> op;
  };
  // Protected packets awaiting one SPD classification for the burst.
  struct SpdBatch {
    uint16_t n4 = 0;
    uint16_t n6 = 0;
    std::array<rte_mbuf*, kEspBatch> m4, m6;
    std::array<spd::SpdKey4, kEspBatch> k4;
    std::array<spd::SpdKey6, kEspBatch> k6;
    std::array<const spd::SpdKey4*, kEspBatch> p4;
    std::array<const spd::SpdKey6*, kEspBatch> p6;
    std::array<uint32_t, kEspBatch> r4, r6;
    std::array<net::IpPacketInfo, kEspBatch> i4, i6;
  };
  std::unique_ptr<SpdBatch> spd_;
  std::unique_ptr<spd::SpdFlowCache> spd_cache_;    // IPv4 outbound classifications
  std::unique_ptr<spd::SpdFlowCache6> spd_cache6_;  // IPv6
  // protected_burst's IPv6 SPD keys between its passes (10 KB: off the stack).
  std::unique_ptr<std::array<spd::SpdFlowCache6::Words, kMaxBurst>> protected_key6_;
  void spd_flush();
  // The outbound policy's verdict for `m` (a classify() result of `spd`).
  void spd_apply(IpsecState& ips, const spd::Spd& spd, rte_mbuf* m, uint32_t result,
                 const net::IpPacketInfo& info);
  std::unique_ptr<EspInBatch> esp_in_;
  std::unique_ptr<EspOutBatch> esp_out_;
  std::optional<crypto::CryptoEngine> engine_;
};

}  // namespace tcpsec::pipeline
