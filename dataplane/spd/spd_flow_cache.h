// SpdFlowCache: one worker's memory of recent outbound SPD classifications,
// by IPv4 5-tuple, so that the packets of a flow after its first skip the
// rte_acl classification (the largest fixed per-packet cost of the outbound
// path after the cipher, bench/README.md). VPP's IPsec SPD flow cache does
// the same.
//
// Direct-mapped, 1024 entries of 32 bytes (32 KiB per worker). An entry
// holds the classify() result for its key under one Spd, named by its
// epoch(): an Spd never changes and a new policy set is a new Spd with a new
// epoch, so a hit is exactly what classify() would return now, and a policy
// change makes every entry miss at once. A miss costs one probe, then the
// normal burst classification fills the entry. Flows that collide replace
// each other (no chaining: the next packet just classifies again). IPv6 is
// classified every time for now.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "dataplane/spd/spd.h"

namespace tcpsec::spd {

class SpdFlowCache {
 public:
  // A key as the two 64-bit words of its memory image (SpdKey4 is 16 bytes).
  struct Words {
    uint64_t w[2];
  };
  static Words words(const SpdKey4& key) {
    Words k;
    std::memcpy(k.w, &key, sizeof k.w);
    return k;
  }

  // The cached classify() result of `key` under the Spd of `epoch`.
  bool find(uint64_t epoch, const SpdKey4& key, uint32_t& result) const {
    return find(epoch, words(key), result);
  }
  bool find(uint64_t epoch, const Words& k, uint32_t& result) const {
    const Entry& e = entries_[slot(k.w)];
    if (((e.key[0] ^ k.w[0]) | (e.key[1] ^ k.w[1]) | (e.epoch ^ epoch)) != 0) return false;
    result = e.result;
    return true;
  }
  // Starts loading the entry of `k` (the table does not fit in L1): for a
  // packet further down the burst, so its find() does not wait.
  void prefetch(const Words& k) const { __builtin_prefetch(&entries_[slot(k.w)]); }

  void insert(uint64_t epoch, const SpdKey4& key, uint32_t result) {
    uint64_t k[2];
    std::memcpy(k, &key, sizeof k);
    Entry& e = entries_[slot(k)];
    e.key[0] = k[0];
    e.key[1] = k[1];
    e.epoch = epoch;
    e.result = result;
  }

  static constexpr uint32_t kEntries = 4096;

 private:
  static_assert(sizeof(SpdKey4) == 16);
  struct Entry {
    uint64_t key[2] = {0, 0};
    uint64_t epoch = 0;  // 0: empty (published Spds have epochs from 1)
    uint32_t result = 0;
  };
  // Multiplicative hashing of both key words: addresses and ports all reach
  // the top bits.
  static uint32_t slot(const uint64_t k[2]) {
    const uint64_t h = (k[0] * 0x9e3779b97f4a7c15ull) ^ (k[1] * 0xc2b2ae3d27d4eb4full);
    return static_cast<uint32_t>((h ^ (h >> 29)) >> 52);  // top 12 bits: 0..4095
  }
  static_assert(kEntries == 4096);
  std::array<Entry, kEntries> entries_{};
};

}  // namespace tcpsec::spd
