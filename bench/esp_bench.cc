// ESP cost per packet, AES-GCM-128, bursts of 32, for inner IP packets of
// 64, 512 and 1400 bytes:
//
//   BM_RawGcm128   intel-ipsec-mb's job API alone: 32 in-place AES-GCM-128
//                  encryptions of `size` bytes with an 8-byte AAD (the
//                  baseline: what the crypto costs).
//   BM_EspOutbound restore 32 inner packets, esp_outbound_prepare x 32 (tunnel
//                  mode, IPv4 in IPv4), one engine pass, esp_outbound_finish x 32.
//   BM_EspOutboundSealed  the same through esp_outbound_seal x 32: the
//                  worker's path for AES-GCM SAs (no op, no engine pass).
//   BM_EspFloor    the least any encapsulation does: a 36-byte header from a
//                  template, length/ID/checksum/sequence patched, trailer,
//                  and the direct AES-GCM call; no checks, no counters.
//   BM_EspInbound  restore 32 ESP packets (and the replay window: the same
//                  sequence numbers come back every burst), esp_inbound_prepare
//                  x 32, one engine pass, esp_inbound_finish x 32.
//   BM_EspInboundOpened  the same through esp_inbound_open x 32: the
//                  worker's path for AES-GCM SAs.
//   BM_Restore*    the memcpy restores alone, included in every ESP row.
//
// Time is per packet. "cycles" is TSC ticks per packet in the best chunk of
// 64 bursts (rdtsc: reference cycles, not core cycles under turbo),
// "ns_per_pkt" the same in nanoseconds, "cycles_avg" the average over the
// run. The ESP benchmarks also report "x_raw": their cycles over those of
// BM_RawGcm128 at the same size, measured in the same process (the ESP
// payload is 2 to 5 bytes longer than the raw one: padding and trailer).
//
//   build-esp/bench/esp_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
// and read the "_min" rows.
#include <benchmark/benchmark.h>
#include <x86intrin.h>

#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <intel-ipsec-mb.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/crypto/crypto_engine.h"
#include "dataplane/crypto/sa_crypto.h"
#include "dataplane/esp/esp.h"
#include "dataplane/net/ip_packet.h"

namespace tcpsec::esp {
namespace {

constexpr size_t kBurst = 32;
constexpr uint16_t kHeadroom = 128;  // as an mbuf
constexpr uint16_t kTailroom = 128;
constexpr size_t kSlot = kHeadroom + 2048 + kTailroom;

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

// Cycles per packet: best chunk of kChunk bursts, and the average.
class TscMeter {
 public:
  static constexpr uint32_t kChunk = 64;
  TscMeter() : start_(__rdtsc()), last_(start_) {}
  void tick() {
    if (++n_ < kChunk) return;
    uint64_t now = __rdtsc();
    best_ = std::min(best_, now - last_);
    last_ = now;
    n_ = 0;
  }
  double best_per_packet() const {
    return best_ == UINT64_MAX ? 0 : static_cast<double>(best_) / (kChunk * kBurst);
  }
  void report(benchmark::State& state, double raw_cycles = 0) const {
    double avg =
        static_cast<double>(__rdtsc() - start_) / static_cast<double>(state.iterations() * kBurst);
    double best = best_ == UINT64_MAX ? avg : best_per_packet();
    state.counters["cycles"] = best;
    state.counters["ns_per_pkt"] = best / tsc_per_ns();
    state.counters["cycles_avg"] = avg;
    if (raw_cycles > 0) state.counters["x_raw"] = best / raw_cycles;
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBurst) * state.range(0));
    state.SetLabel("aes128gcm16 " + std::to_string(state.range(0)) + "B");
  }

 private:
  uint64_t start_;
  uint64_t last_;
  uint64_t best_ = UINT64_MAX;
  uint32_t n_ = 0;
};

// An IPv4/UDP packet of `size` bytes in all.
std::vector<uint8_t> make_inner(uint16_t size) {
  std::vector<uint8_t> p(size);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
  p[0] = 0x45;
  p[1] = 0;
  net::store_be16(&p[2], size);
  net::store_be16(&p[6], 0x4000);
  p[8] = 64;
  p[9] = net::kProtoUdp;
  std::memcpy(&p[12], "\x0a\x01\x00\x05\x0a\x02\x00\x09", 8);
  net::set_ipv4_header_checksum(p.data());
  net::store_be16(&p[24], static_cast<uint16_t>(size - 20));
  return p;
}

crypto::CryptoEngine& engine() {
  static crypto::CryptoEngine* e = [] {
    auto made = crypto::CryptoEngine::create();
    if (!made) std::abort();
    return new crypto::CryptoEngine(std::move(*made));
  }();
  return *e;
}

const std::vector<uint8_t> kKey = [] {
  std::vector<uint8_t> k(20);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(0x40 + i);
  return k;
}();

// ---------------------------------------------------------------------------
// Raw intel-ipsec-mb

struct RawGcm {
  IMB_MGR* mgr = nullptr;
  gcm_key_data* key = nullptr;
  std::vector<uint8_t> buffers;
  std::array<std::array<uint8_t, 16>, kBurst> tags{};
  std::array<uint8_t, 12> iv{};
  std::array<uint8_t, 8> aad{};
  uint16_t size;

  explicit RawGcm(uint16_t n) : buffers(kBurst * 2048), size(n) {
    mgr = alloc_mb_mgr(0);
    if (mgr == nullptr) std::abort();
    IMB_ARCH arch;
    init_mb_mgr_auto(mgr, &arch);
    key = static_cast<gcm_key_data*>(std::aligned_alloc(64, sizeof(gcm_key_data)));
    IMB_AES128_GCM_PRE(mgr, kKey.data(), key);
  }
  ~RawGcm() {
    std::free(key);
    free_mb_mgr(mgr);
  }
  void burst() {
    for (size_t i = 0; i < kBurst; ++i) {
      IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
      uint8_t* buf = buffers.data() + i * 2048;
      job->cipher_mode = IMB_CIPHER_GCM;
      job->hash_alg = IMB_AUTH_AES_GMAC;
      job->cipher_direction = IMB_DIR_ENCRYPT;
      job->chain_order = IMB_ORDER_CIPHER_HASH;
      job->enc_keys = key;
      job->dec_keys = key;
      job->key_len_in_bytes = 16;
      job->src = buf;
      job->dst = buf;
      job->cipher_start_src_offset_in_bytes = 0;
      job->msg_len_to_cipher_in_bytes = size;
      job->hash_start_src_offset_in_bytes = 0;
      job->msg_len_to_hash_in_bytes = size;
      job->iv = iv.data();
      job->iv_len_in_bytes = iv.size();
      job->u.GCM.aad = aad.data();
      job->u.GCM.aad_len_in_bytes = aad.size();
      job->u.GCM.ctx = nullptr;
      job->auth_tag_output = tags[i].data();
      job->auth_tag_output_len_in_bytes = 16;
      job->user_data = buf;
      job = IMB_SUBMIT_JOB(mgr);
      while (job != nullptr) {
        if (job->status != IMB_STATUS_COMPLETED) std::abort();
        job = IMB_GET_COMPLETED_JOB(mgr);
      }
    }
    while (IMB_JOB* job = IMB_FLUSH_JOB(mgr)) {
      if (job->status != IMB_STATUS_COMPLETED) std::abort();
    }
  }
};

// Raw cycles per packet at `size`, measured once per size for x_raw.
double raw_cycles(uint16_t size) {
  static std::map<uint16_t, double> cache;
  auto it = cache.find(size);
  if (it != cache.end()) return it->second;
  RawGcm raw(size);
  for (int i = 0; i < 64 * 100; ++i) raw.burst();  // warm up
  TscMeter meter;
  for (int i = 0; i < 64 * 2000; ++i) {
    raw.burst();
    meter.tick();
  }
  return cache[size] = meter.best_per_packet();
}

void BM_RawGcm128(benchmark::State& state) {
  RawGcm raw(static_cast<uint16_t>(state.range(0)));
  tsc_per_ns();
  TscMeter meter;
  for (auto _ : state) {
    raw.burst();
    benchmark::ClobberMemory();
    meter.tick();
  }
  meter.report(state);
}

// ---------------------------------------------------------------------------
// ESP

struct EspFixture {
  std::unique_ptr<crypto::SaCrypto> keys = std::make_unique<crypto::SaCrypto>();
  std::unique_ptr<EspSaOut> out = std::make_unique<EspSaOut>();
  std::unique_ptr<EspSaIn> in = std::make_unique<EspSaIn>();
  std::unique_ptr<ReplayWindow> fresh_window = std::make_unique<ReplayWindow>();
  std::vector<uint8_t> storage = std::vector<uint8_t>(kBurst * kSlot);
  std::vector<uint8_t> inner;
  net::IpPacketInfo inner_info;
  std::vector<std::vector<uint8_t>> esp;  // kBurst ESP packets, seq 1..kBurst
  std::array<net::IpPacketInfo, kBurst> esp_info;
  std::array<EspOp, kBurst> ops;
  std::vector<net::PacketBuffer> bufs;

  explicit EspFixture(uint16_t size) : inner(make_inner(size)) {
    if (!keys->install(crypto::Algorithm::kAesGcm128, kKey, {}).is_ok()) std::abort();
    EspSaOutConfig oc;
    oc.spi = 0x1000abcd;
    oc.tunnel_source = net::IpAddress::v4(0xc0000201);
    oc.tunnel_destination = net::IpAddress::v4(0xc6336402);
    EspSaInConfig ic;
    ic.spi = oc.spi;
    ic.replay_window = 1024;
    if (!out->init(oc, *keys).is_ok() || !in->init(ic, *keys).is_ok()) std::abort();
    *fresh_window = in->window;
    if (net::parse_ip_packet(inner, inner_info) != DropReason::kNone) std::abort();
    bufs.reserve(kBurst);
    // The ESP packets the inbound benchmark decrypts.
    restore_all(inner);
    outbound_burst();
    for (size_t i = 0; i < kBurst; ++i) {
      esp.emplace_back(bufs[i].data(), bufs[i].data() + bufs[i].length());
      if (net::parse_ip_packet(esp[i], esp_info[i]) != DropReason::kNone) std::abort();
    }
    // Check the inbound path works on them.
    inbound_burst();
    for (size_t i = 0; i < kBurst; ++i) {
      if (bufs[i].length() != inner.size()) std::abort();
    }
  }

  void restore(size_t i, const std::vector<uint8_t>& pkt) {
    uint8_t* slot = storage.data() + i * kSlot;
    std::memcpy(slot + kHeadroom, pkt.data(), pkt.size());
    if (bufs.size() <= i) {
      bufs.emplace_back(std::span<uint8_t>(slot, kSlot), kHeadroom,
                        static_cast<uint16_t>(pkt.size()));
    } else {
      bufs[i] = net::PacketBuffer(std::span<uint8_t>(slot, kSlot), kHeadroom,
                                  static_cast<uint16_t>(pkt.size()));
    }
  }
  void restore_all(const std::vector<uint8_t>& pkt) {
    for (size_t i = 0; i < kBurst; ++i) restore(i, pkt);
  }
  void restore_inner() { restore_all(inner); }
  void restore_esp() {
    for (size_t i = 0; i < kBurst; ++i) restore(i, esp[i]);
    in->window = *fresh_window;
  }

  void outbound_burst() {
    for (size_t i = 0; i < kBurst; ++i) {
      if (esp_outbound_prepare(bufs[i], inner_info, *out, ops[i]) != DropReason::kNone) {
        std::abort();
      }
    }
    esp_process(engine(), ops);
    for (size_t i = 0; i < kBurst; ++i) {
      if (esp_outbound_finish(bufs[i], ops[i]) != DropReason::kNone) std::abort();
    }
  }
  // The worker's path for AES-GCM SAs: framed and encrypted packet by packet.
  void sealed_burst() {
    for (size_t i = 0; i < kBurst; ++i) {
      if (esp_outbound_seal(bufs[i], inner_info, *out, engine()) != DropReason::kNone) std::abort();
    }
  }
  // The worker's path for AES-GCM SAs: checked and decrypted packet by packet.
  void opened_burst() {
    for (size_t i = 0; i < kBurst; ++i) {
      if (esp_inbound_open(bufs[i], esp_info[i], *in, ops[i], engine()) != DropReason::kNone) {
        std::abort();
      }
    }
  }
  void inbound_burst() {
    for (size_t i = 0; i < kBurst; ++i) {
      if (esp_inbound_prepare(bufs[i], esp_info[i], *in, ops[i]) != DropReason::kNone) {
        std::abort();
      }
    }
    esp_process(engine(), ops);
    for (size_t i = 0; i < kBurst; ++i) {
      if (esp_inbound_finish(bufs[i], ops[i]) != DropReason::kNone) std::abort();
    }
  }
};

using FixtureStep = void (EspFixture::*)();

// Times `burst` on the fixture's 32 packets, restored by `restore` before
// each one (no burst: the restore alone). x_raw: against BM_RawGcm128.
void time_bursts(benchmark::State& state, FixtureStep restore, FixtureStep burst = nullptr) {
  const auto size = static_cast<uint16_t>(state.range(0));
  const double raw = burst != nullptr ? raw_cycles(size) : 0;
  EspFixture f(size);
  tsc_per_ns();
  TscMeter meter;
  for (auto _ : state) {
    (f.*restore)();
    if (burst != nullptr) (f.*burst)();
    benchmark::ClobberMemory();
    meter.tick();
  }
  meter.report(state, raw);
  if (burst != nullptr) {
    state.SetLabel(std::string("aes128gcm16 ") + std::to_string(size) + "B " + engine().arch());
  }
}

void BM_RestoreInner(benchmark::State& state) {
  time_bursts(state, &EspFixture::restore_inner);
}
void BM_EspOutbound(benchmark::State& state) {
  time_bursts(state, &EspFixture::restore_inner, &EspFixture::outbound_burst);
}
void BM_EspOutboundSealed(benchmark::State& state) {
  time_bursts(state, &EspFixture::restore_inner, &EspFixture::sealed_burst);
}
void BM_RestoreEsp(benchmark::State& state) {
  time_bursts(state, &EspFixture::restore_esp);
}
void BM_EspInbound(benchmark::State& state) {
  time_bursts(state, &EspFixture::restore_esp, &EspFixture::inbound_burst);
}
void BM_EspInboundOpened(benchmark::State& state) {
  time_bursts(state, &EspFixture::restore_esp, &EspFixture::opened_burst);
}

// The least any tunnel-mode ESP encapsulation does (IPv4 in IPv4,
// AES-GCM-128, no checks, no counters, no crypto op): prepend a 36-byte
// outer IPv4 + ESP header + IV from a template with the length, ID and
// header checksum patched in, append padding, pad length and next header,
// and call intel-ipsec-mb's direct API with the nonce and AAD in place. Its
// distance to raw_crypto's figure bounds what any dataplane can spend on
// framing; BM_EspOutbound's distance to it is what ours adds.
void BM_EspFloor(benchmark::State& state) {
  const auto size = static_cast<uint16_t>(state.range(0));
  const double raw = raw_cycles(size);
  EspFixture f(size);
  RawGcm raw_gcm(size);  // its manager and key schedule
  alignas(16)
      uint8_t tmpl[36] = {0x45, 0, 0, 0,   0,  0,   0x40, 0,    64, net::kProtoEsp, 0,   0, 192,
                          0,    2, 1, 198, 51, 100, 2,    0x10, 0,  0xab,           0xcd};
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += net::load_be16(tmpl + i);
  const uint8_t salt[4] = {1, 2, 3, 4};
  uint64_t seq = 0;
  tsc_per_ns();
  TscMeter meter;
  for (auto _ : state) {
    f.restore_inner();
    for (size_t i = 0; i < kBurst; ++i) {
      net::PacketBuffer& b = f.bufs[i];
      const uint16_t data = b.length();
      const uint16_t pad = static_cast<uint16_t>((0u - (data + 2u)) & 3u);
      const uint16_t total = static_cast<uint16_t>(data + 36 + pad + 2 + 16);
      ++seq;
      uint8_t* out = b.prepend(36);
      std::memcpy(out, tmpl, 36);
      uint32_t s = sum + total + static_cast<uint16_t>(seq);
      s = (s & 0xffff) + (s >> 16);
      s = (s & 0xffff) + (s >> 16);
      net::store_be16(out + 2, total);
      net::store_be16(out + 4, static_cast<uint16_t>(seq));
      net::store_be16(out + 10, static_cast<uint16_t>(~s));
      net::store_be32(out + 24, static_cast<uint32_t>(seq));
      net::store_be32(out + 28, 0);
      net::store_be32(out + 32, static_cast<uint32_t>(seq));
      uint8_t* t = b.append(static_cast<uint16_t>(pad + 2 + 16));
      static constexpr uint8_t kPad[4] = {1, 2, 3, 4};
      std::memcpy(t, kPad, 4);
      t[pad] = static_cast<uint8_t>(pad);
      t[pad + 1] = 4;
      uint8_t nonce[12];
      std::memcpy(nonce, salt, 4);
      std::memcpy(nonce + 4, out + 28, 8);
      gcm_context_data ctx;
      uint8_t* payload = out + 36;
      IMB_AES128_GCM_ENC(raw_gcm.mgr, raw_gcm.key, &ctx, payload, payload,
                         static_cast<uint64_t>(data + pad + 2), nonce, out + 20, 8, t + pad + 2,
                         16);
    }
    benchmark::ClobberMemory();
    meter.tick();
  }
  meter.report(state, raw);
}

double min_of(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

void Args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"size"});
  b->ComputeStatistics("min", min_of);
  for (int64_t size : {64, 512, 1400}) b->Args({size});
}

BENCHMARK(BM_RawGcm128)->Apply(Args);
BENCHMARK(BM_RestoreInner)->Apply(Args);
BENCHMARK(BM_EspOutbound)->Apply(Args);
BENCHMARK(BM_EspOutboundSealed)->Apply(Args);
BENCHMARK(BM_EspFloor)->Apply(Args);
BENCHMARK(BM_RestoreEsp)->Apply(Args);
BENCHMARK(BM_EspInbound)->Apply(Args);
BENCHMARK(BM_EspInboundOpened)->Apply(Args);

}  // namespace
}  // namespace tcpsec::esp

BENCHMARK_MAIN();
