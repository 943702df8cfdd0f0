#include "controlplane/ikesa/informational.h"

#include <algorithm>
#include <cstdio>

#include "controlplane/ikesa/child_sa_install.h"

namespace tcpsec::ikesa {

void remove_children(IkeSa& sa, TaskContext& ctx) {
  for (const ChildSa& child : sa.children) {
    if (auto s = ctx.link.apply(removal_of(sa, child)); !s)
      std::fprintf(stderr, "tcpsec-ike: %s: removing Child SA: %s\n",
                   sa.connection().name().c_str(), s.message().c_str());
    ctx.event(sa.connection().name(), "child_down", "");
  }
  sa.children.clear();
}

Status Informational::build_request(IkeSa& sa, TaskContext&, std::vector<ike::Payload>& out) {
  if (kind_ == Kind::kDeleteIke) {
    ike::Delete d;
    d.protocol = ike::ProtocolId::kIke;
    out.emplace_back(ike::PayloadType::kDelete, d);
  } else if (kind_ == Kind::kDeleteChildren && !sa.children.empty()) {
    ike::Delete d;
    d.protocol = ike::ProtocolId::kEsp;
    for (const auto& c : sa.children) d.spis.push_back(c.spi_in);
    out.emplace_back(ike::PayloadType::kDelete, d);
  }
  return Status::ok();
}

Status Informational::process_response(IkeSa& sa, TaskContext& ctx,
                                       const std::vector<ike::Payload>&) {
  if (kind_ == Kind::kDeleteIke || kind_ == Kind::kDeleteChildren) remove_children(sa, ctx);
  if (kind_ == Kind::kDeleteIke) sa.set_state(IkeSaState::kDead);
  return Status::ok();
}

bool Informational::respond(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
                            std::vector<ike::Payload>& out, TaskError&) {
  ike::Delete ours;
  ours.protocol = ike::ProtocolId::kEsp;
  for (const auto& p : in) {
    const auto* d = p.get<ike::Delete>();
    if (!d) continue;
    if (d->protocol == ike::ProtocolId::kIke) {
      kind_ = Kind::kDeleteIke;
      deleted_ike_ = true;
      remove_children(sa, ctx);
      sa.set_state(IkeSaState::kDead);
      return true;  // an empty response (RFC 7296 1.4.1)
    }
    if (d->protocol != ike::ProtocolId::kEsp) continue;
    kind_ = Kind::kDeleteChildren;
    // The peer names its inbound SPIs (our outbound ones); we answer with ours.
    for (uint32_t spi : d->spis) {
      auto it = std::find_if(sa.children.begin(), sa.children.end(),
                             [&](const ChildSa& c) { return c.spi_out == spi; });
      if (it == sa.children.end()) continue;
      ours.spis.push_back(it->spi_in);
      if (auto s = ctx.link.apply(removal_of(sa, *it)); !s)
        std::fprintf(stderr, "tcpsec-ike: %s: removing Child SA: %s\n",
                     sa.connection().name().c_str(), s.message().c_str());
      ctx.event(sa.connection().name(), "child_down", "deleted by the peer");
      sa.children.erase(it);
    }
  }
  if (!ours.spis.empty()) out.emplace_back(ike::PayloadType::kDelete, ours);
  return true;
}

}  // namespace tcpsec::ikesa
