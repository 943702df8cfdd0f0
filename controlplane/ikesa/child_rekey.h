// ChildRekey: rekeying a Child SA with CREATE_CHILD_SA (RFC 7296 1.3.3,
// 2.8), make-before-break. The initiator installs the new SA pair and moves
// the policies onto it in one Apply, then deletes the old pair; the
// responder installs the new pair at once and moves the policies when the
// initiator deletes the old one. Traffic never finds no SA.
//
// The responder also answers a CREATE_CHILD_SA without REKEY_SA: an
// additional Child SA (e.g. a duplicate the peer initiates), installed with
// its policies at once.
#pragma once

#include "controlplane/ikesa/task.h"

namespace tcpsec::ikesa {

class ChildRekey final : public Task {
 public:
  // Initiator: the Child SA to rekey, by its inbound SPI.
  explicit ChildRekey(bool initiator, uint32_t spi_in = 0) : Task(initiator), old_spi_in_(spi_in) {}
  ike::ExchangeType exchange() const override { return ike::ExchangeType::kCreateChildSa; }
  const char* name() const override { return "child_rekey"; }

  Status build_request(IkeSa& sa, TaskContext& ctx, std::vector<ike::Payload>& out) override;
  Status process_response(IkeSa& sa, TaskContext& ctx,
                          const std::vector<ike::Payload>& in) override;
  bool respond(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
               std::vector<ike::Payload>& out, TaskError& error) override;

  // Initiator, after success: the old inbound SPI to delete.
  uint32_t old_spi_in() const { return old_spi_in_; }

 private:
  uint32_t old_spi_in_ = 0;
  uint32_t new_spi_in_ = 0;
  ike::Bytes nonce_;
  std::optional<ikecrypto::DhKeyPair> dh_;
};

}  // namespace tcpsec::ikesa
