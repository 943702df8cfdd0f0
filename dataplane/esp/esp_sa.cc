#include "dataplane/esp/esp_sa.h"

#include <cstring>
#include <string>

#include "dataplane/net/ip_packet.h"
#include "dataplane/net/packet_buffer.h"

namespace tcpsec::esp {
namespace {

Status check_common(uint32_t spi, const crypto::SaCrypto& keys, const Lifetime& lifetime) {
  if (spi < kMinSpi) {
    return Status::error("SPI " + std::to_string(spi) + " is reserved (0-255, RFC 4303 2.1)");
  }
  if (!keys.installed()) return Status::error("the SA's keys are not installed");
  if (lifetime.soft_packets > lifetime.hard_packets || lifetime.soft_bytes > lifetime.hard_bytes) {
    return Status::error("soft lifetime above the hard lifetime");
  }
  return Status::ok();
}

// The outer header with everything that does not change per packet: version,
// TTL / hop limit, protocol 50, addresses (and the IPv6 flow label).
void build_outer(EspSaOut& sa, const EspSaOutConfig& c) {
  uint8_t* h = sa.outer;
  std::memset(h, 0, sizeof sa.outer);
  if (c.tunnel_source.is_v4()) {
    h[0] = 0x45;
    h[8] = c.ttl;
    h[9] = net::kProtoEsp;
    std::memcpy(h + 12, c.tunnel_source.bytes.data(), 4);
    std::memcpy(h + 16, c.tunnel_destination.bytes.data(), 4);
    sa.outer_length = net::kIpv4HeaderLen;
    sa.outer_family = net::IpFamily::kV4;
    uint32_t sum = 0;
    for (int i : {8, 12, 14, 16, 18}) sum += net::load_be16(h + i);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sa.outer_sum = static_cast<uint16_t>(sum);
  } else {
    net::store_be32(h, 0x60000000u | (c.flow_label & 0xfffff));
    h[6] = net::kProtoEsp;
    h[7] = c.ttl;
    std::memcpy(h + 8, c.tunnel_source.bytes.data(), 16);
    std::memcpy(h + 24, c.tunnel_destination.bytes.data(), 16);
    sa.outer_length = net::kIpv6HeaderLen;
    sa.outer_family = net::IpFamily::kV6;
  }
}

}  // namespace

Status EspSaOut::init(const EspSaOutConfig& c, const crypto::SaCrypto& keys) {
  if (Status st = check_common(c.spi, keys, c.lifetime); !st) return st;
  if (!c.esn && c.last_seq > 0xffffffffu) {
    return Status::error("sequence number above 2^32-1 without ESN");
  }
  if (c.mode == EspMode::kTunnel) {
    if (c.tunnel_source.family == net::IpFamily::kNone ||
        c.tunnel_source.family != c.tunnel_destination.family) {
      return Status::error("tunnel mode needs a source and a destination of one family");
    }
    if (c.ttl == 0) return Status::error("outer TTL must not be 0");
    if (c.dscp != kCopyDscp && c.dscp > 63) return Status::error("DSCP above 63");
    if (c.flow_label > 0xfffff) return Status::error("flow label above 20 bits");
  }
  *this = EspSaOut{};
  const crypto::AlgorithmProperties& p = keys.properties();
  crypto = &keys;
  spi = c.spi;
  mode = c.mode;
  esn = c.esn;
  df = c.df;
  dscp = c.dscp;
  cipher = p.cipher;
  iv_length = p.iv_length;
  icv_length = p.icv_length;
  block = p.block;
  if (c.mode == EspMode::kTunnel) build_outer(*this, c);
  seq = c.last_seq;
  lifetime = c.lifetime;
  return Status::ok();
}

Status EspSaIn::init(const EspSaInConfig& c, const crypto::SaCrypto& keys) {
  if (Status st = check_common(c.spi, keys, c.lifetime); !st) return st;
  ReplayWindow w;
  if (Status st = w.init(c.replay_window, c.esn); !st) return st;
  const crypto::AlgorithmProperties& p = keys.properties();
  crypto = &keys;
  spi = c.spi;
  mode = c.mode;
  esn = c.esn;
  cipher = p.cipher;
  iv_length = p.iv_length;
  icv_length = p.icv_length;
  block = p.block;
  lifetime = c.lifetime;
  packets = 0;
  bytes = 0;
  soft_expired = false;
  window = w;
  return Status::ok();
}

}  // namespace tcpsec::esp
