// SPD classification (rte_acl) of bursts of 32 packets at 10, 1K and 10K
// policies, IPv4 and IPv6, the worker's SPD flow cache answering 1024 known
// flows instead, and SaTable lookups (single and bulk of 32) at 1K and 64K
// SAs. Packets are spread over every policy, in a random order, and
// about one in eight matches none (default action).
//
//   ninja -C build-spd bench/spd_bench && build-spd/bench/spd_bench
//
// per_packet / per_lookup is the time per packet (the inverse rate).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "dataplane/sad/sa_table.h"
#include "dataplane/spd/spd.h"
#include "dataplane/spd/spd_flow_cache.h"
#include "tests/support/eal_environment.h"

namespace tcpsec {
namespace {

using net::IpAddress;
using net::IpPrefix;

constexpr uint32_t kBurst = 32;
constexpr uint32_t kKeys = 1 << 14;  // packets cycled through

void per_packet(benchmark::State& state, uint64_t packets, const char* name = "per_packet") {
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.counters[name] = benchmark::Counter(
      static_cast<double>(packets), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---------------------------------------------------------------------------
// SPD

// Policy i (outbound): local 10.x.y.0/24 (one per policy) -> remote
// 172.16.0.0/12 split in /20s, TCP or UDP with a destination port range, or
// any protocol; IPv6 the same shape in 2001:db8::/32 and fd00::/8.
class SpdFixture {
 public:
  SpdFixture(uint32_t n, bool v6) : n_(n), v6_(v6) {}

  bool ready() {
    if (spd_ == nullptr && error_.empty()) build();
    return spd_ != nullptr;
  }
  const std::string& error() const { return error_; }
  const spd::Spd& spd() const { return *spd_; }
  const spd::SpdKey4* const* keys4(uint32_t i) const { return &ptrs4_[i]; }
  const spd::SpdKey6* const* keys6(uint32_t i) const { return &ptrs6_[i]; }
  bool v6() const { return v6_; }

 private:
  static IpAddress local_of(uint32_t i, bool v6) {
    if (!v6) return IpAddress::v4(0x0A000000u + (i << 8));
    std::array<uint8_t, 16> b{
        0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    return IpAddress::v6(b.data());
  }
  static IpAddress remote_of(uint32_t i, bool v6) {
    if (!v6) return IpAddress::v4(0xAC100000u + ((i % 256) << 12));
    std::array<uint8_t, 16> b{0xfd, 0, static_cast<uint8_t>(i % 256)};
    return IpAddress::v6(b.data());
  }

  void build() {
    std::vector<spd::Policy> ps;
    for (uint32_t i = 0; i < n_; ++i) {
      spd::Policy p;
      p.direction = spd::Direction::kOutbound;
      p.priority = i;
      p.action = spd::Action::kProtect;
      p.sa_spi = 0x1000 + i;
      p.match.local = {IpPrefix{local_of(i, v6_), static_cast<uint8_t>(v6_ ? 48 : 24)}};
      p.match.remote = {IpPrefix{remote_of(i, v6_), static_cast<uint8_t>(v6_ ? 24 : 20)}};
      switch (i % 3) {
        case 0:
          p.match.protocol = 6;
          p.match.remote_ports = {static_cast<uint16_t>(i % 1024),
                                  static_cast<uint16_t>(i % 1024 + 1024)};
          break;
        case 1:
          p.match.protocol = 17;
          p.match.local_ports = {1024, 65535};
          break;
        default:
          break;  // any protocol
      }
      ps.push_back(std::move(p));
    }
    spd::Spd::Options o;
    o.name = "bench";
    auto s = spd::Spd::build(ps, o);
    if (!s) {
      error_ = s.error();
      return;
    }
    spd_ = std::move(*s);

    std::mt19937 rng(42);
    keys4_.reserve(kKeys);
    keys6_.reserve(kKeys);
    for (uint32_t k = 0; k < kKeys; ++k) {
      const uint32_t i = rng() % n_;
      IpAddress src = local_of(i, v6_), dst = remote_of(i, v6_);
      src.bytes[v6_ ? 15 : 3] = static_cast<uint8_t>(rng());
      dst.bytes[v6_ ? 15 : 3] = static_cast<uint8_t>(rng());
      const uint8_t proto = i % 3 == 1 ? 17 : 6;
      uint16_t dport = static_cast<uint16_t>(i % 1024 + rng() % 1024);
      if (k % 8 == 7) dst.bytes[0] ^= 0x40;  // matches nothing
      if (v6_) {
        keys6_.push_back(spd::make_key6(src, dst, proto, 40000, dport));
      } else {
        keys4_.push_back(spd::make_key4(src, dst, proto, 40000, dport));
      }
    }
    for (const auto& k : keys4_) ptrs4_.push_back(&k);
    for (const auto& k : keys6_) ptrs6_.push_back(&k);
  }

  uint32_t n_;
  bool v6_;
  std::string error_;
  std::unique_ptr<spd::Spd> spd_;
  std::vector<spd::SpdKey4> keys4_;
  std::vector<spd::SpdKey6> keys6_;
  std::vector<const spd::SpdKey4*> ptrs4_;
  std::vector<const spd::SpdKey6*> ptrs6_;
};

// The flow cache's probe for 1024 flows classified before (the pps
// harness's flow count), cycled in order: hit = share of probes answered
// (colliding flows evict each other and miss).
template <typename Cache, typename Key>
void flow_cache_probe(benchmark::State& state, SpdFixture& f, const Key* const* keys) {
  auto cache = std::make_unique<Cache>();
  const spd::Spd& s = f.spd();
  constexpr uint32_t kFlows = 1024;
  for (uint32_t i = 0; i < kFlows; ++i) {
    uint32_t r;
    s.classify(spd::Direction::kOutbound, &keys[i], &r, 1);
    cache->insert(s.epoch(), *keys[i], r);
  }
  uint32_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    uint32_t r = 0;
    hits += cache->find(s.epoch(), *keys[i], r);
    benchmark::DoNotOptimize(r);
    i = (i + 1) % kFlows;
  }
  per_packet(state, state.iterations());
  state.counters["hit"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
}

void flow_cache_probe(benchmark::State& state, SpdFixture& f) {
  if (!f.ready()) {
    state.SkipWithError(f.error().c_str());
    return;
  }
  if (f.v6()) {
    flow_cache_probe<spd::SpdFlowCache6>(state, f, f.keys6(0));
  } else {
    flow_cache_probe<spd::SpdFlowCache>(state, f, f.keys4(0));
  }
}

void classify_burst32(benchmark::State& state, SpdFixture& f) {
  if (!f.ready()) {
    state.SkipWithError(f.error().c_str());
    return;
  }
  const spd::Spd& s = f.spd();
  uint32_t out[kBurst];
  uint32_t i = 0;
  uint64_t matched = 0;
  for (auto _ : state) {
    if (f.v6()) {
      s.classify(spd::Direction::kOutbound, f.keys6(i), out, kBurst);
    } else {
      s.classify(spd::Direction::kOutbound, f.keys4(i), out, kBurst);
    }
    benchmark::DoNotOptimize(out);
    for (uint32_t j = 0; j < kBurst; ++j) matched += out[j] != spd::kNoPolicy;
    i += kBurst;
    if (i + kBurst > kKeys) i = 0;
  }
  per_packet(state, state.iterations() * kBurst);
  state.counters["matched"] =
      static_cast<double>(matched) / static_cast<double>(state.iterations() * kBurst);
  state.counters["acl_rules"] = s.rule_count();
}

// ---------------------------------------------------------------------------
// SaTable

class SaFixture {
 public:
  explicit SaFixture(uint32_t n) : n_(n) {}
  bool ready() {
    if (table_ == nullptr && error_.empty()) build();
    return table_ != nullptr;
  }
  const std::string& error() const { return error_; }
  const sad::SaTable& table() const { return *table_; }
  const sad::SaKey* keys(uint32_t i) const { return &keys_[i]; }

 private:
  void build() {
    sad::SaTable::Options o;
    o.name = "bsa" + std::to_string(n_);
    o.max_sas = n_;
    auto t = sad::SaTable::create(o);
    if (!t) {
      error_ = t.error();
      return;
    }
    const IpAddress locals[2] = {IpAddress::v4(0xC000020Au), IpAddress::v4(0xC000020Bu)};
    std::mt19937 rng(7);
    std::vector<uint32_t> spis(n_);
    for (uint32_t i = 0; i < n_; ++i) {
      // Scattered and unique: an odd multiplier is a bijection mod 2^31.
      spis[i] = 0x80000000u | (((i + 1) * 2654435761u) & 0x7fffffffu);
      // One SA in 16 is keyed by (SPI, local), the rest by SPI alone.
      const sad::SaKey k =
          i % 16 == 0 ? sad::SaKey::of(spis[i], locals[i % 2]) : sad::SaKey::of(spis[i]);
      if (auto r = (*t)->add(k); !r) {
        error_ = r.error();
        return;
      }
    }
    // Packets carry the destination address: exact hits for the keyed SAs,
    // fallback to the SPI alone for the others.
    for (uint32_t k = 0; k < kKeys; ++k) {
      const uint32_t i = rng() % n_;
      keys_.push_back(sad::SaKey::of(spis[i], locals[i % 2]));
    }
    table_ = std::move(*t);
  }
  uint32_t n_;
  std::string error_;
  std::unique_ptr<sad::SaTable> table_;
  std::vector<sad::SaKey> keys_;
};

void sa_lookup(benchmark::State& state, SaFixture& f) {
  if (!f.ready()) {
    state.SkipWithError(f.error().c_str());
    return;
  }
  const sad::SaTable& t = f.table();
  uint32_t i = 0;
  for (auto _ : state) {
    const sad::SaKey& k = *f.keys(i);
    sad::SaIndex idx = t.lookup(k.spi, k.local);
    benchmark::DoNotOptimize(idx);
    if (++i == kKeys) i = 0;
  }
  per_packet(state, state.iterations(), "per_lookup");
}

void sa_lookup_bulk32(benchmark::State& state, SaFixture& f) {
  if (!f.ready()) {
    state.SkipWithError(f.error().c_str());
    return;
  }
  const sad::SaTable& t = f.table();
  sad::SaIndex out[kBurst];
  uint32_t i = 0;
  for (auto _ : state) {
    t.lookup_bulk(std::span<const sad::SaKey>(f.keys(i), kBurst), out);
    benchmark::DoNotOptimize(out);
    i += kBurst;
    if (i + kBurst > kKeys) i = 0;
  }
  per_packet(state, state.iterations() * kBurst, "per_lookup");
}

}  // namespace
}  // namespace tcpsec

int main(int argc, char** argv) {
  using namespace tcpsec;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Status eal = testing::init_eal();
  if (!eal) {
    std::fprintf(stderr, "%s\n", eal.message().c_str());
    return 1;
  }
  {
    std::vector<std::unique_ptr<SpdFixture>> spds;
    for (bool v6 : {false, true}) {
      for (uint32_t n : {10u, 1000u, 10000u}) {
        spds.push_back(std::make_unique<SpdFixture>(n, v6));
        SpdFixture* f = spds.back().get();
        const std::string name = std::string("spd_classify_burst32/") + (v6 ? "ipv6/" : "ipv4/") +
                                 std::to_string(n) + "_policies";
        benchmark::RegisterBenchmark(name.c_str(),
                                     [f](benchmark::State& st) { classify_burst32(st, *f); });
        if (n == 10) {
          benchmark::RegisterBenchmark(
              (std::string("spd_flow_cache_hit/") + (v6 ? "ipv6" : "ipv4") + "/1024_flows").c_str(),
              [f](benchmark::State& st) { flow_cache_probe(st, *f); });
        }
      }
    }
    SaFixture sa1k(1u << 10), sa64k(1u << 16);
    for (auto entry : {std::pair{"1K", &sa1k}, std::pair{"64K", &sa64k}}) {
      const std::string s = entry.first;  // named copies for the lambdas (clang 14)
      SaFixture* f = entry.second;
      benchmark::RegisterBenchmark(("sa_lookup/" + s).c_str(),
                                   [f](benchmark::State& st) { sa_lookup(st, *f); });
      benchmark::RegisterBenchmark(("sa_lookup_bulk32/" + s).c_str(),
                                   [f](benchmark::State& st) { sa_lookup_bulk32(st, *f); });
    }
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}
