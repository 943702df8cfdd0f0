// Informational: the INFORMATIONAL exchange (RFC 7296 1.4): deleting the
// IKE SA or Child SAs, and liveness checks (an empty request, DPD).
#pragma once

#include "controlplane/ikesa/task.h"

namespace tcpsec::ikesa {

class Informational final : public Task {
 public:
  enum class Kind { kDpd, kDeleteIke, kDeleteChildren };
  // The initiator says what it sends; the responder learns it from the request.
  Informational(bool initiator, Kind kind = Kind::kDpd) : Task(initiator), kind_(kind) {}
  // kDeleteChildren of these Child SAs (our inbound SPIs); none: all.
  Informational(bool initiator, std::vector<uint32_t> spis_in)
      : Task(initiator), kind_(Kind::kDeleteChildren), spis_(std::move(spis_in)) {}
  ike::ExchangeType exchange() const override { return ike::ExchangeType::kInformational; }
  const char* name() const override { return "informational"; }

  Status build_request(IkeSa& sa, TaskContext& ctx, std::vector<ike::Payload>& out) override;
  Status process_response(IkeSa& sa, TaskContext& ctx,
                          const std::vector<ike::Payload>& in) override;
  bool respond(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
               std::vector<ike::Payload>& out, TaskError& error) override;

  Kind kind() const { return kind_; }
  // Responder: the request deleted the IKE SA (the daemon removes it after
  // the response is sent).
  bool deleted_ike() const { return deleted_ike_; }

 private:
  Kind kind_;
  bool deleted_ike_ = false;
  std::vector<uint32_t> spis_;
};

// Removes every Child SA of `sa` from the dataplane.
void remove_children(IkeSa& sa, TaskContext& ctx);
// How long a rekeyed Child SA's inbound SA outlives its deletion.
inline constexpr uint64_t kRekeyedInboundDelayMs = 5000;

// Removes one Child SA (by index in sa.children) from the dataplane and the
// list. A rekeyed one loses only its SAs: its policies already belong to
// its successor. A successor waiting for the old one's deletion (we
// responded to the rekey) gets the traffic in the same Apply.
void remove_child(IkeSa& sa, TaskContext& ctx, size_t index, const char* why);

}  // namespace tcpsec::ikesa
