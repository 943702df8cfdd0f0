// SaLookupCache: one worker's memory of recent SaTable lookups, so that a
// burst of packets for the same few SAs does not probe the hash (and compare
// its 24-byte keys) once per packet.
//
// Direct-mapped by SPI. An entry is the table's answer (misses included) as
// of its generation(): it is used only while the table's generation is
// unchanged. Every add, replace and removal changes it before a removed
// index's grace period starts, so a cached index is one a fresh lookup would
// return now, or one this reader may still use until its next quiescent
// state - the same guarantee SaTable::lookup gives. One cache per reader
// thread and table; no locks, no atomics besides the generation's load.
#pragma once

#include <array>
#include <cstdint>

#include "dataplane/net/ip_address.h"
#include "dataplane/sad/sa_table.h"

namespace tcpsec::sad {

class SaLookupCache {
 public:
  // SaTable::lookup(spi, local), remembered.
  SaIndex lookup(const SaTable& table, uint32_t spi, const net::IpAddress& local) {
    if (&table != table_) {  // another table's generations mean nothing here
      entries_ = {};
      table_ = &table;
    }
    const uint64_t generation = table.generation();  // before the lookup, if there is one
    Entry& e = entries_[(spi ^ (spi >> 12) ^ (spi >> 24)) % kEntries];
    if (e.generation == generation && e.spi == spi && e.local == local) return e.index;
    const SaIndex index = table.lookup(spi, local);
    e.generation = generation;
    e.spi = spi;
    e.index = index;
    e.local = local;
    return index;
  }

 private:
  struct Entry {
    uint64_t generation = 0;  // 0: empty (generations start at 1)
    uint32_t spi = 0;
    SaIndex index = kNoSa;
    net::IpAddress local;
  };
  static constexpr uint32_t kEntries = 64;
  std::array<Entry, kEntries> entries_{};
  const SaTable* table_ = nullptr;
};

}  // namespace tcpsec::sad
