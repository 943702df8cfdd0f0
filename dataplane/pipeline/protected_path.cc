// Traffic from the protected port: forwarded as a router forwards (TTL),
// classified by the outbound SPD - through the worker's flow cache, or one
// rte_acl call per burst for the flows it does not know - and handed to the
// policy's action (bypass, discard, protect: esp_path.cc).
//
// A protected burst is handled in two passes. The first finds the usual
// frames (Ethernet, IPv4 without options or IPv6 without extension headers
// carrying TCP or UDP, whole, not for us) and computes their SPD keys,
// prefetching each key's cache entry; the second classifies them with the
// entries already loaded. Any other frame takes the generic
// path (handle_frame), which parses it in full and names its drop reasons.
#include <cstring>

#include "dataplane/net/forwarding.h"
#include "dataplane/net/mbuf_view.h"
#include "dataplane/pipeline/worker.h"
#include "dataplane/spd/packet_key.h"

namespace tcpsec::pipeline {

void Worker::protected_burst(const Interface& in, rte_mbuf* const* pkts, uint16_t n) {
  // What the second pass needs of a usual frame; no initialisers, so the
  // array costs nothing before it is written (zeroing kMaxBurst entries
  // showed in the profile). `total` 0: not a usual frame.
  struct Plain {
    spd::SpdFlowCache::Words key;
    uint16_t total;
    uint8_t proto;
    bool v6;  // its key is in protected_key6_[i]
  };
  Plain p[kMaxBurst];
  spd::SpdFlowCache6::Words* const key6 = protected_key6_->data();
  for (uint16_t i = 0; i < n; ++i) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
    net::IpPacketInfo info;
    spd::SpdFlowCache::Words key;  // hashed from registers, then stored
    if (protected_plain_v4(pkts[i], info, key)) {
      spd_cache_->prefetch(key);
      p[i].key = key;
      p[i].v6 = false;
    } else if (protected_plain_v6(pkts[i], info, key6[i])) {
      spd_cache6_->prefetch(key6[i]);
      p[i].v6 = true;
    } else {
      p[i].total = 0;
      continue;
    }
    p[i].total = info.packet_length;
    p[i].proto = info.proto;
  }
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    const uint16_t total = p[i].total;
    if (total == 0) {
      handle_frame(in, m);
      continue;
    }
    rte_pktmbuf_adj(m, net::kEthHeaderLen);
    if (m->data_len > total) rte_pktmbuf_trim(m, m->data_len - total);
    uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
    if (p[i].v6) {
      --ip[7];  // the hop limit, > 1: checked in the first pass
      spd_classify6(m, net::ipv6_info(total, p[i].proto), key6[i]);
      continue;
    }
    net::decrement_ttl(ip);  // > 1: checked in the first pass
    // (Fragments are not usual frames.)
    spd_classify4(m, net::ipv4_info(total, p[i].proto, false), p[i].key);
  }
}

bool Worker::protected_plain_v4(const rte_mbuf* m, net::IpPacketInfo& info,
                                spd::SpdFlowCache::Words& key) const {
  if (m->nb_segs != 1 || m->data_len < net::kEthHeaderLen + net::kIpv4HeaderLen) return false;
  const uint8_t* eth = rte_pktmbuf_mtod(m, const uint8_t*);
  if (net::load_be16(eth + 12) != net::kEtherTypeIpv4) return false;
  const uint8_t* ip = eth + net::kEthHeaderLen;
  // Fragments, expiring TTLs and packets for us go the generic way.
  if (!net::parse_ipv4_plain(ip, m->data_len - net::kEthHeaderLen, info) || info.fragment ||
      ip[8] <= 1 || gw_.owner_of_v4(ip + 16) != nullptr) {
    return false;
  }
  key = spd::packet_key4(ip, info);
  return true;
}

bool Worker::protected_plain_v6(const rte_mbuf* m, net::IpPacketInfo& info,
                                spd::SpdFlowCache6::Words& key) const {
  if (m->nb_segs != 1 || m->data_len < net::kEthHeaderLen + net::kIpv6HeaderLen) return false;
  const uint8_t* eth = rte_pktmbuf_mtod(m, const uint8_t*);
  if (net::load_be16(eth + 12) != net::kEtherTypeIpv6) return false;
  const uint8_t* ip = eth + net::kEthHeaderLen;
  // Expiring hop limits and packets for us go the generic way (as do ND
  // and everything else ICMPv6: not TCP or UDP).
  if (!net::parse_ipv6_plain(ip, m->data_len - net::kEthHeaderLen, info) || ip[7] <= 1 ||
      gw_.owner_of_v6(ip + 24) != nullptr) {
    return false;
  }
  spd::packet_key6(ip, info, key);
  return true;
}

void Worker::protected_input(rte_mbuf* m, const net::IpPacketInfo& info) {
  if (!gw_.ipsec()) return drop(m, DropReason::kSpdNoPolicy);
  auto view = net::mbuf_view(m);
  // We forward it, as a router: the TTL goes down before it is encrypted.
  if (!net::decrement_ttl(view.data())) return drop(m, DropReason::kTtlExceeded);
  if (info.family == net::IpFamily::kV4) {
    return spd_classify4(m, info, spd::packet_key4(view.data(), info));
  }
  spd::SpdFlowCache6::Words key;
  spd::packet_key6(view.data(), info, key);
  spd_classify6(m, info, key);
}

void Worker::spd_classify6(rte_mbuf* m, const net::IpPacketInfo& info,
                           const spd::SpdFlowCache6::Words& key) {
  const spd::Spd& spd = gw_.ipsec()->spd();
  uint32_t cached;
  if (spd_cache6_->find(spd.epoch(), key, cached)) {
    counters_.add(Counter::kSpdCacheHits);
    return spd_apply(*gw_.ipsec(), spd, m, cached, info);
  }
  SpdBatch& b = *spd_;
  if (b.n6 == kEspBatch) spd_flush();
  std::memcpy(&b.k6[b.n6], key.w, sizeof key.w);
  b.p6[b.n6] = &b.k6[b.n6];
  b.i6[b.n6] = info;
  b.m6[b.n6++] = m;
}

void Worker::spd_classify4(rte_mbuf* m, const net::IpPacketInfo& info,
                           const spd::SpdFlowCache::Words& key) {
  // A flow classified before under the same policies: no rte_acl.
  const spd::Spd& spd = gw_.ipsec()->spd();
  uint32_t cached;
  if (spd_cache_->find(spd.epoch(), key, cached)) {
    counters_.add(Counter::kSpdCacheHits);
    return spd_apply(*gw_.ipsec(), spd, m, cached, info);
  }
  // Else its key waits for one rte_acl call for the burst in spd_flush().
  SpdBatch& b = *spd_;
  if (b.n4 == kEspBatch) spd_flush();
  std::memcpy(&b.k4[b.n4], key.w, sizeof key.w);
  b.p4[b.n4] = &b.k4[b.n4];
  b.i4[b.n4] = info;
  b.m4[b.n4++] = m;
}

void Worker::spd_flush() {
  SpdBatch& b = *spd_;
  if (b.n4 == 0 && b.n6 == 0) return;
  IpsecState* ips = gw_.ipsec();
  const spd::Spd& spd = ips->spd();
  if (b.n4) spd.classify(spd::Direction::kOutbound, b.p4.data(), b.r4.data(), b.n4);
  if (b.n6) spd.classify(spd::Direction::kOutbound, b.p6.data(), b.r6.data(), b.n6);
  uint16_t n4 = b.n4, n6 = b.n6;
  b.n4 = b.n6 = 0;
  for (uint16_t i = 0; i < n4; ++i) spd_cache_->insert(spd.epoch(), b.k4[i], b.r4[i]);
  for (uint16_t i = 0; i < n6; ++i) spd_cache6_->insert(spd.epoch(), b.k6[i], b.r6[i]);
  for (uint16_t i = 0; i < n4; ++i) spd_apply(*ips, spd, b.m4[i], b.r4[i], b.i4[i]);
  for (uint16_t i = 0; i < n6; ++i) spd_apply(*ips, spd, b.m6[i], b.r6[i], b.i6[i]);
}

void Worker::spd_apply(IpsecState& ips, const spd::Spd& spd, rte_mbuf* m, uint32_t result,
                       const net::IpPacketInfo& info) {
  spd::Verdict v = spd.verdict(result);
  switch (v.action) {
    case spd::Action::kBypass:
      counters_.add(Counter::kSpdBypass);
      return send_l3(m);
    case spd::Action::kDiscard:
      return drop(m, DropReason::kSpdDiscard);
    case spd::Action::kProtect:
      break;
  }
  // Traffic goes to a few SAs: the worker's cache answers without a hash
  // probe while the SA table is unchanged.
  OutboundSa* sa = ips.outbound(outbound_sas_, v.sa_spi);
  if (!sa) return drop(m, DropReason::kEspNoSa);
  esp_out_enqueue(m, sa, info);
}

}  // namespace tcpsec::pipeline
