#include "controlplane/ikesa/task.h"

namespace tcpsec::ikesa {

ike::Payload notify_payload(ike::NotifyType type, ike::Bytes data, ike::ProtocolId protocol,
                            ike::Bytes spi) {
  ike::Notify n;
  n.type = type;
  n.data = std::move(data);
  n.protocol = protocol;
  n.spi = std::move(spi);
  return ike::Payload(ike::PayloadType::kNotify, n);
}

const ike::Notify* first_error(const std::vector<ike::Payload>& in) {
  for (const auto& p : in) {
    if (const auto* n = p.get<ike::Notify>(); n && ike::is_error_notify(n->type)) return n;
  }
  return nullptr;
}

}  // namespace tcpsec::ikesa
