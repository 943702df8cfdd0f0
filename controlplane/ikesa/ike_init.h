// IkeInit: the IKE_SA_INIT exchange (RFC 7296 1.2): proposals, DH, nonces,
// NAT detection; ends with the IKE SA's keys installed. The initiator
// restarts with the group a responder asks for (INVALID_KE_PAYLOAD) and
// with a COOKIE when one is demanded.
#pragma once

#include "controlplane/ikesa/task.h"

namespace tcpsec::ikesa {

class IkeInit final : public Task {
 public:
  explicit IkeInit(bool initiator) : Task(initiator) {}
  ike::ExchangeType exchange() const override { return ike::ExchangeType::kIkeSaInit; }
  const char* name() const override { return "ike_init"; }

  Status build_request(IkeSa& sa, TaskContext& ctx, std::vector<ike::Payload>& out) override;
  Status process_response(IkeSa& sa, TaskContext& ctx,
                          const std::vector<ike::Payload>& in) override;
  bool respond(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
               std::vector<ike::Payload>& out, TaskError& error) override;

  // After process_response: the request must be sent again (new group or
  // cookie); build_request() makes it.
  bool restart() const { return restart_; }

 private:
  bool restart_ = false;
  std::optional<ikecrypto::DhGroup> group_;  // asked for by INVALID_KE_PAYLOAD
  ike::Bytes cookie_;
};

// Fills the IKE SA's `path().nat` from the peer's NAT_DETECTION notifies.
void detect_nat(IkeSa& sa, const std::vector<ike::Payload>& in);

}  // namespace tcpsec::ikesa
