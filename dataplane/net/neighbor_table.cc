#include "dataplane/net/neighbor_table.h"

#include <rte_pause.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>

namespace tcpsec::net {
namespace {

uint32_t slot_count_for(uint32_t capacity) {
  uint64_t want = std::max<uint64_t>(uint64_t{capacity} * 2, 2);
  return static_cast<uint32_t>(std::bit_ceil(std::min<uint64_t>(want, uint64_t{1} << 31)));
}

bool valid_key(const IpAddress& ip) {
  return ip.is_v4() || ip.is_v6();
}
bool valid_mac(const MacAddress& mac) {
  return !mac.is_multicast() && !mac.is_zero();
}

}  // namespace

void NeighborTable::SpinLock::lock() {
  for (;;) {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    while (locked_.load(std::memory_order_relaxed)) rte_pause();
  }
}

NeighborTable::NeighborTable(uint32_t capacity)
    : capacity_(capacity),
      mask_(slot_count_for(capacity) - 1),
      slots_(new Slot[mask_ + 1]),
      solicit_set_mask_(std::bit_ceil(std::max<uint32_t>(capacity / kSolicitWays, 1)) - 1),
      solicit_(new SolicitSlot[(solicit_set_mask_ + 1) * kSolicitWays]) {
  if (capacity_ > mask_) capacity_ = mask_;  // keep at least one empty slot
}

uint64_t NeighborTable::make_word(const MacAddress& mac, bool is_static) {
  uint64_t w = 0;
  for (uint8_t b : mac.bytes) w = w << 8 | b;
  return w | kValidBit | (is_static ? kStaticBit : 0);
}

MacAddress NeighborTable::word_mac(uint64_t w) {
  MacAddress m;
  for (int i = 5; i >= 0; --i) {
    m.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(w);
    w >>= 8;
  }
  return m;
}

uint64_t NeighborTable::hash(uint16_t port, const IpAddress& ip) {
  uint64_t w[3] = {};
  static_assert(sizeof(IpAddress) <= sizeof(w));
  std::memcpy(w, &ip, sizeof(IpAddress));
  uint64_t h = (w[0] ^ 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ w[1] ^ (h >> 29)) * 0x94d049bb133111ebULL;
  h = (h ^ w[2] ^ (uint64_t{port} << 40) ^ (h >> 31)) * 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 32);
}

const NeighborTable::Slot* NeighborTable::find(uint16_t port, const IpAddress& ip) const {
  uint32_t i = static_cast<uint32_t>(hash(port, ip)) & mask_;
  for (uint32_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    // The acquire load makes the key written before the publish visible.
    if (s.word.load(std::memory_order_acquire) == 0) return &s;
    if (s.port == port && s.ip == ip) return &s;
  }
  return nullptr;
}

bool NeighborTable::lookup(uint16_t port, const IpAddress& ip, MacAddress& mac) const {
  if (!valid_key(ip)) return false;
  const Slot* s = find(port, ip);
  if (s == nullptr) return false;
  uint64_t w = s->word.load(std::memory_order_acquire);
  if (w == 0) return false;
  mac = word_mac(w);
  return true;
}

bool NeighborTable::store_locked(uint16_t port, const IpAddress& ip, uint64_t word,
                                 bool is_static) {
  Slot* s = find(port, ip);
  if (s == nullptr) return false;
  uint64_t old = s->word.load(std::memory_order_relaxed);
  if (old != 0) {
    if ((old & kStaticBit) != 0 && !is_static) return true;  // static wins
    if (old != word) {
      s->word.store(word, std::memory_order_release);
      generation_.fetch_add(1, std::memory_order_release);
    }
    return true;
  }
  if (size_.load(std::memory_order_relaxed) >= capacity_) return false;
  s->ip = ip;
  s->port = port;
  s->word.store(word, std::memory_order_release);
  size_.fetch_add(1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  return true;
}

void NeighborTable::learn(uint16_t port, const IpAddress& ip, const MacAddress& mac) {
  if (!valid_key(ip) || !valid_mac(mac)) return;
  uint64_t word = make_word(mac, false);
  // Fast path: already known with this MAC (or static): nothing to write.
  if (const Slot* s = find(port, ip); s != nullptr) {
    uint64_t w = s->word.load(std::memory_order_acquire);
    if (w == word || (w & kStaticBit) != 0) return;
  }
  std::lock_guard<SpinLock> guard(lock_);
  if (!store_locked(port, ip, word, false)) full_count_.fetch_add(1, std::memory_order_relaxed);
}

Status NeighborTable::add_static(uint16_t port, const IpAddress& ip, const MacAddress& mac) {
  if (!valid_key(ip)) return Status::error("static neighbour needs an IPv4 or IPv6 address");
  if (!valid_mac(mac)) {
    return Status::error("static neighbour " + ip.to_string() + ": MAC " + mac.to_string() +
                         " is zero or multicast");
  }
  std::lock_guard<SpinLock> guard(lock_);
  if (!store_locked(port, ip, make_word(mac, true), true)) {
    return Status::error("static neighbour " + ip.to_string() + " on port " + std::to_string(port) +
                         ": neighbour table full (capacity " + std::to_string(capacity_) + ")");
  }
  return Status::ok();
}

bool NeighborTable::should_solicit(uint16_t port, const IpAddress& ip, uint64_t now_tsc,
                                   uint64_t interval_tsc) {
  if (!valid_key(ip)) return false;
  uint32_t set = static_cast<uint32_t>(hash(port, ip) >> 32) & solicit_set_mask_;
  SolicitSlot* ways = &solicit_[set * kSolicitWays];
  std::lock_guard<SpinLock> guard(solicit_lock_);
  SolicitSlot* victim = &ways[0];
  for (uint32_t i = 0; i < kSolicitWays; ++i) {
    SolicitSlot& s = ways[i];
    if (s.used && s.port == port && s.ip == ip) {
      // A timestamp from another lcore may be slightly ahead: that is "just now".
      uint64_t elapsed = now_tsc >= s.last_tsc ? now_tsc - s.last_tsc : 0;
      if (elapsed < interval_tsc) return false;
      s.last_tsc = now_tsc;
      return true;
    }
    // Prefer an unused way, else the one solicited longest ago.
    if (victim->used && (!s.used || s.last_tsc < victim->last_tsc)) victim = &s;
  }
  victim->ip = ip;
  victim->port = port;
  victim->used = true;
  victim->last_tsc = now_tsc;
  return true;
}

}  // namespace tcpsec::net
