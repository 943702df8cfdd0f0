#include "controlplane/proposals/selection.h"

#include <algorithm>
#include <array>
#include <vector>

#include "controlplane/proposals/proposal_builder.h"

namespace tcpsec::proposals {

namespace {

using ike::DhGroup;
using ike::EsnId;
using ike::IntegId;
using ike::Proposal;
using ike::Transform;
using ike::TransformType;

constexpr uint16_t kNoneId = 0;  // INTEG NONE, DH NONE

// A transform we can judge: no attribute other than a TV Key Length
// (RFC 7296 3.3.6: a transform with an unknown attribute is rejected).
bool usable(const Transform& t) {
  return std::all_of(t.attributes.begin(), t.attributes.end(), [](const auto& a) {
    return a.tv && a.type == static_cast<uint16_t>(ike::TransformAttributeType::kKeyLength);
  });
}

std::vector<const Transform*> of_type(const Proposal& p, TransformType type) {
  std::vector<const Transform*> out;
  for (const Transform& t : p.transforms) {
    if (t.type == type) out.push_back(&t);
  }
  return out;
}

bool only_types(const Proposal& p, std::initializer_list<TransformType> allowed) {
  return std::all_of(p.transforms.begin(), p.transforms.end(), [&](const Transform& t) {
    return std::find(allowed.begin(), allowed.end(), t.type) != allowed.end();
  });
}

std::optional<uint16_t> wanted_key_length(const EncryptionAlgorithm& e) {
  if (e.key_bits == 0) return std::nullopt;
  return e.key_bits;
}

const Transform* pick_encryption(const Proposal& p, const std::vector<EncryptionAlgorithm>& ours,
                                 EncryptionAlgorithm* chosen) {
  auto offered = of_type(p, TransformType::kEncr);
  for (const auto& e : ours) {
    for (const Transform* t : offered) {
      if (usable(*t) && t->id == static_cast<uint16_t>(e.id) &&
          t->key_length() == wanted_key_length(e)) {
        *chosen = e;
        return t;
      }
    }
  }
  return nullptr;
}

// The first of `ours` that the peer offered (without attributes).
template <typename Id>
const Transform* pick(const std::vector<const Transform*>& offered, const std::vector<Id>& ours) {
  for (Id id : ours) {
    for (const Transform* t : offered) {
      if (t->attributes.empty() && t->id == static_cast<uint16_t>(id)) return t;
    }
  }
  return nullptr;
}

const Transform* find_none(const std::vector<const Transform*>& offered) {
  for (const Transform* t : offered) {
    if (t->attributes.empty() && t->id == kNoneId) return t;
  }
  return nullptr;
}

// Result of comparing one offered proposal with one of ours.
enum class Match { kNo, kAllButDh, kYes };

// Integrity: our list, or (AEAD) nothing or NONE from the peer. `out` gets
// the transform to echo (nullptr: none).
bool match_integrity(const Proposal& p, const std::vector<IntegId>& ours, const Transform** out,
                     IntegId* chosen) {
  auto offered = of_type(p, TransformType::kInteg);
  *out = nullptr;
  *chosen = IntegId::kNone;
  if (ours.empty()) {
    if (offered.empty()) return true;
    *out = find_none(offered);
    return *out != nullptr;
  }
  *out = pick(offered, ours);
  if (*out) *chosen = static_cast<IntegId>((*out)->id);
  return *out != nullptr;
}

// DH groups: one of ours, preferring `ke_group`. `ours` empty (ESP without
// PFS): the peer offers none, or NONE. Sets *ke_mismatch when a group was
// chosen that is not `ke_group`.
bool match_dh(const Proposal& p, const std::vector<DhGroup>& ours, std::optional<DhGroup> ke_group,
              const Transform** out, DhGroup* chosen, bool* ke_mismatch) {
  auto offered = of_type(p, TransformType::kDh);
  *out = nullptr;
  *chosen = DhGroup::kNone;
  *ke_mismatch = false;
  if (ours.empty()) {
    if (offered.empty()) return true;
    *out = find_none(offered);
    return *out != nullptr;
  }
  if (ke_group && std::find(ours.begin(), ours.end(), *ke_group) != ours.end()) {
    *out = pick(offered, std::vector<DhGroup>{*ke_group});
  }
  if (!*out) {
    *out = pick(offered, ours);
    if (*out && ke_group) *ke_mismatch = true;
  }
  if (*out) *chosen = static_cast<DhGroup>((*out)->id);
  return *out != nullptr;
}

Proposal answer(const Proposal& offered, std::initializer_list<const Transform*> chosen) {
  Proposal p;
  p.number = offered.number;
  p.protocol = offered.protocol;
  for (const Transform* t : chosen) {
    if (t) p.transforms.push_back(*t);
  }
  return p;
}

struct IkeCandidate {
  IkeChoice choice;
  bool ke_mismatch = false;
};

Match match_ike(const Proposal& p, const IkeProposalSpec& spec, std::optional<DhGroup> ke_group,
                IkeCandidate* out) {
  if (p.protocol != ike::ProtocolId::kIke || (p.spi.size() != 0 && p.spi.size() != 8) ||
      !only_types(p, {TransformType::kEncr, TransformType::kInteg, TransformType::kPrf,
                      TransformType::kDh})) {
    return Match::kNo;
  }
  IkeAlgorithms a;
  const Transform* encr = pick_encryption(p, spec.encryption, &a.encryption);
  const Transform* integ = nullptr;
  const Transform* prf = pick(of_type(p, TransformType::kPrf), spec.prf);
  if (!encr || !prf || !match_integrity(p, spec.integrity, &integ, &a.integrity)) return Match::kNo;
  a.prf = static_cast<ike::PrfId>(prf->id);
  const Transform* dh = nullptr;
  if (!match_dh(p, spec.dh, ke_group, &dh, &a.dh, &out->ke_mismatch)) return Match::kAllButDh;
  out->choice.proposal = answer(p, {encr, integ, prf, dh});
  out->choice.algorithms = a;
  out->choice.peer_spi = p.spi;
  return Match::kYes;
}

struct EspCandidate {
  EspChoice choice;
  bool ke_mismatch = false;
};

Match match_esp(const Proposal& p, const EspProposalSpec& spec, const EspSelectOptions& options,
                EspCandidate* out) {
  if (p.protocol != ike::ProtocolId::kEsp || p.spi.size() != 4 ||
      !only_types(p, {TransformType::kEncr, TransformType::kInteg, TransformType::kDh,
                      TransformType::kEsn})) {
    return Match::kNo;
  }
  EspAlgorithms a;
  const Transform* encr = pick_encryption(p, spec.encryption, &a.encryption);
  const Transform* integ = nullptr;
  if (!encr || !match_integrity(p, spec.integrity, &integ, &a.integrity)) return Match::kNo;
  const Transform* esn = nullptr;
  auto offered_esn = of_type(p, TransformType::kEsn);
  if (offered_esn.empty()) {
    if (std::find(spec.esn.begin(), spec.esn.end(), EsnId::kNoEsn) == spec.esn.end()) {
      return Match::kNo;
    }
    a.esn = EsnId::kNoEsn;
  } else {
    esn = pick(offered_esn, spec.esn);
    if (!esn) return Match::kNo;
    a.esn = static_cast<EsnId>(esn->id);
  }
  const Transform* dh = nullptr;
  if (!options.ike_auth && !match_dh(p, spec.dh, options.ke_group, &dh, &a.dh, &out->ke_mismatch)) {
    return Match::kAllButDh;
  }
  out->choice.proposal = answer(p, {encr, integ, dh, esn});
  out->choice.algorithms = a;
  out->choice.peer_spi = p.spi;
  return Match::kYes;
}

template <typename Spec>
std::string configured(std::span<const Spec> ours) {
  std::string out = "[";
  for (size_t i = 0; i < ours.size(); ++i) {
    if (i) out += ", ";
    out += to_string(ours[i]);
  }
  return out + "]";
}

template <typename Spec>
SelectError no_proposal(const ike::Sa& offered, std::span<const Spec> ours, bool all_but_dh) {
  SelectError e;
  e.failure = SelectFailure::kNoProposalChosen;
  e.message = std::string("no proposal chosen") +
              (all_but_dh ? " (algorithms match, DH groups do not)" : "") + ": offered " +
              to_string(offered) + ", configured " + configured(ours);
  return e;
}

SelectError invalid_ke(DhGroup ke, DhGroup wanted, const std::string& proposal) {
  SelectError e;
  e.failure = SelectFailure::kInvalidKePayload;
  e.group = wanted;
  e.message = "KE payload has group " + dh_name(ke) + ", the chosen proposal " + proposal +
              " needs " + dh_name(wanted);
  return e;
}

// Runs `match` over (ours x offered) in our order; the first full match
// whose group fits the KE payload wins, else the first full match.
template <typename Choice, typename Candidate, typename Spec, typename MatchFn>
Selected<Choice> select(const ike::Sa& offered, std::span<const Spec> ours,
                        std::optional<DhGroup> ke_group, MatchFn match) {
  std::optional<Candidate> first;
  bool all_but_dh = false;
  for (size_t i = 0; i < ours.size(); ++i) {
    for (const Proposal& p : offered.proposals) {
      Candidate c;
      Match m = match(p, ours[i], &c);
      if (m == Match::kAllButDh) all_but_dh = true;
      if (m != Match::kYes) continue;
      c.choice.ours = i;
      if (!c.ke_mismatch) return c.choice;
      if (!first) first = std::move(c);
    }
  }
  if (first) {
    return invalid_ke(*ke_group, first->choice.algorithms.dh, to_string(first->choice.algorithms));
  }
  return no_proposal(offered, ours, all_but_dh);
}

// ---- initiator side ----

Status reply_error(const std::string& what) {
  return Status::error("invalid proposal in the reply: " + what);
}

// The reply's single proposal, checked against the one of ours it names:
// one transform per type, each one we offered, only types we offered.
Expected<const Proposal*> check_reply(const ike::Sa& ours, const ike::Sa& reply,
                                      ike::ProtocolId protocol) {
  if (reply.proposals.size() != 1) {
    return reply_error("the responder sent " + std::to_string(reply.proposals.size()) +
                       " proposals, RFC 7296 3.3.6 allows exactly one");
  }
  const Proposal& r = reply.proposals.front();
  const Proposal* sent = nullptr;
  for (const Proposal& p : ours.proposals) {
    if (p.number == r.number) sent = &p;
  }
  if (!sent) return reply_error("proposal number " + std::to_string(r.number) + " was not offered");
  if (r.protocol != protocol || sent->protocol != protocol) {
    return reply_error("protocol " + ike::to_string(r.protocol) + ", expected " +
                       ike::to_string(protocol));
  }
  std::array<int, 256> count{};
  for (const Transform& t : r.transforms) {
    if (++count[static_cast<uint8_t>(t.type)] > 1) {
      return reply_error("more than one " + ike::to_string(t.type) + " transform in " +
                         to_string(r));
    }
    if (std::find(sent->transforms.begin(), sent->transforms.end(), t) == sent->transforms.end()) {
      return reply_error(ike::transform_id_to_string(t.type, t.id) + " in " + to_string(r) +
                         " was not offered in " + to_string(*sent));
    }
  }
  // Every type we offered must be answered, except NONE-able ones where we
  // offered NONE (or AEAD with nothing) -- checked by the callers.
  return &r;
}

// Index in `ours` of the proposal numbered `number` (check_reply found it).
size_t index_of(const ike::Sa& ours, uint8_t number) {
  for (size_t i = 0; i < ours.proposals.size(); ++i) {
    if (ours.proposals[i].number == number) return i;
  }
  return 0;
}

const Transform* single(const Proposal& p, TransformType type) {
  auto v = of_type(p, type);
  return v.empty() ? nullptr : v.front();
}

EncryptionAlgorithm encryption_of(const Transform& t) {
  return EncryptionAlgorithm{static_cast<ike::EncrId>(t.id), t.key_length().value_or(0)};
}

// The peer's answer for integrity: required unless the cipher is AEAD.
Status check_integrity(const Proposal& r, const EncryptionAlgorithm& e, IntegId* out) {
  const Transform* t = single(r, TransformType::kInteg);
  *out = t ? static_cast<IntegId>(t->id) : IntegId::kNone;
  if (!e.aead() && *out == IntegId::kNone) {
    return reply_error("no integrity transform for " + encryption_name(e.id, e.key_bits));
  }
  if (e.aead() && *out != IntegId::kNone) {
    return reply_error("integrity transform with AEAD " + encryption_name(e.id, e.key_bits));
  }
  return Status::ok();
}

}  // namespace

std::string to_string(const IkeAlgorithms& a) {
  IkeProposalSpec s;
  s.encryption = {a.encryption};
  if (a.integrity != IntegId::kNone) s.integrity = {a.integrity};
  s.prf = {a.prf};
  s.dh = {a.dh};
  return to_string(s);
}

std::string to_string(const EspAlgorithms& a) {
  EspProposalSpec s;
  s.encryption = {a.encryption};
  if (a.integrity != IntegId::kNone) s.integrity = {a.integrity};
  if (a.dh != DhGroup::kNone) s.dh = {a.dh};
  s.esn = {a.esn};
  return to_string(s);
}

Selected<IkeChoice> select_ike(const ike::Sa& offered, std::span<const IkeProposalSpec> ours,
                               std::optional<DhGroup> ke_group) {
  return select<IkeChoice, IkeCandidate>(
      offered, ours, ke_group, [&](const Proposal& p, const IkeProposalSpec& s, IkeCandidate* c) {
        return match_ike(p, s, ke_group, c);
      });
}

Selected<EspChoice> select_esp(const ike::Sa& offered, std::span<const EspProposalSpec> ours,
                               EspSelectOptions options) {
  if (options.ike_auth) options.ke_group.reset();
  return select<EspChoice, EspCandidate>(
      offered, ours, options.ke_group,
      [&](const Proposal& p, const EspProposalSpec& s, EspCandidate* c) {
        return match_esp(p, s, options, c);
      });
}

Expected<IkeChoice> accept_ike_reply(const ike::Sa& offered_by_us, const ike::Sa& reply) {
  auto r = check_reply(offered_by_us, reply, ike::ProtocolId::kIke);
  if (!r) return r.status();
  const Proposal& p = **r;
  if (!p.spi.empty() && p.spi.size() != 8) {
    return reply_error("IKE SPI of " + std::to_string(p.spi.size()) + " bytes");
  }
  const Transform* encr = single(p, TransformType::kEncr);
  const Transform* prf = single(p, TransformType::kPrf);
  const Transform* dh = single(p, TransformType::kDh);
  if (!encr || !prf || !dh || dh->id == kNoneId) {
    return reply_error(to_string(p) + " lacks an encryption, PRF or DH transform");
  }
  IkeChoice c;
  c.proposal = p;
  c.peer_spi = p.spi;
  c.algorithms.encryption = encryption_of(*encr);
  if (auto s = check_integrity(p, c.algorithms.encryption, &c.algorithms.integrity); !s) return s;
  c.algorithms.prf = static_cast<ike::PrfId>(prf->id);
  c.algorithms.dh = static_cast<DhGroup>(dh->id);
  c.ours = index_of(offered_by_us, p.number);
  return c;
}

Expected<EspChoice> accept_esp_reply(const ike::Sa& offered_by_us, const ike::Sa& reply) {
  auto r = check_reply(offered_by_us, reply, ike::ProtocolId::kEsp);
  if (!r) return r.status();
  const Proposal& p = **r;
  if (p.spi.size() != 4)
    return reply_error("ESP SPI of " + std::to_string(p.spi.size()) + " bytes");
  const Proposal* sent = &offered_by_us.proposals[index_of(offered_by_us, p.number)];
  const Transform* encr = single(p, TransformType::kEncr);
  if (!encr) return reply_error(to_string(p) + " lacks an encryption transform");
  EspChoice c;
  c.proposal = p;
  c.peer_spi = p.spi;
  c.algorithms.encryption = encryption_of(*encr);
  if (auto s = check_integrity(p, c.algorithms.encryption, &c.algorithms.integrity); !s) return s;
  // DH: if we offered groups, the answer names one of them (or NONE, if we
  // offered NONE); missing only if we offered NONE.
  const Transform* dh = single(p, TransformType::kDh);
  auto sent_dh = of_type(*sent, TransformType::kDh);
  if (!dh && !sent_dh.empty() && !find_none(sent_dh)) {
    return reply_error(to_string(p) + " has no DH group, PFS was required");
  }
  c.algorithms.dh = dh ? static_cast<DhGroup>(dh->id) : DhGroup::kNone;
  const Transform* esn = single(p, TransformType::kEsn);
  if (!esn) {
    bool offered_no_esn = false;
    for (const Transform* t : of_type(*sent, TransformType::kEsn)) {
      offered_no_esn = offered_no_esn || t->id == static_cast<uint16_t>(EsnId::kNoEsn);
    }
    if (!offered_no_esn && !of_type(*sent, TransformType::kEsn).empty()) {
      return reply_error(to_string(p) + " has no ESN transform, we required ESN");
    }
  }
  c.algorithms.esn = esn ? static_cast<EsnId>(esn->id) : EsnId::kNoEsn;
  c.ours = index_of(offered_by_us, p.number);
  return c;
}

}  // namespace tcpsec::proposals
