// Task: one IKE exchange as a small object with its role fixed at
// construction (strongSwan's task model). The initiator builds a request
// and processes the response; the responder answers a request. The daemon
// owns the message IDs, retransmissions and SK protection around them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/ikesa/ike_sa.h"
#include "controlplane/link/dataplane_link.h"
#include "controlplane/message/payloads.h"
#include "controlplane/selectors/address_pool.h"
#include "tcpsec/v1/gateway.pb.h"

namespace tcpsec::ikesa {

// What tasks may use besides their IKE SA.
struct TaskContext {
  link::DataplaneLink& link;
  const v1::GatewayConfig& config;
  // (connection, kind, message): "ike_up", "auth_failed", ... (gateway.proto).
  std::function<void(const std::string&, const std::string&, const std::string&)> event;
  uint64_t now_ms = 0;
  // Unique dataplane policy priorities (per direction) for Child SAs.
  uint32_t* next_policy_priority = nullptr;
  // Ids of Child SAs (unique per daemon; kept across rekeys).
  uint32_t* next_child_id = nullptr;
  // Applies a request after `delay_ms` (empty: apply now instead).
  std::function<void(uint64_t delay_ms, v1::ApplyRequest request)> defer = {};
  // Remote access address pools by connection name (nullptr: none).
  std::map<std::string, selectors::AddressPool>* pools = nullptr;
};

// A task's failure: the message for logs, and the notify to answer with
// when the task is the responder (kNone: drop silently).
struct TaskError {
  std::string message;
  ike::NotifyType notify = ike::NotifyType::kInvalidSyntax;
  ike::Bytes notify_data;
};

class Task {
 public:
  explicit Task(bool initiator) : initiator_(initiator) {}
  virtual ~Task() = default;
  virtual ike::ExchangeType exchange() const = 0;
  virtual const char* name() const = 0;
  bool initiator() const { return initiator_; }

  // Initiator.
  virtual Status build_request(IkeSa& sa, TaskContext& ctx, std::vector<ike::Payload>& out) = 0;
  virtual Status process_response(IkeSa& sa, TaskContext& ctx,
                                  const std::vector<ike::Payload>& in) = 0;
  // Responder: fills `out` (on failure with the error notify to send).
  virtual bool respond(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
                       std::vector<ike::Payload>& out, TaskError& error) = 0;

 private:
  bool initiator_;
};

// Helpers for building payload lists.
ike::Payload notify_payload(ike::NotifyType type, ike::Bytes data = {},
                            ike::ProtocolId protocol = ike::ProtocolId::kNone, ike::Bytes spi = {});
// The first error notify in `in`, if any.
const ike::Notify* first_error(const std::vector<ike::Payload>& in);

}  // namespace tcpsec::ikesa
