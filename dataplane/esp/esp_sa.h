// ESP security associations as the packet path sees them: hot records,
// cache-line aligned, one writer each (the lcore that owns the SA).
//
// An SA's keys live in a crypto::SaCrypto (expanded once, read-only, shared);
// these records hold what changes per packet (sequence number, counters,
// replay window) and what is read per packet (SPI, mode, prebuilt outer
// header). init() validates a configuration and is the slow path; nothing
// here allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "common/status.h"
#include "dataplane/crypto/sa_crypto.h"
#include "dataplane/esp/replay_window.h"
#include "dataplane/net/ip_address.h"

namespace tcpsec::esp {

enum class EspMode : uint8_t { kTunnel, kTransport };

// The outer IPv4 DF bit in tunnel mode (RFC 4301 8.1).
enum class DfMode : uint8_t {
  kCopy,  // from the inner IPv4 header; set for an inner IPv6 packet
  kSet,
  kClear,
};

// Outer DSCP in tunnel mode: copied from the inner header (RFC 4301 5.1.2.1,
// the default), or this fixed code point.
inline constexpr uint8_t kCopyDscp = 0xff;

inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// SA lifetimes in packets and bytes (RFC 4301 4.4.2.1); time limits are the
// control plane's. Crossing a soft limit sets `soft_expired` (time to rekey);
// reaching a hard limit refuses packets (kEspSaExpired).
struct Lifetime {
  uint64_t soft_packets = kNoLimit;
  uint64_t hard_packets = kNoLimit;
  uint64_t soft_bytes = kNoLimit;  // payload bytes protected (the inner packet or L4)
  uint64_t hard_bytes = kNoLimit;
};

// SPIs 1-255 are reserved by IANA and 0 is never sent (RFC 4303 2.1).
inline constexpr uint32_t kMinSpi = 256;

struct EspSaOutConfig {
  uint32_t spi = 0;
  EspMode mode = EspMode::kTunnel;
  bool esn = false;
  // Tunnel mode: outer header fields.
  net::IpAddress tunnel_source;
  net::IpAddress tunnel_destination;
  uint8_t ttl = 64;  // IPv4 TTL / IPv6 hop limit
  DfMode df = DfMode::kCopy;
  uint8_t dscp = kCopyDscp;
  uint32_t flow_label = 0;  // IPv6
  Lifetime lifetime;
  uint64_t last_seq = 0;  // sequence number last sent: 0 for a new SA
};

struct alignas(64) EspSaOut {
  // ---- line 0: read per packet, written only by init()
  const crypto::SaCrypto* crypto = nullptr;
  uint32_t spi = 0;
  EspMode mode = EspMode::kTunnel;
  bool esn = false;
  DfMode df = DfMode::kCopy;
  uint8_t dscp = kCopyDscp;
  crypto::Cipher cipher = crypto::Cipher::kNull;
  uint8_t iv_length = 0;
  uint8_t icv_length = 0;
  uint8_t block = 4;
  net::IpFamily outer_family = net::IpFamily::kNone;  // kNone in transport mode
  uint8_t outer_length = 0;                           // 0, 20 or 40
  uint8_t outer[40] = {};  // outer header template: addresses, TTL, protocol 50
  // IPv4: the one's-complement sum (host order, folded) of the template's
  // constant words - TTL and protocol, addresses - for the header checksum.
  uint16_t outer_sum = 0;
  // ---- line 1: written per packet
  alignas(64) uint64_t seq = 0;  // last sequence number sent
  uint64_t packets = 0;
  uint64_t bytes = 0;
  bool soft_expired = false;
  Lifetime lifetime;

  // Validates `config` and sets up the SA over `keys` (which must outlive it).
  Status init(const EspSaOutConfig& config, const crypto::SaCrypto& keys);
};

static_assert(sizeof(EspSaOut) == 128);
static_assert(offsetof(EspSaOut, seq) == 64);

struct EspSaInConfig {
  uint32_t spi = 0;
  EspMode mode = EspMode::kTunnel;
  bool esn = false;
  uint32_t replay_window = ReplayWindow::kDefaultSize;  // packets, 64..4096
  Lifetime lifetime;
};

struct alignas(64) EspSaIn {
  // ---- line 0: read per packet, written only by init()
  const crypto::SaCrypto* crypto = nullptr;
  uint32_t spi = 0;
  EspMode mode = EspMode::kTunnel;
  bool esn = false;
  crypto::Cipher cipher = crypto::Cipher::kNull;
  uint8_t iv_length = 0;
  uint8_t icv_length = 0;
  uint8_t block = 4;
  Lifetime lifetime;
  // ---- line 1: written per accepted packet
  alignas(64) uint64_t packets = 0;
  uint64_t bytes = 0;
  bool soft_expired = false;
  uint32_t icv_failures = 0;  // in a row, for ESN resynchronisation (esp_inbound_resync)
  // ---- lines 2-18: the anti-replay window
  ReplayWindow window;

  Status init(const EspSaInConfig& config, const crypto::SaCrypto& keys);
};

static_assert(offsetof(EspSaIn, packets) == 64);
static_assert(offsetof(EspSaIn, window) == 128);
static_assert(sizeof(EspSaIn) == 128 + sizeof(ReplayWindow));

}  // namespace tcpsec::esp
