// SaTable: the SPI -> SA index map of the security association database,
// and the allocator of those indices.
//
// The table is generic: it does not hold the SA records (keys, sequence
// numbers, counters). The caller owns a pool of records indexed 0..max_sas-1
// (the ESP code's hot records) and this table
//  * hands out free indices and maps keys to them (add),
//  * finds the index of an arriving ESP packet (lookup, lookup_bulk),
//  * takes a removed SA's key away at once and returns its index to the
//    free pool only after an RCU grace period (remove), so a reader that
//    found the index before the removal may keep using the record until its
//    next quiescent state.
//
// Keys (SaKey): an SPI alone, or an SPI and the local (outer destination)
// address, for an SPI that is in use on several of our addresses (RFC 4301
// 4.1: the SAD lookup may use the destination address). A lookup with the
// packet's SPI and destination tries (SPI, destination) first, then the SPI
// alone. One table per direction: inbound SAs by the SPI we chose, and, if
// the caller wants it, outbound SAs by the SPI the peer chose.
//
// A lookup is one rte_hash probe by SPI; only SPIs that also have SAs keyed
// by address take a second probe by (SPI, destination).
//
// Readers (worker lcores) never lock: rte_hash with lock-free read/write
// concurrency and one rte_rcu_qsbr variable for the hash slots and the
// index pool (as ConnectionTable). Writers serialise on an internal lock;
// they are never on the per-packet path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include "common/status.h"
#include "dataplane/net/ip_address.h"

namespace tcpsec::sad {

using SaIndex = uint32_t;
inline constexpr SaIndex kNoSa = UINT32_MAX;

// A hash key: raw bytes without padding.
struct SaKey {
  uint32_t spi = 0;        // host byte order
  net::IpAddress local{};  // family kNone: the SPI alone

  static SaKey of(uint32_t spi) { return SaKey{spi, net::IpAddress{}}; }
  static SaKey of(uint32_t spi, const net::IpAddress& local) { return SaKey{spi, local}; }
  bool has_local() const { return local.family != net::IpFamily::kNone; }
  friend bool operator==(const SaKey&, const SaKey&) = default;
};
static_assert(sizeof(SaKey) == 24);
static_assert(std::has_unique_object_representations_v<SaKey>);

class SaTable {
 public:
  struct Options {
    std::string name = "sad";   // rte_hash / ring names derive from it: 1..15 characters, unique
    uint32_t max_sas = 4096;    // indices 0..max_sas-1
    uint32_t max_readers = 16;  // reader threads that may register with RCU
    int socket_id = -1;         // SOCKET_ID_ANY
    // Called when a removed SA's grace period is over, just before its
    // index may be handed out again: no reader can hold the record any more
    // (wipe its keys here). Runs on a writer thread, under the table's
    // lock: it must not call back into the table.
    void (*on_free)(void* context, SaIndex index) = nullptr;
    void* on_free_context = nullptr;
  };

  static Expected<std::unique_ptr<SaTable>> create(const Options& options);
  ~SaTable();
  SaTable(const SaTable&) = delete;
  SaTable& operator=(const SaTable&) = delete;

  // ---- readers (any thread registered with register_reader) ----
  // The index for `spi` arriving on `local`: (spi, local), else spi alone.
  // `local` of family kNone looks up the SPI alone.
  SaIndex lookup(uint32_t spi, const net::IpAddress& local) const;
  // The index for exactly this key (no fallback).
  SaIndex lookup_exact(const SaKey& key) const;
  // lookup() for a burst: out[i] for keys[i] (key.local = the packet's
  // destination, or kNone). Any size; no allocation.
  void lookup_bulk(std::span<const SaKey> keys, std::span<SaIndex> out) const;
  uint32_t capacity() const { return max_sas_; }
  // Changes whenever a key is added, replaced or removed, before a removed
  // index's grace period starts: a lookup's answer stays right while this
  // is unchanged, within the reader's grace periods (SaLookupCache). Never 0.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  uint32_t size() const;  // SAs added and not removed

  // RCU: each reader registers once and reports a quiescent state between
  // bursts (holding no SaIndex or record across it).
  Status register_reader(unsigned thread_id);
  void unregister_reader(unsigned thread_id);
  void quiescent(unsigned thread_id);

  // ---- writers (slow path) ----
  // Takes a free index, lets `init(index)` fill the caller's record, then
  // publishes the key: readers never see the index before the record is
  // ready. Fails (and calls nothing) if the key exists or no index is free.
  template <typename Init>
  Expected<SaIndex> add(const SaKey& key, Init&& init) {
    return add_impl(
        key, [](void* f, SaIndex i) { (*static_cast<std::remove_reference_t<Init>*>(f))(i); },
        const_cast<void*>(static_cast<const void*>(&init)));
  }
  Expected<SaIndex> add(const SaKey& key) { return add_impl(key, nullptr, nullptr); }
  // Maps an existing key to a new index filled by `init(index)`, in one
  // atomic store for readers (no window without the key); the old index is
  // retired as by remove(). Returns the new index; fails (calling nothing)
  // if the key is not mapped or no index is free.
  template <typename Init>
  Expected<SaIndex> replace(const SaKey& key, Init&& init) {
    return replace_impl(
        key, [](void* f, SaIndex i) { (*static_cast<std::remove_reference_t<Init>*>(f))(i); },
        const_cast<void*>(static_cast<const void*>(&init)));
  }
  // Indices free now (after reclaiming what its grace period allows).
  uint32_t available();
  // Unmaps the key now; the index is reused after a grace period.
  Status remove(const SaKey& key);
  Status remove(SaIndex index);
  // Hands indices whose grace period is over back to the pool (and calls
  // on_free). add() does this by itself when it runs out.
  void reclaim();
  // Removed SAs whose index still waits for a grace period.
  uint32_t pending() const;
  // The key an index was added with (slow path: dumps, counters).
  std::optional<SaKey> key_of(SaIndex index) const;

 private:
  struct Impl;
  explicit SaTable(const Options& options);
  Expected<SaIndex> add_impl(const SaKey& key, void (*init)(void*, SaIndex), void* context);
  Expected<SaIndex> replace_impl(const SaKey& key, void (*init)(void*, SaIndex), void* context);
  uint32_t max_sas_ = 0;
  std::atomic<uint64_t> generation_{1};
  std::unique_ptr<Impl> impl_;
};

}  // namespace tcpsec::sad
