#include "controlplane/ikesa/ike_rekey.h"

#include <openssl/rand.h>

#include "controlplane/ikesa/negotiation.h"

namespace tcpsec::ikesa {

namespace {

uint64_t random_spi() {
  uint64_t spi = 0;
  while (spi == 0) RAND_bytes(reinterpret_cast<uint8_t*>(&spi), sizeof spi);
  return spi;
}

uint64_t spi_of(const ike::Bytes& b) {
  uint64_t v = 0;
  for (uint8_t x : b) v = v << 8 | x;
  return b.size() == 8 ? v : 0;
}

ike::Bytes fresh_nonce() {
  ike::Bytes n(32);
  RAND_bytes(n.data(), static_cast<int>(n.size()));
  return n;
}

// The new IKE SA: same connection and path, the children of the old one.
std::unique_ptr<IkeSa> successor(IkeSa& old, bool initiator, uint64_t our_spi, uint64_t peer_spi) {
  auto sa = std::make_unique<IkeSa>(old.connection(), initiator, our_spi);
  if (initiator) {
    sa->set_spi_r(peer_spi);
  } else {
    sa->set_spi_i(peer_spi);
  }
  sa->path() = old.path();
  sa->remote_id_text = old.remote_id_text;
  sa->virtual_address = old.virtual_address;
  sa->children = std::move(old.children);
  old.children.clear();
  old.rekeyed_away = true;
  return sa;
}

}  // namespace

bool is_ike_rekey(const std::vector<ike::Payload>& in) {
  const ike::Payload* p = ike::find_payload(in, ike::PayloadType::kSa);
  if (!p) return false;
  const auto* sa = p->get<ike::Sa>();
  return sa && !sa->proposals.empty() && sa->proposals.front().protocol == ike::ProtocolId::kIke;
}

Status IkeRekey::build_request(IkeSa& sa, TaskContext&, std::vector<ike::Payload>& out) {
  const v1::Connection& c = sa.connection();
  new_spi_ = random_spi();
  auto offered = offered_ike_sa(c, spi_bytes(new_spi_));
  if (!offered) return offered.status();
  auto group = first_dh_group(c);
  if (!group) return group.status();
  auto kp = ikecrypto::DhKeyPair::generate(*group);
  if (!kp) return kp.status();
  dh_.emplace(std::move(*kp));
  nonce_ = fresh_nonce();
  out.emplace_back(ike::PayloadType::kSa, *offered);
  out.emplace_back(ike::PayloadType::kNonce, ike::Nonce{nonce_});
  ike::Ke ke;
  ke.group = static_cast<uint16_t>(*group);
  ke.data = dh_->public_value();
  out.emplace_back(ike::PayloadType::kKe, ke);
  return Status::ok();
}

Status IkeRekey::process_response(IkeSa& sa, TaskContext&, const std::vector<ike::Payload>& in) {
  if (const ike::Notify* err = first_error(in))
    return Status::error(std::string("IKE SA rekey refused: ") + ike::to_string(err->type));
  const ike::Payload* sa_payload = ike::find_payload(in, ike::PayloadType::kSa);
  const ike::Payload* nonce = ike::find_payload(in, ike::PayloadType::kNonce);
  const ike::Payload* ke = ike::find_payload(in, ike::PayloadType::kKe);
  if (!sa_payload || !nonce || !ke)
    return Status::error("IKE SA rekey response: SA, Nr, KE needed");
  auto choice = accept_ike(sa.connection(), *sa_payload->get<ike::Sa>(), spi_bytes(new_spi_));
  if (!choice) return choice.status();
  if (choice->dh != dh_->group() ||
      ke->get<ike::Ke>()->group != static_cast<uint16_t>(dh_->group()))
    return Status::error("IKE SA rekey response: KE group differs from ours");
  uint64_t peer_spi = spi_of(choice->peer_spi);
  if (peer_spi == 0)
    return Status::error("IKE SA rekey response: the responder's SPI is not 8 bytes");
  auto secret = dh_->shared_secret(ke->get<ike::Ke>()->data);
  if (!secret) return secret.status();
  const ike::Bytes& nr = nonce->get<ike::Nonce>()->data;
  auto seed = ikecrypto::rekey_skeyseed(sa.transforms.prf, sa.keys().sk_d, *secret, nonce_, nr);
  if (!seed) return seed.status();
  auto next = successor(sa, true, new_spi_, peer_spi);
  next->transforms = choice->transforms;
  next->proposal_text = choice->text;
  next->nonce_i = nonce_;
  next->nonce_r = nr;
  if (auto s = next->install_keys_from_skeyseed(*seed); !s) {
    sa.children = std::move(next->children);  // give them back
    sa.rekeyed_away = false;
    return s;
  }
  new_sa_ = std::move(next);
  return Status::ok();
}

bool IkeRekey::respond(IkeSa& sa, TaskContext&, const std::vector<ike::Payload>& in,
                       std::vector<ike::Payload>& out, TaskError& error) {
  const ike::Payload* sa_payload = ike::find_payload(in, ike::PayloadType::kSa);
  const ike::Payload* nonce = ike::find_payload(in, ike::PayloadType::kNonce);
  const ike::Payload* ke = ike::find_payload(in, ike::PayloadType::kKe);
  if (!sa_payload || !nonce || !ke) {
    error = {"IKE SA rekey request: SA, Ni, KE needed", ike::NotifyType::kInvalidSyntax, {}};
    return false;
  }
  IkeSelection sel =
      select_ike(sa.connection(), *sa_payload->get<ike::Sa>(), ke->get<ike::Ke>()->group);
  if (sel.want_group) {
    uint16_t g = static_cast<uint16_t>(*sel.want_group);
    error = {"IKE SA rekey: KE group",
             ike::NotifyType::kInvalidKePayload,
             {static_cast<uint8_t>(g >> 8), static_cast<uint8_t>(g)}};
    return false;
  }
  if (!sel.choice) {
    error = {sel.error, ike::NotifyType::kNoProposalChosen, {}};
    return false;
  }
  uint64_t peer_spi = spi_of(sel.choice->peer_spi);
  if (peer_spi == 0) {
    error = {
        "IKE SA rekey: the initiator's SPI is not 8 bytes", ike::NotifyType::kInvalidSyntax, {}};
    return false;
  }
  auto kp = ikecrypto::DhKeyPair::generate(sel.choice->dh);
  if (!kp) {
    error = {kp.error(), ike::NotifyType::kNoProposalChosen, {}};
    return false;
  }
  auto secret = kp->shared_secret(ke->get<ike::Ke>()->data);
  if (!secret) {
    error = {secret.error(), ike::NotifyType::kInvalidSyntax, {}};
    return false;
  }
  const ike::Bytes& ni = nonce->get<ike::Nonce>()->data;
  ike::Bytes nr = fresh_nonce();
  auto seed = ikecrypto::rekey_skeyseed(sa.transforms.prf, sa.keys().sk_d, *secret, ni, nr);
  if (!seed) {
    error = {seed.error(), ike::NotifyType::kNoProposalChosen, {}};
    return false;
  }
  uint64_t ours = random_spi();
  auto next = successor(sa, false, ours, peer_spi);
  next->transforms = sel.choice->transforms;
  next->proposal_text = sel.choice->text;
  next->nonce_i = ni;
  next->nonce_r = nr;
  if (auto s = next->install_keys_from_skeyseed(*seed); !s) {
    sa.children = std::move(next->children);
    sa.rekeyed_away = false;
    error = {s.message(), ike::NotifyType::kNoProposalChosen, {}};
    return false;
  }
  ike::Sa chosen;
  chosen.proposals.push_back(sel.choice->reply);
  chosen.proposals.front().spi = spi_bytes(ours);
  out.emplace_back(ike::PayloadType::kSa, chosen);
  out.emplace_back(ike::PayloadType::kNonce, ike::Nonce{nr});
  ike::Ke our_ke;
  our_ke.group = static_cast<uint16_t>(kp->group());
  our_ke.data = kp->public_value();
  out.emplace_back(ike::PayloadType::kKe, our_ke);
  new_sa_ = std::move(next);
  return true;
}

}  // namespace tcpsec::ikesa
