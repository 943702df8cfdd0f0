#include "controlplane/proposals/proposal_spec.h"

#include <algorithm>
#include <optional>

namespace tcpsec::proposals {

namespace {

using ike::DhGroup;
using ike::EncrId;
using ike::EsnId;
using ike::IntegId;
using ike::PrfId;

struct EncrToken {
  std::string_view name;
  EncrId id;
  uint16_t key_bits;
};

// Accepted encryption tokens. aesNNNgcm (no ICV size) means the 16-byte ICV,
// as in strongSwan.
constexpr EncrToken kEncrTokens[] = {
    {"aes128", EncrId::kAesCbc, 128},
    {"aes192", EncrId::kAesCbc, 192},
    {"aes256", EncrId::kAesCbc, 256},
    {"aes128gcm16", EncrId::kAesGcm16, 128},
    {"aes192gcm16", EncrId::kAesGcm16, 192},
    {"aes256gcm16", EncrId::kAesGcm16, 256},
    {"aes128gcm", EncrId::kAesGcm16, 128},
    {"aes192gcm", EncrId::kAesGcm16, 192},
    {"aes256gcm", EncrId::kAesGcm16, 256},
    {"chacha20poly1305", EncrId::kChacha20Poly1305, 0},
    {"null", EncrId::kNull, 0},
};

struct IntegToken {
  std::string_view name;
  IntegId id;
  PrfId prf;  // the PRF a CBC IKE proposal defaults to
};

constexpr IntegToken kIntegTokens[] = {
    {"sha1", IntegId::kHmacSha1_96, PrfId::kHmacSha1},
    {"sha256", IntegId::kHmacSha2_256_128, PrfId::kHmacSha2_256},
    {"sha384", IntegId::kHmacSha2_384_192, PrfId::kHmacSha2_384},
    {"sha512", IntegId::kHmacSha2_512_256, PrfId::kHmacSha2_512},
};

struct PrfToken {
  std::string_view name;
  PrfId id;
};

constexpr PrfToken kPrfTokens[] = {
    {"prfsha1", PrfId::kHmacSha1},
    {"prfsha256", PrfId::kHmacSha2_256},
    {"prfsha384", PrfId::kHmacSha2_384},
    {"prfsha512", PrfId::kHmacSha2_512},
};

struct DhToken {
  std::string_view name;
  DhGroup id;
};

constexpr DhToken kDhTokens[] = {
    {"modp2048", DhGroup::kModp2048},     {"ecp256", DhGroup::kEcp256},
    {"ecp384", DhGroup::kEcp384},         {"x25519", DhGroup::kCurve25519},
    {"curve25519", DhGroup::kCurve25519},
};

// Names for printing only (not accepted by the parser).
constexpr DhToken kMoreDhNames[] = {
    {"modp1024", DhGroup::kModp1024}, {"modp3072", DhGroup::kModp3072},
    {"modp4096", DhGroup::kModp4096}, {"ecp521", DhGroup::kEcp521},
    {"curve448", DhGroup::kCurve448}, {"none", DhGroup::kNone},
};

// `text` quoted for an error message: control bytes escaped, long text cut.
std::string quote(std::string_view text) {
  static constexpr size_t kMaxShown = 80;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

template <typename T>
void add_unique(std::vector<T>& list, T value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

// What both kinds of proposal share: the tokens, sorted by type.
struct Tokens {
  std::vector<EncryptionAlgorithm> encryption;
  std::vector<IntegId> integrity;
  std::vector<PrfId> prf;  // explicit prf* tokens
  std::vector<PrfId> prf_from_integrity;
  std::vector<DhGroup> dh;
  std::vector<EsnId> esn;
};

constexpr size_t kMaxProposalText = 512;

Expected<Tokens> tokenize(std::string_view text) {
  if (text.empty()) return Status::error("empty proposal");
  if (text.size() > kMaxProposalText) {
    return Status::error("proposal " + quote(text) + " is longer than " +
                         std::to_string(kMaxProposalText) + " characters");
  }
  Tokens t;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t dash = text.find('-', pos);
    if (dash == std::string_view::npos) dash = text.size();
    std::string_view tok = text.substr(pos, dash - pos);
    pos = dash + 1;
    if (tok.empty()) return Status::error("empty token in " + quote(text));
    bool known = false;
    for (const auto& e : kEncrTokens) {
      if (tok == e.name) {
        add_unique(t.encryption, EncryptionAlgorithm{e.id, e.key_bits});
        known = true;
      }
    }
    for (const auto& e : kIntegTokens) {
      if (tok == e.name) {
        add_unique(t.integrity, e.id);
        add_unique(t.prf_from_integrity, e.prf);
        known = true;
      }
    }
    for (const auto& e : kPrfTokens) {
      if (tok == e.name) {
        add_unique(t.prf, e.id);
        known = true;
      }
    }
    for (const auto& e : kDhTokens) {
      if (tok == e.name) {
        add_unique(t.dh, e.id);
        known = true;
      }
    }
    if (tok == "esn") add_unique(t.esn, EsnId::kEsn), known = true;
    if (tok == "noesn") add_unique(t.esn, EsnId::kNoEsn), known = true;
    if (!known) return Status::error("unknown token " + quote(tok) + " in " + quote(text));
  }
  if (t.encryption.empty()) return Status::error("no encryption algorithm in " + quote(text));
  size_t aead = static_cast<size_t>(std::count_if(t.encryption.begin(), t.encryption.end(),
                                                  [](const auto& e) { return e.aead(); }));
  if (aead != 0 && aead != t.encryption.size()) {
    return Status::error("AEAD and non-AEAD encryption mixed in " + quote(text) +
                         " (write two proposals)");
  }
  if (aead != 0 && !t.integrity.empty()) {
    return Status::error("integrity algorithm " + quote(integrity_name(t.integrity.front())) +
                         " with AEAD encryption in " + quote(text) +
                         " (an AEAD cipher has its own integrity check)");
  }
  return t;
}

}  // namespace

bool EncryptionAlgorithm::aead() const {
  return id == EncrId::kAesGcm8 || id == EncrId::kAesGcm12 || id == EncrId::kAesGcm16 ||
         id == EncrId::kAesCcm8 || id == EncrId::kAesCcm12 || id == EncrId::kAesCcm16 ||
         id == EncrId::kChacha20Poly1305;
}

Expected<IkeProposalSpec> parse_ike_proposal(std::string_view text) {
  auto t = tokenize(text);
  if (!t) return t.status();
  for (const auto& e : t->encryption) {
    if (e.id == EncrId::kNull) {
      return Status::error("null encryption is not allowed for IKE in " + quote(text));
    }
  }
  if (!t->esn.empty()) return Status::error("ESN token in IKE proposal " + quote(text));
  bool aead = t->encryption.front().aead();
  if (!aead && t->integrity.empty()) {
    return Status::error("no integrity algorithm in " + quote(text));
  }
  IkeProposalSpec s;
  s.encryption = t->encryption;
  s.integrity = t->integrity;
  s.prf = !t->prf.empty() ? t->prf : t->prf_from_integrity;
  if (s.prf.empty()) {
    return Status::error("no PRF in AEAD proposal " + quote(text) + " (add e.g. prfsha256)");
  }
  s.dh = t->dh;
  if (s.dh.empty()) return Status::error("no DH group in IKE proposal " + quote(text));
  return s;
}

Expected<EspProposalSpec> parse_esp_proposal(std::string_view text) {
  auto t = tokenize(text);
  if (!t) return t.status();
  if (!t->prf.empty()) {
    return Status::error("PRF " + quote(prf_name(t->prf.front())) + " in ESP proposal " +
                         quote(text));
  }
  bool aead = t->encryption.front().aead();
  if (!aead && t->integrity.empty()) {
    return Status::error("no integrity algorithm in " + quote(text));
  }
  EspProposalSpec s;
  s.encryption = t->encryption;
  s.integrity = t->integrity;
  s.dh = t->dh;
  if (!t->esn.empty()) s.esn = t->esn;
  return s;
}

Expected<std::vector<IkeProposalSpec>> parse_ike_proposals(const std::vector<std::string>& texts) {
  std::vector<IkeProposalSpec> out;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto s = parse_ike_proposal(texts[i]);
    if (!s) return Status::error("[" + std::to_string(i) + "]: " + s.error());
    out.push_back(std::move(*s));
  }
  return out;
}

Expected<std::vector<EspProposalSpec>> parse_esp_proposals(const std::vector<std::string>& texts) {
  std::vector<EspProposalSpec> out;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto s = parse_esp_proposal(texts[i]);
    if (!s) return Status::error("[" + std::to_string(i) + "]: " + s.error());
    out.push_back(std::move(*s));
  }
  return out;
}

std::string encryption_name(EncrId id, uint16_t key_bits) {
  // "aes" alone when the peer sent no Key Length attribute.
  std::string bits = key_bits != 0 ? std::to_string(key_bits) : "";
  switch (id) {
    case EncrId::kAesCbc:
      return "aes" + bits;
    case EncrId::kAesCtr:
      return "aes" + bits + "ctr";
    case EncrId::kAesGcm8:
      return "aes" + bits + "gcm8";
    case EncrId::kAesGcm12:
      return "aes" + bits + "gcm12";
    case EncrId::kAesGcm16:
      return "aes" + bits + "gcm16";
    case EncrId::kAesCcm8:
      return "aes" + bits + "ccm8";
    case EncrId::kAesCcm12:
      return "aes" + bits + "ccm12";
    case EncrId::kAesCcm16:
      return "aes" + bits + "ccm16";
    case EncrId::kChacha20Poly1305:
      return "chacha20poly1305";
    case EncrId::kNull:
      return "null";
    case EncrId::k3des:
      return "3des";
    case EncrId::kDes:
      return "des";
    case EncrId::kNullAuthAesGmac:
      return "aes" + bits + "gmac";
    default:
      return "encr" + std::to_string(static_cast<unsigned>(id));
  }
}

std::string integrity_name(IntegId id) {
  for (const auto& e : kIntegTokens) {
    if (e.id == id) return std::string(e.name);
  }
  switch (id) {
    case IntegId::kNone:
      return "none";
    case IntegId::kHmacMd5_96:
      return "md5";
    case IntegId::kAesXcbc96:
      return "aesxcbc";
    case IntegId::kAesCmac96:
      return "aescmac";
    default:
      return "integ" + std::to_string(static_cast<unsigned>(id));
  }
}

std::string prf_name(PrfId id) {
  for (const auto& e : kPrfTokens) {
    if (e.id == id) return std::string(e.name);
  }
  switch (id) {
    case PrfId::kHmacMd5:
      return "prfmd5";
    case PrfId::kAes128Xcbc:
      return "prfaesxcbc";
    case PrfId::kAes128Cmac:
      return "prfaescmac";
    default:
      return "prf" + std::to_string(static_cast<unsigned>(id));
  }
}

std::string dh_name(DhGroup group) {
  for (const auto& e : kDhTokens) {
    if (e.id == group) return std::string(e.name);
  }
  for (const auto& e : kMoreDhNames) {
    if (e.id == group) return std::string(e.name);
  }
  return "dh" + std::to_string(static_cast<unsigned>(group));
}

namespace {

void append(std::string& out, const std::string& token) {
  if (!out.empty()) out += '-';
  out += token;
}

}  // namespace

std::vector<PrfId> default_prfs(const std::vector<IntegId>& integrity) {
  std::vector<PrfId> out;
  for (auto i : integrity) {
    for (const auto& e : kIntegTokens) {
      if (e.id == i) add_unique(out, e.prf);
    }
  }
  return out;
}

std::string to_string(const IkeProposalSpec& spec) {
  std::string out;
  for (const auto& e : spec.encryption) append(out, encryption_name(e.id, e.key_bits));
  for (auto i : spec.integrity) append(out, integrity_name(i));
  // The PRFs are written only where they are not what parsing would derive.
  if (spec.integrity.empty() || spec.prf != default_prfs(spec.integrity)) {
    for (auto p : spec.prf) append(out, prf_name(p));
  }
  for (auto g : spec.dh) append(out, dh_name(g));
  return out;
}

std::string to_string(const EspProposalSpec& spec) {
  std::string out;
  for (const auto& e : spec.encryption) append(out, encryption_name(e.id, e.key_bits));
  for (auto i : spec.integrity) append(out, integrity_name(i));
  for (auto g : spec.dh) append(out, dh_name(g));
  if (spec.esn != std::vector<EsnId>{EsnId::kNoEsn}) {
    for (auto e : spec.esn) append(out, e == EsnId::kEsn ? "esn" : "noesn");
  }
  return out;
}

}  // namespace tcpsec::proposals
