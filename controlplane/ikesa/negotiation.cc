#include "controlplane/ikesa/negotiation.h"

#include "controlplane/config/secrets.h"
#include "controlplane/proposals/conversion.h"
#include "controlplane/proposals/proposal_builder.h"
#include "controlplane/proposals/proposal_spec.h"
#include "controlplane/proposals/selection.h"
#include "controlplane/selectors/identity.h"
#include "controlplane/selectors/narrowing.h"
#include "controlplane/selectors/traffic_selector.h"

namespace tcpsec::ikesa {

namespace {

std::vector<std::string> list(const google::protobuf::RepeatedPtrField<std::string>& r) {
  return {r.begin(), r.end()};
}

Expected<std::vector<proposals::IkeProposalSpec>> ike_specs(const v1::Connection& c) {
  auto specs = proposals::parse_ike_proposals(list(c.ike_proposals()));
  if (!specs) return Status::error("connection " + c.name() + ": ike_proposals" + specs.error());
  return specs;
}

Expected<std::vector<proposals::EspProposalSpec>> esp_specs(const v1::Connection& c) {
  auto specs = proposals::parse_esp_proposals(list(c.esp_proposals()));
  if (!specs) return Status::error("connection " + c.name() + ": esp_proposals" + specs.error());
  return specs;
}

ike::Bytes spi4(uint32_t spi) {
  return {static_cast<uint8_t>(spi >> 24), static_cast<uint8_t>(spi >> 16),
          static_cast<uint8_t>(spi >> 8), static_cast<uint8_t>(spi)};
}

uint32_t spi_of(const ike::Bytes& b) {
  return b.size() == 4 ? uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3]
                       : 0;
}

Expected<IkeChoice> ike_choice(const proposals::IkeChoice& chosen) {
  auto transforms = proposals::to_ikecrypto(chosen.algorithms);
  if (!transforms) return transforms.status();
  auto dh = proposals::to_ikecrypto(chosen.algorithms.dh);
  if (!dh) return dh.status();
  return IkeChoice{chosen.proposal, *transforms, *dh, proposals::to_string(chosen.algorithms),
                   chosen.peer_spi};
}

Expected<EspChoice> esp_choice(const proposals::EspChoice& chosen) {
  auto transforms = proposals::to_ikecrypto(chosen.algorithms);
  if (!transforms) return transforms.status();
  auto algorithm = proposals::to_esp_algorithm(chosen.algorithms);
  if (!algorithm) return algorithm.status();
  uint32_t peer_spi = spi_of(chosen.peer_spi);
  if (peer_spi == 0) return Status::error("ESP proposal: the peer's SPI is not 4 bytes");
  EspChoice out{chosen.proposal,
                *transforms,
                *algorithm,
                peer_spi,
                proposals::to_string(chosen.algorithms),
                chosen.algorithms.esn == ike::EsnId::kEsn,
                std::nullopt};
  if (chosen.algorithms.dh != ike::DhGroup::kNone) {
    auto g = proposals::to_ikecrypto(chosen.algorithms.dh);
    if (!g) return g.status();
    out.pfs_group = *g;
  }
  return out;
}

}  // namespace

Expected<ike::Sa> offered_ike_sa(const v1::Connection& c, const ike::Bytes& spi) {
  auto specs = ike_specs(c);
  if (!specs) return specs.status();
  return proposals::build_ike_sa(*specs, spi);
}

Expected<ikecrypto::DhGroup> first_dh_group(const v1::Connection& c) {
  auto specs = ike_specs(c);
  if (!specs) return specs.status();
  if (specs->empty() || specs->front().dh.empty())
    return Status::error("connection " + c.name() + ": no DH group in ike_proposals");
  return proposals::to_ikecrypto(specs->front().dh.front());
}

IkeSelection select_ike(const v1::Connection& c, const ike::Sa& offered, uint16_t ke_group) {
  IkeSelection out;
  auto specs = ike_specs(c);
  if (!specs) {
    out.error = specs.error();
    return out;
  }
  auto chosen = proposals::select_ike(offered, *specs, static_cast<ike::DhGroup>(ke_group));
  if (!chosen) {
    out.error = chosen.error().message;
    if (chosen.error().failure == proposals::SelectFailure::kInvalidKePayload) {
      auto g = proposals::to_ikecrypto(chosen.error().group);
      if (g) out.want_group = *g;
    }
    return out;
  }
  auto choice = ike_choice(*chosen);
  if (!choice) {
    out.error = choice.error();
    return out;
  }
  out.choice = std::move(*choice);
  return out;
}

Expected<IkeChoice> accept_ike(const v1::Connection& c, const ike::Sa& reply,
                               const ike::Bytes& our_spi) {
  auto offered = offered_ike_sa(c, our_spi);
  if (!offered) return offered.status();
  auto chosen = proposals::accept_ike_reply(*offered, reply);
  if (!chosen) return chosen.status();
  return ike_choice(*chosen);
}

Expected<ike::Sa> offered_esp_sa(const v1::Connection& c, uint32_t our_spi, bool with_dh) {
  auto specs = esp_specs(c);
  if (!specs) return specs.status();
  // IKE_AUTH's Child SA has no KE exchange: no DH transforms.
  return proposals::build_esp_sa(*specs, spi4(our_spi), with_dh);
}

std::optional<ikecrypto::DhGroup> pfs_group(const v1::Connection& c) {
  auto specs = esp_specs(c);
  if (!specs || specs->empty() || specs->front().dh.empty()) return std::nullopt;
  auto g = proposals::to_ikecrypto(specs->front().dh.front());
  if (!g) return std::nullopt;
  return *g;
}

Expected<EspChoice> select_esp(const v1::Connection& c, const ike::Sa& offered, uint32_t our_spi,
                               std::optional<uint16_t> ke_group, bool create_child_sa) {
  auto specs = esp_specs(c);
  if (!specs) return specs.status();
  proposals::EspSelectOptions options;
  options.ike_auth = !create_child_sa;
  if (ke_group) options.ke_group = static_cast<ike::DhGroup>(*ke_group);
  auto chosen = proposals::select_esp(offered, *specs, options);
  if (!chosen) return Status::error(chosen.error().message);
  chosen->proposal.spi = spi4(our_spi);
  return esp_choice(*chosen);
}

Expected<EspChoice> accept_esp(const v1::Connection& c, const ike::Sa& reply, bool with_dh) {
  auto specs = esp_specs(c);
  if (!specs) return specs.status();
  // What we offered, with any SPI: the reply is checked against its shape.
  ike::Sa offered = proposals::build_esp_sa(*specs, spi4(1), with_dh);
  auto chosen = proposals::accept_esp_reply(offered, reply);
  if (!chosen) return chosen.status();
  return esp_choice(*chosen);
}

namespace {

// `local`/`remote`: our side and the peer's, whatever the role.
Expected<TsChoice> ts_choice(const ike::Ts& tsi, const ike::Ts& tsr, const ike::Ts& local,
                             const ike::Ts& remote) {
  auto selectors = selectors::to_dataplane(local, remote);
  if (!selectors) return selectors.status();
  return TsChoice{tsi, tsr, std::move(*selectors), selectors::to_string(local),
                  selectors::to_string(remote)};
}

Expected<std::pair<ike::Ts, ike::Ts>> configured_ts(const v1::Connection& c) {
  auto local = selectors::from_prefixes(list(c.local_ts()));
  if (!local) return Status::error("connection " + c.name() + ": local_ts" + local.error());
  auto remote = selectors::from_prefixes(list(c.remote_ts()));
  if (!remote) return Status::error("connection " + c.name() + ": remote_ts" + remote.error());
  return std::make_pair(std::move(*local), std::move(*remote));
}

}  // namespace

Expected<TsChoice> offered_ts(const v1::Connection& c, bool initiator) {
  auto ts = configured_ts(c);
  if (!ts) return ts.status();
  const auto& [local, remote] = *ts;
  return initiator ? ts_choice(local, remote, local, remote)
                   : ts_choice(remote, local, local, remote);
}

Expected<TsChoice> narrow_ts(const v1::Connection& c, const ike::Ts& tsi, const ike::Ts& tsr) {
  auto ts = configured_ts(c);
  if (!ts) return ts.status();
  const auto& [local, remote] = *ts;
  auto narrowed = selectors::narrow(tsi, tsr, remote, local);
  if (!narrowed) return narrowed.status();
  // Responder: TSi is the peer's side, TSr ours.
  return ts_choice(narrowed->tsi, narrowed->tsr, narrowed->tsr, narrowed->tsi);
}

Expected<TsChoice> narrow_peer_to_address(const v1::Connection& c, const TsChoice& ts,
                                          const std::string& address) {
  auto host = selectors::from_prefixes({address});
  if (!host) return host.status();
  // The leased address within what was negotiated for the peer's side.
  ike::Ts peer;
  for (const auto& offered : ts.tsi.selectors) {
    for (const auto& h : host->selectors) {
      if (auto x = selectors::intersect(offered, h)) peer.selectors.push_back(*x);
    }
  }
  if (peer.selectors.empty())
    return Status::error("connection " + c.name() + ": leased address " + address +
                         " is outside the traffic selectors " + selectors::to_string(ts.tsi));
  return ts_choice(peer, ts.tsr, ts.tsr, peer);
}

Expected<TsChoice> accept_ts(const v1::Connection& c, const ike::Ts& tsi, const ike::Ts& tsr) {
  auto ts = configured_ts(c);
  if (!ts) return ts.status();
  const auto& [local, remote] = *ts;
  if (auto s = selectors::check_narrowed(local, remote, tsi, tsr); !s) return s;
  return ts_choice(tsi, tsr, tsi, tsr);
}

Expected<ike::Id> local_identity(const v1::Connection& c) {
  if (c.local_id().empty()) return selectors::id_of_address(c.local_address());
  return selectors::parse_identity(c.local_id());
}

bool remote_identity_matches(const v1::Connection& c, const ike::Id& id) {
  if (c.remote_id().empty()) {
    // No remote_id: the peer's address is its identity; %any accepts any.
    if (c.remote_address().empty() || c.remote_address() == "%any") return true;
    return selectors::id_matches(selectors::id_of_address(c.remote_address()), id);
  }
  auto configured = selectors::parse_identity(c.remote_id());
  return configured && selectors::id_matches(*configured, id);
}

std::string identity_text(const ike::Id& id) {
  return selectors::to_string(id);
}

Expected<ikecrypto::SecretBytes> shared_secret(const v1::GatewayConfig& config,
                                               const v1::Connection& c, const ike::Id& peer) {
  auto local = local_identity(c);
  if (!local) return local.status();
  ike::Id who = peer;
  if (peer.data.empty()) {
    auto configured = c.remote_id().empty()
                          ? Expected<ike::Id>(selectors::id_of_address(c.remote_address()))
                          : selectors::parse_identity(c.remote_id());
    if (!configured) return configured.status();
    who = *configured;
  }
  return ikeconfig::secret_for(config, *local, who);
}

}  // namespace tcpsec::ikesa
