// DropReason: why the dataplane refused a packet. One counter per reason, per
// lcore; the fast path counts and never logs. Names are what operators see in
// counters dumps, so they are stable.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tcpsec {

#define TCPSEC_DROP_REASONS(X)                                                     \
  X(kNone, "none")                                                                 \
  /* L2 / L3 parsing */                                                            \
  X(kEthTruncated, "eth_truncated")                                                \
  X(kEthUnknownType, "eth_unknown_type")                                           \
  X(kIpTruncated, "ip_truncated")                                                  \
  X(kIpBadVersion, "ip_bad_version")                                               \
  X(kIpBadHeaderLength, "ip_bad_header_length")                                    \
  X(kIpBadTotalLength, "ip_bad_total_length")                                      \
  X(kIpBadChecksum, "ip_bad_checksum")                                             \
  X(kIpFragment, "ip_fragment")                                                    \
  X(kIpv6ExtHeaderTruncated, "ipv6_ext_header_truncated")                          \
  X(kIpv6ExtHeaderUnsupported, "ipv6_ext_header_unsupported")                      \
  X(kIpNotForUs, "ip_not_for_us")                                                  \
  X(kIpUnsupportedProto, "ip_unsupported_proto")                                   \
  /* outer TCP of pseudo-TCP */                                                    \
  X(kTcpTruncated, "tcp_truncated")                                                \
  X(kTcpBadDataOffset, "tcp_bad_data_offset")                                      \
  X(kTcpBadChecksum, "tcp_bad_checksum")                                           \
  X(kTcpBadFlags, "tcp_bad_flags")                                                 \
  X(kTcpNoConnection, "tcp_no_connection")                                         \
  X(kTcpNotEstablished, "tcp_not_established")                                     \
  X(kTcpRstOutOfWindow, "tcp_rst_out_of_window")                                   \
  X(kTcpListenerFull, "tcp_listener_full")                                         \
  /* pseudo-TCP trailer and inner packet */                                        \
  X(kCtcpTrailerTruncated, "ctcp_trailer_truncated")                               \
  X(kCtcpTrailerBadZero, "ctcp_trailer_bad_zero")                                  \
  X(kCtcpTrailerBadDirection, "ctcp_trailer_bad_direction")                        \
  X(kCtcpTrailerBadMagic, "ctcp_trailer_bad_magic")                                \
  X(kCtcpTrailerBadProto, "ctcp_trailer_bad_proto")                                \
  X(kCtcpAhIpcompRefused, "ctcp_ah_ipcomp_refused")                                \
  X(kCtcpInnerUdpTruncated, "ctcp_inner_udp_truncated")                            \
  X(kCtcpInnerUdpBadLength, "ctcp_inner_udp_bad_length")                           \
  X(kCtcpInnerEspTruncated, "ctcp_inner_esp_truncated")                            \
  X(kCtcpInnerBadSpi, "ctcp_inner_bad_spi")                                        \
  /* encapsulation (outbound) */                                                   \
  X(kEncapNoHeadroom, "encap_no_headroom")                                         \
  X(kEncapNoTailroom, "encap_no_tailroom")                                         \
  X(kEncapBadInner, "encap_bad_inner")                                             \
  X(kEncapTooBig, "encap_too_big")                                                 \
  X(kEncapNoConnection, "encap_no_connection")                                     \
  X(kEncapHandshakeFailed, "encap_handshake_failed")                               \
  X(kEncapHoldQueueFull, "encap_hold_queue_full")                                  \
  X(kEncapPeerWindowFull, "encap_peer_window_full")                                \
  X(kEncapPortsExhausted, "encap_ports_exhausted")                                 \
  /* PMTU */                                                                       \
  X(kPmtuExceededDf, "pmtu_exceeded_df")                                           \
  X(kPmtuFragmentFailed, "pmtu_fragment_failed")                                   \
  /* local plumbing */                                                             \
  X(kArpMalformed, "arp_malformed")                                                \
  X(kNdMalformed, "nd_malformed")                                                  \
  X(kIcmpMalformed, "icmp_malformed")                                              \
  X(kArpNotForUs, "arp_not_for_us")                                                \
  X(kNdNotForUs, "nd_not_for_us")                                                  \
  X(kIcmpUnsupportedType, "icmp_unsupported_type")                                 \
  X(kIcmpBadSource, "icmp_bad_source")                                             \
  X(kNoRoute, "no_route")                                                          \
  X(kNeighborUnresolved, "neighbor_unresolved")                                    \
  X(kMultiSegment, "multi_segment")                                                \
  X(kTxFull, "tx_full")                                                            \
  X(kNoMbuf, "no_mbuf")                                                            \
  /* IPsec path */                                                                 \
  X(kSpdDiscard, "spd_discard")                                                    \
  X(kSpdNoPolicy, "spd_no_policy")                                                 \
  X(kNatKeepalive, "nat_keepalive")                                                \
  X(kUdpEncapBad, "udp_encap_bad")                                                 \
  X(kHandoffFull, "handoff_full")                                                  \
  X(kTtlExceeded, "ttl_exceeded")                                                  \
  /* ESP (RFC 4303): dataplane/esp */                                              \
  X(kEspTruncated, "esp_truncated")                                                \
  X(kEspBadLength, "esp_bad_length")                                               \
  X(kEspNoSa, "esp_no_sa")                                                         \
  X(kEspReplay, "esp_replay")                                                      \
  X(kEspReplayTooOld, "esp_replay_too_old")                                        \
  X(kEspBadIcv, "esp_bad_icv")                                                     \
  X(kEspBadPadding, "esp_bad_padding")                                             \
  X(kEspBadNextHeader, "esp_bad_next_header")                                      \
  X(kEspDummyPacket, "esp_dummy_packet")                                           \
  X(kEspBadInner, "esp_bad_inner")                                                 \
  X(kEspEcnCeNotEct, "esp_ecn_ce_not_ect")                                         \
  X(kEspTransportFragment, "esp_transport_fragment")                               \
  X(kEspSeqExhausted, "esp_seq_exhausted")                                         \
  X(kEspSaExpired, "esp_sa_expired")                                               \
  X(kEspPolicyMismatch, "esp_policy_mismatch")                                     \
  X(kEspCryptoError, "esp_crypto_error")                                           \
  X(kIkePuntFull, "ike_punt_full")                                                 \
  X(kIkeInjectBad, "ike_inject_bad")

enum class DropReason : uint8_t {
#define TCPSEC_DROP_ENUM(e, n) e,
  TCPSEC_DROP_REASONS(TCPSEC_DROP_ENUM)
#undef TCPSEC_DROP_ENUM
      kCount
};

inline constexpr std::array<std::string_view, static_cast<size_t>(DropReason::kCount)>
    kDropReasonNames = {
#define TCPSEC_DROP_NAME(e, n) n,
        TCPSEC_DROP_REASONS(TCPSEC_DROP_NAME)
#undef TCPSEC_DROP_NAME
};

constexpr std::string_view drop_reason_name(DropReason r) {
  return kDropReasonNames[static_cast<size_t>(r)];
}

// Per-lcore drop counters; summed by the reader, never shared by writers.
struct alignas(64) DropCounters {
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> count{};
  void add(DropReason r, uint64_t n = 1) { count[static_cast<size_t>(r)] += n; }
  uint64_t get(DropReason r) const { return count[static_cast<size_t>(r)]; }
};

}  // namespace tcpsec
