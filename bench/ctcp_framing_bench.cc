// Pseudo-TCP framing cost per packet: encapsulate (parse_ip_packet +
// encapsulate) and decapsulate (parse_tcp_segment with TCP checksum
// verification + strict decapsulate), for IKE and ESP, IPv4 and IPv6, inner
// packets of 64, 512 and 1400 bytes (whole IP packet, before framing).
//
// Every iteration first restores its input from a template with memcpy (the
// functions work in place); BM_Copy* measure exactly that restore, so the
// framing cost is the difference. Time is per packet; "cycles" is TSC ticks
// per packet in the best 1024-packet chunk (rdtsc: reference cycles, not core
// cycles under turbo), "ns_per_pkt" the same in nanoseconds, "cycles_avg"
// the average over the run, disturbances included.
//
//   build-perf/bench/ctcp_framing_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
// and read the "_min" rows.
#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/ctcp/framing.h"

namespace tcpsec::ctcp {
namespace {

constexpr uint16_t kHeadroom = 128;  // as an mbuf
constexpr uint16_t kTailroom = 128;

enum Kind : int64_t { kIke = 0, kEsp = 1 };
enum Family : int64_t { kV4 = 4, kV6 = 6 };

// An inner packet as the IKE daemon (UDP 500 -> 500, real checksum) or the
// ESP engine would hand it over, `size` bytes in all.
std::vector<uint8_t> make_inner(Kind kind, Family family, uint16_t size) {
  std::vector<uint8_t> p(size);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
  net::IpPacketInfo info;
  info.family = family == kV4 ? net::IpFamily::kV4 : net::IpFamily::kV6;
  info.l3_length = family == kV4 ? net::kIpv4HeaderLen : net::kIpv6HeaderLen;
  info.packet_length = size;
  uint8_t proto = kind == kIke ? net::kProtoUdp : net::kProtoEsp;
  uint8_t* ip = p.data();
  std::memset(ip, 0, info.l3_length);
  const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  if (family == kV4) {
    ip[0] = 0x45;
    net::store_be16(ip + 4, 0x1234);
    net::store_be16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = proto;
    std::memcpy(ip + 12, "\xc0\x00\x02\x01\xc6\x33\x64\x02", 8);
  } else {
    ip[0] = 0x60;
    ip[6] = proto;
    ip[7] = 64;
    std::memcpy(ip + 8, src, 16);
    std::memcpy(ip + 24, dst, 16);
  }
  uint16_t l4_len = info.l4_length();
  net::set_ip_payload_length(ip, info, l4_len);
  uint8_t* l4 = ip + info.l3_length;
  if (kind == kIke) {
    net::store_be16(l4, 500);
    net::store_be16(l4 + 2, 500);
    net::store_be16(l4 + 4, l4_len);
    net::store_be16(l4 + 6, 0);
    if (l4_len >= 8 + 28) {  // an IKE_SA_INIT request header, where it fits
      uint8_t* ike = l4 + 8;
      std::memset(ike + 8, 0, 8);
      ike[16] = 40;
      ike[17] = 0x20;
      ike[18] = 34;
      ike[19] = 0x08;
      std::memset(ike + 20, 0, 4);
      net::store_be32(ike + 24, static_cast<uint32_t>(l4_len - 8));
    }
    net::store_be16(l4 + 6, net::l4_checksum(ip, info, net::kProtoUdp, {l4, l4_len}, true));
  } else {
    net::store_be32(l4, 0x1000abcd);
    net::store_be32(l4 + 4, 1);
  }
  return p;
}

struct Fixture {
  std::vector<uint8_t> inner;
  std::vector<uint8_t> segment;
  std::vector<uint8_t> storage = std::vector<uint8_t>(kHeadroom + 2048 + kTailroom);
  SegmentParams params{49152, 10000, 0x01020304, 0xa0b0c0d0};

  explicit Fixture(const benchmark::State& state) {
    inner = make_inner(static_cast<Kind>(state.range(0)), static_cast<Family>(state.range(1)),
                       static_cast<uint16_t>(state.range(2)));
    std::memcpy(storage.data() + kHeadroom, inner.data(), inner.size());
    net::PacketBuffer buf(storage, kHeadroom, static_cast<uint16_t>(inner.size()));
    net::IpPacketInfo info;
    if (net::parse_ip_packet(buf.bytes(), info) != DropReason::kNone ||
        encapsulate(buf, info, params) != DropReason::kNone) {
      std::abort();
    }
    segment.assign(buf.data(), buf.data() + buf.length());
  }

  // Restores `tmpl` at the usual offset, as a fresh mbuf would hold it.
  net::PacketBuffer restore(const std::vector<uint8_t>& tmpl) {
    std::memcpy(storage.data() + kHeadroom, tmpl.data(), tmpl.size());
    return net::PacketBuffer(storage, kHeadroom, static_cast<uint16_t>(tmpl.size()));
  }
};

// TSC ticks per nanosecond, measured once against steady_clock.
double tsc_per_ns() {
  static const double value = [] {
    auto t0 = std::chrono::steady_clock::now();
    uint64_t c0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    uint64_t c1 = __rdtsc();
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0);
    return static_cast<double>(c1 - c0) / ns.count();
  }();
  return value;
}

// Cycles per packet. The average over the whole run includes whatever else
// the machine did (preemption, interrupts); the best 1024-packet chunk does
// not, and is what "cycles" and "ns_per_pkt" report.
class TscMeter {
 public:
  static constexpr uint32_t kChunk = 1024;
  TscMeter() : start_(__rdtsc()), last_(start_) {}
  void tick() {
    if (++n_ < kChunk) return;
    uint64_t now = __rdtsc();
    best_ = std::min(best_, now - last_);
    last_ = now;
    n_ = 0;
  }
  void report(benchmark::State& state) const {
    double avg = static_cast<double>(__rdtsc() - start_) / static_cast<double>(state.iterations());
    double best = best_ == UINT64_MAX ? avg : static_cast<double>(best_) / kChunk;
    state.counters["cycles"] = best;
    state.counters["ns_per_pkt"] = best / tsc_per_ns();
    state.counters["cycles_avg"] = avg;
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(std::string(state.range(0) == kIke ? "ike" : "esp") +
                   (state.range(1) == kV4 ? "/v4/" : "/v6/") + std::to_string(state.range(2)) +
                   "B");
  }

 private:
  uint64_t start_;
  uint64_t last_;
  uint64_t best_ = UINT64_MAX;
  uint32_t n_ = 0;
};

void BM_CopyInner(benchmark::State& state) {
  Fixture f(state);
  tsc_per_ns();
  TscMeter meter;
  for (auto _ : state) {
    net::PacketBuffer buf = f.restore(f.inner);
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
    meter.tick();
  }
  meter.report(state);
}

void BM_Encapsulate(benchmark::State& state) {
  Fixture f(state);
  tsc_per_ns();
  TscMeter meter;
  for (auto _ : state) {
    net::PacketBuffer buf = f.restore(f.inner);
    net::IpPacketInfo info;
    DropReason r = net::parse_ip_packet(buf.bytes(), info);
    if (r == DropReason::kNone) r = encapsulate(buf, info, f.params);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
    meter.tick();
  }
  meter.report(state);
}

void BM_CopySegment(benchmark::State& state) {
  Fixture f(state);
  tsc_per_ns();
  TscMeter meter;
  for (auto _ : state) {
    net::PacketBuffer buf = f.restore(f.segment);
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
    meter.tick();
  }
  meter.report(state);
}

void BM_Decapsulate(benchmark::State& state) {
  Fixture f(state);
  {
    net::PacketBuffer buf = f.restore(f.segment);
    TcpSegment seg;
    if (parse_tcp_segment(buf.bytes(), seg) != DropReason::kNone ||
        decapsulate(buf, seg, true).drop != DropReason::kNone) {
      state.SkipWithError("template does not decapsulate");
      return;
    }
  }
  tsc_per_ns();
  TscMeter meter;
  for (auto _ : state) {
    net::PacketBuffer buf = f.restore(f.segment);
    TcpSegment seg;
    DropReason r = parse_tcp_segment(buf.bytes(), seg, /*verify_checksum=*/true);
    if (r == DropReason::kNone) r = decapsulate(buf, seg, /*strict_trailer=*/true).drop;
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
    meter.tick();
  }
  meter.report(state);
}

double min_of(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

void Args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"esp", "ip", "size"});
  // With --benchmark_repetitions, the minimum is the figure least disturbed
  // by other work on the machine.
  b->ComputeStatistics("min", min_of);
  for (int64_t kind : {kIke, kEsp}) {
    for (int64_t family : {kV4, kV6}) {
      for (int64_t size : {64, 512, 1400}) b->Args({kind, family, size});
    }
  }
}

BENCHMARK(BM_CopyInner)->Apply(Args);
BENCHMARK(BM_Encapsulate)->Apply(Args);
BENCHMARK(BM_CopySegment)->Apply(Args);
BENCHMARK(BM_Decapsulate)->Apply(Args);

}  // namespace
}  // namespace tcpsec::ctcp

BENCHMARK_MAIN();
