// ConnectionTable: three lock-free rte_hash tables over an RCU-protected
// record pool. See connection_table.h for the contract.
//
// Memory safety for readers rests on one rte_rcu_qsbr variable shared by
//  * the three hashes (rte_hash_rcu_qsbr_add, defer-queue mode): a deleted
//    key's slot (and an emptied extendable bucket) is recycled only after
//    every registered reader has reported a quiescent state, and
//  * the record pool (our own defer queue): a removed connection's index is
//    re-initialised and pushed on the free stack only after the same grace.
// A record is queued after its keys, so when the record may be reused the
// hash slots that pointed at it may be too.

// The rte_rcu_qsbr defer queue API is experimental in DPDK 22.11.
#ifndef ALLOW_EXPERIMENTAL_API
#define ALLOW_EXPERIMENTAL_API 1
#endif

#include "dataplane/ctcp/connection_table.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_random.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <mutex>
#include <new>
#include <type_traits>
#include <vector>

namespace tcpsec::ctcp {
namespace {

// Hash keys: raw bytes, no implicit padding, so equal keys hash equally.
struct IkeKey {
  net::IpAddress local;
  net::IpAddress peer;
  uint64_t spi;
};
static_assert(sizeof(IkeKey) == 48);
static_assert(std::has_unique_object_representations_v<IkeKey>);

struct EspKey {
  net::IpAddress local;
  net::IpAddress peer;
  uint32_t spi;
};
static_assert(sizeof(EspKey) == 44);
static_assert(std::has_unique_object_representations_v<EspKey>);

static_assert(std::has_unique_object_representations_v<FlowKey>);

// rte_hash derives ring names from its own: "HASH_RCU_<hash>" (defer queue)
// must stay below RTE_RING_NAMESIZE (29 with the NUL), and the longest
// suffix we append is 4 characters, so the table name may have 15.
constexpr size_t kMaxNameLength = 15;
// rte_hash refuses fewer entries than one bucket holds.
constexpr uint32_t kMinHashEntries = 8;
constexpr uint32_t kMaxHashEntries = 1u << 30;  // RTE_HASH_ENTRIES_MAX

// printf into a std::string (GCC 12 has no <format>). Slow path only.
[[gnu::format(printf, 1, 2)]] std::string format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string s;
  if (n > 0) {
    s.resize(static_cast<size_t>(n) + 1);
    std::vsnprintf(s.data(), s.size(), fmt, ap2);
    s.resize(static_cast<size_t>(n));
  }
  va_end(ap2);
  return s;
}

std::string endpoint(const net::IpAddress& a, uint16_t port) {
  if (a.is_v6()) return format("[%s]:%u", a.to_string().c_str(), port);
  return format("%s:%u", a.to_string().c_str(), port);
}

std::string describe(const FlowKey& k) {
  return format("flow %s -> %s", endpoint(k.local, k.local_port).c_str(),
                endpoint(k.peer, k.peer_port).c_str());
}

std::string describe_pair(const net::IpAddress& local, const net::IpAddress& peer) {
  return format("local %s, peer %s", local.to_string().c_str(), peer.to_string().c_str());
}

const char* state_name(ConnState s) {
  switch (s) {
    case ConnState::kFree:
      return "free";
    case ConnState::kSynSent:
      return "syn-sent";
    case ConnState::kSynReceived:
      return "syn-received";
    case ConnState::kEstablished:
      return "established";
    case ConnState::kClosing:
      return "closing";
  }
  return "unknown";
}

void* to_data(ConnId id) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(id));
}
ConnId from_data(void* data) {
  return static_cast<ConnId>(reinterpret_cast<uintptr_t>(data));
}

// Why rte_hash_add_key_data failed. Deleted keys of a lock-free table hold
// their slot until every registered reader has passed a quiescent state.
std::string add_failure(int rc) {
  if (rc == -ENOSPC) return "table full (deleted keys wait for an RCU grace period)";
  return rte_strerror(-rc);
}

ConnId lookup(const rte_hash* h, const void* key) {
  void* data = nullptr;
  if (rte_hash_lookup_data(h, key, &data) < 0) return kNoConn;
  return from_data(data);
}

}  // namespace

struct ConnectionTable::Impl {
  rte_hash* flows = nullptr;
  rte_hash* ike = nullptr;
  rte_hash* esp = nullptr;
  rte_rcu_qsbr* qsbr = nullptr;
  rte_rcu_qsbr_dq* record_dq = nullptr;  // ConnIds waiting for a grace period
  Connection* records = nullptr;         // == ConnectionTable::records_
  uint32_t max_readers = 0;

  std::atomic<uint32_t> live{0};  // added and not yet removed

  // Everything below is guarded by `writer`.
  std::mutex writer;
  std::vector<uint32_t> free_ids;  // stack; reserved to max_connections
  // 1 from add() to remove(). Not the record's state, which belongs to the
  // connection logic (it may set kClosing before it calls remove()).
  std::vector<uint8_t> in_use;
  uint32_t pending = 0;  // removed, waiting in record_dq
  std::vector<std::vector<uint32_t>> esp_spis;

  // rte_rcu_qsbr_dq free callback: the grace period of `n` ConnIds is over.
  // Runs inside rte_rcu_qsbr_dq_enqueue/reclaim, i.e. under `writer`.
  static void free_records(void* p, void* e, unsigned int n) {
    auto* impl = static_cast<Impl*>(p);
    const auto* ids = static_cast<const uint32_t*>(e);
    for (unsigned int i = 0; i < n; ++i) impl->recycle(ids[i]);
  }

  void recycle(uint32_t id) {
    Connection* c = &records[id];
    std::destroy_at(c);
    new (c) Connection();  // state kFree, counters zero
    free_ids.push_back(id);
    --pending;
  }

  // Connection `id` between add() and remove(), or an error naming what()
  // was attempted (formatted only then).
  template <typename What>
  Expected<Connection*> used(ConnId id, const What& what) {
    const uint32_t max = static_cast<uint32_t>(in_use.size());
    if (id >= max) {
      return Status::error(
          format("%s: connection %u does not exist (capacity %u)", what().c_str(), id, max));
    }
    if (!in_use[id]) {
      return Status::error(format("%s: connection %u is not in use (state %s)", what().c_str(), id,
                                  state_name(records[id].state.load(std::memory_order_relaxed))));
    }
    return &records[id];
  }

  void reclaim_locked(uint32_t max_connections) {
    if (pending == 0) return;
    rte_rcu_qsbr_dq_reclaim(record_dq, max_connections, nullptr, nullptr, nullptr);
  }
};

ConnectionTable::ConnectionTable(const Options& options)
    : options_(options), impl_(std::make_unique<Impl>()) {}

ConnectionTable::~ConnectionTable() {
  if (impl_ != nullptr) {
    // No reader may touch the table any more: forget their registrations so
    // that every deferred entry can be freed now.
    if (impl_->qsbr != nullptr) {
      for (uint32_t t = 0; t < impl_->max_readers; ++t)
        rte_rcu_qsbr_thread_unregister(impl_->qsbr, t);
    }
    rte_hash_free(impl_->flows);  // also reclaims and deletes the hash's defer queue
    rte_hash_free(impl_->ike);
    rte_hash_free(impl_->esp);
    if (impl_->record_dq != nullptr) {
      std::lock_guard lock(impl_->writer);
      rte_rcu_qsbr_dq_delete(impl_->record_dq);
    }
    rte_free(impl_->qsbr);
  }
  static_assert(std::is_trivially_destructible_v<Connection>);
  rte_free(records_);
}

Expected<std::unique_ptr<ConnectionTable>> ConnectionTable::create(const Options& options) {
  const std::string& name = options.name;
  if (name.empty() || name.size() > kMaxNameLength) {
    return Status::error(
        format("ConnectionTable name '%s': must have 1 to %zu characters (rte_hash and ring names "
               "are derived from it)",
               name.c_str(), kMaxNameLength));
  }
  if (options.max_connections == 0 || options.max_connections >= kMaxHashEntries) {
    return Status::error(format("ConnectionTable '%s': max_connections %u is out of range [1, %u)",
                                name.c_str(), options.max_connections, kMaxHashEntries));
  }
  if (options.max_sas_per_connection == 0 || options.max_sas_per_connection > UINT16_MAX) {
    return Status::error(
        format("ConnectionTable '%s': max_sas_per_connection %u is out of range [1, %u]",
               name.c_str(), options.max_sas_per_connection, UINT16_MAX));
  }
  if (options.max_readers == 0) {
    return Status::error(
        format("ConnectionTable '%s': max_readers must be at least 1", name.c_str()));
  }
  const uint64_t esp_entries = options.max_esp_entries != 0 ? options.max_esp_entries
                                                            : uint64_t{options.max_connections} * 4;
  const uint64_t ike_entries = options.max_ike_entries != 0 ? options.max_ike_entries
                                                            : uint64_t{options.max_connections} * 2;
  if (esp_entries > kMaxHashEntries || ike_entries > kMaxHashEntries) {
    return Status::error(
        format("ConnectionTable '%s': %" PRIu64 " ESP / %" PRIu64
               " IKE entries exceed the rte_hash "
               "limit of %u (lower max_connections or set max_esp_entries/max_ike_entries)",
               name.c_str(), esp_entries, ike_entries, kMaxHashEntries));
  }

  std::unique_ptr<ConnectionTable> t(new (std::nothrow) ConnectionTable(options));
  if (t == nullptr) return Status::error("ConnectionTable: out of memory");
  t->options_.max_esp_entries = static_cast<uint32_t>(esp_entries);
  t->options_.max_ike_entries = static_cast<uint32_t>(ike_entries);
  const uint32_t n = options.max_connections;
  const int socket = options.socket_id;
  Impl& impl = *t->impl_;
  impl.max_readers = options.max_readers;

  auto dpdk_error = [&](const char* what) {
    return Status::error(
        format("ConnectionTable '%s': %s failed: %s", name.c_str(), what, rte_strerror(rte_errno)));
  };

  // Records.
  t->records_ = static_cast<Connection*>(rte_zmalloc_socket(
      "ctcp_records", sizeof(Connection) * size_t{n}, RTE_CACHE_LINE_SIZE, socket));
  if (t->records_ == nullptr) {
    return Status::error(format("ConnectionTable '%s': cannot allocate %u records (%zu MiB)",
                                name.c_str(), n, sizeof(Connection) * size_t{n} >> 20));
  }
  for (uint32_t i = 0; i < n; ++i) new (&t->records_[i]) Connection();
  impl.records = t->records_;
  impl.free_ids.reserve(n);
  for (uint32_t i = n; i-- > 0;) impl.free_ids.push_back(i);  // hand out 0, 1, 2... first
  impl.esp_spis.resize(n);
  impl.in_use.resize(n, 0);

  // RCU.
  const size_t qsbr_size = rte_rcu_qsbr_get_memsize(options.max_readers);
  impl.qsbr = static_cast<rte_rcu_qsbr*>(
      rte_zmalloc_socket("ctcp_qsbr", qsbr_size, RTE_CACHE_LINE_SIZE, socket));
  if (impl.qsbr == nullptr) return dpdk_error("allocating the RCU variable");
  if (rte_rcu_qsbr_init(impl.qsbr, options.max_readers) != 0)
    return dpdk_error("rte_rcu_qsbr_init");

  std::string dq_name = "ctcp_rec_" + name;
  rte_rcu_qsbr_dq_parameters dq{};
  dq.name = dq_name.c_str();
  dq.flags = RTE_RCU_QSBR_DQ_MT_UNSAFE;  // serialised by the writer lock
  dq.size = n;                           // every record may be pending at once
  dq.esize = sizeof(uint32_t);
  dq.trigger_reclaim_limit = 32;
  dq.max_reclaim_size = 32;
  dq.free_fn = &Impl::free_records;
  dq.p = &impl;
  dq.v = impl.qsbr;
  impl.record_dq = rte_rcu_qsbr_dq_create(&dq);
  if (impl.record_dq == nullptr) {
    if (rte_errno == EEXIST) {
      return Status::error(
          format("ConnectionTable '%s': the name is already in use in this "
                 "process",
                 name.c_str()));
    }
    return dpdk_error("creating the record defer queue");
  }

  // Hashes.
  auto make_hash = [&](const char* suffix, uint32_t entries, uint32_t key_len,
                       rte_hash** out) -> Status {
    std::string hname = name + suffix;
    rte_hash_parameters p{};
    p.name = hname.c_str();
    p.entries = std::max(entries, kMinHashEntries);
    p.key_len = key_len;
    p.hash_func = nullptr;  // default: CRC32 where available, else jhash
    p.hash_func_init_val = 0;
    p.socket_id = socket;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    *out = rte_hash_create(&p);
    if (*out == nullptr) {
      return Status::error(
          format("ConnectionTable '%s': rte_hash_create '%s' (%u entries) "
                 "failed: %s",
                 name.c_str(), hname.c_str(), p.entries, rte_strerror(rte_errno)));
    }
    rte_hash_rcu_config rcu{};
    rcu.v = impl.qsbr;
    rcu.mode = RTE_HASH_QSBR_MODE_DQ;
    rcu.dq_size = 0;                // every entry may be pending at once
    rcu.trigger_reclaim_limit = 0;  // try to reclaim on every delete
    rcu.max_reclaim_size = 0;       // default RTE_HASH_RCU_DQ_RECLAIM_MAX
    if (rte_hash_rcu_qsbr_add(*out, &rcu) != 0) {
      return Status::error(format("ConnectionTable '%s': rte_hash_rcu_qsbr_add '%s' failed: %s",
                                  name.c_str(), hname.c_str(), rte_strerror(rte_errno)));
    }
    return Status::ok();
  };
  if (Status s = make_hash("_fl", n, sizeof(FlowKey), &impl.flows); !s) return s;
  if (Status s = make_hash("_ike", t->options_.max_ike_entries, sizeof(IkeKey), &impl.ike); !s)
    return s;
  if (Status s = make_hash("_esp", t->options_.max_esp_entries, sizeof(EspKey), &impl.esp); !s)
    return s;
  return t;
}

// ---- readers ----

ConnId ConnectionTable::lookup_flow(const FlowKey& key) const {
  return lookup(impl_->flows, &key);
}

void ConnectionTable::lookup_flow_bulk(std::span<const FlowKey* const> keys,
                                       std::span<ConnId> out) const {
  size_t n = std::min(keys.size(), out.size());
  size_t done = 0;
  while (done < n) {
    const uint32_t chunk =
        static_cast<uint32_t>(std::min<size_t>(n - done, RTE_HASH_LOOKUP_BULK_MAX));
    void* data[RTE_HASH_LOOKUP_BULK_MAX];
    uint64_t hits = 0;
    // rte_hash wants `const void**`; the keys are only read.
    auto** k = const_cast<const void**>(reinterpret_cast<const void* const*>(keys.data() + done));
    rte_hash_lookup_bulk_data(impl_->flows, k, chunk, &hits, data);
    for (uint32_t i = 0; i < chunk; ++i)
      out[done + i] = (hits >> i) & 1 ? from_data(data[i]) : kNoConn;
    done += chunk;
  }
}

ConnId ConnectionTable::lookup_ike(const net::IpAddress& local, const net::IpAddress& peer,
                                   uint64_t initiator_spi) const {
  const IkeKey k{local, peer, initiator_spi};
  return lookup(impl_->ike, &k);
}

ConnId ConnectionTable::lookup_esp(const net::IpAddress& local, const net::IpAddress& peer,
                                   uint32_t spi) const {
  const EspKey k{local, peer, spi};
  return lookup(impl_->esp, &k);
}

uint32_t ConnectionTable::size() const {
  return impl_->live.load(std::memory_order_relaxed);
}

Status ConnectionTable::register_reader(unsigned thread_id) {
  if (thread_id >= impl_->max_readers) {
    return Status::error(
        format("ConnectionTable '%s': RCU reader thread id %u is out of range "
               "(max_readers %u)",
               options_.name.c_str(), thread_id, impl_->max_readers));
  }
  if (rte_rcu_qsbr_thread_register(impl_->qsbr, thread_id) != 0) {
    return Status::error(format("ConnectionTable '%s': registering RCU reader %u failed: %s",
                                options_.name.c_str(), thread_id, rte_strerror(rte_errno)));
  }
  rte_rcu_qsbr_thread_online(impl_->qsbr, thread_id);
  return Status::ok();
}

void ConnectionTable::unregister_reader(unsigned thread_id) {
  if (thread_id >= impl_->max_readers) return;
  rte_rcu_qsbr_thread_offline(impl_->qsbr, thread_id);
  rte_rcu_qsbr_thread_unregister(impl_->qsbr, thread_id);
}

void ConnectionTable::quiescent(unsigned thread_id) {
  if (thread_id >= impl_->max_readers) return;  // could not have registered
  rte_rcu_qsbr_quiescent(impl_->qsbr, thread_id);
}

// ---- writers ----

Expected<ConnId> ConnectionTable::add(const FlowKey& key, ConnState state, uint16_t port_id,
                                      bool we_initiated) {
  if (state == ConnState::kFree || state == ConnState::kClosing) {
    return Status::error(format("adding %s: initial state must not be %s", describe(key).c_str(),
                                state_name(state)));
  }
  Impl& impl = *impl_;
  std::lock_guard lock(impl.writer);
  if (ConnId other = lookup(impl.flows, &key); other != kNoConn) {
    return Status::error(
        format("adding %s: already belongs to connection %u", describe(key).c_str(), other));
  }
  if (impl.free_ids.empty()) impl.reclaim_locked(options_.max_connections);
  if (impl.free_ids.empty()) {
    return Status::error(
        format("adding %s: table '%s' is full: %u connections live, %u waiting for an RCU grace "
               "period (max_connections %u)",
               describe(key).c_str(), options_.name.c_str(),
               impl.live.load(std::memory_order_relaxed), impl.pending, options_.max_connections));
  }
  const ConnId id = impl.free_ids.back();
  impl.free_ids.pop_back();
  Connection& c = records_[id];
  c.key = key;
  c.port_id = port_id;
  c.we_initiated = we_initiated;
  c.created_tsc = rte_rdtsc();
  c.state_tsc = c.created_tsc;
  c.state.store(state, std::memory_order_release);
  // Publishing the key releases the record to readers.
  if (int rc = rte_hash_add_key_data(impl.flows, &key, to_data(id)); rc < 0) {
    std::destroy_at(&c);
    new (&c) Connection();
    impl.free_ids.push_back(id);
    return Status::error(format("adding %s: flow table of '%s' (max_connections %u): %s",
                                describe(key).c_str(), options_.name.c_str(),
                                options_.max_connections, add_failure(rc).c_str()));
  }
  impl.in_use[id] = 1;
  impl.live.fetch_add(1, std::memory_order_relaxed);
  flow_generation_.fetch_add(1, std::memory_order_release);  // a cached miss is stale
  return id;
}

Status ConnectionTable::add_ike(ConnId id, const IkeSpis& spis) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.writer);
  auto what = [&] {
    return format("IKE SPI 0x%016" PRIx64 " of connection %u", spis.initiator, id);
  };
  auto conn = impl.used(id, what);
  if (!conn) return conn.status();
  Connection& c = **conn;
  if (spis.empty()) return Status::error(what() + ": the initiator SPI must not be zero");

  const IkeKey k{c.key.local, c.key.peer, spis.initiator};
  if (ConnId owner = lookup(impl.ike, &k); owner != kNoConn) {
    if (owner != id) {
      return Status::error(format("%s: (%s) is already mapped to connection %u", what().c_str(),
                                  describe_pair(c.key.local, c.key.peer).c_str(), owner));
    }
    for (IkeSpis& slot : c.ike) {
      if (slot.initiator == spis.initiator) {
        slot.responder = spis.responder;
        return Status::ok();
      }
    }
  }
  if (int rc = rte_hash_add_key_data(impl.ike, &k, to_data(id)); rc < 0) {
    return Status::error(format("%s: IKE table (max_ike_entries %u): %s", what().c_str(),
                                options_.max_ike_entries, add_failure(rc).c_str()));
  }
  if (c.ike[0].empty()) {  // the current set was removed: fill it, keep the previous
    c.ike[0] = spis;
    return Status::ok();
  }
  if (!c.ike[1].empty()) {
    const IkeKey old{c.key.local, c.key.peer, c.ike[1].initiator};
    rte_hash_del_key(impl.ike, &old);
  }
  c.ike[1] = c.ike[0];
  c.ike[0] = spis;
  return Status::ok();
}

Status ConnectionTable::remove_ike(ConnId id, uint64_t initiator_spi) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.writer);
  auto what = [&] {
    return format("removing IKE SPI 0x%016" PRIx64 " of connection %u", initiator_spi, id);
  };
  auto conn = impl.used(id, what);
  if (!conn) return conn.status();
  Connection& c = **conn;
  if (initiator_spi != 0) {
    for (IkeSpis& slot : c.ike) {
      if (slot.initiator != initiator_spi) continue;
      const IkeKey k{c.key.local, c.key.peer, initiator_spi};
      rte_hash_del_key(impl.ike, &k);
      slot = IkeSpis{};
      return Status::ok();
    }
  }
  return Status::error(format("%s: not mapped (current 0x%016" PRIx64 ", previous 0x%016" PRIx64
                              ")",
                              what().c_str(), c.ike[0].initiator, c.ike[1].initiator));
}

Status ConnectionTable::add_esp(ConnId id, uint32_t spi) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.writer);
  auto what = [&] { return format("ESP SPI 0x%08x of connection %u", spi, id); };
  auto conn = impl.used(id, what);
  if (!conn) return conn.status();
  Connection& c = **conn;
  if (spi == 0) return Status::error(what() + ": SPI 0 is reserved");

  const EspKey k{c.key.local, c.key.peer, spi};
  if (ConnId owner = lookup(impl.esp, &k); owner != kNoConn) {
    if (owner == id) return Status::ok();  // already mapped here
    return Status::error(format("%s: (%s) is already mapped to connection %u", what().c_str(),
                                describe_pair(c.key.local, c.key.peer).c_str(), owner));
  }
  std::vector<uint32_t>& spis = impl.esp_spis[id];
  if (spis.size() >= options_.max_sas_per_connection) {
    return Status::error(format("%s: connection already has %zu SAs (max_sas_per_connection)",
                                what().c_str(), spis.size()));
  }
  if (int rc = rte_hash_add_key_data(impl.esp, &k, to_data(id)); rc < 0) {
    return Status::error(format("%s: ESP table (max_esp_entries %u): %s", what().c_str(),
                                options_.max_esp_entries, add_failure(rc).c_str()));
  }
  spis.push_back(spi);
  c.esp_sa_count = static_cast<uint16_t>(spis.size());
  return Status::ok();
}

Status ConnectionTable::remove_esp(ConnId id, uint32_t spi) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.writer);
  auto what = [&] { return format("removing ESP SPI 0x%08x of connection %u", spi, id); };
  auto conn = impl.used(id, what);
  if (!conn) return conn.status();
  Connection& c = **conn;
  std::vector<uint32_t>& spis = impl.esp_spis[id];
  auto it = std::find(spis.begin(), spis.end(), spi);
  if (it == spis.end()) {
    return Status::error(
        format("%s: not mapped (the connection has %zu SAs)", what().c_str(), spis.size()));
  }
  const EspKey k{c.key.local, c.key.peer, spi};
  rte_hash_del_key(impl.esp, &k);
  *it = spis.back();
  spis.pop_back();
  c.esp_sa_count = static_cast<uint16_t>(spis.size());
  esp_generation_.fetch_add(1, std::memory_order_release);
  return Status::ok();
}

void ConnectionTable::remove(ConnId id) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.writer);
  if (id >= options_.max_connections || !impl.in_use[id]) return;  // twice, or never added
  impl.in_use[id] = 0;
  Connection& c = records_[id];

  rte_hash_del_key(impl.flows, &c.key);
  for (IkeSpis& slot : c.ike) {
    if (slot.empty()) continue;
    const IkeKey k{c.key.local, c.key.peer, slot.initiator};
    rte_hash_del_key(impl.ike, &k);
    slot = IkeSpis{};
  }
  std::vector<uint32_t>& spis = impl.esp_spis[id];
  for (uint32_t spi : spis) {
    const EspKey k{c.key.local, c.key.peer, spi};
    rte_hash_del_key(impl.esp, &k);
  }
  std::vector<uint32_t>().swap(spis);
  c.esp_sa_count = 0;
  // Before the record's grace period starts (FlowLookupCache, SA caches).
  esp_generation_.fetch_add(1, std::memory_order_release);
  flow_generation_.fetch_add(1, std::memory_order_release);
  c.state_tsc = rte_rdtsc();
  c.state.store(ConnState::kClosing, std::memory_order_release);
  impl.live.fetch_sub(1, std::memory_order_relaxed);

  ++impl.pending;
  uint32_t e = id;
  if (rte_rcu_qsbr_dq_enqueue(impl.record_dq, &e) != 0) {
    // Cannot happen (the queue holds every record); stay correct anyway.
    rte_rcu_qsbr_synchronize(impl.qsbr, RTE_QSBR_THRID_INVALID);
    impl.recycle(id);
  }
}

void ConnectionTable::reclaim() {
  std::lock_guard lock(impl_->writer);
  impl_->reclaim_locked(options_.max_connections);
}

Expected<uint16_t> ConnectionTable::pick_local_port(const net::IpAddress& local,
                                                    const net::IpAddress& peer, uint16_t peer_port,
                                                    uint16_t fixed, uint16_t min, uint16_t max) {
  std::lock_guard lock(impl_->writer);
  FlowKey k{local, peer, 0, peer_port};
  if (fixed != 0) {
    k.local_port = fixed;
    if (ConnId other = lookup(impl_->flows, &k); other != kNoConn) {
      return Status::error(format("local port %u for %s -> %s: in use by connection %u", fixed,
                                  local.to_string().c_str(), endpoint(peer, peer_port).c_str(),
                                  other));
    }
    return fixed;
  }
  const uint16_t lo = std::max<uint16_t>(min, 1);
  if (lo > max) {
    return Status::error(format("local port for %s -> %s: empty port range [%u, %u]",
                                local.to_string().c_str(), endpoint(peer, peer_port).c_str(), min,
                                max));
  }
  const uint32_t range = uint32_t{max} - lo + 1;
  constexpr int kRandomTries = 16;
  for (int i = 0; i < kRandomTries; ++i) {
    k.local_port = static_cast<uint16_t>(lo + rte_rand_max(range));
    if (lookup(impl_->flows, &k) == kNoConn) return k.local_port;
  }
  // Crowded range: scan it once from a random start, so any free port is found.
  const uint32_t start = static_cast<uint32_t>(rte_rand_max(range));
  for (uint32_t i = 0; i < range; ++i) {
    k.local_port = static_cast<uint16_t>(lo + (start + i) % range);
    if (lookup(impl_->flows, &k) == kNoConn) return k.local_port;
  }
  return Status::error(format("no free local port in [%u, %u] for %s -> %s (all %u in use)", lo,
                              max, local.to_string().c_str(), endpoint(peer, peer_port).c_str(),
                              range));
}

std::span<const uint32_t> ConnectionTable::esp_spis(ConnId id) const {
  if (id >= options_.max_connections) return {};
  return impl_->esp_spis[id];
}

}  // namespace tcpsec::ctcp
