// Spd: policies compiled into rte_acl contexts; SpdPublisher: RCU pointer
// swap. See spd.h for the contract.
//
// Priorities: rte_acl picks the matching rule with the highest priority
// (1..RTE_ACL_MAX_PRIORITY); ours are "lower value wins, ties to the earlier
// policy". Policies are ranked by (priority, list index) and rule priority
// is RTE_ACL_MAX_PRIORITY - rank, so no two policies ever tie inside a
// context. A policy's rules (the cross product of its prefixes) share its
// priority and userdata (policy index + 1; 0 is rte_acl's "no match", which
// the -1 turns into kNoPolicy).
#include "dataplane/spd/spd.h"

#include <rte_acl.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <new>
#include <numeric>
#include <utility>

namespace tcpsec::spd {
namespace {

constexpr size_t kMaxNamePrefix = 12;

// ---- ACL layouts ----

enum : uint8_t { kF4Proto, kF4Src, kF4Dst, kF4SrcPort, kF4DstPort, kF4Count };
enum : uint8_t {
  kF6Proto,
  kF6Src0,  // four 32-bit words each
  kF6Dst0 = kF6Src0 + 4,
  kF6SrcPort = kF6Dst0 + 4,
  kF6DstPort,
  kF6Count
};

RTE_ACL_RULE_DEF(Acl4Rule, kF4Count);
RTE_ACL_RULE_DEF(Acl6Rule, kF6Count);

rte_acl_config acl4_config() {
  rte_acl_config c{};
  c.num_categories = 1;
  c.num_fields = kF4Count;
  c.defs[0] = {RTE_ACL_FIELD_TYPE_BITMASK, 1, kF4Proto, 0, offsetof(SpdKey4, proto)};
  c.defs[1] = {RTE_ACL_FIELD_TYPE_MASK, 4, kF4Src, 1, offsetof(SpdKey4, src)};
  c.defs[2] = {RTE_ACL_FIELD_TYPE_MASK, 4, kF4Dst, 2, offsetof(SpdKey4, dst)};
  c.defs[3] = {RTE_ACL_FIELD_TYPE_RANGE, 2, kF4SrcPort, 3, offsetof(SpdKey4, src_port)};
  c.defs[4] = {RTE_ACL_FIELD_TYPE_RANGE, 2, kF4DstPort, 3, offsetof(SpdKey4, dst_port)};
  c.max_size = 0;
  return c;
}

rte_acl_config acl6_config() {
  rte_acl_config c{};
  c.num_categories = 1;
  c.num_fields = kF6Count;
  c.defs[0] = {RTE_ACL_FIELD_TYPE_BITMASK, 1, kF6Proto, 0, offsetof(SpdKey6, proto)};
  for (uint8_t w = 0; w < 4; ++w) {
    c.defs[1 + w] = {RTE_ACL_FIELD_TYPE_MASK, 4, static_cast<uint8_t>(kF6Src0 + w),
                     static_cast<uint8_t>(1 + w),
                     static_cast<uint32_t>(offsetof(SpdKey6, src) + 4u * w)};
    c.defs[5 + w] = {RTE_ACL_FIELD_TYPE_MASK, 4, static_cast<uint8_t>(kF6Dst0 + w),
                     static_cast<uint8_t>(5 + w),
                     static_cast<uint32_t>(offsetof(SpdKey6, dst) + 4u * w)};
  }
  c.defs[9] = {RTE_ACL_FIELD_TYPE_RANGE, 2, kF6SrcPort, 9, offsetof(SpdKey6, src_port)};
  c.defs[10] = {RTE_ACL_FIELD_TYPE_RANGE, 2, kF6DstPort, 9, offsetof(SpdKey6, dst_port)};
  c.max_size = 0;
  return c;
}

uint32_t word(const net::IpAddress& a, int w) {
  const uint8_t* b = a.bytes.data() + 4 * w;
  return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
}

// The prefix length that falls in 32-bit word `w`.
uint32_t word_length(uint8_t length, int w) {
  int bits = int{length} - 32 * w;
  return static_cast<uint32_t>(std::clamp(bits, 0, 32));
}

// A prefix of a list, or "any" (nullptr).
using PrefixList = std::vector<const net::IpPrefix*>;

// The prefixes of `family` in `list`: {any} when the list is empty, {} when
// it lists only other families (the policy cannot match this family).
PrefixList of_family(const std::vector<net::IpPrefix>& list, net::IpFamily family) {
  if (list.empty()) return {nullptr};
  PrefixList out;
  for (const net::IpPrefix& p : list) {
    if (p.address.family == family) out.push_back(&p);
  }
  return out;
}

struct RuleSide {
  const net::IpPrefix* src;
  const net::IpPrefix* dst;
  PortRange src_ports;
  PortRange dst_ports;
};

void fill_common(rte_acl_rule_data& data, int32_t priority, uint32_t userdata) {
  data.category_mask = 1;
  data.priority = priority;
  data.userdata = userdata;
}

Acl4Rule rule4(const Policy& p, const RuleSide& s, int32_t priority, uint32_t userdata) {
  Acl4Rule r{};
  fill_common(r.data, priority, userdata);
  r.field[kF4Proto].value.u8 = p.match.protocol;
  r.field[kF4Proto].mask_range.u8 = p.match.protocol == 0 ? 0 : 0xff;
  if (s.src != nullptr) {
    r.field[kF4Src].value.u32 = word(s.src->address, 0);
    r.field[kF4Src].mask_range.u32 = s.src->length;
  }
  if (s.dst != nullptr) {
    r.field[kF4Dst].value.u32 = word(s.dst->address, 0);
    r.field[kF4Dst].mask_range.u32 = s.dst->length;
  }
  r.field[kF4SrcPort].value.u16 = s.src_ports.min;
  r.field[kF4SrcPort].mask_range.u16 = s.src_ports.max;
  r.field[kF4DstPort].value.u16 = s.dst_ports.min;
  r.field[kF4DstPort].mask_range.u16 = s.dst_ports.max;
  return r;
}

Acl6Rule rule6(const Policy& p, const RuleSide& s, int32_t priority, uint32_t userdata) {
  Acl6Rule r{};
  fill_common(r.data, priority, userdata);
  r.field[kF6Proto].value.u8 = p.match.protocol;
  r.field[kF6Proto].mask_range.u8 = p.match.protocol == 0 ? 0 : 0xff;
  for (int w = 0; w < 4; ++w) {
    if (s.src != nullptr) {
      r.field[kF6Src0 + w].value.u32 = word(s.src->address, w);
      r.field[kF6Src0 + w].mask_range.u32 = word_length(s.src->length, w);
    }
    if (s.dst != nullptr) {
      r.field[kF6Dst0 + w].value.u32 = word(s.dst->address, w);
      r.field[kF6Dst0 + w].mask_range.u32 = word_length(s.dst->length, w);
    }
  }
  r.field[kF6SrcPort].value.u16 = s.src_ports.min;
  r.field[kF6SrcPort].mask_range.u16 = s.src_ports.max;
  r.field[kF6DstPort].value.u16 = s.dst_ports.min;
  r.field[kF6DstPort].mask_range.u16 = s.dst_ports.max;
  return r;
}

const char* family_suffix(int family) {
  return family == 0 ? "4" : "6";
}

template <typename Rule>
Status build_context(const std::string& name, int socket, const std::vector<Rule>& rules,
                     const rte_acl_config& config, rte_acl_ctx** out) {
  *out = nullptr;
  if (rules.empty()) return Status::ok();
  rte_acl_param param{};
  param.name = name.c_str();
  param.socket_id = socket;
  param.rule_size = sizeof(Rule);
  param.max_rule_num = static_cast<uint32_t>(rules.size());
  rte_acl_ctx* ctx = rte_acl_create(&param);
  if (ctx == nullptr) {
    return Status::error("SPD: rte_acl_create '" + name + "' (" + std::to_string(rules.size()) +
                         " rules) failed: " + rte_strerror(rte_errno));
  }
  int rc = rte_acl_add_rules(ctx, reinterpret_cast<const rte_acl_rule*>(rules.data()),
                             static_cast<uint32_t>(rules.size()));
  if (rc == 0) rc = rte_acl_build(ctx, &config);
  if (rc != 0) {
    rte_acl_free(ctx);
    return Status::error("SPD: building ACL context '" + name + "' (" +
                         std::to_string(rules.size()) + " rules) failed: " + rte_strerror(-rc));
  }
  *out = ctx;
  return Status::ok();
}

void classify_ctx(const rte_acl_ctx* ctx, const uint8_t** data, uint32_t* out, uint32_t n) {
  if (n == 0) return;
  if (ctx == nullptr || rte_acl_classify(ctx, data, out, n, 1) != 0) {
    std::fill(out, out + n, kNoPolicy);
    return;
  }
  // userdata is index + 1; 0 (no match) wraps to kNoPolicy.
  for (uint32_t i = 0; i < n; ++i) out[i] -= 1;
}

uint16_t host_to_be16(uint16_t v) {
  uint16_t out;
  const uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  std::memcpy(&out, b, 2);
  return out;
}

}  // namespace

SpdKey4 make_key4(const net::IpAddress& src, const net::IpAddress& dst, uint8_t proto,
                  uint16_t src_port, uint16_t dst_port) {
  return make_key4(src.bytes.data(), dst.bytes.data(), proto, host_to_be16(src_port),
                   host_to_be16(dst_port));
}

SpdKey6 make_key6(const net::IpAddress& src, const net::IpAddress& dst, uint8_t proto,
                  uint16_t src_port, uint16_t dst_port) {
  return make_key6(src.bytes.data(), dst.bytes.data(), proto, host_to_be16(src_port),
                   host_to_be16(dst_port));
}

// ---------------------------------------------------------------------------
// Spd

Spd::~Spd() {
  for (auto& family : ctx_) {
    for (rte_acl_ctx*& c : family) {
      rte_acl_free(c);  // accepts null
      c = nullptr;
    }
  }
}

Expected<std::unique_ptr<Spd>> Spd::build(std::span<const Policy> policies,
                                          const Options& options) {
  if (options.name.empty() || options.name.size() > kMaxNamePrefix) {
    return Status::error("SPD name '" + options.name + "': must have 1 to " +
                         std::to_string(kMaxNamePrefix) + " characters");
  }
  if (policies.size() > kMaxPolicies) {
    return Status::error("SPD: " + std::to_string(policies.size()) +
                         " policies, more than the maximum, " + std::to_string(kMaxPolicies));
  }
  // Rules per (family, direction), counted before anything is allocated.
  uint64_t total = 0;
  for (const Policy& p : policies) {
    for (net::IpFamily f : {net::IpFamily::kV4, net::IpFamily::kV6}) {
      total += uint64_t{of_family(p.match.local, f).size()} * of_family(p.match.remote, f).size();
    }
  }
  if (total > options.max_rules) {
    return Status::error("SPD: the policies need " + std::to_string(total) +
                         " ACL rules, more than max_rules (" + std::to_string(options.max_rules) +
                         "): fewer prefixes per selector");
  }

  std::unique_ptr<Spd> spd(new (std::nothrow) Spd(options));
  if (spd == nullptr) return Status::error("SPD: out of memory");
  spd->policies_.assign(policies.begin(), policies.end());
  spd->verdicts_.reserve(policies.size());
  for (uint32_t i = 0; i < policies.size(); ++i) {
    const Policy& p = policies[i];
    spd->verdicts_.push_back(Verdict{p.action, p.action == Action::kProtect ? p.sa_spi : 0, i});
  }
  spd->rule_count_ = static_cast<uint32_t>(total);

  // Rank: lower priority value first, ties by list order (stable).
  std::vector<uint32_t> order(policies.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return policies[a].priority < policies[b].priority;
  });

  std::vector<Acl4Rule> rules4[2];
  std::vector<Acl6Rule> rules6[2];
  for (uint32_t rank = 0; rank < order.size(); ++rank) {
    const uint32_t index = order[rank];
    const Policy& p = policies[index];
    const int32_t priority = static_cast<int32_t>(RTE_ACL_MAX_PRIORITY - rank);
    const uint32_t userdata = index + 1;
    const int dir = static_cast<int>(p.direction);
    const bool outbound = p.direction == Direction::kOutbound;
    // Outbound packets leave from the local side; inbound ones arrive at it.
    const PortRange src_ports = outbound ? p.match.local_ports : p.match.remote_ports;
    const PortRange dst_ports = outbound ? p.match.remote_ports : p.match.local_ports;
    for (net::IpFamily f : {net::IpFamily::kV4, net::IpFamily::kV6}) {
      const PrefixList local = of_family(p.match.local, f);
      const PrefixList remote = of_family(p.match.remote, f);
      for (const net::IpPrefix* l : local) {
        for (const net::IpPrefix* r : remote) {
          const RuleSide side{outbound ? l : r, outbound ? r : l, src_ports, dst_ports};
          if (f == net::IpFamily::kV4) {
            rules4[dir].push_back(rule4(p, side, priority, userdata));
          } else {
            rules6[dir].push_back(rule6(p, side, priority, userdata));
          }
        }
      }
    }
  }

  // Context names must be unique in the process (rte_acl keeps a list).
  static std::atomic<uint32_t> counter{0};
  const std::string base = options.name + "_" + std::to_string(counter.fetch_add(1)) + "_";
  const rte_acl_config config4 = acl4_config();
  const rte_acl_config config6 = acl6_config();
  for (int dir = 0; dir < 2; ++dir) {
    const char* d = dir == static_cast<int>(Direction::kInbound) ? "i" : "o";
    if (Status s = build_context(base + d + family_suffix(0), options.socket_id, rules4[dir],
                                 config4, &spd->ctx_[0][dir]);
        !s) {
      return s;
    }
    if (Status s = build_context(base + d + family_suffix(1), options.socket_id, rules6[dir],
                                 config6, &spd->ctx_[1][dir]);
        !s) {
      return s;
    }
  }
  return spd;
}

void Spd::classify(Direction d, const SpdKey4* const* keys, uint32_t* out, uint32_t n) const {
  // rte_acl wants `const uint8_t**`; it only reads the keys.
  classify_ctx(ctx_[0][static_cast<int>(d)],
               const_cast<const uint8_t**>(reinterpret_cast<const uint8_t* const*>(keys)), out, n);
}

void Spd::classify(Direction d, const SpdKey6* const* keys, uint32_t* out, uint32_t n) const {
  classify_ctx(ctx_[1][static_cast<int>(d)],
               const_cast<const uint8_t**>(reinterpret_cast<const uint8_t* const*>(keys)), out, n);
}

// ---------------------------------------------------------------------------
// SpdPublisher

struct SpdPublisher::Impl {
  Options options;
  rte_rcu_qsbr* qsbr = nullptr;
  mutable std::mutex writer;
  std::unique_ptr<Spd> live;  // what current_ points at
  struct Retired {
    uint64_t token;
    std::unique_ptr<Spd> spd;
  };
  std::vector<Retired> retired;  // guarded by `writer`, oldest first
  uint64_t generation = 0;

  // Publishes `spd` and retires the previous one until a grace period ends.
  void swap_locked(std::unique_ptr<Spd> spd, std::atomic<const Spd*>& current) {
    std::unique_ptr<Spd> old = std::move(live);
    live = std::move(spd);
    live->epoch_ = ++generation + 1;  // before readers can see it
    current.store(live.get(), std::memory_order_release);
    // Readers that loaded `old` may use it until their next quiescent state.
    retired.push_back({rte_rcu_qsbr_start(qsbr), std::move(old)});
    reclaim_locked();
  }

  void reclaim_locked() {
    // Tokens grow with time: stop at the first one still waited for.
    size_t done = 0;
    while (done < retired.size() && rte_rcu_qsbr_check(qsbr, retired[done].token, false) == 1) {
      ++done;
    }
    retired.erase(retired.begin(), retired.begin() + static_cast<ptrdiff_t>(done));
  }
};

SpdPublisher::SpdPublisher() : impl_(std::make_unique<Impl>()) {}

SpdPublisher::~SpdPublisher() {
  if (impl_ == nullptr) return;
  current_.store(nullptr, std::memory_order_release);
  impl_->retired.clear();
  impl_->live.reset();
  rte_free(impl_->qsbr);
}

Expected<std::unique_ptr<SpdPublisher>> SpdPublisher::create(const Options& options) {
  if (options.max_readers == 0) return Status::error("SpdPublisher: max_readers must be >= 1");
  auto empty = Spd::build({}, options.spd);
  if (!empty) return empty.status();
  std::unique_ptr<SpdPublisher> p(new (std::nothrow) SpdPublisher());
  if (p == nullptr) return Status::error("SpdPublisher: out of memory");
  Impl& impl = *p->impl_;
  impl.options = options;
  const size_t size = rte_rcu_qsbr_get_memsize(options.max_readers);
  impl.qsbr = static_cast<rte_rcu_qsbr*>(
      rte_zmalloc_socket("spd_qsbr", size, RTE_CACHE_LINE_SIZE, options.socket_id));
  if (impl.qsbr == nullptr) {
    return Status::error(std::string("SpdPublisher: allocating the RCU variable failed: ") +
                         rte_strerror(rte_errno));
  }
  if (rte_rcu_qsbr_init(impl.qsbr, options.max_readers) != 0) {
    return Status::error(std::string("SpdPublisher: rte_rcu_qsbr_init failed: ") +
                         rte_strerror(rte_errno));
  }
  impl.live = std::move(*empty);
  impl.live->epoch_ = 1;  // generation 0; epochs are generation + 1
  p->current_.store(impl.live.get(), std::memory_order_release);
  return p;
}

Status SpdPublisher::register_reader(unsigned thread_id) {
  if (thread_id >= impl_->options.max_readers) {
    return Status::error("SpdPublisher: RCU reader thread id " + std::to_string(thread_id) +
                         " is out of range (max_readers " +
                         std::to_string(impl_->options.max_readers) + ")");
  }
  if (rte_rcu_qsbr_thread_register(impl_->qsbr, thread_id) != 0) {
    return Status::error("SpdPublisher: registering RCU reader " + std::to_string(thread_id) +
                         " failed: " + rte_strerror(rte_errno));
  }
  rte_rcu_qsbr_thread_online(impl_->qsbr, thread_id);
  return Status::ok();
}

void SpdPublisher::unregister_reader(unsigned thread_id) {
  if (thread_id >= impl_->options.max_readers) return;
  rte_rcu_qsbr_thread_offline(impl_->qsbr, thread_id);
  rte_rcu_qsbr_thread_unregister(impl_->qsbr, thread_id);
}

void SpdPublisher::quiescent(unsigned thread_id) {
  if (thread_id >= impl_->options.max_readers) return;
  rte_rcu_qsbr_quiescent(impl_->qsbr, thread_id);
}

Status SpdPublisher::update(std::span<const Policy> policies) {
  std::lock_guard lock(impl_->writer);
  auto spd = Spd::build(policies, impl_->options.spd);
  if (!spd) return spd.status();
  impl_->swap_locked(std::move(*spd), current_);
  return Status::ok();
}

void SpdPublisher::publish(std::unique_ptr<Spd> spd) {
  if (spd == nullptr) return;
  std::lock_guard lock(impl_->writer);
  impl_->swap_locked(std::move(spd), current_);
}

void SpdPublisher::reclaim() {
  std::lock_guard lock(impl_->writer);
  impl_->reclaim_locked();
}

void SpdPublisher::synchronize() {
  std::lock_guard lock(impl_->writer);
  if (impl_->retired.empty()) return;
  rte_rcu_qsbr_synchronize(impl_->qsbr, RTE_QSBR_THRID_INVALID);
  impl_->retired.clear();
}

size_t SpdPublisher::retired() const {
  std::lock_guard lock(impl_->writer);
  return impl_->retired.size();
}

uint64_t SpdPublisher::generation() const {
  std::lock_guard lock(impl_->writer);
  return impl_->generation;
}

}  // namespace tcpsec::spd
