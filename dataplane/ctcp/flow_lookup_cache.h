// FlowLookupCache: one worker's memory of recent ConnectionTable::lookup_flow
// answers, so that the segments of a few busy connections do not each probe
// the flow hash and compare its 44-byte keys.
//
// Direct-mapped by ports and peer address. An entry (a miss included) is
// used only while the table's flow_generation() is what it was when the
// entry was made: adds and removals change it, a removal before the record's
// grace period starts, so a cached ConnId is one lookup_flow would return
// now, or one this reader may still use until its next quiescent state -
// what lookup_flow itself guarantees. One cache per reader thread and table.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "dataplane/ctcp/connection_table.h"

namespace tcpsec::ctcp {

class FlowLookupCache {
 public:
  ConnId lookup(const ConnectionTable& table, const FlowKey& key) {
    if (&table != table_) {  // another table's generations mean nothing here
      entries_ = {};
      table_ = &table;
    }
    const uint64_t generation = table.flow_generation();  // before the lookup, if any
    uint32_t peer;
    std::memcpy(&peer, key.peer.bytes.data(), sizeof peer);
    const uint32_t h = peer ^ (uint32_t{key.local_port} << 16 | key.peer_port);
    Entry& e = entries_[(h ^ (h >> 7) ^ (h >> 17)) % kEntries];
    if (e.generation == generation && e.key == key) return e.id;
    const ConnId id = table.lookup_flow(key);
    e.generation = generation;
    e.key = key;
    e.id = id;
    return id;
  }

  static constexpr uint32_t kEntries = 64;

 private:
  struct Entry {
    uint64_t generation = 0;  // 0: empty (generations start at 1)
    FlowKey key;
    ConnId id = kNoConn;
  };
  std::array<Entry, kEntries> entries_{};
  const ConnectionTable* table_ = nullptr;
};

}  // namespace tcpsec::ctcp
