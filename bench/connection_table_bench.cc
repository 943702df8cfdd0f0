// ConnectionTable lookups: flow (single and bulk of 32), IKE and ESP, at 1K
// and 1M connections. Keys are visited in a random order so that the large
// table is not served from the cache by a sequential walk.
//
//   ninja -C build-conn bench/connection_table_bench && build-conn/bench/connection_table_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "dataplane/ctcp/connection_table.h"
#include "tests/support/eal_environment.h"

namespace tcpsec::ctcp {
namespace {

// A table of `n` connections, each with one IKE SPI and one ESP SPI, built
// on first use and kept for every benchmark of that size.
class Fixture {
 public:
  explicit Fixture(uint32_t n) : n_(n) {}

  bool ready() {
    if (table_ == nullptr && error_.empty()) build();
    return table_ != nullptr;
  }
  const std::string& error() const { return error_; }
  ConnectionTable& table() { return *table_; }
  uint32_t size() const { return n_; }
  // The i-th key of a random visiting order. Keys are stored in that order,
  // so reading them is sequential (as a packet's key is in cache): only the
  // table's own memory is accessed at random.
  const FlowKey& key(uint32_t i) const { return visit_[i]; }
  uint64_t ike_spi(uint32_t i) const { return spi_[i]; }
  uint32_t esp_spi(uint32_t i) const { return spi_[i]; }
  const FlowKey* const* bulk(uint32_t i) const { return &ptrs_[i]; }

 private:
  void build() {
    ConnectionTable::Options o;
    o.name = "bench" + std::to_string(n_);
    o.max_connections = n_;
    auto t = ConnectionTable::create(o);
    if (!t) {
      error_ = t.error();
      return;
    }
    const net::IpAddress local = net::IpAddress::v4(0xC0000201);  // 192.0.2.1
    std::vector<FlowKey> keys(n_);
    for (uint32_t i = 0; i < n_; ++i) {
      FlowKey& k = keys[i];
      k.local = local;
      k.peer = net::IpAddress::v4(0x0A000000u + (i >> 4));
      k.local_port = static_cast<uint16_t>(40000 + (i & 15));
      k.peer_port = 4500;
      auto id = (*t)->add(k, ConnState::kEstablished, 0, true);
      Status s = id ? (*t)->add_ike(*id, {uint64_t{i} + 1, 0}) : id.status();
      if (s) s = (*t)->add_esp(*id, i + 1);
      if (!s) {
        error_ = s.message();
        return;
      }
    }
    std::vector<uint32_t> order(n_);
    std::iota(order.begin(), order.end(), 0u);
    std::shuffle(order.begin(), order.end(), std::mt19937(42));
    visit_.resize(n_);
    spi_.resize(n_);
    ptrs_.resize(n_);
    for (uint32_t i = 0; i < n_; ++i) {
      visit_[i] = keys[order[i]];
      spi_[i] = order[i] + 1;
      ptrs_[i] = &visit_[i];
    }
    table_ = std::move(*t);
  }

  uint32_t n_;
  std::string error_;
  std::unique_ptr<ConnectionTable> table_;
  std::vector<FlowKey> visit_;
  std::vector<uint32_t> spi_;
  std::vector<const FlowKey*> ptrs_;
};

bool check(benchmark::State& state, Fixture& f) {
  if (f.ready()) return true;
  state.SkipWithError(f.error().c_str());
  return false;
}

// items_per_second, and the inverse as a time per lookup ("ns/lookup").
void per_lookup(benchmark::State& state, uint64_t lookups) {
  state.SetItemsProcessed(static_cast<int64_t>(lookups));
  state.counters["per_lookup"] = benchmark::Counter(
      static_cast<double>(lookups), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void lookup_flow(benchmark::State& state, Fixture& f) {
  if (!check(state, f)) return;
  ConnectionTable& t = f.table();
  uint32_t i = 0;
  for (auto _ : state) {
    ConnId id = t.lookup_flow(f.key(i));
    benchmark::DoNotOptimize(id);
    if (++i == f.size()) i = 0;
  }
  per_lookup(state, state.iterations());
}

void lookup_flow_bulk32(benchmark::State& state, Fixture& f) {
  if (!check(state, f)) return;
  ConnectionTable& t = f.table();
  constexpr uint32_t kBurst = 32;
  ConnId out[kBurst];
  uint32_t i = 0;
  for (auto _ : state) {
    t.lookup_flow_bulk(std::span<const FlowKey* const>(f.bulk(i), kBurst), out);
    benchmark::DoNotOptimize(out);
    i += kBurst;
    if (i + kBurst > f.size()) i = 0;
  }
  per_lookup(state, state.iterations() * kBurst);
}

void lookup_ike(benchmark::State& state, Fixture& f) {
  if (!check(state, f)) return;
  ConnectionTable& t = f.table();
  uint32_t i = 0;
  for (auto _ : state) {
    const FlowKey& k = f.key(i);
    ConnId id = t.lookup_ike(k.local, k.peer, f.ike_spi(i));
    benchmark::DoNotOptimize(id);
    if (++i == f.size()) i = 0;
  }
  per_lookup(state, state.iterations());
}

void lookup_esp(benchmark::State& state, Fixture& f) {
  if (!check(state, f)) return;
  ConnectionTable& t = f.table();
  uint32_t i = 0;
  for (auto _ : state) {
    const FlowKey& k = f.key(i);
    ConnId id = t.lookup_esp(k.local, k.peer, f.esp_spi(i));
    benchmark::DoNotOptimize(id);
    if (++i == f.size()) i = 0;
  }
  per_lookup(state, state.iterations());
}

}  // namespace
}  // namespace tcpsec::ctcp

int main(int argc, char** argv) {
  using namespace tcpsec::ctcp;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  tcpsec::Status eal = tcpsec::testing::init_eal();
  if (!eal) {
    std::fprintf(stderr, "%s\n", eal.message().c_str());
    return 1;
  }
  {
    Fixture small(1u << 10), large(1u << 20);
    for (auto entry : {std::pair{"1K", &small}, std::pair{"1M", &large}}) {
      // Named copies: lambdas capturing structured bindings are C++20 that
      // clang 14 does not take.
      const std::string s = entry.first;
      Fixture* f = entry.second;
      benchmark::RegisterBenchmark(("lookup_flow/" + s).c_str(),
                                   [f](benchmark::State& st) { lookup_flow(st, *f); });
      benchmark::RegisterBenchmark(("lookup_flow_bulk32/" + s).c_str(),
                                   [f](benchmark::State& st) { lookup_flow_bulk32(st, *f); });
      benchmark::RegisterBenchmark(("lookup_ike/" + s).c_str(),
                                   [f](benchmark::State& st) { lookup_ike(st, *f); });
      benchmark::RegisterBenchmark(("lookup_esp/" + s).c_str(),
                                   [f](benchmark::State& st) { lookup_esp(st, *f); });
    }
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}
