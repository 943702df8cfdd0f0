#include "controlplane/ikesa/ike_auth.h"

#include <algorithm>

#include "controlplane/ikesa/authenticator.h"
#include "controlplane/ikesa/child_sa_install.h"
#include "controlplane/ikesa/config_payload.h"
#include "controlplane/ikesa/negotiation.h"
#include "controlplane/message/exchange_rules.h"

namespace tcpsec::ikesa {

ike::Bytes id_body(const ike::Id& id) {
  ike::Bytes b(4 + id.data.size(), 0);
  b[0] = static_cast<uint8_t>(id.type);
  std::copy(id.data.begin(), id.data.end(), b.begin() + 4);
  return b;
}

Status IkeAuth::build_request(IkeSa& sa, TaskContext& ctx, std::vector<ike::Payload>& out) {
  const v1::Connection& c = sa.connection();
  auto idi = local_identity(c);
  if (!idi) return idi.status();
  auto spis = ctx.link.allocate_spis(1);
  if (!spis) return spis.status();
  spi_in_ = spis->front();
  // Our proof (a PSK: the one shared with the peer we expect, an empty Id
  // meaning the connection's remote_id; or our certificate's signature),
  // and CERTREQ when the peer is to show a certificate.
  auto proof =
      make_authenticator(c.local_auth())->prove(sa, ctx, *idi, ike::Id{ike::IdType::kFqdn, {}});
  if (!proof) return proof.status();
  auto certreq = certificate_request(ctx.config, c);
  if (!certreq) return certreq.status();
  auto esp = offered_esp_sa(c, spi_in_);
  if (!esp) return esp.status();
  auto ts = offered_ts(c, true);
  if (!ts) return ts.status();
  out.emplace_back(ike::PayloadType::kIdi, *idi);
  // We hold no other IKE SA with this peer: it may drop any it has with us.
  if (sa.send_initial_contact) out.push_back(notify_payload(ike::NotifyType::kInitialContact));
  for (auto& cert : proof->certs) out.push_back(std::move(cert));
  if (*certreq) out.push_back(std::move(**certreq));
  out.emplace_back(ike::PayloadType::kAuth, proof->auth);
  if (c.mode() == v1::MODE_TRANSPORT)
    out.push_back(notify_payload(ike::NotifyType::kUseTransportMode));
  out.emplace_back(ike::PayloadType::kSa, *esp);
  out.emplace_back(ike::PayloadType::kTsi, ts->tsi);
  out.emplace_back(ike::PayloadType::kTsr, ts->tsr);
  return Status::ok();
}

Status IkeAuth::process_response(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in) {
  const v1::Connection& c = sa.connection();
  if (const ike::Notify* err = first_error(in))
    return Status::error(std::string("IKE_AUTH refused by the peer: ") + ike::to_string(err->type));
  if (auto s = ike::check_message_contents(ike::ExchangeType::kIkeAuth, true, in); !s) return s;
  const auto* idr = ike::find_payload(in, ike::PayloadType::kIdr)->get<ike::Id>();
  if (!remote_identity_matches(c, *idr)) {
    std::string why = "IKE_AUTH: peer identity " + identity_text(*idr) + " is not " + c.remote_id();
    ctx.event(c.name(), "auth_failed", why);
    return Status::error(why);
  }
  if (auto s = make_authenticator(c.remote_auth())->verify(sa, ctx, *idr, in); !s) {
    std::string why = "IKE_AUTH from " + identity_text(*idr) + ": " + s.message();
    ctx.event(c.name(), "auth_failed", why);
    return Status::error(why);
  }
  sa.remote_id_text = identity_text(*idr);
  const ike::Payload* sa_payload = ike::find_payload(in, ike::PayloadType::kSa);
  if (!sa_payload) return Status::ok();  // childless
  auto esp = accept_esp(c, *sa_payload->get<ike::Sa>());
  if (!esp) return esp.status();
  auto ts = accept_ts(c, *ike::find_payload(in, ike::PayloadType::kTsi)->get<ike::Ts>(),
                      *ike::find_payload(in, ike::PayloadType::kTsr)->get<ike::Ts>());
  if (!ts) return ts.status();
  return install_child_sa(sa, ctx, {*esp, *ts, spi_in_, sa.nonce_i, sa.nonce_r, {}, true});
}

bool IkeAuth::respond(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
                      std::vector<ike::Payload>& out, TaskError& error) {
  const v1::Connection& c = sa.connection();
  if (auto s = ike::check_message_contents(ike::ExchangeType::kIkeAuth, false, in); !s) {
    error = {s.message(), ike::NotifyType::kInvalidSyntax, {}};
    return false;
  }
  const auto* idi = ike::find_payload(in, ike::PayloadType::kIdi)->get<ike::Id>();
  auto fail_auth = [&](const std::string& why) {
    error = {why, ike::NotifyType::kAuthenticationFailed, {}};
    ctx.event(c.name(), "auth_failed", why);
    return false;
  };
  if (!remote_identity_matches(c, *idi))
    return fail_auth("IKE_AUTH: peer identity " + identity_text(*idi) + " is not " + c.remote_id());
  if (auto s = make_authenticator(c.remote_auth())->verify(sa, ctx, *idi, in); !s)
    return fail_auth("IKE_AUTH from " + identity_text(*idi) + ": " + s.message());
  sa.remote_id_text = identity_text(*idi);
  auto idr = local_identity(c);
  if (!idr) return fail_auth(idr.error());
  auto proof = make_authenticator(c.local_auth())->prove(sa, ctx, *idr, *idi);
  if (!proof) return fail_auth("IKE_AUTH: our proof: " + proof.error());
  out.emplace_back(ike::PayloadType::kIdr, *idr);
  for (auto& cert : proof->certs) out.push_back(std::move(cert));
  out.emplace_back(ike::PayloadType::kAuth, proof->auth);

  // The Child SA: problems here leave the IKE SA up (RFC 7296 1.2: the
  // response then carries an error notify instead of SA/TSi/TSr).
  const ike::Payload* sa_payload = ike::find_payload(in, ike::PayloadType::kSa);
  if (!sa_payload) return true;
  bool want_transport = ike::find_notify(in, ike::NotifyType::kUseTransportMode) != nullptr;
  if (want_transport != (c.mode() == v1::MODE_TRANSPORT)) {
    out.push_back(notify_payload(ike::NotifyType::kNoProposalChosen));
    ctx.event(c.name(), "no_proposal", "Child SA mode differs (USE_TRANSPORT_MODE)");
    return true;
  }
  auto spis = ctx.link.allocate_spis(1);
  if (!spis) {
    out.push_back(notify_payload(ike::NotifyType::kTemporaryFailure));
    ctx.event(c.name(), "child_failed", spis.error());
    return true;
  }
  auto esp = select_esp(c, *sa_payload->get<ike::Sa>(), spis->front());
  if (!esp) {
    out.push_back(notify_payload(ike::NotifyType::kNoProposalChosen));
    ctx.event(c.name(), "no_proposal", esp.error());
    return true;
  }
  auto ts = narrow_ts(c, *ike::find_payload(in, ike::PayloadType::kTsi)->get<ike::Ts>(),
                      *ike::find_payload(in, ike::PayloadType::kTsr)->get<ike::Ts>());
  if (!ts) {
    out.push_back(notify_payload(ike::NotifyType::kTsUnacceptable));
    ctx.event(c.name(), "ts_unacceptable", ts.error());
    return true;
  }
  // Remote access: a leased address narrows the client's side.
  if (auto s = answer_config_request(sa, ctx, in, *ts, out); !s) {
    out.push_back(notify_payload(ike::NotifyType::kInternalAddressFailure));
    ctx.event(c.name(), "child_failed", s.message());
    return true;
  }
  if (auto s =
          install_child_sa(sa, ctx, {*esp, *ts, spis->front(), sa.nonce_i, sa.nonce_r, {}, false});
      !s) {
    out.push_back(notify_payload(ike::NotifyType::kTemporaryFailure));
    ctx.event(c.name(), "child_failed", s.message());
    return true;
  }
  if (want_transport) out.push_back(notify_payload(ike::NotifyType::kUseTransportMode));
  ike::Sa chosen;
  chosen.proposals.push_back(esp->reply);
  out.emplace_back(ike::PayloadType::kSa, chosen);
  out.emplace_back(ike::PayloadType::kTsi, ts->tsi);
  out.emplace_back(ike::PayloadType::kTsr, ts->tsr);
  return true;
}

}  // namespace tcpsec::ikesa
