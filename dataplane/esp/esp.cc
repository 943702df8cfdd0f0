#include "dataplane/esp/esp.h"

#include <algorithm>
#include <cstring>

namespace tcpsec::esp {
namespace {

using crypto::Cipher;
using crypto::CryptoOp;
using crypto::Direction;
using crypto::OpStatus;
using net::IpFamily;
using net::load_be32;
using net::store_be16;
using net::store_be32;

alignas(16) constexpr uint8_t kZeroIv[16] = {};

inline uint16_t padding_for(uint32_t data, uint8_t block) {
  return esp_padding_for(data, block);
}

// The header checksum of the 20-byte outer IPv4 header from values in
// registers: the template's constant words (`outer_sum`) plus the four that
// change per packet. Reading the freshly written header back would stall on
// store forwarding.
inline uint16_t outer_ipv4_checksum(uint16_t outer_sum, uint16_t word0, uint16_t total, uint16_t id,
                                    uint16_t flags) {
  uint32_t sum = uint32_t{outer_sum} + word0 + total + id + flags;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// The IPv4 TOS / IPv6 traffic class byte (DSCP << 2 | ECN).
inline uint8_t traffic_class(const uint8_t* ip) {
  return (ip[0] >> 4) == 4 ? ip[1] : static_cast<uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4);
}

inline void count(uint64_t& packets, uint64_t& bytes, bool& soft, const Lifetime& l, uint32_t n) {
  ++packets;
  bytes += n;
  if (packets >= l.soft_packets || bytes >= l.soft_bytes) soft = true;
}

// The AEAD additional data of the ESP packet at `esp` (RFC 4106 5, RFC 7634
// 2.1): SPI || seq_lo as it stands in the header, or with extended sequence
// numbers SPI || seq_hi || seq_lo, built in `storage` (12 bytes).
struct Aad {
  const uint8_t* data;
  uint8_t length;
};
inline Aad esp_aad(const uint8_t* esp, uint64_t seq, bool esn, uint8_t* storage) {
  if (!esn) return {esp, 8};
  std::memcpy(storage, esp, 4);
  store_be32(storage + 4, static_cast<uint32_t>(seq >> 32));
  std::memcpy(storage + 8, esp + 4, 4);
  return {storage, 12};
}

// Fills the engine's op for the ESP packet at `esp`: ESP header, IV,
// `payload_length` bytes of payload, ICV. Outbound CBC encrypts the IV field
// too (it holds the IV nonce; see esp.h).
void fill_crypto(EspOp& op, const crypto::SaCrypto* keys, Cipher cipher, uint8_t iv_length,
                 uint8_t* esp, uint16_t payload_length, bool esn, Direction dir) {
  CryptoOp& c = op.crypto;
  const uint16_t payload_at = static_cast<uint16_t>(kEspHeaderLen + iv_length);
  const uint16_t icv_at = static_cast<uint16_t>(payload_at + payload_length);
  const uint32_t seq_hi = static_cast<uint32_t>(op.seq >> 32);
  c.sa = keys;
  c.base = esp;
  c.direction = dir;
  c.icv_offset = icv_at;
  c.esn_hi = seq_hi;
  c.check = nullptr;
  c.user = &op;
  c.status = OpStatus::kSkipped;
  switch (cipher) {
    case Cipher::kAesGcm:
    case Cipher::kChaCha20Poly1305:
      c.cipher_offset = payload_at;
      c.cipher_length = payload_length;
      c.auth_offset = 0;
      c.auth_length = 0;
      c.hmac_esn = false;
      c.iv = esp + kEspHeaderLen;
      {
        const Aad aad = esp_aad(esp, op.seq, esn, c.aad_storage);
        c.aad = aad.data;
        c.aad_length = aad.length;
      }
      return;
    case Cipher::kAesCbc:
      if (dir == Direction::kEncrypt) {
        c.cipher_offset = kEspHeaderLen;
        c.cipher_length = static_cast<uint16_t>(iv_length + payload_length);
        c.iv = kZeroIv;
      } else {
        c.cipher_offset = payload_at;
        c.cipher_length = payload_length;
        c.iv = esp + kEspHeaderLen;
      }
      break;
    case Cipher::kNull:
      c.cipher_offset = payload_at;
      c.cipher_length = 0;
      c.iv = nullptr;
      break;
  }
  c.aad = nullptr;
  c.aad_length = 0;
  c.auth_offset = 0;
  c.auth_length = icv_at;  // encrypt-then-MAC: header, IV, ciphertext
  c.hmac_esn = esn;        // RFC 4303 2.2.1: seq_hi authenticated, not sent
}

// Runs in the engine once an inbound ICV verified and the payload is
// decrypted: the trailer (RFC 4303 2.4-2.6), the tunnel's inner packet, and
// the replay window (RFC 4303 3.4.3: advanced only for authentic packets).
// A non-zero DropReason makes the engine restore the ciphertext.
uint8_t inbound_check(CryptoOp& c) {
  EspOp& op = *static_cast<EspOp*>(c.user);
  EspSaIn& sa = *op.sa_in;
  sa.icv_failures = 0;  // authentic, whatever the verdict below
  const uint8_t* payload = c.base + op.payload_offset;
  const uint16_t n = op.payload_length;
  const uint8_t pad = payload[n - 2];
  const uint8_t next = payload[n - 1];
  auto refuse = [](DropReason r) { return static_cast<uint8_t>(r); };
  if (pad + 2u > n) return refuse(DropReason::kEspBadPadding);
  const uint8_t* padding = payload + n - 2 - pad;
  for (uint8_t i = 0; i < pad; ++i) {
    if (padding[i] != i + 1) return refuse(DropReason::kEspBadPadding);
  }
  if (next == kNextHeaderNone) return refuse(DropReason::kEspDummyPacket);
  const uint16_t data = static_cast<uint16_t>(n - 2 - pad);
  bool set_ce = false;
  uint16_t length = data;
  if (sa.mode == EspMode::kTunnel) {
    if (next != kNextHeaderIpv4 && next != kNextHeaderIpv6) {
      return refuse(DropReason::kEspBadNextHeader);
    }
    // Parsed in place: a local copied into op.inner was read back as one
    // word over the parser's narrow stores (a store-forwarding stall, 45%
    // of this function). A refused op's inner is not used.
    net::IpPacketInfo& inner = op.inner;
    if (net::parse_ip_packet({payload, data}, inner) != DropReason::kNone ||
        inner.family != (next == kNextHeaderIpv4 ? IpFamily::kV4 : IpFamily::kV6)) {
      return refuse(DropReason::kEspBadInner);
    }
    length = inner.packet_length;  // anything after it is TFC padding (RFC 4303 2.7)
    // RFC 6040 decapsulation: CE on the outer header marks an ECN-capable
    // inner packet, and a non-ECN-capable one is dropped.
    const uint8_t* outer = c.base - op.esp_offset;
    if ((traffic_class(outer) & 3) == 3) {
      const uint8_t inner_ecn = traffic_class(payload) & 3;
      if (inner_ecn == 0) return refuse(DropReason::kEspEcnCeNotEct);
      set_ce = inner_ecn != 3;
    }
  }
  if (!sa.window.update(op.seq)) return refuse(DropReason::kEspReplay);
  op.next_header = next;
  op.set_ce = set_ce;
  op.data_length = length;
  return 0;
}

// The decryption of an inbound `op` (its seq, offsets and payload length
// set) at `esp`, with what inbound_check sets cleared.
void arm_inbound(EspOp& op, const EspSaIn& sa, uint8_t* esp) {
  op.next_header = 0;
  op.set_ce = false;
  op.data_length = 0;
  op.inner = net::IpPacketInfo{};  // set by inbound_check (tunnel mode)
  fill_crypto(op, sa.crypto, sa.cipher, sa.iv_length, esp, op.payload_length, sa.esn,
              Direction::kDecrypt);
  op.crypto.check = inbound_check;
}

DropReason from_status(const CryptoOp& c) {
  switch (c.status) {
    case OpStatus::kOk:
      return DropReason::kNone;
    case OpStatus::kAuthFailed:
      return DropReason::kEspBadIcv;
    case OpStatus::kRejected:
      return static_cast<DropReason>(c.reject_code);
    case OpStatus::kSkipped:
      return DropReason::kEspNoSa;
    case OpStatus::kError:
      break;
  }
  return DropReason::kEspCryptoError;
}

// An outbound packet once framed: where its ESP header is and what the
// crypto needs.
struct Framed {
  uint8_t* esp = nullptr;
  uint64_t seq = 0;
  uint32_t payload = 0;  // encrypted: data, padding, pad length, next header
  uint16_t data = 0;
  uint8_t next_header = 0;
};

// Encapsulates the IP packet in `buf` for `sa` up to the crypto: outer
// header (tunnel), ESP header, IV field, padding and trailer, room for the
// ICV; consumes a sequence number. Shared by the engine's path (prepare) and
// the direct AES-GCM one (seal); inlined into both.
[[gnu::always_inline]] inline DropReason frame_outbound(net::PacketBuffer& buf,
                                                        const net::IpPacketInfo& inner,
                                                        EspSaOut& sa, Framed& f) {
  if (sa.crypto == nullptr) return DropReason::kEspNoSa;
  if ((inner.family != IpFamily::kV4 && inner.family != IpFamily::kV6) ||
      inner.packet_length > buf.length() || inner.l3_length > inner.packet_length) {
    return DropReason::kEncapBadInner;
  }
  const bool tunnel = sa.mode == EspMode::kTunnel;
  if (!tunnel && inner.fragment) return DropReason::kEspTransportFragment;
  if (sa.seq == (sa.esn ? ~uint64_t{0} : uint64_t{0xffffffff})) {
    return DropReason::kEspSeqExhausted;  // RFC 4303 3.3.3: no cycling, rekey
  }
  if (sa.packets >= sa.lifetime.hard_packets || sa.bytes >= sa.lifetime.hard_bytes) {
    return DropReason::kEspSaExpired;
  }

  const uint16_t kept = tunnel ? 0 : inner.l3_length;  // stays in front of ESP
  const uint16_t data = static_cast<uint16_t>(inner.packet_length - kept);
  const uint16_t pad = padding_for(data, sa.block);
  const uint32_t payload = uint32_t{data} + pad + 2;
  const uint32_t front = (tunnel ? sa.outer_length : 0u) + kEspHeaderLen + sa.iv_length;
  const uint32_t back = pad + 2u + sa.icv_length;
  const uint32_t total = inner.packet_length + front + back;
  if (total > 0xffff) return DropReason::kEncapTooBig;
  if (front > buf.headroom()) return DropReason::kEncapNoHeadroom;
  const uint16_t excess = static_cast<uint16_t>(buf.length() - inner.packet_length);
  if (back > uint32_t{buf.tailroom()} + excess) return DropReason::kEncapNoTailroom;

  // Committed: nothing below fails.
  const uint64_t seq = ++sa.seq;
  count(sa.packets, sa.bytes, sa.soft_expired, sa.lifetime, data);
  buf.trim(excess);
  uint8_t next_header;
  uint8_t* esp;
  if (tunnel) {
    const uint8_t* in = buf.data();
    const uint8_t tc = traffic_class(in);
    uint8_t* out = buf.prepend(static_cast<uint16_t>(front));
    // DSCP copied or fixed (RFC 4301 5.1.2.1), ECN copied (RFC 6040 normal mode).
    const uint8_t out_tc =
        static_cast<uint8_t>((sa.dscp == kCopyDscp ? tc & 0xfc : sa.dscp << 2) | (tc & 3));
    if (sa.outer_family == IpFamily::kV4) {
      // Constant-size copy (20 bytes: no call), then the per-packet fields.
      std::memcpy(out, sa.outer, net::kIpv4HeaderLen);
      const bool df = sa.df == DfMode::kSet ||
                      (sa.df == DfMode::kCopy && (inner.family == IpFamily::kV6 || (in[6] & 0x40)));
      const uint16_t word0 = static_cast<uint16_t>(sa.outer[0] << 8 | out_tc);
      const uint16_t id = static_cast<uint16_t>(seq);
      const uint16_t flags = df ? 0x4000 : 0;
      store_be16(out, word0);
      store_be16(out + 2, static_cast<uint16_t>(total));
      store_be16(out + 4, id);
      store_be16(out + 6, flags);
      store_be16(out + 10,
                 outer_ipv4_checksum(sa.outer_sum, word0, static_cast<uint16_t>(total), id, flags));
    } else {
      std::memcpy(out, sa.outer, net::kIpv6HeaderLen);
      out[0] = static_cast<uint8_t>(0x60 | out_tc >> 4);
      out[1] = static_cast<uint8_t>(out_tc << 4 | (out[1] & 0x0f));
      store_be16(out + 4, static_cast<uint16_t>(total - net::kIpv6HeaderLen));
    }
    esp = out + sa.outer_length;
    next_header = inner.family == IpFamily::kV4 ? kNextHeaderIpv4 : kNextHeaderIpv6;
  } else {
    const uint8_t* old = buf.data();
    uint8_t* ip = buf.prepend(static_cast<uint16_t>(front));
    net::move_header(ip, old, kept);
    next_header = ip[inner.proto_offset];
    ip[inner.proto_offset] = net::kProtoEsp;
    net::set_ip_payload_length(ip, inner, static_cast<uint16_t>(total - kept));
    esp = ip + kept;
  }
  store_be32(esp, sa.spi);
  store_be32(esp + 4, static_cast<uint32_t>(seq));
  uint8_t* iv = esp + kEspHeaderLen;
  if (sa.cipher == Cipher::kAesCbc) {
    // The nonce whose encryption becomes the IV: seq || SPI || 0.
    store_be32(iv, static_cast<uint32_t>(seq >> 32));
    store_be32(iv + 4, static_cast<uint32_t>(seq));
    store_be32(iv + 8, sa.spi);
    store_be32(iv + 12, 0);
  } else if (sa.iv_length == 8) {
    store_be32(iv, static_cast<uint32_t>(seq >> 32));
    store_be32(iv + 4, static_cast<uint32_t>(seq));
  }
  uint8_t* trailer = buf.append(static_cast<uint16_t>(back));
  // Padding 1, 2, 3, ... (RFC 4303 2.4): one 16-byte copy where the trailer
  // has room for it (pad and pad length are rewritten just after), else by
  // byte (blocks are at most 16 bytes: pad < 16).
  static constexpr uint8_t kPadding[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  if (back >= sizeof kPadding && pad <= sizeof kPadding) {
    std::memcpy(trailer, kPadding, sizeof kPadding);
  } else {
    for (uint16_t i = 0; i < pad; ++i) trailer[i] = static_cast<uint8_t>(i + 1);
  }
  trailer[pad] = static_cast<uint8_t>(pad);
  trailer[pad + 1] = next_header;

  f.esp = esp;
  f.seq = seq;
  f.payload = payload;
  f.data = data;
  f.next_header = next_header;
  return DropReason::kNone;
}

}  // namespace

DropReason esp_outbound_prepare(net::PacketBuffer& buf, const net::IpPacketInfo& inner,
                                EspSaOut& sa, EspOp& op) {
  op.crypto.sa = nullptr;
  Framed f;
  if (DropReason r = frame_outbound(buf, inner, sa, f); r != DropReason::kNone) return r;
  op.sa_in = nullptr;
  op.seq = f.seq;
  op.esp_offset = static_cast<uint16_t>(f.esp - buf.data());
  op.payload_offset = static_cast<uint16_t>(kEspHeaderLen + sa.iv_length);
  op.payload_length = static_cast<uint16_t>(f.payload);
  op.next_header = f.next_header;
  op.data_length = f.data;
  fill_crypto(op, sa.crypto, sa.cipher, sa.iv_length, f.esp, static_cast<uint16_t>(f.payload),
              sa.esn, Direction::kEncrypt);
  return DropReason::kNone;
}

DropReason esp_outbound_seal(net::PacketBuffer& buf, const net::IpPacketInfo& inner, EspSaOut& sa,
                             crypto::CryptoEngine& engine) {
  if (sa.crypto == nullptr) return DropReason::kEspNoSa;
  // Checked before anything is consumed: seal_gcm cannot refuse it after.
  if (!sa.crypto->installed() || sa.cipher != Cipher::kAesGcm || sa.iv_length != 8) {
    return DropReason::kEspCryptoError;
  }
  Framed f;
  if (DropReason r = frame_outbound(buf, inner, sa, f); r != DropReason::kNone) return r;
  uint8_t storage[12];
  const Aad aad = esp_aad(f.esp, f.seq, sa.esn, storage);
  uint8_t* payload = f.esp + kEspHeaderLen + 8;
  if (!engine.seal_gcm(*sa.crypto, payload, f.payload, f.esp + kEspHeaderLen, aad.data, aad.length,
                       payload + f.payload)) {
    return DropReason::kEspCryptoError;
  }
  return DropReason::kNone;
}

DropReason esp_outbound_finish(net::PacketBuffer& /*buf*/, const EspOp& op) {
  return from_status(op.crypto);
}

SpiPeek esp_peek_spi(std::span<const uint8_t> pkt, const net::IpPacketInfo& outer) {
  if (outer.proto != net::kProtoEsp) return {DropReason::kIpUnsupportedProto, 0};
  if (outer.packet_length > pkt.size() || outer.l4_length() < kEspHeaderLen) {
    return {DropReason::kEspTruncated, 0};
  }
  return {DropReason::kNone, load_be32(pkt.data() + outer.l3_length)};
}

namespace {

// The checks of an inbound ESP packet before any crypto - SPI, lengths,
// lifetime, replay window - and the op's packet fields. Changes nothing
// else; inlined into prepare and open.
[[gnu::always_inline]] inline DropReason inbound_accept(net::PacketBuffer& buf,
                                                        const net::IpPacketInfo& outer, EspSaIn& sa,
                                                        EspOp& op) {
  if (outer.proto != net::kProtoEsp) return DropReason::kIpUnsupportedProto;
  if (outer.fragment) return DropReason::kIpFragment;  // reassemble first
  if (outer.packet_length > buf.length() || outer.l3_length > outer.packet_length) {
    return DropReason::kEspTruncated;
  }
  const uint16_t esp_length = outer.l4_length();
  if (esp_length < kEspHeaderLen) return DropReason::kEspTruncated;
  uint8_t* esp = buf.data() + outer.l3_length;
  if (sa.crypto == nullptr || load_be32(esp) != sa.spi) return DropReason::kEspNoSa;
  const uint32_t overhead = kEspHeaderLen + sa.iv_length + sa.icv_length;
  if (esp_length < overhead + sa.block) return DropReason::kEspTruncated;
  const uint16_t payload = static_cast<uint16_t>(esp_length - overhead);
  if (!esp_block_aligned(payload, sa.block)) return DropReason::kEspBadLength;
  if (sa.packets >= sa.lifetime.hard_packets || sa.bytes >= sa.lifetime.hard_bytes) {
    return DropReason::kEspSaExpired;
  }
  const ReplayWindow::Check replay = sa.window.check(load_be32(esp + 4));
  if (replay.verdict == ReplayWindow::Verdict::kDuplicate) return DropReason::kEspReplay;
  if (replay.verdict == ReplayWindow::Verdict::kTooOld) return DropReason::kEspReplayTooOld;

  op.sa_in = &sa;
  op.seq = replay.seq;
  op.esp_offset = outer.l3_length;
  op.payload_offset = static_cast<uint16_t>(kEspHeaderLen + sa.iv_length);
  op.payload_length = payload;
  op.l3_length = outer.l3_length;
  op.proto_offset = outer.proto_offset;
  op.family = outer.family;
  return DropReason::kNone;
}

}  // namespace

DropReason esp_inbound_prepare(net::PacketBuffer& buf, const net::IpPacketInfo& outer, EspSaIn& sa,
                               EspOp& op) {
  op.crypto.sa = nullptr;
  if (DropReason r = inbound_accept(buf, outer, sa, op); r != DropReason::kNone) return r;
  arm_inbound(op, sa, buf.data() + op.esp_offset);
  return DropReason::kNone;
}

DropReason esp_inbound_open(net::PacketBuffer& buf, const net::IpPacketInfo& outer, EspSaIn& sa,
                            EspOp& op, crypto::CryptoEngine& engine) {
  op.crypto.sa = nullptr;
  if (DropReason r = inbound_accept(buf, outer, sa, op); r != DropReason::kNone) return r;
  if (!sa.crypto->installed() || sa.cipher != Cipher::kAesGcm || sa.iv_length != 8) {
    return DropReason::kEspCryptoError;
  }
  uint8_t* esp = buf.data() + op.esp_offset;
  // What inbound_check reads and sets, as arm_inbound leaves it.
  op.next_header = 0;
  op.set_ce = false;
  op.data_length = 0;
  op.inner = net::IpPacketInfo{};
  op.crypto.base = esp;
  op.crypto.user = &op;
  uint8_t storage[12];
  const Aad aad = esp_aad(esp, op.seq, sa.esn, storage);
  uint8_t* payload = esp + op.payload_offset;
  const uint8_t* iv = esp + kEspHeaderLen;
  const OpStatus status = engine.open_gcm(*sa.crypto, payload, op.payload_length, iv, aad.data,
                                          aad.length, payload + op.payload_length);
  // esp_inbound_resync (after kEspBadIcv) arms the op again from its fields.
  op.crypto.status = status;
  if (status == OpStatus::kError) return DropReason::kEspCryptoError;
  if (status == OpStatus::kAuthFailed) return DropReason::kEspBadIcv;
  if (uint8_t code = inbound_check(op.crypto); code != 0) {
    uint8_t scratch[16];
    engine.seal_gcm(*sa.crypto, payload, op.payload_length, iv, aad.data, aad.length, scratch);
    op.crypto.status = OpStatus::kRejected;
    return static_cast<DropReason>(code);
  }
  return esp_inbound_finish(buf, op);
}

DropReason esp_inbound_finish(net::PacketBuffer& buf, EspOp& op) {
  if (DropReason r = from_status(op.crypto); r != DropReason::kNone) return r;
  EspSaIn& sa = *op.sa_in;
  if (sa.mode == EspMode::kTunnel) {
    buf.adj(static_cast<uint16_t>(op.esp_offset + op.payload_offset));
    buf.trim(static_cast<uint16_t>(buf.length() - op.data_length));
    if (op.set_ce) {
      uint8_t* ip = buf.data();
      if ((ip[0] >> 4) == 4) {
        ip[1] |= 3;
        net::set_ipv4_header_checksum(ip);
      } else {
        ip[1] |= 0x30;
      }
    }
  } else {
    uint8_t* ip = buf.data();
    net::move_header(ip + op.payload_offset, ip, op.l3_length);
    buf.adj(op.payload_offset);
    buf.trim(static_cast<uint16_t>(buf.length() - op.l3_length - op.data_length));
    ip = buf.data();
    ip[op.proto_offset] = op.next_header;
    net::IpPacketInfo info;
    info.family = op.family;
    info.l3_length = op.l3_length;
    net::set_ip_payload_length(ip, info, op.data_length);
  }
  count(sa.packets, sa.bytes, sa.soft_expired, sa.lifetime, op.data_length);
  op.crypto.status = OpStatus::kSkipped;  // finished: a second call cannot strip twice
  return DropReason::kNone;
}

bool esp_inbound_resync(crypto::CryptoEngine& engine, net::PacketBuffer& buf, EspOp& op) {
  EspSaIn& sa = *op.sa_in;
  if (++sa.icv_failures <= kEspResyncThreshold || !sa.esn) return false;
  if ((op.seq >> 32) == 0xffffffffu) return false;  // no subspace after the last
  // The refused packet's ciphertext is intact (the engine restores it), so
  // it is decrypted again with the next high half in its ICV input.
  op.seq += uint64_t{1} << 32;
  arm_inbound(op, sa, buf.data() + op.esp_offset);
  esp_process(engine, std::span<EspOp>(&op, 1));
  return esp_inbound_finish(buf, op) == DropReason::kNone;
}

void esp_process(crypto::CryptoEngine& engine, std::span<EspOp> ops) {
  constexpr size_t kChunk = 64;
  crypto::CryptoOp* ptrs[kChunk];
  for (size_t done = 0; done < ops.size();) {
    size_t n = std::min(kChunk, ops.size() - done);
    for (size_t i = 0; i < n; ++i) ptrs[i] = &ops[done + i].crypto;
    engine.process(std::span<crypto::CryptoOp* const>(ptrs, n));
    done += n;
  }
}

}  // namespace tcpsec::esp
