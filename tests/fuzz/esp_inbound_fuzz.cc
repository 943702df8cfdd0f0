// libFuzzer target for the ESP receive path: esp_peek_spi,
// esp_inbound_prepare, the crypto engine (ICV check, decryption, the
// post-decryption checks, restoring refused ciphertext), esp_inbound_finish
// and the ESN resynchronisation retry, on a buffer with head- and tailroom like an mbuf;
// for AES-GCM SAs also esp_inbound_open (the worker's path), which must agree
// with the engine's path on every input.
//
// Byte 0 of the input picks the algorithm (all nine), tunnel or transport
// mode, ESN, and one of two shapes for the rest:
//   * raw: the rest is an IP packet (the IPv4 header checksum is fixed up so
//     parsing gets through), run through the inbound path as is: every
//     length, SPI and sequence number the fuzzer can think of. Its ICV will
//     not verify, so this explores everything up to and around crypto.
//   * sealed: the rest is the plaintext of an ESP payload - data, padding,
//     pad length, next header, all as the fuzzer wrote them - sealed by the
//     engine under the SA's keys behind a valid outer header, so the checks
//     after decryption (padding, next header, inner packet, ECN, replay
//     window) see fuzzer-chosen trailers.
//
// Invariants (a violation traps):
// * a refusal, at any step, leaves the whole buffer (storage, offset,
//   length) exactly as it was;
// * sealed: the packet is accepted exactly when a plain reading of RFC 4303
//   says it is valid (pad length fits, padding 1, 2, 3, ..., next header not
//   59; tunnel mode: next header 4 or 41 and an IP packet of that family
//   that parses, RFC 6040 on the outer CE mark), and the result is the
//   inner packet (tunnel) or the IP header with the protocol restored and
//   the data (transport);
// * a sequence number accepted once is refused the second time (replay);
// * AES-GCM SAs: esp_inbound_open and the engine path, from the same SA
//   state, give the same verdict, buffer and SA state.
//
// Build (tests/fuzz/meson.build style; its owner wires it in): compile this
// file with dataplane/esp/{esp,esp_sa,replay_window}.cc,
// dataplane/crypto/{crypto_engine,sa_crypto,imb_manager}.cc and
// dataplane/net/{ip_address,ip_packet}.cc under -fsanitize=fuzzer,address,
// with DPDK headers, and link -lIPSec_MB (intel-ipsec-mb is not
// instrumented; its buffers are checked through the invariants above).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/crypto/crypto_engine.h"
#include "dataplane/crypto/sa_crypto.h"
#include "dataplane/esp/esp.h"
#include "dataplane/net/ip_packet.h"

namespace {

using namespace tcpsec;
using namespace tcpsec::esp;

constexpr uint16_t kHeadroom = 64;
constexpr uint16_t kTailroom = 64;
constexpr uint32_t kSpi = 0x1000abcd;

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

struct Sa {
  crypto::SaCrypto keys;
  EspSaIn in;
};

crypto::CryptoEngine& engine() {
  static crypto::CryptoEngine* e = [] {
    auto made = crypto::CryptoEngine::create();
    CHECK(made.has_value());
    return new crypto::CryptoEngine(std::move(*made));
  }();
  return *e;
}

// One SA per (algorithm, mode, ESN), created on first use and kept: the
// replay window carries over from input to input, as it would in a run.
Sa& sa_for(crypto::Algorithm alg, EspMode mode, bool esn) {
  static std::unique_ptr<Sa> sas[crypto::kAlgorithms.size()][2][2];
  auto& slot = sas[static_cast<size_t>(alg)][mode == EspMode::kTunnel][esn];
  if (!slot) {
    slot = std::make_unique<Sa>();
    const auto& p = crypto::properties(alg);
    std::vector<uint8_t> ck(size_t{p.key_length} + p.salt_length), ak(p.auth_key_length);
    for (size_t i = 0; i < ck.size(); ++i) ck[i] = static_cast<uint8_t>(i * 5 + 1);
    for (size_t i = 0; i < ak.size(); ++i) ak[i] = static_cast<uint8_t>(i * 3 + 7);
    CHECK(slot->keys.install(alg, ck, ak).is_ok());
    EspSaInConfig c;
    c.spi = kSpi;
    c.mode = mode;
    c.esn = esn;
    c.replay_window = 64;
    CHECK(slot->in.init(c, slot->keys).is_ok());
    if (esn) CHECK(slot->in.window.update(0xfffffff0u));  // sealed() starts there
  }
  return *slot;
}

struct Frame {
  std::vector<uint8_t> storage;
  net::PacketBuffer buf;
  explicit Frame(const std::vector<uint8_t>& pkt)
      : storage(kHeadroom + pkt.size() + kTailroom, 0xee),
        buf(storage, kHeadroom, static_cast<uint16_t>(pkt.size())) {
    std::memcpy(storage.data() + kHeadroom, pkt.data(), pkt.size());
  }
  Frame(const Frame& other)  // a copy over its own storage
      : storage(other.storage), buf(storage, other.buf.data_offset(), other.buf.length()) {}
  Frame& operator=(const Frame&) = delete;
  bool same(const std::vector<uint8_t>& storage_before, uint16_t off, uint16_t len) const {
    return storage == storage_before && buf.data_offset() == off && buf.length() == len;
  }
};

// One inbound path: the engine's (prepare, esp_process, finish) or, with
// `direct`, the worker's for AES-GCM SAs (esp_inbound_open); then the ESN
// retry. Traps if a refusal touched the buffer. Returns the drop reason; on
// success `f.buf` holds the result.
DropReason run_path(Frame& f, EspSaIn& in, bool direct) {
  const std::vector<uint8_t> before = f.storage;
  const uint16_t off = f.buf.data_offset(), len = f.buf.length();
  net::IpPacketInfo outer;
  DropReason r = net::parse_ip_packet(f.buf.bytes(), outer);
  if (r != DropReason::kNone) return r;
  EspOp op;
  if (direct) {
    r = esp_inbound_open(f.buf, outer, in, op, engine());
  } else {
    SpiPeek peek = esp_peek_spi(f.buf.bytes(), outer);
    r = esp_inbound_prepare(f.buf, outer, in, op);
    CHECK(f.same(before, off, len));
    if (r != DropReason::kNone) {
      CHECK(op.crypto.sa == nullptr);
      return r;
    }
    CHECK(peek.drop == DropReason::kNone && peek.spi == kSpi);
    esp_process(engine(), std::span<EspOp>(&op, 1));
    r = esp_inbound_finish(f.buf, op);
  }
  // As the worker does: ICV failures count towards ESN resynchronisation,
  // whose retry (raw inputs keep ESN SAs past its threshold) must leave a
  // refused buffer as untouched as the first attempt.
  if (r == DropReason::kEspBadIcv && esp_inbound_resync(engine(), f.buf, op)) r = DropReason::kNone;
  if (r != DropReason::kNone) CHECK(f.same(before, off, len));
  return r;
}

// The inbound path as a worker runs it for the SA. For AES-GCM SAs that is
// esp_inbound_open, and the engine's path, run on copies of the frame and of
// the SA's state, must agree on the verdict, the bytes and the SA state.
DropReason run_inbound(Frame& f, Sa& sa) {
  if (!esp_inbound_direct(sa.in)) return run_path(f, sa.in, false);
  auto twin = std::make_unique<EspSaIn>(sa.in);
  Frame g(f);
  const DropReason want = run_path(g, *twin, false);
  const DropReason got = run_path(f, sa.in, true);
  CHECK(got == want);
  CHECK(f.storage == g.storage && f.buf.data_offset() == g.buf.data_offset() &&
        f.buf.length() == g.buf.length());
  CHECK(std::memcmp(&sa.in, twin.get(), sizeof(EspSaIn)) == 0);
  return got;
}

void fix_ipv4_checksum(std::vector<uint8_t>& pkt) {
  if (pkt.size() < net::kIpv4HeaderLen || (pkt[0] >> 4) != 4) return;
  size_t ihl = (pkt[0] & 0x0f) * 4u;
  if (ihl < net::kIpv4HeaderLen || ihl > pkt.size()) return;
  net::set_ipv4_header_checksum(pkt.data());
}

uint8_t traffic_class(const uint8_t* ip) {
  return (ip[0] >> 4) == 4 ? ip[1] : static_cast<uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4);
}

// The sealed shape: an IPv4 outer header (tunnel) or the transport packet's
// own IPv4 header, the ESP header with the SA's next sequence number, an IV,
// the fuzzer's plaintext (cut to whole blocks) encrypted by the engine, ICV.
void sealed(const uint8_t* data, size_t size, crypto::Algorithm alg, EspMode mode, bool esn,
            uint8_t ecn) {
  Sa& sa = sa_for(alg, mode, esn);
  const auto& p = sa.keys.properties();
  size_t n = size - size % p.block;
  if (n < p.block || n > 1500) return;
  static uint64_t next_seq[crypto::kAlgorithms.size()][2][2];
  uint64_t& seq_slot = next_seq[static_cast<size_t>(alg)][mode == EspMode::kTunnel][esn];
  const uint64_t seq = ++seq_slot + (esn ? 0xfffffff0u : 0);  // ESN runs cross 2^32
  if (!esn && seq > 0xffffffffu) return;

  std::vector<uint8_t> pkt(20 + 8 + p.iv_length + n + p.icv_length, 0);
  uint8_t* ip = pkt.data();
  ip[0] = 0x45;
  ip[1] = ecn;
  net::store_be16(ip + 2, static_cast<uint16_t>(pkt.size()));
  ip[8] = 64;
  ip[9] = net::kProtoEsp;
  std::memcpy(ip + 12, "\xc0\x00\x02\x01\xc6\x33\x64\x02", 8);
  net::set_ipv4_header_checksum(ip);
  uint8_t* esp = ip + 20;
  net::store_be32(esp, kSpi);
  net::store_be32(esp + 4, static_cast<uint32_t>(seq));
  for (size_t i = 0; i < p.iv_length; ++i) esp[8 + i] = static_cast<uint8_t>(seq * 31 + i);
  std::memcpy(esp + 8 + p.iv_length, data, n);

  crypto::CryptoOp op;
  op.sa = &sa.keys;
  op.base = esp;
  op.direction = crypto::Direction::kEncrypt;
  op.iv = esp + 8;
  op.cipher_offset = static_cast<uint16_t>(8 + p.iv_length);
  op.cipher_length = p.cipher == crypto::Cipher::kNull ? 0 : static_cast<uint16_t>(n);
  op.icv_offset = static_cast<uint16_t>(8 + p.iv_length + n);
  op.auth_length = op.icv_offset;
  op.hmac_esn = esn && !p.aead();
  op.esn_hi = static_cast<uint32_t>(seq >> 32);
  if (p.aead()) {
    std::memcpy(op.aad_storage, esp, 4);
    size_t a = 4;
    if (esn) {
      net::store_be32(op.aad_storage + 4, op.esn_hi);
      a = 8;
    }
    std::memcpy(op.aad_storage + a, esp + 4, 4);
    op.aad = op.aad_storage;
    op.aad_length = static_cast<uint8_t>(a + 4);
  }
  engine().process(std::span<crypto::CryptoOp>(&op, 1));
  CHECK(op.status == crypto::OpStatus::kOk);

  // What RFC 4303 says of the plaintext.
  const uint8_t pad = data[n - 2], next = data[n - 1];
  bool valid = pad + 2u <= n && next != kNextHeaderNone;
  for (size_t i = 0; valid && i < pad; ++i) valid = data[n - 2 - pad + i] == i + 1;
  const size_t len = valid ? n - 2 - pad : 0;
  net::IpPacketInfo inner;
  size_t inner_len = len;
  bool set_ce = false;
  if (valid && mode == EspMode::kTunnel) {
    valid = (next == kNextHeaderIpv4 || next == kNextHeaderIpv6) &&
            net::parse_ip_packet({data, len}, inner) == DropReason::kNone &&
            inner.family == (next == kNextHeaderIpv4 ? net::IpFamily::kV4 : net::IpFamily::kV6);
    if (valid) {
      inner_len = inner.packet_length;
      if ((ecn & 3) == 3) {
        uint8_t inner_ecn = traffic_class(data) & 3;
        valid = inner_ecn != 0;
        set_ce = inner_ecn == 1 || inner_ecn == 2;
      }
    }
  }

  Frame f(pkt);
  DropReason r = run_inbound(f, sa);
  CHECK((r == DropReason::kNone) == valid);
  if (!valid) return;
  std::vector<uint8_t> want;
  if (mode == EspMode::kTunnel) {
    want.assign(data, data + inner_len);
    if (set_ce) {
      if ((want[0] >> 4) == 4) {
        want[1] |= 3;
        net::set_ipv4_header_checksum(want.data());
      } else {
        want[1] |= 0x30;
      }
    }
  } else {
    want.assign(pkt.begin(), pkt.begin() + 20);
    want[9] = next;
    want.insert(want.end(), data, data + len);
    net::store_be16(want.data() + 2, static_cast<uint16_t>(want.size()));
    net::set_ipv4_header_checksum(want.data());
  }
  CHECK(f.buf.length() == want.size());
  CHECK(std::memcmp(f.buf.data(), want.data(), want.size()) == 0);

  // The same packet again is a replay.
  Frame again(pkt);
  CHECK(run_inbound(again, sa) == DropReason::kEspReplay);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 4096) return 0;
  const uint8_t sel = data[0];
  const auto alg = static_cast<crypto::Algorithm>((sel & 0x0f) % crypto::kAlgorithms.size());
  const EspMode mode = (sel & 0x10) ? EspMode::kTransport : EspMode::kTunnel;
  const bool esn = (sel & 0x20) != 0;
  if (sel & 0x40) {
    sealed(data + 1, size - 1, alg, mode, esn, static_cast<uint8_t>(sel >> 7) * 3);
    return 0;
  }
  std::vector<uint8_t> pkt(data + 1, data + size);
  fix_ipv4_checksum(pkt);
  Frame f(pkt);
  run_inbound(f, sa_for(alg, mode, esn));
  return 0;
}
