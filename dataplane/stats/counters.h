// Per-lcore packet and event counters (not drops: see drop_reason.h).
// Each lcore owns one Counters block; readers sum them.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tcpsec {

#define TCPSEC_COUNTERS(X)                                    \
  X(kRxPackets, "rx_packets")                                 \
  X(kTxPackets, "tx_packets")                                 \
  X(kCtcpDecapIke, "ctcp_decap_ike")                          \
  X(kCtcpDecapEsp, "ctcp_decap_esp")                          \
  X(kCtcpEncapIke, "ctcp_encap_ike")                          \
  X(kCtcpEncapEsp, "ctcp_encap_esp")                          \
  X(kCtcpKeepalives, "ctcp_keepalives")                       \
  X(kCtcpSynReceived, "ctcp_syn_received")                    \
  X(kCtcpSynSent, "ctcp_syn_sent")                            \
  X(kCtcpEstablished, "ctcp_established")                     \
  X(kCtcpHandshakeFailed, "ctcp_handshake_failed")            \
  X(kCtcpRstSent, "ctcp_rst_sent")                            \
  X(kCtcpRstReceived, "ctcp_rst_received")                    \
  X(kCtcpFinAnsweredWithRst, "ctcp_fin_answered_with_rst")    \
  X(kCtcpChallengeAck, "ctcp_challenge_ack")                  \
  X(kCtcpClosedGrace, "ctcp_closed_no_ike_grace")             \
  X(kCtcpClosedIdle, "ctcp_closed_idle")                      \
  X(kCtcpIkeMapped, "ctcp_ike_mapped")                        \
  X(kCtcpWindowAcks, "ctcp_window_acks")                      \
  X(kCtcpHeld, "ctcp_held_for_handshake")                     \
  X(kCtcpTrailerMagicMismatch, "ctcp_trailer_magic_mismatch") \
  X(kPmtuIcmpSent, "pmtu_icmp_sent")                          \
  X(kPmtuFragmented, "pmtu_fragmented")                       \
  X(kArpReplies, "arp_replies")                               \
  X(kArpRequests, "arp_requests")                             \
  X(kNdAdvertisements, "nd_advertisements")                   \
  X(kNdSolicitations, "nd_solicitations")                     \
  X(kEchoReplies, "echo_replies")                             \
  X(kPuntedToLocal, "punted_to_local")                        \
  X(kEspEncrypted, "esp_encrypted")                           \
  X(kEspDecrypted, "esp_decrypted")                           \
  X(kEspResynced, "esp_resynced")                             \
  X(kSpdBypass, "spd_bypass")                                 \
  X(kSpdCacheHits, "spd_cache_hits")                          \
  X(kEspHandedOff, "esp_handed_off")                          \
  X(kNatKeepalives, "nat_keepalives")                         \
  X(kIkePunted, "ike_punted")                                 \
  X(kIkeInjected, "ike_injected")                             \
  X(kConnectionsDeleted, "connections_deleted")

enum class Counter : uint8_t {
#define TCPSEC_COUNTER_ENUM(e, n) e,
  TCPSEC_COUNTERS(TCPSEC_COUNTER_ENUM)
#undef TCPSEC_COUNTER_ENUM
      kCount
};

inline constexpr std::array<std::string_view, static_cast<size_t>(Counter::kCount)> kCounterNames =
    {
#define TCPSEC_COUNTER_NAME(e, n) n,
        TCPSEC_COUNTERS(TCPSEC_COUNTER_NAME)
#undef TCPSEC_COUNTER_NAME
};

struct alignas(64) Counters {
  std::array<uint64_t, static_cast<size_t>(Counter::kCount)> count{};
  void add(Counter c, uint64_t n = 1) { count[static_cast<size_t>(c)] += n; }
  uint64_t get(Counter c) const { return count[static_cast<size_t>(c)]; }
};

}  // namespace tcpsec
