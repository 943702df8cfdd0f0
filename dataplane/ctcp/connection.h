// Connection: the hot record of one pseudo-TCP connection.
//
// Records live in an index pool inside ConnectionTable and are addressed by
// ConnId, which flows (and later SAs) store for the fast path. Sequence
// numbers are atomics so that any worker may send on a connection without a
// lock: fetch_add hands out disjoint sequence ranges, and the receive side
// only ever moves rcv_nxt forward.
#pragma once

#include <atomic>
#include <cstdint>

#include "dataplane/net/ip_address.h"

namespace tcpsec::ctcp {

using ConnId = uint32_t;
inline constexpr ConnId kNoConn = UINT32_MAX;

enum class ConnState : uint8_t {
  kFree = 0,
  kSynSent,      // we initiated; waiting for SYN|ACK
  kSynReceived,  // a listener answered SYN; waiting for ACK
  kEstablished,
  kClosing,  // RST sent or received; waiting for RCU grace before reuse
};

// The lookup key of a connection's segments: addresses and ports as seen
// from this gateway. Packed with no padding so it hashes as raw bytes.
struct FlowKey {
  net::IpAddress local;
  net::IpAddress peer;
  uint16_t local_port = 0;
  uint16_t peer_port = 0;
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};
static_assert(sizeof(FlowKey) == 44);

// IKE SA identity as QuickSec keys it: the initiator SPI, with the
// responder SPI kept for the record (zero until known).
struct IkeSpis {
  uint64_t initiator = 0;
  uint64_t responder = 0;
  bool empty() const { return initiator == 0; }
};

struct alignas(64) Connection {
  // --- read-mostly: set at creation ---
  FlowKey key;
  uint16_t port_id = 0;  // DPDK port the connection lives on
  bool we_initiated = false;
  bool installed = false;  // from configuration or the control plane: no grace/idle timers
  std::atomic<ConnState> state{ConnState::kFree};

  // --- written per packet ---
  alignas(64) std::atomic<uint32_t> snd_nxt{0};  // next sequence number we send
  std::atomic<uint32_t> rcv_nxt{0};              // next sequence we expect (jumps over gaps)
  std::atomic<uint32_t> last_ack_sent{0};        // ack number of our latest segment
  std::atomic<uint32_t> snd_una{0};              // the peer's latest ACK of our sequence
  std::atomic<bool> peer_acks_window{false};     // the peer sent a pure ACK that moved snd_una
  std::atomic<uint64_t> last_rx_tsc{0};
  std::atomic<uint64_t> last_tx_tsc{0};
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> tx_packets{0};

  // --- slow path (writer lock in ConnectionTable) ---
  alignas(64) uint64_t created_tsc = 0;
  uint64_t state_tsc = 0;  // when the state last changed (timeouts)
  uint32_t iss = 0;        // our initial sequence number
  uint8_t syn_retries = 0;
  IkeSpis ike[2];  // [0] current, [1] previous (rekeyed, kept for its delete)
  uint16_t esp_sa_count = 0;
};
static_assert(sizeof(Connection) == 192);

}  // namespace tcpsec::ctcp
