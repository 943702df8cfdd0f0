#include "controlplane/ikesa/ike_init.h"

#include <openssl/rand.h>

#include "controlplane/ikesa/authenticator.h"
#include "controlplane/ikesa/nat_detection.h"
#include "controlplane/ikesa/negotiation.h"
#include "controlplane/message/exchange_rules.h"

namespace tcpsec::ikesa {

namespace {

constexpr size_t kNonceLength = 32;

ike::Bytes fresh_nonce() {
  ike::Bytes n(kNonceLength);
  RAND_bytes(n.data(), static_cast<int>(n.size()));
  return n;
}

// Our NAT_DETECTION_SOURCE_IP and _DESTINATION_IP for this SA's path.
Status add_nat_notifies(IkeSa& sa, std::vector<ike::Payload>& out) {
  const PeerPath& p = sa.path();
  auto src = nat_detection_hash(sa.spi_i(), sa.spi_r(), p.local_address, p.local_port);
  auto dst = nat_detection_hash(sa.spi_i(), sa.spi_r(), p.peer_address, p.peer_port);
  if (!src) return src.status();
  if (!dst) return dst.status();
  out.push_back(notify_payload(ike::NotifyType::kNatDetectionSourceIp, *src));
  out.push_back(notify_payload(ike::NotifyType::kNatDetectionDestinationIp, *dst));
  return Status::ok();
}

uint16_t be16(const ike::Bytes& b) {
  return b.size() >= 2 ? static_cast<uint16_t>(b[0] << 8 | b[1]) : 0;
}

}  // namespace

void detect_nat(IkeSa& sa, const std::vector<ike::Payload>& in) {
  const PeerPath& p = sa.path();
  bool any = false, source_matches = false, destination_matches = false;
  auto expected_src = nat_detection_hash(sa.spi_i(), sa.spi_r(), p.peer_address, p.peer_port);
  auto expected_dst = nat_detection_hash(sa.spi_i(), sa.spi_r(), p.local_address, p.local_port);
  for (const auto& payload : in) {
    const auto* n = payload.get<ike::Notify>();
    if (!n) continue;
    if (n->type == ike::NotifyType::kNatDetectionSourceIp) {
      any = true;
      if (expected_src && n->data == *expected_src) source_matches = true;
    } else if (n->type == ike::NotifyType::kNatDetectionDestinationIp) {
      any = true;
      if (expected_dst && n->data == *expected_dst) destination_matches = true;
    }
  }
  // Either side behind a NAT (or a peer that claims so, as strongSwan's
  // libipsec does to get UDP-encapsulated ESP) means port 4500 and ESP in UDP.
  sa.path().nat = any && !(source_matches && destination_matches);
}

Status IkeInit::build_request(IkeSa& sa, TaskContext&, std::vector<ike::Payload>& out) {
  const v1::Connection& c = sa.connection();
  auto offered = offered_ike_sa(c);
  if (!offered) return offered.status();
  ikecrypto::DhGroup group;
  if (group_) {
    group = *group_;
  } else {
    auto first = first_dh_group(c);
    if (!first) return first.status();
    group = *first;
  }
  if (!sa.dh || sa.dh->group() != group) {
    auto kp = ikecrypto::DhKeyPair::generate(group);
    if (!kp) return kp.status();
    sa.dh.emplace(std::move(*kp));
  }
  if (sa.nonce_i.empty()) sa.nonce_i = fresh_nonce();
  if (!cookie_.empty()) out.push_back(notify_payload(ike::NotifyType::kCookie, cookie_));
  out.emplace_back(ike::PayloadType::kSa, *offered);
  ike::Ke ke;
  ke.group = static_cast<uint16_t>(group);
  ke.data = sa.dh->public_value();
  out.emplace_back(ike::PayloadType::kKe, ke);
  out.emplace_back(ike::PayloadType::kNonce, ike::Nonce{sa.nonce_i});
  if (uses_certificates(c)) out.push_back(signature_hash_notify());  // RFC 7427
  // RFC 7383: we reassemble SKF fragments (and send them if the peer does).
  out.push_back(notify_payload(ike::NotifyType::kIkev2FragmentationSupported));
  return add_nat_notifies(sa, out);
}

Status IkeInit::process_response(IkeSa& sa, TaskContext&, const std::vector<ike::Payload>& in) {
  restart_ = false;
  const ike::Notify* cookie = ike::find_notify(in, ike::NotifyType::kCookie);
  if (cookie) {
    cookie_ = cookie->data;
    restart_ = true;
    return Status::ok();
  }
  if (const ike::Notify* err = first_error(in)) {
    if (err->type == ike::NotifyType::kInvalidKePayload) {
      group_ = static_cast<ikecrypto::DhGroup>(be16(err->data));
      restart_ = true;
      return Status::ok();
    }
    return Status::error(std::string("IKE_SA_INIT refused: ") + ike::to_string(err->type));
  }
  if (auto s = ike::check_message_contents(ike::ExchangeType::kIkeSaInit, true, in); !s) return s;
  const auto* reply = ike::find_payload(in, ike::PayloadType::kSa)->get<ike::Sa>();
  auto choice = accept_ike(sa.connection(), *reply);
  if (!choice) return choice.status();
  const auto* ke = ike::find_payload(in, ike::PayloadType::kKe)->get<ike::Ke>();
  if (ke->group != static_cast<uint16_t>(sa.dh->group()) || choice->dh != sa.dh->group())
    return Status::error("IKE_SA_INIT response: KE group differs from the one we sent");
  sa.nonce_r = ike::find_payload(in, ike::PayloadType::kNonce)->get<ike::Nonce>()->data;
  sa.transforms = choice->transforms;
  sa.proposal_text = choice->text;
  sa.peer_signature_hashes = peer_signature_hashes(in);
  detect_nat(sa, in);
  sa.peer_fragmentation =
      ike::find_notify(in, ike::NotifyType::kIkev2FragmentationSupported) != nullptr;
  auto secret = sa.dh->shared_secret(ke->data);
  if (!secret) return secret.status();
  return sa.install_keys(*secret);
}

bool IkeInit::respond(IkeSa& sa, TaskContext& ctx, const std::vector<ike::Payload>& in,
                      std::vector<ike::Payload>& out, TaskError& error) {
  if (auto s = ike::check_message_contents(ike::ExchangeType::kIkeSaInit, false, in); !s) {
    error = {s.message(), ike::NotifyType::kInvalidSyntax, {}};
    return false;
  }
  const auto* offered = ike::find_payload(in, ike::PayloadType::kSa)->get<ike::Sa>();
  const auto* ke = ike::find_payload(in, ike::PayloadType::kKe)->get<ike::Ke>();
  IkeSelection sel = select_ike(sa.connection(), *offered, ke->group);
  if (sel.want_group) {
    ike::Bytes g{static_cast<uint8_t>(static_cast<uint16_t>(*sel.want_group) >> 8),
                 static_cast<uint8_t>(static_cast<uint16_t>(*sel.want_group))};
    error = {"IKE_SA_INIT: KE group " + std::to_string(ke->group) + " is not the chosen one (" +
                 ikecrypto::to_string(*sel.want_group) + ")",
             ike::NotifyType::kInvalidKePayload, g};
    return false;
  }
  if (!sel.choice) {
    error = {sel.error, ike::NotifyType::kNoProposalChosen, {}};
    return false;
  }
  auto kp = ikecrypto::DhKeyPair::generate(sel.choice->dh);
  if (!kp) {
    error = {kp.error(), ike::NotifyType::kNoProposalChosen, {}};
    return false;
  }
  auto secret = kp->shared_secret(ke->data);
  if (!secret) {
    error = {"IKE_SA_INIT: peer's KE: " + secret.error(), ike::NotifyType::kInvalidSyntax, {}};
    return false;
  }
  sa.dh.emplace(std::move(*kp));
  sa.nonce_i = ike::find_payload(in, ike::PayloadType::kNonce)->get<ike::Nonce>()->data;
  sa.nonce_r = fresh_nonce();
  sa.transforms = sel.choice->transforms;
  sa.proposal_text = sel.choice->text;
  sa.peer_signature_hashes = peer_signature_hashes(in);
  detect_nat(sa, in);
  sa.peer_fragmentation =
      ike::find_notify(in, ike::NotifyType::kIkev2FragmentationSupported) != nullptr;
  if (auto s = sa.install_keys(*secret); !s) {
    error = {s.message(), ike::NotifyType::kNoProposalChosen, {}};
    return false;
  }
  ike::Sa chosen;
  chosen.proposals.push_back(sel.choice->reply);
  out.emplace_back(ike::PayloadType::kSa, chosen);
  ike::Ke ours;
  ours.group = static_cast<uint16_t>(sa.dh->group());
  ours.data = sa.dh->public_value();
  out.emplace_back(ike::PayloadType::kKe, ours);
  out.emplace_back(ike::PayloadType::kNonce, ike::Nonce{sa.nonce_r});
  if (sa.peer_fragmentation)
    out.push_back(notify_payload(ike::NotifyType::kIkev2FragmentationSupported));
  if (auto s = add_nat_notifies(sa, out); !s) {
    error = {s.message(), ike::NotifyType::kInvalidSyntax, {}};
    return false;
  }
  // Certificates: RFC 7427 support, and CERTREQ so that the initiator
  // (strongSwan: send_cert = ifasked) sends its certificate in IKE_AUTH.
  if (uses_certificates(sa.connection())) {
    auto certreq = certificate_request(ctx.config, sa.connection());
    if (!certreq) {
      error = {certreq.error(), ike::NotifyType::kNoProposalChosen, {}};
      return false;
    }
    if (*certreq) out.push_back(std::move(**certreq));
    out.push_back(signature_hash_notify());
  }
  return true;
}

}  // namespace tcpsec::ikesa
