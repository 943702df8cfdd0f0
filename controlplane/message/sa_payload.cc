// SA payload body: proposals, transforms, transform attributes (RFC 7296
// 3.3). Unknown transform types, IDs and attribute types are kept; only what
// is structurally wrong (lengths, counts, Last Substruc, SPI sizes, a Key
// Length that is not TV) is refused.
#include <limits>

#include "controlplane/message/payload_codecs.h"

namespace tcpsec::ike::codec {
namespace {

constexpr size_t kProposalHeaderLen = 8;
constexpr size_t kTransformHeaderLen = 8;
constexpr size_t kAttributeHeaderLen = 4;
constexpr uint8_t kLastSubstruc = 0;
constexpr uint8_t kMoreProposals = 2;
constexpr uint8_t kMoreTransforms = 3;
constexpr uint16_t kAttributeFormatTv = 0x8000;

std::string where(size_t proposal) {
  return "proposal " + std::to_string(proposal);
}
std::string where(size_t proposal, size_t transform) {
  return where(proposal) + " transform " + std::to_string(transform);
}

// Constraints on values, shared by parse and serialize.
Status validate_spi(const Proposal& p, size_t index) {
  const size_t n = p.spi.size();
  bool ok;
  switch (p.protocol) {
    case ProtocolId::kIke:
      ok = n == 0 || n == 8;
      break;
    case ProtocolId::kAh:
    case ProtocolId::kEsp:
      ok = n == 4;
      break;
    default:  // a protocol we do not know: the proposal is kept, not chosen
      ok = n == 0 || n == 4 || n == 8;
      break;
  }
  if (ok) return Status::ok();
  return Status::error(where(index) + ": SPI size " + std::to_string(n) + " is invalid for " +
                       to_string(p.protocol) + " (IKE: 0 or 8, AH/ESP: 4)");
}

Status validate_attributes(const Transform& t, size_t proposal, size_t transform) {
  if (t.attributes.size() > kMaxAttributesPerTransform) {
    return Status::error(where(proposal, transform) + ": more than " +
                         std::to_string(kMaxAttributesPerTransform) + " attributes");
  }
  bool have_key_length = false;
  for (const TransformAttribute& a : t.attributes) {
    if (a.type > 0x7fff) {
      return Status::error(where(proposal, transform) + ": attribute type " +
                           std::to_string(a.type) + " does not fit 15 bits");
    }
    if ((a.tv && !a.data.empty()) || (!a.tv && a.value != 0)) {
      return Status::error(where(proposal, transform) + ": attribute type " +
                           std::to_string(a.type) + " has both a TV value and TLV data");
    }
    if (a.type != static_cast<uint16_t>(TransformAttributeType::kKeyLength)) continue;
    if (!a.tv) {
      return Status::error(where(proposal, transform) +
                           ": key length attribute in TLV format (must be TV)");
    }
    if (have_key_length) {
      return Status::error(where(proposal, transform) + ": key length attribute given twice");
    }
    have_key_length = true;
  }
  return Status::ok();
}

Status parse_attributes(ByteReader& r, Transform& t, size_t proposal, size_t transform) {
  while (!r.empty()) {
    if (t.attributes.size() == kMaxAttributesPerTransform) {
      return Status::error(where(proposal, transform) + ": more than " +
                           std::to_string(kMaxAttributesPerTransform) + " attributes");
    }
    const size_t attr = t.attributes.size() + 1;
    const std::string at = where(proposal, transform) + " attribute " + std::to_string(attr);
    if (r.remaining() < kAttributeHeaderLen) {
      return Status::error(at + ": header needs 4 bytes, " + n_bytes(r.remaining()) + " left");
    }
    TransformAttribute a;
    const uint16_t type_field = r.u16();
    a.type = type_field & 0x7fff;
    a.tv = (type_field & kAttributeFormatTv) != 0;
    const uint16_t length_or_value = r.u16();
    if (a.tv) {
      a.value = length_or_value;
    } else {
      if (length_or_value > r.remaining()) {
        return Status::error(where(proposal, transform) + ": attribute length " +
                             std::to_string(length_or_value) + " exceeds transform (" +
                             std::to_string(r.remaining()) + " left)");
      }
      a.data = r.copy(length_or_value);
    }
    t.attributes.push_back(std::move(a));
  }
  return validate_attributes(t, proposal, transform);
}

Status parse_transforms(ByteReader& r, Proposal& p, size_t proposal, uint8_t declared) {
  size_t index = 0;
  uint8_t last = kMoreTransforms;
  while (!r.empty()) {
    ++index;
    if (index > kMaxTransformsPerProposal) {
      return Status::error(where(proposal) + ": more than " +
                           std::to_string(kMaxTransformsPerProposal) + " transforms");
    }
    if (last == kLastSubstruc) {
      return Status::error(where(proposal, index - 1) + ": marked last (0) but " +
                           n_bytes(r.remaining()) + " follow in the proposal");
    }
    if (r.remaining() < kTransformHeaderLen) {
      return Status::error(where(proposal, index) + ": header needs 8 bytes, " +
                           n_bytes(r.remaining()) + " left");
    }
    last = r.u8();
    r.skip(1);
    const uint16_t length = r.u16();
    if (last != kLastSubstruc && last != kMoreTransforms) {
      return Status::error(where(proposal, index) + ": last-substruc " + std::to_string(last) +
                           " (must be 0 or 3)");
    }
    if (length < kTransformHeaderLen) {
      return Status::error(where(proposal, index) + ": transform length " + std::to_string(length) +
                           " is less than its 8-byte header");
    }
    if (length - 4u > r.remaining()) {
      return Status::error(where(proposal, index) + ": transform length " + std::to_string(length) +
                           " exceeds proposal (" + std::to_string(r.remaining() + 4) + " left)");
    }
    Transform t;
    t.type = static_cast<TransformType>(r.u8());
    r.skip(1);
    t.id = r.u16();
    ByteReader attributes(r.bytes(length - kTransformHeaderLen));
    if (Status s = parse_attributes(attributes, t, proposal, index); !s) return s;
    p.transforms.push_back(std::move(t));
  }
  if (last != kLastSubstruc) {
    return Status::error(where(proposal, index) + ": marked more (3) but it ends the proposal");
  }
  if (p.transforms.size() != declared) {
    return Status::error(where(proposal) + ": number of transforms is " + std::to_string(declared) +
                         " but the proposal holds " + std::to_string(p.transforms.size()));
  }
  return Status::ok();
}

Status parse_proposal(ByteReader& r, Proposal& p, size_t index) {
  p.number = r.u8();
  p.protocol = static_cast<ProtocolId>(r.u8());
  const uint8_t spi_size = r.u8();
  const uint8_t transforms = r.u8();
  if (spi_size > r.remaining()) {
    return Status::error(where(index) + ": SPI size " + std::to_string(spi_size) +
                         " exceeds proposal (" + std::to_string(r.remaining()) + " left)");
  }
  p.spi = r.copy(spi_size);
  if (Status s = validate_spi(p, index); !s) return s;
  if (transforms == 0) {
    return Status::error(where(index) + ": no transforms");
  }
  return parse_transforms(r, p, index, transforms);
}

}  // namespace

Status parse_sa(Body body, Sa& out) {
  ByteReader r(body);
  uint8_t last = kMoreProposals;
  size_t index = 0;
  while (!r.empty()) {
    ++index;
    if (index > kMaxProposals) {
      return Status::error("more than " + std::to_string(kMaxProposals) + " proposals");
    }
    if (last == kLastSubstruc) {
      return Status::error(where(index - 1) + ": marked last (0) but " + n_bytes(r.remaining()) +
                           " follow in the payload");
    }
    if (r.remaining() < kProposalHeaderLen) {
      return Status::error(where(index) + ": header needs 8 bytes, " + n_bytes(r.remaining()) +
                           " left");
    }
    last = r.u8();
    r.skip(1);
    const uint16_t length = r.u16();
    if (last != kLastSubstruc && last != kMoreProposals) {
      return Status::error(where(index) + ": last-substruc " + std::to_string(last) +
                           " (must be 0 or 2)");
    }
    if (length < kProposalHeaderLen) {
      return Status::error(where(index) + ": proposal length " + std::to_string(length) +
                           " is less than its 8-byte header");
    }
    if (length - 4u > r.remaining()) {
      return Status::error(where(index) + ": proposal length " + std::to_string(length) +
                           " exceeds payload (" + std::to_string(r.remaining() + 4) + " left)");
    }
    ByteReader proposal(r.bytes(length - 4u));
    Proposal p;
    if (Status s = parse_proposal(proposal, p, index); !s) return s;
    out.proposals.push_back(std::move(p));
  }
  if (out.proposals.empty()) return Status::error("no proposals");
  if (last != kLastSubstruc) {
    return Status::error(where(index) + ": marked more (2) but it ends the payload");
  }
  return Status::ok();
}

Status serialize_sa(const Sa& sa, ByteWriter& w) {
  if (sa.proposals.empty()) return Status::error("no proposals");
  if (sa.proposals.size() > kMaxProposals) {
    return Status::error("more than " + std::to_string(kMaxProposals) + " proposals");
  }
  for (size_t i = 0; i < sa.proposals.size(); ++i) {
    const Proposal& p = sa.proposals[i];
    const size_t pi = i + 1;
    if (Status s = validate_spi(p, pi); !s) return s;
    if (p.transforms.empty()) return Status::error(where(pi) + ": no transforms");
    if (p.transforms.size() > kMaxTransformsPerProposal) {
      return Status::error(where(pi) + ": more than " + std::to_string(kMaxTransformsPerProposal) +
                           " transforms");
    }
    const size_t proposal_start = w.size();
    w.u8(i + 1 == sa.proposals.size() ? kLastSubstruc : kMoreProposals);
    w.u8(0);
    w.u16(0);  // length, patched below
    w.u8(p.number);
    w.u8(static_cast<uint8_t>(p.protocol));
    w.u8(static_cast<uint8_t>(p.spi.size()));
    w.u8(static_cast<uint8_t>(p.transforms.size()));
    w.bytes(p.spi);
    for (size_t j = 0; j < p.transforms.size(); ++j) {
      const Transform& t = p.transforms[j];
      if (Status s = validate_attributes(t, pi, j + 1); !s) return s;
      const size_t transform_start = w.size();
      w.u8(j + 1 == p.transforms.size() ? kLastSubstruc : kMoreTransforms);
      w.u8(0);
      w.u16(0);
      w.u8(static_cast<uint8_t>(t.type));
      w.u8(0);
      w.u16(t.id);
      for (const TransformAttribute& a : t.attributes) {
        if (a.tv) {
          w.u16(kAttributeFormatTv | a.type);
          w.u16(a.value);
        } else {
          if (a.data.size() > std::numeric_limits<uint16_t>::max()) {
            return Status::error(where(pi, j + 1) + ": attribute of " + n_bytes(a.data.size()));
          }
          w.u16(a.type);
          w.u16(static_cast<uint16_t>(a.data.size()));
          w.bytes(a.data);
        }
      }
      const size_t transform_len = w.size() - transform_start;
      if (transform_len > std::numeric_limits<uint16_t>::max()) {
        return Status::error(where(pi, j + 1) + ": transform of " + n_bytes(transform_len));
      }
      w.patch_u16(transform_start + 2, static_cast<uint16_t>(transform_len));
    }
    const size_t proposal_len = w.size() - proposal_start;
    if (proposal_len > std::numeric_limits<uint16_t>::max()) {
      return Status::error(where(pi) + ": proposal of " + n_bytes(proposal_len));
    }
    w.patch_u16(proposal_start + 2, static_cast<uint16_t>(proposal_len));
  }
  return Status::ok();
}

}  // namespace tcpsec::ike::codec
