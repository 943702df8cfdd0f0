// IkeAuth: the IKE_AUTH exchange (RFC 7296 1.2, 2.15) with pre-shared keys
// or certificates (authenticator.h), and the first Child SA it carries (SA, TSi, TSr), installed in the
// dataplane before the response is sent (responder) or once it arrives
// (initiator).
#pragma once

#include "controlplane/ikesa/task.h"

namespace tcpsec::ikesa {

class IkeAuth final : public Task {
 public:
  explicit IkeAuth(bool initiator) : Task(initiator) {}
  ike::ExchangeType exchange() const override { return ike::ExchangeType::kIkeAuth; }
  const char* name() const override { return "ike_auth"; }

  Status build_request(IkeSa& sa, TaskContext& ctx, std::vector<ike::Payload>& out) override;
  Status process_response(IkeSa& sa, TaskContext& ctx,
                          const std::vector<ike::Payload>& in) override;
  bool respond(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
               std::vector<ike::Payload>& out, TaskError& error) override;

 private:
  uint32_t spi_in_ = 0;  // ours, for the Child SA
};

// ID Type | RESERVED | data: what AUTH signs (RFC 7296 2.15).
ike::Bytes id_body(const ike::Id& id);

}  // namespace tcpsec::ikesa
