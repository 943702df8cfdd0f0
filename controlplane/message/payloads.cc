#include "controlplane/message/payloads.h"

namespace tcpsec::ike {

std::optional<uint16_t> Transform::key_length() const {
  for (const TransformAttribute& a : attributes) {
    if (a.tv && a.type == static_cast<uint16_t>(TransformAttributeType::kKeyLength)) {
      return a.value;
    }
  }
  return std::nullopt;
}

Transform Transform::make(TransformType type, uint16_t id, std::optional<uint16_t> key_length) {
  Transform t;
  t.type = type;
  t.id = id;
  if (key_length) {
    t.attributes.push_back(
        {static_cast<uint16_t>(TransformAttributeType::kKeyLength), true, *key_length, {}});
  }
  return t;
}

const Payload* find_payload(const std::vector<Payload>& payloads, PayloadType type) {
  for (const Payload& p : payloads) {
    if (p.type == type) return &p;
  }
  return nullptr;
}

const Notify* find_notify(const std::vector<Payload>& payloads, NotifyType type) {
  for (const Payload& p : payloads) {
    const Notify* n = p.get<Notify>();
    if (n != nullptr && n->type == type) return n;
  }
  return nullptr;
}

const Payload* Message::find(PayloadType type) const {
  return find_payload(payloads, type);
}
const Notify* Message::find_notify(NotifyType type) const {
  return tcpsec::ike::find_notify(payloads, type);
}

}  // namespace tcpsec::ike
