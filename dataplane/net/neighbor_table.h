// NeighborTable: IP -> MAC per DPDK port, learned from ARP and neighbour
// discovery or configured statically.
//
// Lookups are lock-free and may run on any number of worker lcores while
// other lcores learn. Writers (learn, add_static, should_solicit) serialise
// on a spinlock. Entries are few (hundreds), so the table is a fixed-capacity
// open-addressing array allocated once by the constructor:
//
//  * a slot's key (port, IP) is written while the slot is still empty and is
//    never changed afterwards;
//  * the slot is then published by a release store of one 64-bit word that
//    holds the MAC and flags; a relearned MAC overwrites that word in one
//    store, so a reader sees either the old or the new MAC, never a mix;
//  * there is no deletion (a dynamic entry is only ever overwritten), so a
//    reader that finds an empty slot on its probe path can stop there;
//  * every change of an entry (new entry, MAC relearned, static replaced)
//    bumps generation() after the new word is published, so a reader may
//    cache a lookup's MAC for as long as the generation it read *before*
//    that lookup is still current (the per-SA egress cache of the ESP path).
//
// Solicitation rate limiting uses a separate small set-associative table
// under its own lock, so unresolved destinations never take neighbour slots.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/status.h"
#include "dataplane/net/ethernet.h"
#include "dataplane/net/ip_address.h"

namespace tcpsec::net {

class NeighborTable {
 public:
  // `capacity` is the number of neighbours the table holds; it allocates
  // about twice as many slots to keep probe sequences short.
  explicit NeighborTable(uint32_t capacity = 4096);
  NeighborTable(const NeighborTable&) = delete;
  NeighborTable& operator=(const NeighborTable&) = delete;

  // True (and `mac` set) if `ip` on `port` is resolved. Lock-free.
  bool lookup(uint16_t port, const IpAddress& ip, MacAddress& mac) const;

  // Changes whenever an entry is added or its MAC changes (never 0). Read
  // it before lookup(): a cached result is current while it is unchanged.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Records a dynamic entry. Never overrides a static entry; ignored when the
  // table is full (counted by full_count()), or when `ip` has no family or
  // `mac` is zero or multicast. Cheap when nothing changes: no lock is taken
  // if the entry already holds `mac`.
  void learn(uint16_t port, const IpAddress& ip, const MacAddress& mac);

  // Adds or replaces a static entry (which learn() never overrides).
  Status add_static(uint16_t port, const IpAddress& ip, const MacAddress& mac);

  // At most one solicitation per (port, ip) per interval: true if the caller
  // should send an ARP request / neighbour solicitation now. The first call
  // for a destination returns true. The state lives in a bounded cache of
  // recently solicited destinations; under a flood of distinct destinations
  // an evicted one may be solicited again early.
  bool should_solicit(uint16_t port, const IpAddress& ip, uint64_t now_tsc, uint64_t interval_tsc);

  // How many learn() calls found the table full.
  uint64_t full_count() const { return full_count_.load(std::memory_order_relaxed); }
  // Entries held (dynamic and static).
  uint32_t size() const { return size_.load(std::memory_order_relaxed); }
  uint32_t capacity() const { return capacity_; }

  // Calls f(uint16_t port, const IpAddress& ip, const MacAddress& mac,
  // bool is_static) for every entry, for dumps. Safe against concurrent
  // writers (each entry is seen either before or after a change).
  template <typename F>
  void for_each(F&& f) const {
    for (uint32_t i = 0; i <= mask_; ++i) {
      const Slot& s = slots_[i];
      uint64_t w = s.word.load(std::memory_order_acquire);
      if (w == 0) continue;
      f(s.port, s.ip, word_mac(w), (w & kStaticBit) != 0);
    }
  }

 private:
  static constexpr uint64_t kValidBit = uint64_t{1} << 48;
  static constexpr uint64_t kStaticBit = uint64_t{1} << 49;

  struct Slot {
    std::atomic<uint64_t> word{0};  // 0: empty; else MAC | kValidBit [| kStaticBit]
    IpAddress ip;                   // written before the first publish, then constant
    uint16_t port = 0;
  };
  struct SolicitSlot {
    IpAddress ip;
    uint16_t port = 0;
    bool used = false;
    uint64_t last_tsc = 0;
  };
  static constexpr uint32_t kSolicitWays = 4;

  class SpinLock {
   public:
    void lock();
    void unlock() { locked_.store(false, std::memory_order_release); }

   private:
    std::atomic<bool> locked_{false};
  };

  static uint64_t make_word(const MacAddress& mac, bool is_static);
  static MacAddress word_mac(uint64_t w);
  static uint64_t hash(uint16_t port, const IpAddress& ip);
  // The slot holding (port, ip), or the empty slot ending its probe path
  // (nullptr if the table has neither).
  const Slot* find(uint16_t port, const IpAddress& ip) const;
  Slot* find(uint16_t port, const IpAddress& ip) {
    return const_cast<Slot*>(static_cast<const NeighborTable*>(this)->find(port, ip));
  }
  // Under lock_: stores `word` for (port, ip), inserting if needed; static
  // entries are kept unless `is_static`. False if the table is full.
  bool store_locked(uint16_t port, const IpAddress& ip, uint64_t word, bool is_static);

  uint32_t capacity_;
  uint32_t mask_;  // slot count - 1 (power of two)
  std::unique_ptr<Slot[]> slots_;
  std::atomic<uint32_t> size_{0};
  std::atomic<uint64_t> full_count_{0};
  std::atomic<uint64_t> generation_{1};
  SpinLock lock_;

  uint32_t solicit_set_mask_;  // set count - 1
  std::unique_ptr<SolicitSlot[]> solicit_;
  SpinLock solicit_lock_;
};

}  // namespace tcpsec::net
