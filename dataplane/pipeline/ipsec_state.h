// IpsecState: the SAs and policies of the dataplane, from the configuration
// (manual keys) and from the control plane at runtime (StateStore).
//
// Each SA is owned by one worker (`owner`): only that lcore writes its
// sequence number or replay window, so neither needs atomics. Packets that
// another worker receives for it are handed over through the owner's ring.
//
// Both directions are an SaTable (SPI -> index, RCU) over a pool of records
// indexed like the table. A record is built completely before its key is
// published, and freed only after every worker has passed a quiescent state
// since its key was removed: a worker never touches a freed SA. Writers
// (add, replace, remove, set_policies) are serialised by the caller.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/status.h"
#include "dataplane/crypto/sa_crypto.h"
#include "dataplane/esp/esp_sa.h"
#include "dataplane/net/ip_address.h"
#include "dataplane/net/route_table.h"
#include "dataplane/sad/sa_lookup_cache.h"
#include "dataplane/sad/sa_table.h"
#include "dataplane/spd/policy.h"
#include "dataplane/spd/spd.h"
#include "tcpsec/v1/ipsec.pb.h"

namespace tcpsec::pipeline {

// How an SA's ESP packets travel between the gateways.
enum class OuterEncap : uint8_t { kPlain, kUdp, kPseudoTcp };

// Time limits, read by the lifetime monitor (never per packet).
struct SaTimes {
  uint64_t installed_tsc = 0;
  uint32_t soft_seconds = 0;  // 0: none
  uint32_t hard_seconds = 0;
};

struct OutboundSa {
  esp::EspSaOut esp;  // hot record: sequence number, outer header template
  OuterEncap encap = OuterEncap::kPlain;
  uint16_t local_port = 0;  // UDP or pseudo-TCP ports
  uint16_t peer_port = 0;
  net::IpAddress local;  // tunnel endpoints
  net::IpAddress peer;
  unsigned owner = 0;
  uint16_t egress_mtu = 0;  // of the port towards `peer`; 0: unknown (no PMTU check)
  // The longest inner packet whose ESP and outer transport fit egress_mtu
  // (set with it): the per-packet PMTU check is one compare.
  uint16_t max_inner = 0;
  bool has_route = false;  // `route` towards `peer`, fixed when installed
  net::RouteResult route;
  // Egress cache, read and written only by the owner worker (esp_sent):
  // the destination and source MACs of the frame towards route.next_hop,
  // valid while the neighbour table's generation() is still `eth_generation`
  // (0: never filled). A new record (replace) starts empty.
  uint64_t eth_generation = 0;
  uint8_t eth_macs[12] = {};
  // Pseudo-TCP: the connection carrying this SA, valid while the connection
  // table's esp_generation() is still `conn_generation` (0: never found).
  // Owner worker only, like the egress cache.
  uint64_t conn_generation = 0;
  uint32_t conn_id = 0;
  SaTimes times;
  std::unique_ptr<crypto::SaCrypto> keys;  // `esp` points into it
};

struct InboundSa {
  esp::EspSaIn esp;        // hot record: replay window, counters
  spd::Selector selector;  // the SA's own traffic selector, checked after decryption
  bool has_selector = false;
  unsigned owner = 0;
  SaTimes times;
  std::unique_ptr<crypto::SaCrypto> keys;
};

// An SA built from its definition and not yet visible to workers.
struct PreparedSa {
  bool outbound = false;
  sad::SaKey key;
  std::unique_ptr<OutboundSa> out;
  std::unique_ptr<InboundSa> in;
};

class IpsecState {
 public:
  struct Options {
    uint32_t max_sas = 4096;  // per direction
    unsigned workers = 1;
  };
  static Expected<std::unique_ptr<IpsecState>> create(const Options& options);
  ~IpsecState();

  // ---- readers (workers, registered with RCU) ----
  sad::SaIndex inbound_index(uint32_t spi, const net::IpAddress& local) const {
    return in_table_->lookup(spi, local);
  }
  // The same through a worker's cache: no hash probe while the table is unchanged.
  sad::SaIndex inbound_index(sad::SaLookupCache& cache, uint32_t spi,
                             const net::IpAddress& local) const {
    return cache.lookup(*in_table_, spi, local);
  }
  InboundSa& inbound(sad::SaIndex i) { return *in_[i]; }
  // The worker that owns inbound SA `i`, from a dense array: the check on
  // every received ESP packet does not load a line of the record (it missed
  // the cache there: a third of esp_input). Fixed while `i` names the SA.
  unsigned inbound_owner(sad::SaIndex i) const { return in_owner_[i]; }
  // Outbound SAs are looked up by SPI from the SPD's verdict.
  OutboundSa* outbound(uint32_t spi) {
    sad::SaIndex i = out_table_->lookup(spi, net::IpAddress{});
    return i == sad::kNoSa ? nullptr : out_[i].get();
  }
  OutboundSa* outbound(sad::SaLookupCache& cache, uint32_t spi) {
    sad::SaIndex i = cache.lookup(*out_table_, spi, net::IpAddress{});
    return i == sad::kNoSa ? nullptr : out_[i].get();
  }
  const spd::Spd& spd() const { return *spd_->current(); }

  Status register_reader(unsigned id);
  void quiescent(unsigned id);
  void unregister_reader(unsigned id);

  // ---- writers (serialised by the caller; never a worker) ----
  // Builds the records of a validated SA definition. `owner` is ignored by
  // replace() (an SA keeps its worker).
  static Expected<PreparedSa> prepare(const v1::SecurityAssociation& sa, unsigned owner,
                                      uint64_t now_tsc);
  // The worker the next new SA goes to (round robin).
  unsigned next_owner() { return next_owner_++ % workers_; }
  // Free record slots per direction.
  uint32_t available(bool outbound) {
    return outbound ? out_table_->available() : in_table_->available();
  }
  // Publishes a new SA (its key must be free).
  Status add(PreparedSa sa);
  // Swaps an installed SA (same key) for `sa` with no gap for readers. The
  // outbound sequence continues past the old record's (with room for what
  // its worker may still send from it); the replay window is copied.
  Status replace(PreparedSa sa);
  Status remove(bool outbound, const sad::SaKey& key);
  bool contains(bool outbound, const sad::SaKey& key) const {
    return (outbound ? out_table_ : in_table_)->lookup_exact(key) != sad::kNoSa;
  }
  // Replaces the whole SPD (built first; readers switch under RCU).
  Status set_policies(std::span<const spd::Policy> policies);
  // Installed SAs (writer side: records cannot be freed meanwhile).
  template <typename F>
  void for_each_outbound(F&& f) {
    for (uint32_t i = 0; i < out_.size(); ++i)
      if (out_[i] && out_table_->key_of(i)) f(*out_[i]);
  }
  template <typename F>
  void for_each_inbound(F&& f) {
    for (uint32_t i = 0; i < in_.size(); ++i)
      if (auto key = in_table_->key_of(i); in_[i] && key) f(*key, *in_[i]);
  }
  uint32_t capacity() const { return in_table_->capacity(); }

 private:
  IpsecState() = default;
  static void free_outbound(void* self, sad::SaIndex i);
  static void free_inbound(void* self, sad::SaIndex i);
  unsigned workers_ = 1;
  unsigned next_owner_ = 0;
  std::vector<std::unique_ptr<OutboundSa>> out_;  // by out_table_ index
  std::vector<std::unique_ptr<InboundSa>> in_;    // by in_table_ index
  std::vector<uint16_t> in_owner_;                // in_[i]->owner, by index
  std::unique_ptr<sad::SaTable> out_table_;
  std::unique_ptr<sad::SaTable> in_table_;
  std::unique_ptr<spd::SpdPublisher> spd_;
};

}  // namespace tcpsec::pipeline
