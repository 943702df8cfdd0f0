// ESP (RFC 4303) framing around the crypto engine: pure functions over a
// PacketBuffer that starts at the IP header, no mbufs, no allocation.
//
// A burst goes through three phases:
//
//   for each packet:  r[i] = esp_outbound_prepare(buf[i], inner[i], sa, ops[i]);
//   esp_process(engine, ops);          // one engine pass for the whole burst
//   for each packet with r[i] == kNone:  r[i] = esp_outbound_finish(buf[i], ops[i]);
//
// and the same with esp_inbound_prepare / esp_inbound_finish. A packet whose
// prepare failed keeps an op with no SA, which the engine skips, so the burst
// array needs no compaction. Every refusal names a DropReason.
//
// Outbound, tunnel mode: the inner IPv4 or IPv6 packet gets an outer IPv4 or
// IPv6 header from the SA's template (DSCP copied or fixed, ECN copied per
// RFC 6040, DF per DfMode, IPv4 ID = low 16 bits of the sequence number),
// the ESP header, the IV, the trailer (padding 1, 2, 3, ... to the cipher
// block and 4 bytes, pad length, next header 4 or 41) and room for the ICV.
// Transport mode: the ESP header and IV go after the IP header and its IPv6
// extension headers, the protocol byte becomes 50 (its old value is the next
// header) and the lengths (and IPv4 checksum) are fixed.
//
// IVs: AES-GCM and ChaCha20-Poly1305 send the 64-bit sequence number, unique
// per key (RFC 4106 3.1, RFC 7634 2). AES-CBC needs an unpredictable IV
// (RFC 3602 2.4); it is E_K(seq || SPI || 0), the SA's own key encrypting a
// unique nonce (NIST SP 800-38A Appendix C), done by the same CBC pass: the
// nonce is placed in the IV field and encrypted with a zero IV, so its
// ciphertext block is the IV of the payload that follows. Deterministic (so
// testable byte for byte), unpredictable without the key, no RNG, no syscall.
//
// Inbound: the replay window is checked before crypto (which also infers the
// ESN high bits), the ICV verified, and only then - inside the engine, right
// after decryption - padding, pad length and next header are checked, the
// tunnel's inner packet parsed, and the window advanced. Any refusal leaves
// the buffer exactly as it was (the engine restores refused ciphertext).
// Finish strips: tunnel mode leaves the inner packet; transport mode restores
// the protocol byte and lengths. Dummy packets (next header 59) are dropped.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/crypto/crypto_engine.h"
#include "dataplane/esp/esp_sa.h"
#include "dataplane/net/ip_packet.h"
#include "dataplane/net/packet_buffer.h"
#include "dataplane/stats/drop_reason.h"

namespace tcpsec::esp {

inline constexpr uint16_t kEspHeaderLen = 8;  // SPI, sequence number
inline constexpr uint8_t kNextHeaderIpv4 = 4;
inline constexpr uint8_t kNextHeaderIpv6 = 41;
inline constexpr uint8_t kNextHeaderNone = 59;  // dummy packet (RFC 4303 2.6)

// Whether `n` bytes are a whole number of blocks; a mask for the usual
// power-of-two block (an idiv per received packet showed in profiles).
inline bool esp_block_aligned(uint32_t n, uint8_t block) {
  if ((block & (block - 1)) == 0) return (n & (block - 1u)) == 0;
  return n % block == 0;
}

// Padding bytes for `data` bytes of payload: data + padding + 2 (pad length,
// next header) is a multiple of the block (itself a multiple of 4).
inline uint16_t esp_padding_for(uint32_t data, uint8_t block) {
  // Every algorithm's block is a power of two (4 or 16): a mask, not two
  // divisions per packet.
  if ((block & (block - 1)) == 0) return static_cast<uint16_t>((0u - (data + 2)) & (block - 1u));
  return static_cast<uint16_t>((block - (data + 2) % block) % block);
}

// Bytes ESP adds to a packet of `length` bytes (IP packet in tunnel mode,
// L4 in transport mode), outer header included: for MTU decisions. Inline:
// the outbound path checks the PMTU per packet.
inline uint16_t esp_overhead(const EspSaOut& sa, uint16_t length) {
  return static_cast<uint16_t>((sa.mode == EspMode::kTunnel ? sa.outer_length : 0) + kEspHeaderLen +
                               sa.iv_length + esp_padding_for(length, sa.block) + 2 +
                               sa.icv_length);
}

// Per-packet state from prepare to finish: the engine's op and what ESP
// needs to finish. Lives in a per-lcore burst array.
struct EspOp {
  crypto::CryptoOp crypto;
  EspSaIn* sa_in = nullptr;     // inbound
  uint64_t seq = 0;             // the full sequence number
  uint16_t esp_offset = 0;      // ESP header, from the start of the packet
  uint16_t payload_offset = 0;  // payload, from the ESP header (8 + IV)
  uint16_t payload_length = 0;  // encrypted: data, padding, pad length, next header
  uint16_t l3_length = 0;       // inbound: the outer IP header (+ extension headers)
  uint16_t proto_offset = 0;    // inbound transport: the byte that says 50
  net::IpFamily family = net::IpFamily::kNone;  // inbound: outer family
  // Set when the decrypted payload is accepted:
  uint8_t next_header = 0;
  bool set_ce = false;       // tunnel: copy the outer CE mark in (RFC 6040)
  uint16_t data_length = 0;  // inner packet (tunnel) or L4 bytes (transport)
  // Inbound tunnel mode: the inner packet as parsed (IPv4 checksum verified)
  // after decryption, valid for the buffer esp_inbound_finish leaves.
  net::IpPacketInfo inner;
};

// ---- outbound

// Encapsulates the IP packet in `buf` (parsed as `inner`) for `sa` and fills
// `op` (engine to run next). Consumes a sequence number. On failure `buf`,
// `sa` are unchanged and `op` is skipped by the engine.
DropReason esp_outbound_prepare(net::PacketBuffer& buf, const net::IpPacketInfo& inner,
                                EspSaOut& sa, EspOp& op);

// The same for an AES-GCM SA (esp_outbound_direct), encrypted on the spot:
// framing and then the engine's direct AES-GCM call, no op and no
// esp_process/esp_outbound_finish. kNone: `buf` holds the finished ESP
// packet. On failure `buf` and `sa` are unchanged.
DropReason esp_outbound_seal(net::PacketBuffer& buf, const net::IpPacketInfo& inner, EspSaOut& sa,
                             crypto::CryptoEngine& engine);

// Whether `sa` takes esp_outbound_seal: AES-GCM (any key size, ESN or not,
// tunnel or transport), the cipher of nearly every SA. Fixed when the SA is
// initialised.
inline bool esp_outbound_direct(const EspSaOut& sa) {
  return sa.cipher == crypto::Cipher::kAesGcm && sa.iv_length == 8;
}

// After the engine: kNone, or why the packet cannot be sent.
DropReason esp_outbound_finish(net::PacketBuffer& buf, const EspOp& op);

// ---- inbound

struct SpiPeek {
  DropReason drop = DropReason::kNone;
  uint32_t spi = 0;
};

// The SPI of the ESP packet in `pkt` (parsed as `outer`), to find its SA.
SpiPeek esp_peek_spi(std::span<const uint8_t> pkt, const net::IpPacketInfo& outer);

// Checks the ESP packet in `buf` (parsed as `outer`) against `sa` - SPI,
// lengths, lifetime, replay window - and fills `op`. Changes nothing.
DropReason esp_inbound_prepare(net::PacketBuffer& buf, const net::IpPacketInfo& outer, EspSaIn& sa,
                               EspOp& op);

// The same for an AES-GCM SA (esp_inbound_direct), on the spot: checks,
// decryption, ICV, the trailer and inner checks and the replay window, then
// what esp_inbound_finish does; no esp_process or finish call. Returns what
// esp_inbound_finish would; on failure `buf` is unchanged, and after
// kEspBadIcv `op` is ready for esp_inbound_resync. One difference from a
// burst through the engine: a packet's window update happens before the
// next packet's replay check, so a forged copy of a packet accepted earlier
// in the same burst is refused as a replay, before its ICV is computed
// (RFC 4303 3.4.3's order), where the engine path counts a bad ICV.
DropReason esp_inbound_open(net::PacketBuffer& buf, const net::IpPacketInfo& outer, EspSaIn& sa,
                            EspOp& op, crypto::CryptoEngine& engine);

// Whether `sa` takes esp_inbound_open (AES-GCM, as esp_outbound_direct).
inline bool esp_inbound_direct(const EspSaIn& sa) {
  return sa.cipher == crypto::Cipher::kAesGcm && sa.iv_length == 8;
}

// After the engine: strips ESP (tunnel: the inner packet is left; transport:
// the IP header gets its protocol and lengths back) and counts the packet on
// its SA. On failure `buf` is unchanged.
DropReason esp_inbound_finish(net::PacketBuffer& buf, EspOp& op);

// Extended sequence numbers lose their high half when more than 2^32
// packets in a row are lost: Appendix A2's inference then picks the old
// subspace and every packet fails its ICV. RFC 4303 Appendix A3's remedy:
// once an ESN SA has seen this many ICV failures in a row (a local
// parameter; any authentic packet resets the count), a failing packet is
// tried once more as the next 2^32 block, and if it authenticates the window
// moves there. Past the threshold each forged packet costs one more
// decryption; below it, nothing.
inline constexpr uint32_t kEspResyncThreshold = 8;

// For `op`, whose esp_inbound_finish(buf, op) just returned kEspBadIcv:
// counts the failure on its SA and, past the threshold, runs the A3 retry.
// True when the packet authenticated in the next subspace and was accepted
// (as esp_inbound_finish does: `buf` then holds the result); false leaves
// `buf` unchanged and the packet refused.
bool esp_inbound_resync(crypto::CryptoEngine& engine, net::PacketBuffer& buf, EspOp& op);

// ---- both

// Runs the engine over a burst of prepared ops.
void esp_process(crypto::CryptoEngine& engine, std::span<EspOp> ops);

}  // namespace tcpsec::esp
