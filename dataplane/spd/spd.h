// The security policy database: policies compiled into rte_acl tries, and
// the RCU publisher through which workers read the current one.
//
//   Spd          immutable once built: four rte_acl contexts (IPv4 and IPv6,
//                each inbound and outbound) over the 5-tuple (protocol,
//                source, destination, source port, destination port), built
//                off the fast path from a list of Policy.
//   SpdPublisher holds the current Spd behind an atomic pointer. Workers
//                call current() and classify whole bursts; an update builds a
//                new Spd, swaps the pointer, and frees the old one once every
//                registered reader has passed a quiescent state
//                (rte_rcu_qsbr), never under a reader's feet.
//
// Reader protocol (each worker lcore, per burst):
//   const spd::Spd* spd = publisher.current();
//   spd->classify(spd::Direction::kOutbound, keys, results, n);
//   ... use spd->verdict(results[i]) ...
//   publisher.quiescent(thread_id);   // holds no Spd* or Verdict past this
//
// Matching: a packet takes the policy of its direction whose selector matches
// and whose priority value is lowest (ties: the earlier policy in the list);
// no match gives kNoPolicy and the Spd's default action (DISCARD unless
// configured otherwise).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "dataplane/net/ip_address.h"
#include "dataplane/spd/policy.h"

struct rte_acl_ctx;
struct rte_rcu_qsbr;

namespace tcpsec::spd {

// Classification keys: the packet's 5-tuple in NETWORK byte order, laid out
// as rte_acl reads it (the protocol first, then 4-byte groups). Ports are
// those of TCP, UDP and SCTP, and 0 for every other protocol. Build them
// from the packet headers with make_key4/make_key6 or directly.
struct SpdKey4 {
  uint8_t proto = 0;
  uint8_t pad[3] = {0, 0, 0};
  uint32_t src = 0;       // network order
  uint32_t dst = 0;       // network order
  uint16_t src_port = 0;  // network order
  uint16_t dst_port = 0;  // network order
};
static_assert(sizeof(SpdKey4) == 16);

struct SpdKey6 {
  uint8_t proto = 0;
  uint8_t pad[3] = {0, 0, 0};
  uint8_t src[16] = {};
  uint8_t dst[16] = {};
  uint16_t src_port = 0;  // network order
  uint16_t dst_port = 0;  // network order
};
static_assert(sizeof(SpdKey6) == 40);

// Keys from header fields as they are in the packet (network order).
inline SpdKey4 make_key4(const void* src4, const void* dst4, uint8_t proto, uint16_t src_port_be,
                         uint16_t dst_port_be) {
  SpdKey4 k;
  k.proto = proto;
  std::memcpy(&k.src, src4, 4);
  std::memcpy(&k.dst, dst4, 4);
  k.src_port = src_port_be;
  k.dst_port = dst_port_be;
  return k;
}
inline SpdKey6 make_key6(const void* src16, const void* dst16, uint8_t proto, uint16_t src_port_be,
                         uint16_t dst_port_be) {
  SpdKey6 k;
  k.proto = proto;
  std::memcpy(k.src, src16, 16);
  std::memcpy(k.dst, dst16, 16);
  k.src_port = src_port_be;
  k.dst_port = dst_port_be;
  return k;
}
// Keys from addresses and host-order ports (tests, slow path).
SpdKey4 make_key4(const net::IpAddress& src, const net::IpAddress& dst, uint8_t proto,
                  uint16_t src_port, uint16_t dst_port);
SpdKey6 make_key6(const net::IpAddress& src, const net::IpAddress& dst, uint8_t proto,
                  uint16_t src_port, uint16_t dst_port);

// What to do with a packet: the matched policy's action and SA, or the
// default action when nothing matched (policy == kNoPolicy, sa_spi == 0).
struct Verdict {
  Action action = Action::kDiscard;
  uint32_t sa_spi = 0;
  uint32_t policy = kNoPolicy;  // index into the list the Spd was built from
};

class Spd {
 public:
  struct Options {
    // Prefix of the rte_acl context names, 1..12 characters; a process-wide
    // counter keeps every context's name unique.
    std::string name = "spd";
    // The action for packets no policy matches.
    Action default_action = Action::kDiscard;
    int socket_id = -1;  // SOCKET_ID_ANY
    // Most ACL rules over the four contexts. A policy needs, per address
    // family, (local prefixes of that family, or 1 if none are listed) x
    // (remote prefixes ...) rules.
    uint32_t max_rules = 1u << 20;
  };

  // Compiles `policies` (at most kMaxPolicies). Slow: runs rte_acl_build,
  // milliseconds to seconds for large sets. Needs the EAL.
  static Expected<std::unique_ptr<Spd>> build(std::span<const Policy> policies,
                                              const Options& options);
  ~Spd();
  Spd(const Spd&) = delete;
  Spd& operator=(const Spd&) = delete;

  // ---- readers: any thread, lock-free, no allocation ----
  // out[i] = index of the policy keys[i] matches, or kNoPolicy. Any n.
  void classify(Direction d, const SpdKey4* const* keys, uint32_t* out, uint32_t n) const;
  void classify(Direction d, const SpdKey6* const* keys, uint32_t* out, uint32_t n) const;
  void classify(Direction d, std::span<const SpdKey4* const> keys, std::span<uint32_t> out) const {
    classify(d, keys.data(), out.data(), static_cast<uint32_t>(std::min(keys.size(), out.size())));
  }
  void classify(Direction d, std::span<const SpdKey6* const> keys, std::span<uint32_t> out) const {
    classify(d, keys.data(), out.data(), static_cast<uint32_t>(std::min(keys.size(), out.size())));
  }

  // Which published Spd this is: unique per publisher (its generation() + 1
  // when published; 0 for one never published). An Spd is immutable, so
  // equal epochs mean equal answers (SpdFlowCache keys its entries with it).
  uint64_t epoch() const { return epoch_; }

  // The verdict for a classify() result.
  Verdict verdict(uint32_t result) const {
    if (result >= verdicts_.size()) return Verdict{options_.default_action, 0, kNoPolicy};
    return verdicts_[result];
  }

  // ---- slow path ----
  const Policy& policy(uint32_t index) const { return policies_[index]; }
  uint32_t size() const { return static_cast<uint32_t>(policies_.size()); }
  uint32_t rule_count() const { return rule_count_; }
  Action default_action() const { return options_.default_action; }

 private:
  friend class SpdPublisher;  // sets epoch_ when publishing
  explicit Spd(const Options& options) : options_(options) {}
  uint64_t epoch_ = 0;
  // [family (0 IPv4, 1 IPv6)][direction]; null when it has no rules.
  rte_acl_ctx* ctx_[2][2] = {{nullptr, nullptr}, {nullptr, nullptr}};
  Options options_;
  std::vector<Verdict> verdicts_;
  std::vector<Policy> policies_;
  uint32_t rule_count_ = 0;
};

class SpdPublisher {
 public:
  struct Options {
    Spd::Options spd;           // used by every build (update())
    uint32_t max_readers = 16;  // reader threads that may register with RCU
    int socket_id = -1;         // for the RCU variable
  };

  // Starts with an empty Spd (every packet gets spd.default_action).
  static Expected<std::unique_ptr<SpdPublisher>> create(const Options& options);
  // Readers must be gone (unregistered or stopped).
  ~SpdPublisher();
  SpdPublisher(const SpdPublisher&) = delete;
  SpdPublisher& operator=(const SpdPublisher&) = delete;

  // ---- readers ----
  // Never null. Valid until the calling reader's next quiescent().
  const Spd* current() const { return current_.load(std::memory_order_acquire); }
  Status register_reader(unsigned thread_id);
  void unregister_reader(unsigned thread_id);
  void quiescent(unsigned thread_id);

  // ---- writers: slow path, serialised internally ----
  // Builds an Spd from `policies` and publishes it; on error the current
  // one stays. The previous Spd is freed after a grace period (by this or a
  // later update(), reclaim() or synchronize()); update() never blocks on
  // readers.
  Status update(std::span<const Policy> policies);
  // Publishes an Spd built by the caller.
  void publish(std::unique_ptr<Spd> spd);
  // Frees the retired Spds whose grace period is over. Non-blocking.
  void reclaim();
  // Waits until every registered reader has passed a quiescent state, then
  // frees every retired Spd. The caller must not be an online reader.
  void synchronize();
  // Retired Spds not yet freed.
  size_t retired() const;
  // Spds published so far (the initial empty one is 0).
  uint64_t generation() const;

 private:
  struct Impl;
  SpdPublisher();
  std::atomic<const Spd*> current_{nullptr};
  std::unique_ptr<Impl> impl_;
};

}  // namespace tcpsec::spd
