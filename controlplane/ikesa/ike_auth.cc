#include "controlplane/ikesa/ike_auth.h"

#include <algorithm>

#include "controlplane/crypto/auth.h"
#include "controlplane/ikesa/child_sa_install.h"
#include "controlplane/ikesa/negotiation.h"
#include "controlplane/message/exchange_rules.h"

namespace tcpsec::ikesa {

namespace {

// AUTH data of one side: `initiator_side` says whose octets (RealMessage1,
// Nr, SK_pi, IDi) or (RealMessage2, Ni, SK_pr, IDr).
Expected<ike::Bytes> psk_auth(const IkeSa& sa, bool initiator_side, const ike::Id& id,
                              std::span<const uint8_t> secret) {
  const auto& k = sa.keys();
  auto octets = ikecrypto::signed_octets(sa.transforms.prf, initiator_side ? k.sk_pi : k.sk_pr,
                                         initiator_side ? sa.init_request : sa.init_response,
                                         initiator_side ? sa.nonce_r : sa.nonce_i, id_body(id));
  if (!octets) return octets.status();
  return ikecrypto::shared_key_auth(sa.transforms.prf, secret, *octets);
}

}  // namespace

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
  // Our AUTH is keyed by the PSK shared with the peer we expect (an empty
  // Id: the connection's remote_id).
  auto secret = shared_secret(ctx.config, c, ike::Id{ike::IdType::kFqdn, {}});
  if (!secret) return secret.status();
  auto auth = psk_auth(sa, true, *idi, *secret);
  if (!auth) return auth.status();
  auto esp = offered_esp_sa(c, spi_in_);
  if (!esp) return esp.status();
  auto ts = offered_ts(c, true);
  if (!ts) return ts.status();
  out.emplace_back(ike::PayloadType::kIdi, *idi);
  out.emplace_back(ike::PayloadType::kAuth, ike::Auth{ike::AuthMethod::kSharedKeyMic, *auth});
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
  if (!remote_identity_matches(c, *idr))
    return Status::error("IKE_AUTH: peer identity " + identity_text(*idr) + " is not " +
                         c.remote_id());
  const auto* auth = ike::find_payload(in, ike::PayloadType::kAuth)->get<ike::Auth>();
  if (auth->method != ike::AuthMethod::kSharedKeyMic)
    return Status::error("IKE_AUTH: peer used " + ike::to_string(auth->method) +
                         ", we expect a shared key");
  auto secret = shared_secret(ctx.config, c, *idr);
  if (!secret) return secret.status();
  auto octets = ikecrypto::signed_octets(sa.transforms.prf, sa.keys().sk_pr, sa.init_response,
                                         sa.nonce_i, id_body(*idr));
  if (!octets) return octets.status();
  if (auto s = ikecrypto::verify_shared_key_auth(sa.transforms.prf, *secret, *octets, auth->data);
      !s) {
    ctx.event(c.name(), "auth_failed", s.message());
    return s;
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
  const auto* auth = ike::find_payload(in, ike::PayloadType::kAuth)->get<ike::Auth>();
  auto fail_auth = [&](const std::string& why) {
    error = {why, ike::NotifyType::kAuthenticationFailed, {}};
    ctx.event(c.name(), "auth_failed", why);
    return false;
  };
  if (!remote_identity_matches(c, *idi))
    return fail_auth("IKE_AUTH: peer identity " + identity_text(*idi) + " is not " + c.remote_id());
  if (auth->method != ike::AuthMethod::kSharedKeyMic)
    return fail_auth("IKE_AUTH: peer used " + ike::to_string(auth->method) +
                     ", this connection expects a shared key");
  auto secret = shared_secret(ctx.config, c, *idi);
  if (!secret) return fail_auth("IKE_AUTH: " + secret.error());
  auto octets = ikecrypto::signed_octets(sa.transforms.prf, sa.keys().sk_pi, sa.init_request,
                                         sa.nonce_r, id_body(*idi));
  if (!octets) return fail_auth(octets.error());
  if (auto s = ikecrypto::verify_shared_key_auth(sa.transforms.prf, *secret, *octets, auth->data);
      !s) {
    return fail_auth("IKE_AUTH from " + identity_text(*idi) + ": " + s.message());
  }
  sa.remote_id_text = identity_text(*idi);
  auto idr = local_identity(c);
  if (!idr) return fail_auth(idr.error());
  auto our_auth = psk_auth(sa, false, *idr, *secret);
  if (!our_auth) return fail_auth(our_auth.error());
  out.emplace_back(ike::PayloadType::kIdr, *idr);
  out.emplace_back(ike::PayloadType::kAuth, ike::Auth{ike::AuthMethod::kSharedKeyMic, *our_auth});

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
  if (auto s = install_child_sa(sa, ctx, {*esp, *ts, spis->front(), sa.nonce_i, sa.nonce_r, {}, false});
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
