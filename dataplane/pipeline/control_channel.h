// ControlChannel: what passes between the workers and the control side
// (the gRPC service's threads) without either waiting for the other.
//
//  * punted IKE: workers enqueue IKE datagrams (IP/UDP/IKE, decapsulated
//    from pseudo-TCP when they came that way) while a control plane holds
//    the packet stream; the stream's reader dequeues them.
//  * injected IKE: the stream's writer builds IP/UDP/IKE packets and
//    enqueues them; worker 0 sends them (as UDP or over pseudo-TCP).
//  * events: workers post small fixed-size records (connection closed,
//    handshake failed, ...); the event pump dequeues them.
//
// All three are DPDK rings (multi-producer, single-consumer), so a worker
// never takes a lock here; a full ring is a counted drop, never a wait.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/status.h"
#include "dataplane/net/ip_address.h"

struct rte_mbuf;
struct rte_ring;

namespace tcpsec::pipeline {

enum class ControlEventType : uint8_t {
  kNone,
  kConnectionEstablished,
  kConnectionClosed,
  kHandshakeFailed,
};

enum class CloseReason : uint8_t {
  kNone,
  kReset,
  kFin,
  kIdle,
  kGrace,
  kHandshakeTimeout,
  kDeleted
};

// A worker's event: plain bytes, copied through a ring.
struct ControlEvent {
  ControlEventType type = ControlEventType::kNone;
  CloseReason reason = CloseReason::kNone;
  uint16_t local_port = 0;
  uint16_t peer_port = 0;
  uint64_t tsc = 0;
  net::IpAddress local;
  net::IpAddress peer;
};

// Transport of a punted or injected IKE packet, kept in the mbuf while it
// waits in a ring (hash.fdir.lo), with the connection id or the TCP port
// to open (hash.fdir.hi).
// Also carries the control side's requests to worker 0: close connection
// hash.fdir.hi (with or without an RST).
enum class IkeTransport : uint32_t { kUdp = 1, kPseudoTcp = 2, kClose = 3, kCloseReset = 4 };

class ControlChannel {
 public:
  static constexpr unsigned kPuntRingSize = 1024;
  static constexpr unsigned kInjectRingSize = 1024;
  static constexpr unsigned kEventRingSize = 4096;

  // Ring names get `name_suffix` (one channel per process; tests may make more).
  static Expected<std::unique_ptr<ControlChannel>> create(const char* name_suffix = "");
  ~ControlChannel();
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  // True while a control plane holds the packet stream: IKE goes to it.
  bool attached() const { return attached_.load(std::memory_order_acquire); }
  // Claims the stream; false when another one holds it.
  bool attach() {
    bool expected = false;
    return attached_.compare_exchange_strong(expected, true);
  }
  void detach();  // frees what was punted and not read

  // Workers. False when the ring is full (the caller drops the packet).
  bool punt(rte_mbuf* m);
  // Control side.
  unsigned take_punted(rte_mbuf** out, unsigned n);

  // Control side: false when full (the caller frees the packet).
  bool inject(rte_mbuf* m);
  // Worker 0.
  unsigned take_injected(rte_mbuf** out, unsigned n);

  // Workers; events that find the ring full are counted in lost_events().
  void post(const ControlEvent& e);
  unsigned take_events(ControlEvent* out, unsigned n);
  uint64_t lost_events() const { return lost_events_.load(std::memory_order_relaxed); }

 private:
  ControlChannel() = default;
  std::atomic<bool> attached_{false};
  std::atomic<uint64_t> lost_events_{0};
  rte_ring* punted_ = nullptr;
  rte_ring* injected_ = nullptr;
  rte_ring* events_ = nullptr;
};

}  // namespace tcpsec::pipeline
