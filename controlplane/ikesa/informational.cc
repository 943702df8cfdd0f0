#include "controlplane/ikesa/informational.h"

#include <algorithm>
#include <cstdio>

#include "controlplane/ikesa/child_sa_install.h"

namespace tcpsec::ikesa {

void remove_children(IkeSa& sa, TaskContext& ctx) {
  while (!sa.children.empty()) remove_child(sa, ctx, sa.children.size() - 1, "");
}

void remove_child(IkeSa& sa, TaskContext& ctx, size_t index, const char* why) {
  ChildSa old = sa.children[index];
  v1::ApplyRequest r;
  // Another record with the same id: a rekey in progress or completed.
  auto successor = std::find_if(sa.children.begin(), sa.children.end(), [&](const ChildSa& c) {
    return c.id == old.id && c.spi_in != old.spi_in;
  });
  bool handed_over = successor != sa.children.end();
  if (handed_over && ctx.defer) {
    // Rekeyed: the old outbound SA goes now; the old inbound SA lives on a
    // few seconds for packets the peer sent on it before switching (they
    // may still be in flight behind the delete, as strongSwan's
    // delete_rekeyed_delay allows for).
    v1::ApplyRequest both, later;
    remove_child_sas(sa, old, false, both);
    for (const auto& id : both.delete_sas())
      *(id.direction() == v1::DIRECTION_INBOUND ? later.add_delete_sas() : r.add_delete_sas()) = id;
    ctx.defer(kRekeyedInboundDelayMs, std::move(later));
  } else {
    remove_child_sas(sa, old, /*policies=*/!handed_over, r);
  }
  if (handed_over && successor->awaiting_switch) {
    successor->policy_names = old.policy_names;
    successor->policy_priorities = old.policy_priorities;
    set_child_policies(sa, ctx, *successor, r);
  }
  if (auto s = ctx.link.apply(r); !s) {
    std::fprintf(stderr, "tcpsec-ike: %s: removing Child SA: %s\n", sa.connection().name().c_str(),
                 s.message().c_str());
  }
  if (handed_over) successor->awaiting_switch = false;
  sa.children.erase(sa.children.begin() + static_cast<long>(index));
  if (!handed_over) ctx.event(sa.connection().name(), "child_down", why);
}

Status Informational::build_request(IkeSa& sa, TaskContext&, std::vector<ike::Payload>& out) {
  if (kind_ == Kind::kDeleteIke) {
    ike::Delete d;
    d.protocol = ike::ProtocolId::kIke;
    out.emplace_back(ike::PayloadType::kDelete, d);
  } else if (kind_ == Kind::kDeleteChildren) {
    ike::Delete d;
    d.protocol = ike::ProtocolId::kEsp;
    if (spis_.empty())
      for (const auto& c : sa.children) spis_.push_back(c.spi_in);
    d.spis = spis_;
    if (!d.spis.empty()) out.emplace_back(ike::PayloadType::kDelete, d);
  }
  return Status::ok();
}

Status Informational::process_response(IkeSa& sa, TaskContext& ctx,
                                       const std::vector<ike::Payload>&) {
  if (kind_ == Kind::kDeleteChildren) {
    for (uint32_t spi : spis_) {
      auto it = std::find_if(sa.children.begin(), sa.children.end(),
                             [&](const ChildSa& c) { return c.spi_in == spi; });
      if (it != sa.children.end())
        remove_child(sa, ctx, static_cast<size_t>(it - sa.children.begin()), "deleted");
    }
  }
  if (kind_ == Kind::kDeleteIke) {
    remove_children(sa, ctx);
    sa.set_state(IkeSaState::kDead);
  }
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
      remove_child(sa, ctx, static_cast<size_t>(it - sa.children.begin()), "deleted by the peer");
    }
  }
  if (!ours.spis.empty()) out.emplace_back(ike::PayloadType::kDelete, ours);
  return true;
}

}  // namespace tcpsec::ikesa
