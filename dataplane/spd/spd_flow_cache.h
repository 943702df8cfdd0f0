// SpdFlowCache: one worker's memory of recent outbound SPD classifications,
// by 5-tuple, so that the packets of a flow after its first skip the rte_acl
// classification (19-28 ns a packet, the largest fixed per-packet cost of
// the outbound path after the cipher: bench/README.md). VPP's IPsec SPD
// flow cache does the same.
//
// Direct-mapped, 4096 entries per family: 32 bytes each for IPv4 (128 KiB
// per worker), 64 for IPv6 (256 KiB). bench/spd_bench: a probe costs ~2 ns
// (IPv4) / ~9 ns (IPv6) against rte_acl's 19 / 26 ns per packet. An entry holds the classify()
// result for its key under one Spd, named by its epoch(): an Spd never changes and a new policy set
// is a new Spd with a new epoch, so a hit is exactly what classify() would return now, and a policy
// change makes every entry miss at once. A miss costs one probe, then the normal burst
// classification fills the entry. Flows that collide replace each other (no chaining: the next
// packet just classifies again).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/spd/spd.h"

namespace tcpsec::spd {

template <typename Key, uint32_t kSlots>
class BasicSpdFlowCache {
  static_assert(sizeof(Key) % 8 == 0 && (kSlots & (kSlots - 1)) == 0);
  static constexpr size_t kWords = sizeof(Key) / 8;

 public:
  static constexpr uint32_t kEntries = kSlots;

  // A key as the 64-bit words of its memory image.
  struct Words {
    uint64_t w[kWords];
  };
  static Words words(const Key& key) {
    Words k;
    std::memcpy(k.w, &key, sizeof k.w);
    return k;
  }

  // The cached classify() result of `key` under the Spd of `epoch`.
  bool find(uint64_t epoch, const Key& key, uint32_t& result) const {
    return find(epoch, words(key), result);
  }
  bool find(uint64_t epoch, const Words& k, uint32_t& result) const {
    const Entry& e = entries_[slot(k)];
    uint64_t diff = e.epoch ^ epoch;
    for (size_t i = 0; i < kWords; ++i) diff |= e.key[i] ^ k.w[i];
    if (diff != 0) return false;
    result = e.result;
    return true;
  }
  // Starts loading the entry of `k` (the table does not fit in L1): for a
  // packet further down the burst, so its find() does not wait.
  void prefetch(const Words& k) const { __builtin_prefetch(&entries_[slot(k)]); }

  void insert(uint64_t epoch, const Key& key, uint32_t result) {
    const Words k = words(key);
    Entry& e = entries_[slot(k)];
    std::memcpy(e.key, k.w, sizeof e.key);
    e.epoch = epoch;
    e.result = result;
  }

 private:
  // Aligned to its power-of-two size (32 bytes for IPv4, 64 for IPv6), so
  // that no entry straddles two cache lines: the prefetch loads one line,
  // and a 56-byte IPv6 entry's second line missed in find() (a quarter of
  // spd_classify6's samples).
  static constexpr size_t kEntryAlign = kWords * 8 + 12 <= 32 ? 32 : 64;
  struct alignas(kEntryAlign) Entry {
    uint64_t key[kWords] = {};
    uint64_t epoch = 0;  // 0: empty (published Spds have epochs from 1)
    uint32_t result = 0;
  };
  static_assert(sizeof(Entry) <= 64);
  // Multiplicative hashing of every key word, each by its own odd constant
  // (independent multiplies, not a chain): addresses and ports all reach the
  // top bits, which pick the slot.
  static uint32_t slot(const Words& k) {
    static constexpr uint64_t kMul[5] = {0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full,
                                         0x165667b19e3779f9ull, 0xd6e8feb86659fd93ull,
                                         0xff51afd7ed558ccdull};
    static_assert(kWords <= 5);
    uint64_t h = 0;
    for (size_t i = 0; i < kWords; ++i) h ^= k.w[i] * kMul[i];
    h ^= h >> 29;
    return static_cast<uint32_t>(h >> (64 - std::countr_zero(kSlots)));
  }
  std::array<Entry, kSlots> entries_{};
};

using SpdFlowCache = BasicSpdFlowCache<SpdKey4, 4096>;
using SpdFlowCache6 = BasicSpdFlowCache<SpdKey6, 4096>;

}  // namespace tcpsec::spd
