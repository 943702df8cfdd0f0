#include "controlplane/ikesa/config_payload.h"

namespace tcpsec::ikesa {

Status answer_config_request(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
                             TsChoice& ts, std::vector<ike::Payload>& out) {
  const ike::Payload* p = ike::find_payload(in, ike::PayloadType::kCp);
  if (!p || !ctx.pools) return Status::ok();
  const auto* cp = p->get<ike::Cp>();
  if (!cp || cp->type != ike::CfgType::kRequest) return Status::ok();
  bool want4 = false, want6 = false;
  for (const auto& a : cp->attributes) {
    want4 |= a.type == static_cast<uint16_t>(ike::CpAttributeType::kInternalIp4Address);
    want6 |= a.type == static_cast<uint16_t>(ike::CpAttributeType::kInternalIp6Address);
  }
  auto pool = ctx.pools->find(sa.connection().name());
  if ((!want4 && !want6) || pool == ctx.pools->end()) return Status::ok();
  bool v6_pool = pool->second.prefix().address.v6;
  if (v6_pool ? !want6 : !want4) return Status::ok();  // a family we do not hand out
  auto address = pool->second.allocate(sa.remote_id_text);
  if (!address) return address.status();
  ike::Cp reply;
  reply.type = ike::CfgType::kReply;
  ike::CpAttribute attr;
  auto bytes = std::span<const uint8_t>(address->bytes.data(), address->size());
  if (v6_pool) {
    attr.type = static_cast<uint16_t>(ike::CpAttributeType::kInternalIp6Address);
    attr.value.assign(bytes.begin(), bytes.end());
    attr.value.push_back(128);  // prefix length (RFC 7296 3.15.1)
  } else {
    attr.type = static_cast<uint16_t>(ike::CpAttributeType::kInternalIp4Address);
    attr.value.assign(bytes.begin(), bytes.end());
  }
  reply.attributes.push_back(std::move(attr));
  out.emplace_back(ike::PayloadType::kCp, reply);
  auto narrowed = narrow_peer_to_address(sa.connection(), ts, address->to_string());
  if (!narrowed) return narrowed.status();
  ts = std::move(*narrowed);
  sa.virtual_address = address->to_string();
  ctx.event(sa.connection().name(), "address_leased",
            address->to_string() + " to " + sa.remote_id_text);
  return Status::ok();
}

void release_address(IkeSa& sa, TaskContext& ctx) {
  if (sa.virtual_address.empty() || !ctx.pools) return;
  auto pool = ctx.pools->find(sa.connection().name());
  if (pool != ctx.pools->end()) pool->second.release(sa.remote_id_text);
  sa.virtual_address.clear();
}

}  // namespace tcpsec::ikesa
