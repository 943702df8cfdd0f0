// ConnectionTable: every pseudo-TCP connection of the dataplane and the three
// ways to find one.
//
//  * by flow (local IP, peer IP, local port, peer port): inbound segments;
//  * by (local IP, peer IP, IKE initiator SPI): outbound IKE packets; a
//    connection holds two IKE SPI sets so the old IKE SA can still send its
//    delete during a rekey;
//  * by (local IP, peer IP, ESP SPI): outbound ESP packets that carry no flow
//    (connection ID); up to max_sas_per_connection SPIs per connection;
//  * by ConnId, stored in flows and SAs: the fast path.
//
// Readers (worker lcores) never lock: lookups use rte_hash with lock-free
// read/write concurrency, and a removed connection's record is only reused
// after every registered reader has passed a quiescent state (rte_rcu_qsbr).
// Writers (connection setup, control plane) serialise on an internal lock;
// they are never on the per-packet path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/status.h"
#include "dataplane/ctcp/connection.h"

struct rte_rcu_qsbr;

namespace tcpsec::ctcp {

class ConnectionTable {
 public:
  struct Options {
    std::string name = "ctcp";  // prefix for the rte_hash names (must be unique per process)
    uint32_t max_connections = 65536;
    uint32_t max_sas_per_connection = 64;
    uint32_t max_esp_entries = 0;  // 0: max_connections * 4
    uint32_t max_ike_entries = 0;  // 0: max_connections * 2
    uint32_t max_readers = 16;     // reader threads that may register with RCU
    int socket_id = -1;            // SOCKET_ID_ANY
  };

  static Expected<std::unique_ptr<ConnectionTable>> create(const Options& options);
  ~ConnectionTable();
  ConnectionTable(const ConnectionTable&) = delete;
  ConnectionTable& operator=(const ConnectionTable&) = delete;

  // ---- readers (any lcore registered with register_reader) ----
  ConnId lookup_flow(const FlowKey& key) const;
  // Looks up `n` keys at once (rte_hash_lookup_bulk); n <= 64.
  void lookup_flow_bulk(std::span<const FlowKey* const> keys, std::span<ConnId> out) const;
  ConnId lookup_ike(const net::IpAddress& local, const net::IpAddress& peer,
                    uint64_t initiator_spi) const;
  ConnId lookup_esp(const net::IpAddress& local, const net::IpAddress& peer, uint32_t spi) const;
  // Changes whenever an ESP mapping is removed (remove_esp, remove): a ConnId
  // lookup_esp returned stays the answer while this is unchanged, so an SA
  // may keep it (read the generation before the lookup). Never 0.
  uint64_t esp_generation() const { return esp_generation_.load(std::memory_order_acquire); }
  // Changes whenever a flow is added or removed (before a removed record's
  // grace period starts): lookup_flow's answer, a miss included, stays right
  // while this is unchanged (FlowLookupCache). Never 0.
  uint64_t flow_generation() const { return flow_generation_.load(std::memory_order_acquire); }
  Connection& at(ConnId id) { return records_[id]; }
  const Connection& at(ConnId id) const { return records_[id]; }
  uint32_t capacity() const { return options_.max_connections; }
  uint32_t size() const;  // live connections

  // RCU: each reader lcore registers once and reports a quiescent state
  // between bursts (it holds no ConnId or Connection& across that call).
  Status register_reader(unsigned thread_id);
  void unregister_reader(unsigned thread_id);
  void quiescent(unsigned thread_id);

  // ---- writers ----
  // Creates a connection in `state`; fails if the flow exists or the table is full.
  Expected<ConnId> add(const FlowKey& key, ConnState state, uint16_t port_id, bool we_initiated);
  // Maps an IKE SA to a connection. A new initiator SPI becomes current and
  // the previous current set is kept as [1] (the one before is unmapped).
  // Re-adding the current SPI only updates the responder SPI.
  Status add_ike(ConnId id, const IkeSpis& spis);
  Status remove_ike(ConnId id, uint64_t initiator_spi);
  // Maps an outbound ESP SPI to a connection; fails past max_sas_per_connection
  // or when the (local, peer, SPI) is mapped to another connection.
  Status add_esp(ConnId id, uint32_t spi);
  Status remove_esp(ConnId id, uint32_t spi);
  // Unmaps the flow, IKE and ESP keys at once and queues the record for
  // reuse after an RCU grace period. Readers that already hold `id` may
  // still read the record until their next quiescent().
  void remove(ConnId id);
  // Frees records whose grace period has passed (call from the slow path).
  void reclaim();
  // Local port allocation that never collides with another connection of
  // ours for the same (local, peer, peer port): `fixed` if non-zero,
  // otherwise random in [min, max] with a bounded number of tries.
  Expected<uint16_t> pick_local_port(const net::IpAddress& local, const net::IpAddress& peer,
                                     uint16_t peer_port, uint16_t fixed, uint16_t min,
                                     uint16_t max);

  // Visits every live connection (slow path: dumps, timers, counters).
  template <typename F>
  void for_each(F&& f) {
    for (uint32_t i = 0; i < options_.max_connections; ++i) {
      ConnState s = records_[i].state.load(std::memory_order_acquire);
      if (s != ConnState::kFree) f(ConnId{i}, records_[i]);
    }
  }
  // SPIs mapped to a connection (slow path).
  std::span<const uint32_t> esp_spis(ConnId id) const;

 private:
  struct Impl;
  explicit ConnectionTable(const Options& options);
  Options options_;
  Connection* records_ = nullptr;  // rte_zmalloc'd pool of max_connections
  std::atomic<uint64_t> esp_generation_{1};
  std::atomic<uint64_t> flow_generation_{1};
  std::unique_ptr<Impl> impl_;
};

}  // namespace tcpsec::ctcp
