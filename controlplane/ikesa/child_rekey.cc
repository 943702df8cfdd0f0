#include "controlplane/ikesa/child_rekey.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>

#include "controlplane/ikesa/child_sa_install.h"
#include "controlplane/ikesa/negotiation.h"
#include "controlplane/message/exchange_rules.h"

namespace tcpsec::ikesa {

namespace {

ike::Bytes spi4(uint32_t spi) {
  return {static_cast<uint8_t>(spi >> 24), static_cast<uint8_t>(spi >> 16),
          static_cast<uint8_t>(spi >> 8), static_cast<uint8_t>(spi)};
}

uint32_t spi_of(const ike::Bytes& b) {
  return b.size() == 4 ? uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3]
                       : 0;
}

ike::Bytes fresh_nonce() {
  ike::Bytes n(32);
  RAND_bytes(n.data(), static_cast<int>(n.size()));
  return n;
}

ChildSa* find_by_in(IkeSa& sa, uint32_t spi_in) {
  auto it = std::find_if(sa.children.begin(), sa.children.end(),
                         [&](const ChildSa& c) { return c.spi_in == spi_in; });
  return it == sa.children.end() ? nullptr : &*it;
}

}  // namespace

Status ChildRekey::build_request(IkeSa& sa, TaskContext& ctx, std::vector<ike::Payload>& out) {
  const v1::Connection& c = sa.connection();
  ChildSa* old = find_by_in(sa, old_spi_in_);
  if (!old || old->rekeyed) return Status::error("no Child SA to rekey");
  auto spis = ctx.link.allocate_spis(1);
  if (!spis) return spis.status();
  new_spi_in_ = spis->front();
  auto esp = offered_esp_sa(c, new_spi_in_, true);
  if (!esp) return esp.status();
  auto ts = offered_ts(c, true);
  if (!ts) return ts.status();
  nonce_ = fresh_nonce();
  out.push_back(
      notify_payload(ike::NotifyType::kRekeySa, {}, ike::ProtocolId::kEsp, spi4(old_spi_in_)));
  if (c.mode() == v1::MODE_TRANSPORT)
    out.push_back(notify_payload(ike::NotifyType::kUseTransportMode));
  out.emplace_back(ike::PayloadType::kSa, *esp);
  out.emplace_back(ike::PayloadType::kNonce, ike::Nonce{nonce_});
  if (auto group = pfs_group(c)) {
    auto kp = ikecrypto::DhKeyPair::generate(*group);
    if (!kp) return kp.status();
    dh_.emplace(std::move(*kp));
    ike::Ke ke;
    ke.group = static_cast<uint16_t>(*group);
    ke.data = dh_->public_value();
    out.emplace_back(ike::PayloadType::kKe, ke);
  }
  out.emplace_back(ike::PayloadType::kTsi, ts->tsi);
  out.emplace_back(ike::PayloadType::kTsr, ts->tsr);
  return Status::ok();
}

Status ChildRekey::process_response(IkeSa& sa, TaskContext& ctx,
                                    const std::vector<ike::Payload>& in) {
  const v1::Connection& c = sa.connection();
  if (const ike::Notify* err = first_error(in))
    return Status::error(std::string("Child SA rekey refused: ") + ike::to_string(err->type));
  if (auto s = ike::check_message_contents(ike::ExchangeType::kCreateChildSa, true, in); !s)
    return s;
  ChildSa* old = find_by_in(sa, old_spi_in_);
  if (!old) return Status::error("the Child SA being rekeyed is gone");
  const ike::Payload* sa_payload = ike::find_payload(in, ike::PayloadType::kSa);
  const ike::Payload* tsi = ike::find_payload(in, ike::PayloadType::kTsi);
  const ike::Payload* tsr = ike::find_payload(in, ike::PayloadType::kTsr);
  if (!sa_payload || !tsi || !tsr) return Status::error("CREATE_CHILD_SA response without SA/TS");
  auto esp = accept_esp(c, *sa_payload->get<ike::Sa>(), true);
  if (!esp) return esp.status();
  auto ts = accept_ts(c, *tsi->get<ike::Ts>(), *tsr->get<ike::Ts>());
  if (!ts) return ts.status();
  ChildNegotiation n{*esp,
                     *ts,
                     new_spi_in_,
                     nonce_,
                     ike::find_payload(in, ike::PayloadType::kNonce)->get<ike::Nonce>()->data,
                     {},
                     true};
  if (esp->pfs_group) {
    const ike::Payload* ke = ike::find_payload(in, ike::PayloadType::kKe);
    if (!ke || !dh_ || dh_->group() != *esp->pfs_group)
      return Status::error("CREATE_CHILD_SA response: KE missing or of another group");
    auto secret = dh_->shared_secret(ke->get<ike::Ke>()->data);
    if (!secret) return secret.status();
    n.pfs_secret = std::move(*secret);
  }
  // New pair in, traffic moved onto it, in one Apply; the old pair stays
  // (for late packets) until the delete exchange.
  v1::ApplyRequest r;
  auto child = add_child_sas(sa, ctx, n, old->id, r);
  if (!child) return child.status();
  child->policy_names = old->policy_names;
  child->policy_priorities = old->policy_priorities;
  set_child_policies(sa, ctx, *child, r);
  if (auto s = ctx.link.apply(r); !s) return s;
  old->rekeyed = true;
  sa.children.push_back(std::move(*child));
  return Status::ok();
}

bool ChildRekey::respond(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
                         std::vector<ike::Payload>& out, TaskError& error) {
  const v1::Connection& c = sa.connection();
  if (auto s = ike::check_message_contents(ike::ExchangeType::kCreateChildSa, false, in); !s) {
    error = {s.message(), ike::NotifyType::kInvalidSyntax, {}};
    return false;
  }
  const ike::Notify* rekey = ike::find_notify(in, ike::NotifyType::kRekeySa);
  // The peer names the SA by its inbound SPI: our outbound one.
  uint32_t peer_spi = rekey ? spi_of(rekey->spi) : 0;
  auto old = std::find_if(sa.children.begin(), sa.children.end(),
                          [&](const ChildSa& ch) { return ch.spi_out == peer_spi && !ch.rekeyed; });
  // Without REKEY_SA the request creates an additional Child SA.
  const bool create = rekey == nullptr;
  if (!create && old == sa.children.end()) {
    error = {"rekey of an unknown Child SA", ike::NotifyType::kChildSaNotFound, {}};
    return false;
  }
  const uint32_t child_id = create ? 0 : old->id;
  const ike::Payload* sa_payload = ike::find_payload(in, ike::PayloadType::kSa);
  const ike::Payload* ke = ike::find_payload(in, ike::PayloadType::kKe);
  auto spis = ctx.link.allocate_spis(1);
  if (!spis) {
    error = {spis.error(), ike::NotifyType::kTemporaryFailure, {}};
    return false;
  }
  std::optional<uint16_t> ke_group;
  if (ke) ke_group = ke->get<ike::Ke>()->group;
  auto esp = select_esp(c, *sa_payload->get<ike::Sa>(), spis->front(), ke_group, true);
  if (!esp) {
    error = {esp.error(), ike::NotifyType::kNoProposalChosen, {}};
    return false;
  }
  auto ts = narrow_ts(c, *ike::find_payload(in, ike::PayloadType::kTsi)->get<ike::Ts>(),
                      *ike::find_payload(in, ike::PayloadType::kTsr)->get<ike::Ts>());
  if (!ts) {
    error = {ts.error(), ike::NotifyType::kTsUnacceptable, {}};
    return false;
  }
  ike::Bytes nonce_r = fresh_nonce();
  ChildNegotiation n{
      *esp,          *ts,
      spis->front(), ike::find_payload(in, ike::PayloadType::kNonce)->get<ike::Nonce>()->data,
      nonce_r,       {},
      false};
  std::optional<ikecrypto::DhKeyPair> dh;
  if (esp->pfs_group) {
    auto kp = ikecrypto::DhKeyPair::generate(*esp->pfs_group);
    if (!kp || !ke) {
      error = {"PFS group without a KE payload", ike::NotifyType::kInvalidKePayload, {}};
      return false;
    }
    auto secret = kp->shared_secret(ke->get<ike::Ke>()->data);
    if (!secret) {
      error = {secret.error(), ike::NotifyType::kInvalidSyntax, {}};
      return false;
    }
    n.pfs_secret = std::move(*secret);
    dh.emplace(std::move(*kp));
  }
  v1::ApplyRequest r;
  auto child = add_child_sas(sa, ctx, n, child_id, r);
  if (!child) {
    error = {child.error(), ike::NotifyType::kTemporaryFailure, {}};
    return false;
  }
  // A new Child SA gets its traffic at once; a rekeyed one when the peer
  // deletes its predecessor.
  if (create) set_child_policies(sa, ctx, *child, r);
  if (auto s = ctx.link.apply(r); !s) {
    error = {s.message(), ike::NotifyType::kTemporaryFailure, {}};
    return false;
  }
  child->awaiting_switch = !create;
  char spis_text[64];
  std::snprintf(spis_text, sizeof spis_text, "in %08x out %08x", child->spi_in, child->spi_out);
  sa.children.push_back(std::move(*child));
  if (create) {
    ctx.event(c.name(), "child_up", spis_text);
  } else {
    ctx.event(c.name(), "child_rekeyed", "by the peer");
  }
  if (c.mode() == v1::MODE_TRANSPORT)
    out.push_back(notify_payload(ike::NotifyType::kUseTransportMode));
  ike::Sa chosen;
  chosen.proposals.push_back(esp->reply);
  out.emplace_back(ike::PayloadType::kSa, chosen);
  out.emplace_back(ike::PayloadType::kNonce, ike::Nonce{nonce_r});
  if (dh) {
    ike::Ke ours;
    ours.group = static_cast<uint16_t>(dh->group());
    ours.data = dh->public_value();
    out.emplace_back(ike::PayloadType::kKe, ours);
  }
  out.emplace_back(ike::PayloadType::kTsi, ts->tsi);
  out.emplace_back(ike::PayloadType::kTsr, ts->tsr);
  return true;
}

}  // namespace tcpsec::ikesa
