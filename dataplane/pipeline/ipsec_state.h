// IpsecState: the SAs and policies of the dataplane, built from the
// configuration (manual keys) and, later, pushed by the control plane.
//
// Each SA is owned by one worker (`owner`): only that lcore writes its
// sequence number or replay window, so neither needs atomics. Packets that
// another worker receives for it are handed over through the owner's ring.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "dataplane/crypto/sa_crypto.h"
#include "dataplane/esp/esp_sa.h"
#include "dataplane/net/ip_address.h"
#include "dataplane/net/route_table.h"
#include "dataplane/sad/sa_table.h"
#include "dataplane/spd/policy.h"
#include "dataplane/spd/spd.h"
#include "tcpsec/v1/config.pb.h"

namespace tcpsec::pipeline {

// How an SA's ESP packets travel between the gateways.
enum class OuterEncap : uint8_t { kPlain, kUdp, kPseudoTcp };

struct OutboundSa {
  esp::EspSaOut esp;  // hot record: sequence number, outer header template
  OuterEncap encap = OuterEncap::kPlain;
  uint16_t local_port = 0;  // UDP or pseudo-TCP ports
  uint16_t peer_port = 0;
  net::IpAddress local;  // tunnel endpoints
  net::IpAddress peer;
  unsigned owner = 0;
  uint16_t egress_mtu = 0;  // of the port towards `peer`; 0: unknown (no PMTU check)
  bool has_route = false;   // `route` towards `peer`, fixed at start like the routes
  net::RouteResult route;
};

struct InboundSa {
  esp::EspSaIn esp;        // hot record: replay window, counters
  spd::Selector selector;  // the SA's own traffic selector, checked after decryption
  bool has_selector = false;
  unsigned owner = 0;
};

class IpsecState {
 public:
  static Expected<std::unique_ptr<IpsecState>> create(const v1::DataplaneConfig& config,
                                                      unsigned workers);
  ~IpsecState();

  bool enabled() const { return !out_.empty() || !in_.empty() || has_policies_; }

  // Readers (workers).
  sad::SaIndex inbound_index(uint32_t spi, const net::IpAddress& local) const {
    return in_table_->lookup(spi, local);
  }
  InboundSa& inbound(sad::SaIndex i) { return *in_[i]; }
  // Outbound SAs are looked up by SPI from the SPD's verdict.
  OutboundSa* outbound(uint32_t spi) {
    auto it = out_index_.find(spi);
    return it == out_index_.end() ? nullptr : out_[it->second].get();
  }
  const spd::Spd& spd() const { return *spd_->current(); }
  template <typename F>
  void for_each_outbound(F&& f) {
    for (auto& sa : out_) f(*sa);
  }

  Status register_reader(unsigned id);
  void quiescent(unsigned id);
  void unregister_reader(unsigned id);

 private:
  IpsecState() = default;
  std::vector<std::unique_ptr<crypto::SaCrypto>> keys_;
  std::vector<std::unique_ptr<OutboundSa>> out_;
  std::unordered_map<uint32_t, uint32_t> out_index_;  // read-only after create()
  std::vector<std::unique_ptr<InboundSa>> in_;        // by SaTable index
  std::unique_ptr<sad::SaTable> in_table_;
  std::unique_ptr<spd::SpdPublisher> spd_;
  bool has_policies_ = false;
};

}  // namespace tcpsec::pipeline
