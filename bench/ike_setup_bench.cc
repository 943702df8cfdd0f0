// IKE SA setups per second on one core: PSK, aes128-sha256-ecp256 (DH group
// 19), one Child SA (aes128gcm16), no network, no threads.
//
// BM_IkeSetup drives the exchanges' tasks (controlplane/ikesa) between an
// initiator and a responder IkeSa in one thread, the way IkeDaemon does
// around them: IKE_SA_INIT request and response serialized and parsed,
// IKE_AUTH protected (SK: AES-CBC-128 + HMAC-SHA256-128) and opened, AUTH
// computed and verified on both sides, Child SA keys derived and "installed"
// through a DataplaneLink that only counts (no gRPC). What it leaves out of
// the daemon: SPI routing tables, retransmission state, event strings, the
// gRPC link.
//
// Baselines in the same run, so the IKE overhead is visible:
// * BM_RawEcdhP256Pair: OpenSSL EVP only - two P-256 key generations and
//   both ECDH derivations (the DH work of one setup, nothing else);
// * BM_DhKeyPairP256Pair: the same through ikecrypto::DhKeyPair (KE payload
//   encoding, point validation);
// * BM_RawHmacSha256 / BM_PrfHmacSha256: one HMAC-SHA256 over 64 bytes with
//   a 32-byte key, raw OpenSSL one-shot HMAC() and ikecrypto::prf().
//
// Counters: `setups_per_s` (or `pairs_per_s`, `ops_per_s`) per second of
// the thread's CPU time, and `cycles` = TSC ticks per iteration of that CPU
// time (reference cycles, see bench/README.md; the TSC rate is measured at
// start). CPU time, not wall time: on a loaded VM the thread is often
// descheduled, and that is not the protocol's cost.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <time.h>
#include <x86intrin.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "controlplane/config/gateway_config.h"
#include "controlplane/crypto/diffie_hellman.h"
#include "controlplane/crypto/prf.h"
#include "controlplane/ikesa/ike_auth.h"
#include "controlplane/ikesa/ike_init.h"
#include "controlplane/ikesa/ike_sa.h"
#include "controlplane/link/dataplane_link.h"
#include "controlplane/message/message_codec.h"

namespace {

using namespace tcpsec;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ike_setup_bench: %s\n", what.c_str());
  std::abort();
}

// A dataplane that hands out SPIs and accepts everything (counts it).
class CountingLink final : public link::DataplaneLink {
 public:
  Expected<std::vector<uint32_t>> allocate_spis(uint32_t count) override {
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < count; ++i) out.push_back(next_spi_++ | 0xc0000000u);
    return out;
  }
  Status apply(const v1::ApplyRequest& r) override {
    sas_added += static_cast<uint64_t>(r.add_sas_size());
    return Status::ok();
  }
  Expected<v1::ListSasReply> list_sas() override { return v1::ListSasReply{}; }
  Expected<v1::DataplaneState> dump_state() override { return v1::DataplaneState{}; }
  Status send(const v1::PacketOut&) override { return Status::ok(); }
  Status start(PacketHandler, EventHandler) override { return Status::ok(); }
  void stop() override {}
  uint64_t sas_added = 0;

 private:
  uint32_t next_spi_ = 1;
};

v1::GatewayConfig side_config(bool initiator) {
  const char* me = initiator ? "192.0.2.10" : "192.0.2.20";
  const char* peer = initiator ? "192.0.2.20" : "192.0.2.10";
  std::string text = std::string("dataplane_socket: \"/nonexistent\"\n") +
                     "connections { name: \"site\" local_address: \"" + me +
                     "\" remote_address: \"" + peer +
                     "\" local_id: \"fqdn:" + (initiator ? "a" : "b") +
                     ".test\" remote_id: \"fqdn:" + (initiator ? "b" : "a") +
                     ".test\" ike_proposals: \"aes128-sha256-ecp256\" esp_proposals: "
                     "\"aes128gcm16\" local_ts: \"" +
                     (initiator ? "10.1.0.0/24" : "10.2.0.0/24") + "\" remote_ts: \"" +
                     (initiator ? "10.2.0.0/24" : "10.1.0.0/24") + "\" }\n" +
                     "secrets { ids: \"fqdn:" + (initiator ? "b" : "a") +
                     ".test\" secret: \"a shared secret of some length\" }\n";
  auto parsed = ikeconfig::parse_gateway_config(text, ikeconfig::ConfigFormat::kText, "bench");
  if (!parsed) die(parsed.error());
  if (auto s = ikeconfig::validate_gateway_config(*parsed); !s) die(s.message());
  return ikeconfig::with_defaults(*parsed);
}

// One side: its config, link and task context.
struct Side {
  v1::GatewayConfig config;
  CountingLink link;
  uint32_t priority = 1000;
  uint32_t child_id = 1;
  ikesa::TaskContext ctx;
  explicit Side(bool initiator)
      : config(side_config(initiator)),
        ctx{.link = link,
            .config = config,
            .event = [](const std::string&, const std::string&, const std::string&) {},
            .next_policy_priority = &priority,
            .next_child_id = &child_id} {}
};

ike::Bytes serialize_or_die(const ike::Message& m) {
  auto b = ike::serialize(m);
  if (!b) die(b.error());
  return std::move(*b);
}

// IKE_SA_INIT + IKE_AUTH with a Child SA; returns the responder's SA so the
// caller can check it (destroyed with the initiator's at scope end).
void one_setup(Side& i, Side& r, uint64_t n) {
  ikesa::IkeSa sa_i(i.config.connections(0), true, 0x1000000000000000ull + n);
  sa_i.path().local_address = "192.0.2.10";
  sa_i.path().peer_address = "192.0.2.20";
  // -- IKE_SA_INIT request
  ikesa::IkeInit init_i(true);
  std::vector<ike::Payload> payloads;
  if (auto s = init_i.build_request(sa_i, i.ctx, payloads); !s) die(s.message());
  ike::Message m1;
  m1.header.initiator_spi = sa_i.spi_i();
  m1.header.exchange = ike::ExchangeType::kIkeSaInit;
  m1.header.initiator = true;
  m1.payloads = std::move(payloads);
  sa_i.init_request = serialize_or_die(m1);
  // -- responder: parse, new SA, respond
  auto in1 = ike::parse(sa_i.init_request);
  if (!in1) die(in1.error());
  ikesa::IkeSa sa_r(r.config.connections(0), false, 0x2000000000000000ull + n);
  sa_r.set_spi_i(in1->header.initiator_spi);
  sa_r.path().local_address = "192.0.2.20";
  sa_r.path().peer_address = "192.0.2.10";
  sa_r.init_request = sa_i.init_request;
  ikesa::IkeInit init_r(false);
  std::vector<ike::Payload> out;
  ikesa::TaskError error;
  if (!init_r.respond(sa_r, r.ctx, in1->payloads, out, error)) die(error.message);
  ike::Message m2;
  m2.header = in1->header;
  m2.header.responder_spi = sa_r.spi_r();
  m2.header.response = true;
  m2.header.initiator = false;
  m2.payloads = std::move(out);
  sa_r.init_response = serialize_or_die(m2);
  sa_r.expected_request_id = 1;
  // -- initiator: the response, keys
  auto in2 = ike::parse(sa_r.init_response);
  if (!in2) die(in2.error());
  sa_i.set_spi_r(in2->header.responder_spi);
  sa_i.init_response = sa_r.init_response;
  if (auto s = init_i.process_response(sa_i, i.ctx, in2->payloads); !s) die(s.message());
  if (init_i.restart()) die("IKE_SA_INIT restarted");
  // -- IKE_AUTH request
  ikesa::IkeAuth auth_i(true);
  payloads.clear();
  if (auto s = auth_i.build_request(sa_i, i.ctx, payloads); !s) die(s.message());
  auto m3 = sa_i.protect(ike::ExchangeType::kIkeAuth, false, 1, payloads);
  if (!m3) die(m3.error());
  // -- responder: open, verify, install, answer
  auto in3 = sa_r.open(*m3);
  if (!in3) die(in3.error());
  ikesa::IkeAuth auth_r(false);
  out.clear();
  if (!auth_r.respond(sa_r, r.ctx, *in3, out, error)) die(error.message);
  auto m4 = sa_r.protect(ike::ExchangeType::kIkeAuth, true, 1, out);
  if (!m4) die(m4.error());
  // -- initiator: open, verify, install
  auto in4 = sa_i.open(*m4);
  if (!in4) die(in4.error());
  if (auto s = auth_i.process_response(sa_i, i.ctx, *in4); !s) die(s.message());
  if (sa_i.children.size() != 1 || sa_r.children.size() != 1 ||
      sa_i.children[0].spi_out != sa_r.children[0].spi_in)
    die("Child SA not set up on both sides");
  benchmark::DoNotOptimize(sa_i.children.data());
}

// TSC ticks per second, measured against the steady clock over 50 ms.
double tsc_hz() {
  static const double hz = [] {
    auto t0 = std::chrono::steady_clock::now();
    uint64_t c0 = __rdtsc();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50)) {
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return static_cast<double>(__rdtsc() - c0) / s;
  }();
  return hz;
}

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void rate_and_cycles(benchmark::State& state, uint64_t cpu_ns, const char* rate_name) {
  const auto n = static_cast<double>(state.iterations());
  state.counters[rate_name] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.counters["cycles"] = static_cast<double>(cpu_ns) * 1e-9 * tsc_hz() / n;
}

void BM_IkeSetup(benchmark::State& state) {
  Side i(true), r(false);
  uint64_t n = 0;
  tsc_hz();
  const uint64_t t0 = thread_cpu_ns();
  for (auto _ : state) one_setup(i, r, ++n);
  rate_and_cycles(state, thread_cpu_ns() - t0, "setups_per_s");
  if (i.link.sas_added != 2 * n || r.link.sas_added != 2 * n) die("SAs not installed");
}
BENCHMARK(BM_IkeSetup)->Unit(benchmark::kMicrosecond);

// ---- baselines ----------------------------------------------------------

EVP_PKEY* p256_keygen() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!k) die("EVP_PKEY_Q_keygen");
  return k;
}

size_t derive(EVP_PKEY* mine, EVP_PKEY* peer, uint8_t* out, size_t len) {
  EVP_PKEY_CTX* c = EVP_PKEY_CTX_new(mine, nullptr);
  if (!c || EVP_PKEY_derive_init(c) <= 0 || EVP_PKEY_derive_set_peer(c, peer) <= 0 ||
      EVP_PKEY_derive(c, out, &len) <= 0)
    die("EVP_PKEY_derive");
  EVP_PKEY_CTX_free(c);
  return len;
}

void BM_RawEcdhP256Pair(benchmark::State& state) {
  uint8_t a[32], b[32];
  tsc_hz();
  const uint64_t t0 = thread_cpu_ns();
  for (auto _ : state) {
    EVP_PKEY* x = p256_keygen();
    EVP_PKEY* y = p256_keygen();
    derive(x, y, a, sizeof a);
    derive(y, x, b, sizeof b);
    benchmark::DoNotOptimize(a[0] ^ b[0]);
    EVP_PKEY_free(x);
    EVP_PKEY_free(y);
  }
  rate_and_cycles(state, thread_cpu_ns() - t0, "pairs_per_s");
}
BENCHMARK(BM_RawEcdhP256Pair)->Unit(benchmark::kMicrosecond);

void BM_DhKeyPairP256Pair(benchmark::State& state) {
  tsc_hz();
  const uint64_t t0 = thread_cpu_ns();
  for (auto _ : state) {
    auto x = ikecrypto::DhKeyPair::generate(ikecrypto::DhGroup::kEcp256);
    auto y = ikecrypto::DhKeyPair::generate(ikecrypto::DhGroup::kEcp256);
    if (!x || !y) die("DhKeyPair::generate");
    auto s1 = x->shared_secret(y->public_value());
    auto s2 = y->shared_secret(x->public_value());
    if (!s1 || !s2) die("shared_secret");
    benchmark::DoNotOptimize(s1->data());
    benchmark::DoNotOptimize(s2->data());
  }
  rate_and_cycles(state, thread_cpu_ns() - t0, "pairs_per_s");
}
BENCHMARK(BM_DhKeyPairP256Pair)->Unit(benchmark::kMicrosecond);

void BM_RawHmacSha256(benchmark::State& state) {
  uint8_t key[32] = {1}, data[64] = {2}, out[32];
  unsigned len = 0;
  tsc_hz();
  const uint64_t t0 = thread_cpu_ns();
  for (auto _ : state) {
    HMAC(EVP_sha256(), key, sizeof key, data, sizeof data, out, &len);
    benchmark::DoNotOptimize(out[0]);
  }
  rate_and_cycles(state, thread_cpu_ns() - t0, "ops_per_s");
}
BENCHMARK(BM_RawHmacSha256);

void BM_PrfHmacSha256(benchmark::State& state) {
  const ike::Bytes key(32, 1), data(64, 2);
  tsc_hz();
  const uint64_t t0 = thread_cpu_ns();
  for (auto _ : state) {
    auto out = ikecrypto::prf(ikecrypto::PrfId::kHmacSha256, key, data);
    if (!out) die(out.error());
    benchmark::DoNotOptimize(out->data());
  }
  rate_and_cycles(state, thread_cpu_ns() - t0, "ops_per_s");
}
BENCHMARK(BM_PrfHmacSha256);

}  // namespace

BENCHMARK_MAIN();
