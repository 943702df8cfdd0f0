// SaTable: two lock-free rte_hash tables over an RCU-deferred index pool.
// See sa_table.h for the contract.
//
// Lookups cost one probe in the common case:
//  * `spis` is keyed by the SPI alone. Its data packs the index of the SA
//    keyed by that SPI alone (or kNoSa) and a flag "this SPI also has SAs
//    keyed by (SPI, local address)";
//  * `locals` is keyed by (SPI, local address) and is probed only when the
//    flag is set. An exact hit wins, otherwise the SPI-alone index applies.
// Writers keep the flag right: a keyed SA is added to `locals` before the
// flag is set, and the flag is cleared only after the last one is deleted,
// so a reader never misses an SA that is in the table.
//
// As in ConnectionTable, one rte_rcu_qsbr variable protects
//  * both hashes (rte_hash_rcu_qsbr_add, defer-queue mode): a deleted key's
//    slot is recycled only after every registered reader has reported a
//    quiescent state, and
//  * the index pool (our own defer queue): a removed SA's index goes back on
//    the free stack, and on_free runs, only after the same grace period.
// The index is queued after its key is deleted, so once the index may be
// reused no reader can still reach it through the old key.

// The rte_rcu_qsbr defer queue API is experimental in DPDK 22.11.
#ifndef ALLOW_EXPERIMENTAL_API
#define ALLOW_EXPERIMENTAL_API 1
#endif

#include "dataplane/sad/sa_table.h"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace tcpsec::sad {
namespace {

// rte_hash_rcu_qsbr_add names its defer queue "HASH_RCU_<hash name>" and the
// queue's ring adds "RCU_": with the "_spi"/"_loc" suffixes, 15 characters
// keep the ring name within RTE_RING_NAMESIZE.
constexpr size_t kMaxNameLength = 15;
constexpr uint32_t kMinHashEntries = 8;  // rte_hash refuses fewer than a bucket
constexpr uint32_t kMaxSas = 1u << 30;   // RTE_HASH_ENTRIES_MAX

std::string describe(const SaKey& k) {
  char spi[16];
  std::snprintf(spi, sizeof spi, "0x%08" PRIx32, k.spi);
  if (!k.has_local()) return std::string("SPI ") + spi;
  return std::string("SPI ") + spi + " on " + k.local.to_string();
}

static_assert(sizeof(uintptr_t) == 8, "the SPI entry packs a flag above the index");
constexpr uintptr_t kHasLocals = uintptr_t{1} << 32;

void* to_data(SaIndex i) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(i));
}
SaIndex from_data(void* data) {
  return static_cast<SaIndex>(reinterpret_cast<uintptr_t>(data));
}
// An `spis` entry: the SPI-alone index and the flag.
void* spi_data(SaIndex alone, bool has_locals) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(alone) | (has_locals ? kHasLocals : 0));
}
bool has_locals(void* data) {
  return (reinterpret_cast<uintptr_t>(data) & kHasLocals) != 0;
}

SaIndex lookup_key(const rte_hash* h, const void* key) {
  void* data = nullptr;
  if (rte_hash_lookup_data(h, key, &data) < 0) return kNoSa;
  return from_data(data);
}

std::string add_failure(int rc) {
  if (rc == -ENOSPC) return "full (deleted keys wait for an RCU grace period)";
  return rte_strerror(-rc);
}

}  // namespace

struct SaTable::Impl {
  Options options;
  std::atomic<uint64_t>* generation = nullptr;  // SaTable::generation_
  void bump() { generation->fetch_add(1, std::memory_order_release); }
  rte_hash* spis = nullptr;    // SPI -> spi_data(SPI-alone index, has locals)
  rte_hash* locals = nullptr;  // SaKey with a local address -> index
  rte_rcu_qsbr* qsbr = nullptr;
  rte_rcu_qsbr_dq* index_dq = nullptr;  // indices waiting for a grace period

  std::atomic<uint32_t> live{0};

  // Guarded by `writer`.
  mutable std::mutex writer;
  std::vector<uint32_t> free_ids;  // stack
  std::vector<uint8_t> in_use;     // 1 from add() to remove()
  std::vector<SaKey> keys;         // the key of each index in use
  uint32_t pending = 0;
  // What `spis` holds per SPI (its writer-side mirror).
  struct SpiEntry {
    SaIndex alone = kNoSa;
    uint32_t locals = 0;  // keyed SAs with this SPI
  };
  std::unordered_map<uint32_t, SpiEntry> spi_entries;

  static void free_indices(void* p, void* e, unsigned int n) {
    auto* impl = static_cast<Impl*>(p);
    const auto* ids = static_cast<const uint32_t*>(e);
    for (unsigned int i = 0; i < n; ++i) impl->recycle(ids[i]);
  }

  void recycle(uint32_t index) {
    if (options.on_free != nullptr) options.on_free(options.on_free_context, index);
    free_ids.push_back(index);
    --pending;
  }

  void reclaim_locked() {
    if (pending == 0) return;
    rte_rcu_qsbr_dq_reclaim(index_dq, options.max_sas, nullptr, nullptr, nullptr);
  }

  // Writes the `spis` entry of `spi` from its mirror (deletes it when empty).
  int store_spi(uint32_t spi, const SpiEntry& e) {
    if (e.alone == kNoSa && e.locals == 0) {
      rte_hash_del_key(spis, &spi);
      spi_entries.erase(spi);
      return 0;
    }
    // Updating an existing key's data is one atomic store for readers.
    return rte_hash_add_key_data(spis, &spi, spi_data(e.alone, e.locals != 0));
  }

  // The index `key` maps to, or kNoSa (exact: no fallback).
  SaIndex find(const SaKey& key) const {
    if (key.has_local()) return lookup_key(locals, &key);
    void* data = nullptr;
    if (rte_hash_lookup_data(spis, &key.spi, &data) < 0) return kNoSa;
    return from_data(data);
  }

  // Maps `key` to `index`; on failure nothing changed.
  Status insert(const SaKey& key, SaIndex index) {
    auto it = spi_entries.find(key.spi);
    SpiEntry e = it != spi_entries.end() ? it->second : SpiEntry{};
    if (key.has_local()) {
      if (int rc = rte_hash_add_key_data(locals, &key, to_data(index)); rc < 0) {
        return Status::error("(SPI, address) hash: " + add_failure(rc));
      }
      // The first keyed SA of this SPI raises the flag: from now on readers
      // probe `locals` for it.
      if (++e.locals == 1) {
        if (int rc = store_spi(key.spi, e); rc < 0) {
          rte_hash_del_key(locals, &key);
          return Status::error("SPI hash: " + add_failure(rc));
        }
      }
    } else {
      e.alone = index;
      if (int rc = store_spi(key.spi, e); rc < 0) {
        return Status::error("SPI hash: " + add_failure(rc));
      }
    }
    spi_entries[key.spi] = e;
    return Status::ok();
  }

  // Unmaps `key` (present).
  void erase(const SaKey& key) {
    SpiEntry& e = spi_entries[key.spi];
    if (key.has_local()) {
      rte_hash_del_key(locals, &key);
      if (--e.locals == 0) store_spi(key.spi, e);  // lower the flag (or delete)
    } else {
      e.alone = kNoSa;
      store_spi(key.spi, e);  // an update in place, or a delete: cannot fail
    }
  }

  // Unmaps `index` (in use, under `writer`) and queues it.
  void remove_locked(SaIndex index) {
    const SaKey key = keys[index];
    in_use[index] = 0;
    erase(key);
    bump();  // before the grace period starts (SaTable::generation)
    keys[index] = SaKey{};
    live.fetch_sub(1, std::memory_order_relaxed);
    ++pending;
    uint32_t e = index;
    if (rte_rcu_qsbr_dq_enqueue(index_dq, &e) != 0) {
      // Cannot happen (the queue holds every index); stay correct anyway.
      rte_rcu_qsbr_synchronize(qsbr, RTE_QSBR_THRID_INVALID);
      recycle(index);
    }
  }
};

SaTable::SaTable(const Options& options)
    : max_sas_(options.max_sas), impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->generation = &generation_;
}

SaTable::~SaTable() {
  if (impl_ == nullptr) return;
  // No reader may use the table any more: forget them so that everything
  // deferred can be freed now.
  if (impl_->qsbr != nullptr) {
    for (uint32_t t = 0; t < impl_->options.max_readers; ++t)
      rte_rcu_qsbr_thread_unregister(impl_->qsbr, t);
  }
  rte_hash_free(impl_->spis);  // also frees the hash's defer queue
  rte_hash_free(impl_->locals);
  if (impl_->index_dq != nullptr) {
    std::lock_guard lock(impl_->writer);
    rte_rcu_qsbr_dq_delete(impl_->index_dq);  // reclaims (on_free) what is pending
  }
  rte_free(impl_->qsbr);
}

Expected<std::unique_ptr<SaTable>> SaTable::create(const Options& options) {
  const std::string& name = options.name;
  if (name.empty() || name.size() > kMaxNameLength) {
    return Status::error("SaTable name '" + name + "': must have 1 to " +
                         std::to_string(kMaxNameLength) +
                         " characters (rte_hash and ring names are derived from it)");
  }
  if (options.max_sas == 0 || options.max_sas >= kMaxSas) {
    return Status::error("SaTable '" + name + "': max_sas " + std::to_string(options.max_sas) +
                         " is out of range [1, " + std::to_string(kMaxSas) + ")");
  }
  if (options.max_readers == 0) {
    return Status::error("SaTable '" + name + "': max_readers must be at least 1");
  }
  std::unique_ptr<SaTable> t(new (std::nothrow) SaTable(options));
  if (t == nullptr) return Status::error("SaTable: out of memory");
  Impl& impl = *t->impl_;
  const uint32_t n = options.max_sas;
  auto dpdk_error = [&](const std::string& what) {
    return Status::error("SaTable '" + name + "': " + what + " failed: " + rte_strerror(rte_errno));
  };

  impl.free_ids.reserve(n);
  for (uint32_t i = n; i-- > 0;) impl.free_ids.push_back(i);  // hand out 0, 1, 2... first
  impl.in_use.resize(n, 0);
  impl.keys.resize(n);

  const size_t qsbr_size = rte_rcu_qsbr_get_memsize(options.max_readers);
  impl.qsbr = static_cast<rte_rcu_qsbr*>(
      rte_zmalloc_socket("sad_qsbr", qsbr_size, RTE_CACHE_LINE_SIZE, options.socket_id));
  if (impl.qsbr == nullptr) return dpdk_error("allocating the RCU variable");
  if (rte_rcu_qsbr_init(impl.qsbr, options.max_readers) != 0) {
    return dpdk_error("rte_rcu_qsbr_init");
  }

  const std::string dq_name = "sad_idx_" + name;
  rte_rcu_qsbr_dq_parameters dq{};
  dq.name = dq_name.c_str();
  dq.flags = RTE_RCU_QSBR_DQ_MT_UNSAFE;  // serialised by the writer lock
  dq.size = n;                           // every index may be pending at once
  dq.esize = sizeof(uint32_t);
  dq.trigger_reclaim_limit = 32;
  dq.max_reclaim_size = 32;
  dq.free_fn = &Impl::free_indices;
  dq.p = &impl;
  dq.v = impl.qsbr;
  impl.index_dq = rte_rcu_qsbr_dq_create(&dq);
  if (impl.index_dq == nullptr) {
    if (rte_errno == EEXIST) {
      return Status::error("SaTable '" + name + "': the name is already in use in this process");
    }
    return dpdk_error("creating the index defer queue");
  }

  auto make_hash = [&](const char* suffix, uint32_t key_len, rte_hash** out) -> Status {
    const std::string hname = name + suffix;
    rte_hash_parameters p{};
    p.name = hname.c_str();
    p.entries = std::max(n, kMinHashEntries);
    p.key_len = key_len;
    p.hash_func = nullptr;  // default: CRC32 where available, else jhash
    p.hash_func_init_val = 0;
    p.socket_id = options.socket_id;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    *out = rte_hash_create(&p);
    if (*out == nullptr) {
      if (rte_errno == EEXIST) {
        return Status::error("SaTable '" + name + "': the name is already in use in this process");
      }
      return dpdk_error("rte_hash_create '" + hname + "' (" + std::to_string(p.entries) +
                        " entries)");
    }
    rte_hash_rcu_config rcu{};
    rcu.v = impl.qsbr;
    rcu.mode = RTE_HASH_QSBR_MODE_DQ;
    rcu.dq_size = 0;                // every entry may be pending at once
    rcu.trigger_reclaim_limit = 0;  // try to reclaim on every delete
    rcu.max_reclaim_size = 0;       // default
    if (rte_hash_rcu_qsbr_add(*out, &rcu) != 0) {
      return dpdk_error("rte_hash_rcu_qsbr_add '" + hname + "'");
    }
    return Status::ok();
  };
  if (Status s = make_hash("_spi", sizeof(uint32_t), &impl.spis); !s) return s;
  if (Status s = make_hash("_loc", sizeof(SaKey), &impl.locals); !s) return s;
  return t;
}

// ---- readers ----

SaIndex SaTable::lookup_exact(const SaKey& key) const {
  return impl_->find(key);
}

SaIndex SaTable::lookup(uint32_t spi, const net::IpAddress& local) const {
  const Impl& impl = *impl_;
  void* data = nullptr;
  if (rte_hash_lookup_data(impl.spis, &spi, &data) < 0) return kNoSa;
  if (has_locals(data) && local.family != net::IpFamily::kNone) {
    const SaKey k{spi, local};
    if (SaIndex i = lookup_key(impl.locals, &k); i != kNoSa) return i;
  }
  return from_data(data);  // the SPI-alone SA, or kNoSa
}

void SaTable::lookup_bulk(std::span<const SaKey> keys, std::span<SaIndex> out) const {
  const Impl& impl = *impl_;
  const size_t n = std::min(keys.size(), out.size());
  for (size_t done = 0; done < n;) {
    const uint32_t chunk =
        static_cast<uint32_t>(std::min<size_t>(n - done, RTE_HASH_LOOKUP_BULK_MAX));
    const SaKey* k = keys.data() + done;
    SaIndex* o = out.data() + done;
    const void* ptrs[RTE_HASH_LOOKUP_BULK_MAX];
    void* data[RTE_HASH_LOOKUP_BULK_MAX];
    for (uint32_t i = 0; i < chunk; ++i) ptrs[i] = &k[i].spi;
    uint64_t hits = 0;
    rte_hash_lookup_bulk_data(impl.spis, ptrs, chunk, &hits, data);

    // Second round, only for SPIs that have keyed SAs.
    uint32_t second[RTE_HASH_LOOKUP_BULK_MAX];
    uint32_t m = 0;
    for (uint32_t i = 0; i < chunk; ++i) {
      if (!((hits >> i) & 1)) {
        o[i] = kNoSa;
        continue;
      }
      o[i] = from_data(data[i]);
      if (has_locals(data[i]) && k[i].has_local()) {
        ptrs[m] = &k[i];
        second[m++] = i;
      }
    }
    if (m != 0) {
      uint64_t hits2 = 0;
      rte_hash_lookup_bulk_data(impl.locals, ptrs, m, &hits2, data);
      for (uint32_t j = 0; j < m; ++j) {
        if ((hits2 >> j) & 1) o[second[j]] = from_data(data[j]);
      }
    }
    done += chunk;
  }
}

uint32_t SaTable::size() const {
  return impl_->live.load(std::memory_order_relaxed);
}

Status SaTable::register_reader(unsigned thread_id) {
  if (thread_id >= impl_->options.max_readers) {
    return Status::error("SaTable '" + impl_->options.name + "': RCU reader thread id " +
                         std::to_string(thread_id) + " is out of range (max_readers " +
                         std::to_string(impl_->options.max_readers) + ")");
  }
  if (rte_rcu_qsbr_thread_register(impl_->qsbr, thread_id) != 0) {
    return Status::error("SaTable '" + impl_->options.name + "': registering RCU reader " +
                         std::to_string(thread_id) + " failed: " + rte_strerror(rte_errno));
  }
  rte_rcu_qsbr_thread_online(impl_->qsbr, thread_id);
  return Status::ok();
}

void SaTable::unregister_reader(unsigned thread_id) {
  if (thread_id >= impl_->options.max_readers) return;
  rte_rcu_qsbr_thread_offline(impl_->qsbr, thread_id);
  rte_rcu_qsbr_thread_unregister(impl_->qsbr, thread_id);
}

void SaTable::quiescent(unsigned thread_id) {
  if (thread_id >= impl_->options.max_readers) return;
  rte_rcu_qsbr_quiescent(impl_->qsbr, thread_id);
}

// ---- writers ----

Expected<SaIndex> SaTable::add_impl(const SaKey& key, void (*init)(void*, SaIndex), void* context) {
  Impl& impl = *impl_;
  if (key.spi == 0) return Status::error("adding " + describe(key) + ": SPI 0 is reserved");
  if (key.local.family != net::IpFamily::kNone && key.local.family != net::IpFamily::kV4 &&
      key.local.family != net::IpFamily::kV6) {
    return Status::error("adding SPI: the local address has no valid family");
  }
  std::lock_guard lock(impl.writer);
  if (SaIndex other = impl.find(key); other != kNoSa) {
    return Status::error("adding " + describe(key) + ": already mapped to SA " +
                         std::to_string(other));
  }
  if (impl.free_ids.empty()) impl.reclaim_locked();
  if (impl.free_ids.empty()) {
    return Status::error("adding " + describe(key) + ": table '" + impl.options.name +
                         "' is full: " + std::to_string(impl.live.load()) + " SAs live, " +
                         std::to_string(impl.pending) +
                         " waiting for an RCU grace period (max_sas " +
                         std::to_string(impl.options.max_sas) + ")");
  }
  const SaIndex index = impl.free_ids.back();
  impl.free_ids.pop_back();
  if (init != nullptr) init(context, index);
  // Publishing the key releases the caller's record to readers.
  if (Status s = impl.insert(key, index); !s) {
    impl.free_ids.push_back(index);  // never visible: no grace period needed
    return Status::error("adding " + describe(key) + " to '" + impl.options.name +
                         "': " + s.message());
  }
  impl.in_use[index] = 1;
  impl.keys[index] = key;
  impl.live.fetch_add(1, std::memory_order_relaxed);
  impl.bump();  // a cached miss, or an SPI-alone answer for this key, is stale
  return index;
}

Expected<SaIndex> SaTable::replace_impl(const SaKey& key, void (*init)(void*, SaIndex),
                                        void* context) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.writer);
  const SaIndex old = impl.find(key);
  if (old == kNoSa) return Status::error("replacing " + describe(key) + ": not in the table");
  if (impl.free_ids.empty()) impl.reclaim_locked();
  if (impl.free_ids.empty()) {
    return Status::error("replacing " + describe(key) + ": table '" + impl.options.name +
                         "' has no free index for the new record (max_sas " +
                         std::to_string(impl.options.max_sas) + ")");
  }
  const SaIndex index = impl.free_ids.back();
  impl.free_ids.pop_back();
  if (init != nullptr) init(context, index);
  // Overwriting an existing key's data is one atomic store for readers.
  int rc = 0;
  if (key.has_local()) {
    rc = rte_hash_add_key_data(impl.locals, &key, to_data(index));
  } else {
    Impl::SpiEntry e = impl.spi_entries[key.spi];
    e.alone = index;
    rc = impl.store_spi(key.spi, e);
    if (rc >= 0) impl.spi_entries[key.spi] = e;
  }
  if (rc < 0) {
    impl.free_ids.push_back(index);
    return Status::error("replacing " + describe(key) + ": " + add_failure(rc));
  }
  impl.in_use[index] = 1;
  impl.keys[index] = key;
  impl.bump();  // before the old index's grace period starts
  // Retire the old index exactly as remove() does, minus the unmapping.
  impl.in_use[old] = 0;
  impl.keys[old] = SaKey{};
  ++impl.pending;
  uint32_t e = old;
  if (rte_rcu_qsbr_dq_enqueue(impl.index_dq, &e) != 0) {
    rte_rcu_qsbr_synchronize(impl.qsbr, RTE_QSBR_THRID_INVALID);
    impl.recycle(old);
  }
  return index;
}

uint32_t SaTable::available() {
  std::lock_guard lock(impl_->writer);
  impl_->reclaim_locked();
  return static_cast<uint32_t>(impl_->free_ids.size());
}

Status SaTable::remove(const SaKey& key) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.writer);
  const SaIndex index = impl.find(key);
  if (index == kNoSa) return Status::error("removing " + describe(key) + ": not in the table");
  impl.remove_locked(index);
  return Status::ok();
}

Status SaTable::remove(SaIndex index) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.writer);
  if (index >= impl.options.max_sas || !impl.in_use[index]) {
    return Status::error("removing SA " + std::to_string(index) + ": not in use");
  }
  impl.remove_locked(index);
  return Status::ok();
}

void SaTable::reclaim() {
  std::lock_guard lock(impl_->writer);
  impl_->reclaim_locked();
}

uint32_t SaTable::pending() const {
  std::lock_guard lock(impl_->writer);
  return impl_->pending;
}

std::optional<SaKey> SaTable::key_of(SaIndex index) const {
  std::lock_guard lock(impl_->writer);
  if (index >= impl_->options.max_sas || !impl_->in_use[index]) return std::nullopt;
  return impl_->keys[index];
}

}  // namespace tcpsec::sad
