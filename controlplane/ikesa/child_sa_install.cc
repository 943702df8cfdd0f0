#include "controlplane/ikesa/child_sa_install.h"

#include <cinttypes>
#include <cstdio>

namespace tcpsec::ikesa {

namespace {

std::string hex_spi(uint32_t spi) {
  char b[16];
  std::snprintf(b, sizeof b, "%08" PRIx32, spi);
  return b;
}

void set_encapsulation(const PeerPath& p, v1::SecurityAssociation& out) {
  if (p.transport == v1::TRANSPORT_PSEUDO_TCP) {
    out.mutable_encapsulation()->mutable_pseudo_tcp();
  } else if (p.nat) {
    auto* udp = out.mutable_encapsulation()->mutable_udp();
    udp->set_local_port(p.local_port);
    udp->set_peer_port(p.peer_port);
  }
}

std::string key_text(const ikecrypto::SecretBytes& k) {
  return std::string(k.begin(), k.end());
}

}  // namespace

Expected<ChildSa> add_child_sas(IkeSa& sa, TaskContext& ctx, const ChildNegotiation& n,
                                uint32_t child_id, v1::ApplyRequest& r) {
  auto keys = ikecrypto::derive_child_sa_keys(sa.transforms.prf, sa.keys().sk_d, n.esp.transforms,
                                              n.nonce_i, n.nonce_r, n.pfs_secret);
  if (!keys) return keys.status();
  const PeerPath& p = sa.path();
  const v1::Connection& c = sa.connection();
  const auto& in_enc = n.initiator ? keys->encryption_r2i : keys->encryption_i2r;
  const auto& in_int = n.initiator ? keys->integrity_r2i : keys->integrity_i2r;
  const auto& out_enc = n.initiator ? keys->encryption_i2r : keys->encryption_r2i;
  const auto& out_int = n.initiator ? keys->integrity_i2r : keys->integrity_r2i;

  ChildSa child;
  child.id = child_id ? child_id : (*ctx.next_child_id)++;
  child.name = c.name();
  child.spi_in = n.spi_in;
  child.spi_out = n.esp.peer_spi;
  child.algorithm = n.esp.algorithm;
  child.proposal_text = n.esp.text;
  child.local_ts = {n.ts.local_text};
  child.remote_ts = {n.ts.remote_text};
  child.selectors = n.ts.selectors;
  child.installed_ms = ctx.now_ms;

  const v1::Mode mode = c.mode() == v1::MODE_TRANSPORT ? v1::MODE_TRANSPORT : v1::MODE_TUNNEL;
  for (int dir = 0; dir < 2; ++dir) {
    bool outbound = dir == 1;
    v1::SecurityAssociation* s = r.add_add_sas();
    s->set_spi(outbound ? child.spi_out : child.spi_in);
    s->set_direction(outbound ? v1::DIRECTION_OUTBOUND : v1::DIRECTION_INBOUND);
    s->set_mode(mode);
    s->set_name(c.name() + "-" + hex_spi(s->spi()));
    if (mode == v1::MODE_TUNNEL) {
      s->set_tunnel_local(p.local_address);
      s->set_tunnel_peer(p.peer_address);
    }
    s->set_algorithm(n.esp.algorithm);
    s->set_esn(n.esp.esn);
    s->set_encryption_key(key_text(outbound ? out_enc : in_enc));
    s->set_integrity_key(key_text(outbound ? out_int : in_int));
    set_encapsulation(p, *s);
    // The SA's own check after decryption (the dataplane takes one
    // selector per SA: the first pair; the policies cover the rest).
    if (!outbound && !child.selectors.empty()) *s->mutable_selector() = child.selectors.front();
  }
  return child;
}

void set_child_policies(const IkeSa& sa, TaskContext& ctx, ChildSa& child, v1::ApplyRequest& r) {
  const bool fresh = child.policy_names.empty();
  for (size_t i = 0; i < child.selectors.size(); ++i) {
    v1::Policy* pol = r.add_set_policies();
    pol->set_name(sa.connection().name() + "-c" + std::to_string(child.id) + "-out" +
                  std::to_string(i));
    // A replaced policy keeps its priority (priorities are unique).
    if (fresh) child.policy_priorities.push_back((*ctx.next_policy_priority)++);
    pol->set_priority(child.policy_priorities[i]);
    pol->set_direction(v1::DIRECTION_OUTBOUND);
    *pol->mutable_match() = child.selectors[i];
    pol->set_action(v1::POLICY_ACTION_PROTECT);
    pol->set_sa_spi(child.spi_out);
    if (fresh) child.policy_names.push_back(pol->name());
  }
}

void remove_child_sas(const IkeSa& sa, const ChildSa& child, bool policies, v1::ApplyRequest& r) {
  for (int dir = 0; dir < 2; ++dir) {
    bool outbound = dir == 1;
    v1::SaId* id = r.add_delete_sas();
    id->set_spi(outbound ? child.spi_out : child.spi_in);
    id->set_direction(outbound ? v1::DIRECTION_OUTBOUND : v1::DIRECTION_INBOUND);
    if (!outbound && sa.connection().mode() != v1::MODE_TRANSPORT)
      id->set_tunnel_local(sa.path().local_address);
  }
  if (policies)
    for (const auto& name : child.policy_names) r.add_delete_policies(name);
}

Status install_child_sa(IkeSa& sa, TaskContext& ctx, const ChildNegotiation& n) {
  v1::ApplyRequest r;
  auto child = add_child_sas(sa, ctx, n, 0, r);
  if (!child) return child.status();
  set_child_policies(sa, ctx, *child, r);
  if (auto s = ctx.link.apply(r); !s) return s;
  sa.children.push_back(std::move(*child));
  return Status::ok();
}

v1::ApplyRequest removal_of(const IkeSa& sa, const ChildSa& child) {
  v1::ApplyRequest r;
  remove_child_sas(sa, child, true, r);
  return r;
}

}  // namespace tcpsec::ikesa
