// DestinationCache: one worker's memory of where routed packets went - the
// egress port and the frame's two MACs per destination address - so that
// the next packet to the same address skips the route scan, the next hop's
// neighbour probe and building an IpAddress.
//
// Direct-mapped, 256 entries. An entry is valid while the neighbour table's
// generation() is the one it was filled under (read before the lookups that
// filled it); routes never change after start, so nothing else can make it
// stale. One per worker: no locks, no atomics.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "dataplane/net/ip_address.h"

namespace tcpsec::net {

class DestinationCache {
 public:
  static constexpr uint32_t kEntries = 256;

  // The destination address of the IP packet at `ip` (IPv4 or IPv6, by its
  // version nibble) as the cache's key.
  struct Key {
    uint64_t words[2] = {0, 0};
    IpFamily family = IpFamily::kNone;
  };
  static Key key_of(const uint8_t* ip) {
    // Fixed-size loads straight into the words: one copy of a variable
    // length became byte stores that the words' loads then waited for.
    Key k;
    if ((ip[0] >> 4) == 4) {
      uint32_t a;
      std::memcpy(&a, ip + 16, 4);
      k.words[0] = a;
      k.family = IpFamily::kV4;
    } else {
      std::memcpy(&k.words[0], ip + 24, 8);
      std::memcpy(&k.words[1], ip + 32, 8);
      k.family = IpFamily::kV6;
    }
    return k;
  }

  struct Egress {
    uint16_t port;
    const uint8_t* macs;  // destination then source MAC, 12 bytes
  };
  // The egress remembered for `k` under `generation`; false on a miss.
  bool find(const Key& k, uint64_t generation, Egress& out) const {
    const Entry& e = entries_[slot(k)];
    if (e.generation != generation || e.family != k.family || e.words[0] != k.words[0] ||
        e.words[1] != k.words[1]) {
      return false;
    }
    out = {e.port, e.macs};
    return true;
  }
  void insert(const Key& k, uint64_t generation, uint16_t port, const uint8_t* macs) {
    Entry& e = entries_[slot(k)];
    e.generation = generation;
    e.words[0] = k.words[0];
    e.words[1] = k.words[1];
    e.family = k.family;
    e.port = port;
    std::memcpy(e.macs, macs, sizeof e.macs);
  }

 private:
  struct Entry {
    uint64_t generation = 0;  // 0: empty (neighbour generations are never 0)
    uint64_t words[2] = {};
    IpFamily family = IpFamily::kNone;
    uint16_t port = 0;
    uint8_t macs[12] = {};
  };
  static uint32_t slot(const Key& k) {
    static_assert(kEntries == 256);
    // Multiply, fold, multiply: one multiply's top bits left most of a
    // subnet's addresses (which differ in their last bytes) in half the slots.
    uint64_t h = (k.words[0] ^ k.words[1]) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return static_cast<uint32_t>((h * 0x9e3779b97f4a7c15ull) >> 56);
  }
  std::array<Entry, kEntries> entries_{};
};

}  // namespace tcpsec::net
