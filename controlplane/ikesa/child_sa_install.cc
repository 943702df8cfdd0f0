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

}  // namespace

Status install_child_sa(IkeSa& sa, TaskContext& ctx, const EspChoice& esp, const TsChoice& ts,
                        uint32_t spi_in, bool initiator) {
  auto keys = ikecrypto::derive_child_sa_keys(sa.transforms.prf, sa.keys().sk_d, esp.transforms,
                                              sa.nonce_i, sa.nonce_r);
  if (!keys) return keys.status();
  const PeerPath& p = sa.path();
  const v1::Connection& c = sa.connection();
  const auto& in_enc = initiator ? keys->encryption_r2i : keys->encryption_i2r;
  const auto& in_int = initiator ? keys->integrity_r2i : keys->integrity_i2r;
  const auto& out_enc = initiator ? keys->encryption_i2r : keys->encryption_r2i;
  const auto& out_int = initiator ? keys->integrity_i2r : keys->integrity_r2i;

  ChildSa child;
  child.name = c.name();
  child.spi_in = spi_in;
  child.spi_out = esp.peer_spi;
  child.algorithm = esp.algorithm;
  child.local_ts = {ts.local_text};
  child.remote_ts = {ts.remote_text};
  child.installed_ms = ctx.now_ms;

  v1::ApplyRequest r;
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
    s->set_algorithm(esp.algorithm);
    s->set_esn(esp.esn);
    const auto& enc = outbound ? out_enc : in_enc;
    const auto& integ = outbound ? out_int : in_int;
    s->set_encryption_key(std::string(enc.begin(), enc.end()));
    s->set_integrity_key(std::string(integ.begin(), integ.end()));
    set_encapsulation(p, *s);
    // The SA's own check after decryption (the dataplane takes one
    // selector per SA: the first pair; the policies below cover the rest).
    if (!outbound && !ts.selectors.empty()) *s->mutable_selector() = ts.selectors.front();
  }
  // Outbound PROTECT policies send the traffic into the SA; inbound, the
  // SA's selector is checked after decryption.
  for (size_t i = 0; i < ts.selectors.size(); ++i) {
    v1::Policy* pol = r.add_set_policies();
    pol->set_name(c.name() + "-" + hex_spi(child.spi_out) + "-out" + std::to_string(i));
    pol->set_priority((*ctx.next_policy_priority)++);
    pol->set_direction(v1::DIRECTION_OUTBOUND);
    *pol->mutable_match() = ts.selectors[i];
    pol->set_action(v1::POLICY_ACTION_PROTECT);
    pol->set_sa_spi(child.spi_out);
    child.policy_names.push_back(pol->name());
  }
  if (auto s = ctx.link.apply(r); !s) return s;
  sa.children.push_back(std::move(child));
  return Status::ok();
}

v1::ApplyRequest removal_of(const IkeSa& sa, const ChildSa& child) {
  v1::ApplyRequest r;
  for (int dir = 0; dir < 2; ++dir) {
    bool outbound = dir == 1;
    v1::SaId* id = r.add_delete_sas();
    id->set_spi(outbound ? child.spi_out : child.spi_in);
    id->set_direction(outbound ? v1::DIRECTION_OUTBOUND : v1::DIRECTION_INBOUND);
    if (!outbound && sa.connection().mode() != v1::MODE_TRANSPORT)
      id->set_tunnel_local(sa.path().local_address);
  }
  for (const auto& name : child.policy_names) r.add_delete_policies(name);
  return r;
}

}  // namespace tcpsec::ikesa
