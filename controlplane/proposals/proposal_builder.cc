#include "controlplane/proposals/proposal_builder.h"

#include <algorithm>
#include <optional>
#include <vector>

namespace tcpsec::proposals {

namespace {

using ike::Transform;
using ike::TransformType;

// AES (every mode) needs the Key Length attribute; ChaCha20 and NULL must not
// have one (RFC 7634 2, RFC 2410).
std::optional<uint16_t> key_length_attribute(const EncryptionAlgorithm& e) {
  if (e.key_bits == 0) return std::nullopt;
  return e.key_bits;
}

void add_encryption(ike::Proposal& p, const std::vector<EncryptionAlgorithm>& list) {
  for (const auto& e : list) {
    p.transforms.push_back(Transform::make(TransformType::kEncr, static_cast<uint16_t>(e.id),
                                           key_length_attribute(e)));
  }
}

template <typename Id>
void add_all(ike::Proposal& p, TransformType type, const std::vector<Id>& list) {
  for (Id id : list) p.transforms.push_back(Transform::make(type, static_cast<uint16_t>(id)));
}

}  // namespace

ike::Proposal build_ike_proposal(const IkeProposalSpec& spec, uint8_t number,
                                 const ike::Bytes& spi) {
  ike::Proposal p;
  p.number = number;
  p.protocol = ike::ProtocolId::kIke;
  p.spi = spi;
  add_encryption(p, spec.encryption);
  add_all(p, TransformType::kInteg, spec.integrity);
  add_all(p, TransformType::kPrf, spec.prf);
  add_all(p, TransformType::kDh, spec.dh);
  return p;
}

ike::Proposal build_esp_proposal(const EspProposalSpec& spec, uint8_t number, const ike::Bytes& spi,
                                 bool with_dh) {
  ike::Proposal p;
  p.number = number;
  p.protocol = ike::ProtocolId::kEsp;
  p.spi = spi;
  add_encryption(p, spec.encryption);
  add_all(p, TransformType::kInteg, spec.integrity);
  if (with_dh) add_all(p, TransformType::kDh, spec.dh);
  add_all(p, TransformType::kEsn, spec.esn);
  return p;
}

ike::Sa build_ike_sa(std::span<const IkeProposalSpec> specs, const ike::Bytes& spi) {
  ike::Sa sa;
  size_t n = std::min(specs.size(), ike::kMaxProposals);
  for (size_t i = 0; i < n; ++i) {
    sa.proposals.push_back(build_ike_proposal(specs[i], static_cast<uint8_t>(i + 1), spi));
  }
  return sa;
}

ike::Sa build_esp_sa(std::span<const EspProposalSpec> specs, const ike::Bytes& spi, bool with_dh) {
  ike::Sa sa;
  size_t n = std::min(specs.size(), ike::kMaxProposals);
  for (size_t i = 0; i < n; ++i) {
    sa.proposals.push_back(build_esp_proposal(specs[i], static_cast<uint8_t>(i + 1), spi, with_dh));
  }
  return sa;
}

std::string to_string(const ike::Proposal& proposal) {
  std::vector<ike::IntegId> integrity;
  std::vector<ike::PrfId> prf;
  std::string encr, integ, dh, esn, other;
  auto append = [](std::string& out, const std::string& token) {
    if (!out.empty()) out += '-';
    out += token;
  };
  for (const Transform& t : proposal.transforms) {
    switch (t.type) {
      case TransformType::kEncr:
        append(encr, encryption_name(static_cast<ike::EncrId>(t.id), t.key_length().value_or(0)));
        break;
      case TransformType::kInteg:
        integrity.push_back(static_cast<ike::IntegId>(t.id));
        append(integ, integrity_name(integrity.back()));
        break;
      case TransformType::kPrf:
        prf.push_back(static_cast<ike::PrfId>(t.id));
        break;
      case TransformType::kDh:
        append(dh, dh_name(static_cast<ike::DhGroup>(t.id)));
        break;
      case TransformType::kEsn:
        append(esn, t.id == static_cast<uint16_t>(ike::EsnId::kEsn) ? "esn"
                    : t.id == static_cast<uint16_t>(ike::EsnId::kNoEsn)
                        ? "noesn"
                        : "esn" + std::to_string(t.id));
        break;
      default:
        append(other,
               "type" + std::to_string(static_cast<unsigned>(t.type)) + ":" + std::to_string(t.id));
        break;
    }
  }
  std::string out = encr;
  if (!integ.empty()) append(out, integ);
  // As in strongSwan notation, a PRF list equal to the integrity default is
  // implied (an ESP proposal has none).
  if (!prf.empty() && (integrity.empty() || prf != default_prfs(integrity))) {
    for (auto p : prf) append(out, prf_name(p));
  }
  if (!dh.empty()) append(out, dh);
  if (!esn.empty() && esn != "noesn") append(out, esn);
  if (!other.empty()) append(out, other);
  if (out.empty()) out = "(no transforms)";
  return out;
}

std::string to_string(const ike::Sa& sa) {
  std::string out = "[";
  for (size_t i = 0; i < sa.proposals.size(); ++i) {
    if (i) out += ", ";
    out += to_string(sa.proposals[i]);
  }
  return out + "]";
}

}  // namespace tcpsec::proposals
