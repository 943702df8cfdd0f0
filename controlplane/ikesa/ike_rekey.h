// IkeRekey: rekeying the IKE SA with CREATE_CHILD_SA (RFC 7296 1.3.2, 2.18).
// Both sides derive the new SA's keys from the old SK_d and a fresh DH
// exchange; the new IkeSa (new SPIs, message IDs from 0) takes over the
// Child SAs, and the initiator then deletes the old IKE SA over the same
// path (for pseudo-TCP: the same TCP connection, fixing QuickSec's known
// issue of the delete going out over UDP).
#pragma once

#include <memory>

#include "controlplane/ikesa/task.h"

namespace tcpsec::ikesa {

class IkeRekey final : public Task {
 public:
  explicit IkeRekey(bool initiator) : Task(initiator) {}
  ike::ExchangeType exchange() const override { return ike::ExchangeType::kCreateChildSa; }
  const char* name() const override { return "ike_rekey"; }

  Status build_request(IkeSa& sa, TaskContext& ctx, std::vector<ike::Payload>& out) override;
  Status process_response(IkeSa& sa, TaskContext& ctx,
                          const std::vector<ike::Payload>& in) override;
  bool respond(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
               std::vector<ike::Payload>& out, TaskError& error) override;

  // After success: the new IKE SA, owning the Child SAs.
  std::unique_ptr<IkeSa> take_new_sa() { return std::move(new_sa_); }

 private:
  uint64_t new_spi_ = 0;
  ike::Bytes nonce_;
  std::optional<ikecrypto::DhKeyPair> dh_;
  std::unique_ptr<IkeSa> new_sa_;
};

// Whether a CREATE_CHILD_SA request rekeys the IKE SA (its SA payload
// proposes protocol IKE).
bool is_ike_rekey(const std::vector<ike::Payload>& in);

}  // namespace tcpsec::ikesa
