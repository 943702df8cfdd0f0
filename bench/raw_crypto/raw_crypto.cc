// raw_crypto: the bare cost of intel-ipsec-mb AES-GCM-128 encryption per
// packet on one core - the denominator of bench/pps/run_pps.py's ESP
// overhead ratio.
//
// For each size, a burst of `burst` buffers (2 KB apart, as mbufs) is
// encrypted in place with IMB_AES128_GCM_ENC (the one-shot direct API: no job
// queue), each with its own 12-byte nonce, an 8-byte AAD (ESP without ESN:
// SPI + sequence number) and a 16-byte tag, over and over for `seconds`.
// Time is taken per chunk of `chunk` bursts; the best chunk is the figure
// (the uncontended speed on a shared machine), the median is printed too.
//
//   raw_crypto [--sizes 68,516,580,1404] [--burst 32] [--seconds 0.3] [--chunk 64]
//
// One JSON object per line on stdout:
//   {"size": 68, "best_ns": ..., "median_ns": ..., "best_tsc": ..., "tsc_hz": ..., "arch": ...}
// best_ns / median_ns are nanoseconds per packet, best_tsc TSC ticks per
// packet in the best chunk. `size` is the number of bytes encrypted: for an
// ESP packet that is the inner packet plus padding, pad length and next
// header (run_pps.py passes those lengths).
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <intel-ipsec-mb.h>
#include <x86intrin.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double tsc_hz() {
  auto t0 = Clock::now();
  uint64_t c0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  uint64_t c1 = __rdtsc();
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return static_cast<double>(c1 - c0) / s;
}

const char* arch_name(IMB_ARCH a) {
  switch (a) {
    case IMB_ARCH_SSE: return "sse";
    case IMB_ARCH_AVX: return "avx";
    case IMB_ARCH_AVX2: return "avx2";
    case IMB_ARCH_AVX512: return "avx512";
    default: return "other";
  }
}

struct Result {
  double best_ns;
  double median_ns;
  double best_tsc;
};

Result measure(IMB_MGR* mgr, const gcm_key_data* key, uint32_t size, uint32_t burst,
               double seconds, uint32_t chunk) {
  constexpr size_t kStride = 2048;
  auto* storage = static_cast<uint8_t*>(std::aligned_alloc(64, burst * kStride));
  for (size_t i = 0; i < burst * kStride; ++i) storage[i] = static_cast<uint8_t>(i * 13 + 1);
  std::vector<std::array<uint8_t, 12>> iv(burst);
  std::vector<std::array<uint8_t, 16>> tag(burst);
  std::array<uint8_t, 8> aad{0x10, 0x00, 0x00, 0x01, 0, 0, 0, 0};
  uint32_t seq = 0;
  gcm_context_data ctx;
  auto one_burst = [&] {
    for (uint32_t i = 0; i < burst; ++i) {
      uint8_t* buf = storage + i * kStride;
      ++seq;
      std::memcpy(iv[i].data() + 8, &seq, 4);  // salt and IV: distinct per packet
      std::memcpy(aad.data() + 4, &seq, 4);
      IMB_AES128_GCM_ENC(mgr, key, &ctx, buf, buf, size, iv[i].data(), aad.data(), aad.size(),
                         tag[i].data(), tag[i].size());
    }
  };
  // Warm up: caches, branch predictors, and the core's clock.
  auto warm_end = Clock::now() + std::chrono::milliseconds(30);
  while (Clock::now() < warm_end) one_burst();

  std::vector<double> chunk_ns;
  double best_tsc = 1e300;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end || chunk_ns.size() < 5) {
    auto t0 = Clock::now();
    uint64_t c0 = __rdtsc();
    for (uint32_t b = 0; b < chunk; ++b) one_burst();
    uint64_t c1 = __rdtsc();
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    double pkts = static_cast<double>(chunk) * burst;
    chunk_ns.push_back(ns / pkts);
    best_tsc = std::min(best_tsc, static_cast<double>(c1 - c0) / pkts);
  }
  std::free(storage);
  std::sort(chunk_ns.begin(), chunk_ns.end());
  return {chunk_ns.front(), chunk_ns[chunk_ns.size() / 2], best_tsc};
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--sizes N,N,...] [--burst N] [--seconds S] [--chunk N]\n"
               "  times IMB_AES128_GCM_ENC per packet (bytes encrypted = each size)\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint32_t> sizes = {68, 516, 580, 1404};
  uint32_t burst = 32;
  uint32_t chunk = 64;
  double seconds = 0.3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage(argv[0]);
    std::string v = argv[++i];
    if (a == "--sizes") {
      sizes.clear();
      size_t pos = 0;
      while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        if (comma == std::string::npos) comma = v.size();
        unsigned long n = std::strtoul(v.substr(pos, comma - pos).c_str(), nullptr, 10);
        if (n == 0 || n > 2000) return usage(argv[0]);
        sizes.push_back(static_cast<uint32_t>(n));
        pos = comma + 1;
      }
    } else if (a == "--burst") {
      burst = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
    } else if (a == "--chunk") {
      chunk = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
    } else if (a == "--seconds") {
      seconds = std::atof(v.c_str());
    } else {
      return usage(argv[0]);
    }
  }
  if (burst == 0 || burst > 1024 || chunk == 0 || seconds < 0) return usage(argv[0]);

  IMB_MGR* mgr = alloc_mb_mgr(0);
  if (mgr == nullptr) {
    std::fprintf(stderr, "raw_crypto: alloc_mb_mgr failed\n");
    return 1;
  }
  IMB_ARCH arch;
  init_mb_mgr_auto(mgr, &arch);
  if (imb_get_errno(mgr) != 0) {
    std::fprintf(stderr, "raw_crypto: init_mb_mgr_auto: %s\n", imb_get_strerror(imb_get_errno(mgr)));
    return 1;
  }
  auto* key = static_cast<gcm_key_data*>(std::aligned_alloc(64, sizeof(gcm_key_data)));
  std::array<uint8_t, 16> k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(0x40 + i);
  IMB_AES128_GCM_PRE(mgr, k.data(), key);
  const double hz = tsc_hz();
  for (uint32_t size : sizes) {
    Result r = measure(mgr, key, size, burst, seconds, chunk);
    std::printf(
        "{\"size\": %u, \"burst\": %u, \"best_ns\": %.3f, \"median_ns\": %.3f, \"best_tsc\": %.2f, "
        "\"tsc_hz\": %.0f, \"arch\": \"%s\", \"imb_version\": \"%s\"}\n",
        size, burst, r.best_ns, r.median_ns, r.best_tsc, hz, arch_name(arch), imb_get_version_str());
    std::fflush(stdout);
  }
  std::free(key);
  free_mb_mgr(mgr);
  return 0;
}
