#include "controlplane/message/exchange_rules.h"

#include <array>
#include <string>

#include "controlplane/message/payload_registry.h"

namespace tcpsec::ike {
namespace {

using P = PayloadType;
using E = ExchangeType;
constexpr uint8_t kAny = kUnlimited;
constexpr uint8_t kChildSa = 1;

// RFC 7296 1.2: HDR, SAi1, KEi, Ni [, N(COOKIE)] [, N+] [, V+]. CERTREQ is
// tolerated in the request too (some initiators send it early).
constexpr PayloadRule kIkeSaInitRequest[] = {
    {P::kSa, 1, 1},         {P::kKe, 1, 1},        {P::kNonce, 1, 1},
    {P::kCertReq, 0, kAny}, {P::kNotify, 0, kAny}, {P::kVendorId, 0, kAny},
};
// HDR, SAr1, KEr, Nr, [CERTREQ+], [N+], [V+]; or HDR, N(COOKIE) etc.
constexpr PayloadRule kIkeSaInitResponse[] = {
    {P::kSa, 1, 1},         {P::kKe, 1, 1},        {P::kNonce, 1, 1},
    {P::kCertReq, 0, kAny}, {P::kNotify, 0, kAny}, {P::kVendorId, 0, kAny},
};
constexpr NotifyType kIkeSaInitStandalone[] = {NotifyType::kCookie, NotifyType::kRedirect};

// SK{IDi, [CERT+], [N(INITIAL_CONTACT)], [CERTREQ+], [IDr], AUTH, [CP(CFG_REQUEST)],
//    [N(IPCOMP_SUPPORTED)], [N(USE_TRANSPORT_MODE)], ..., SAi2, TSi, TSr, [V+]}
// SAi2/TSi/TSr are absent for a childless IKE SA (RFC 6023).
constexpr PayloadRule kIkeAuthRequest[] = {
    {P::kIdi, 1, 1},          {P::kCert, 0, kAny},       {P::kCertReq, 0, kAny},
    {P::kIdr, 0, 1},          {P::kAuth, 1, 1},          {P::kCp, 0, 1},
    {P::kSa, 0, 1, kChildSa}, {P::kTsi, 0, 1, kChildSa}, {P::kTsr, 0, 1, kChildSa},
    {P::kNotify, 0, kAny},    {P::kVendorId, 0, kAny},
};
// SK{IDr, [CERT+], AUTH, [EAP], [CP(CFG_REPLY)], [N+], SAr2, TSi, TSr, [V+]};
// the child SA payloads are absent when only the child SA failed
// (N(TS_UNACCEPTABLE) etc.) or the IKE SA is childless.
constexpr PayloadRule kIkeAuthResponse[] = {
    {P::kIdr, 1, 1},
    {P::kCert, 0, kAny},
    {P::kAuth, 1, 1},
    {P::kEap, 0, 1},
    {P::kCp, 0, 1},
    {P::kSa, 0, 1, kChildSa},
    {P::kTsi, 0, 1, kChildSa},
    {P::kTsr, 0, 1, kChildSa},
    {P::kNotify, 0, kAny},
    {P::kVendorId, 0, kAny},
};

// SK{[N(REKEY_SA)], [N+], SA, Ni, [KEi], [TSi, TSr]}: without TSi/TSr it
// rekeys the IKE SA (RFC 7296 1.3).
constexpr PayloadRule kCreateChildSa[] = {
    {P::kSa, 1, 1},
    {P::kNonce, 1, 1},
    {P::kKe, 0, 1},
    {P::kTsi, 0, 1, kChildSa},
    {P::kTsr, 0, 1, kChildSa},
    {P::kNotify, 0, kAny},
    {P::kVendorId, 0, kAny},
};

// SK{[N+], [D+], [CP], [V+]}: may be empty (liveness check).
constexpr PayloadRule kInformational[] = {
    {P::kNotify, 0, kAny},
    {P::kDelete, 0, kAny},
    {P::kCp, 0, 1},
    {P::kVendorId, 0, kAny},
};

// RFC 9242 (with RFC 9370's additional key exchanges): SK{[KE], [N+], [V+]}.
constexpr PayloadRule kIkeIntermediate[] = {
    {P::kKe, 0, 1},
    {P::kNotify, 0, kAny},
    {P::kVendorId, 0, kAny},
};

constexpr ExchangeRule kRules[] = {
    {E::kIkeSaInit, false, false, kIkeSaInitRequest, {}},
    {E::kIkeSaInit, true, false, kIkeSaInitResponse, kIkeSaInitStandalone},
    {E::kIkeAuth, false, true, kIkeAuthRequest, {}},
    {E::kIkeAuth, true, true, kIkeAuthResponse, {}},
    {E::kCreateChildSa, false, true, kCreateChildSa, {}},
    {E::kCreateChildSa, true, true, kCreateChildSa, {}},
    {E::kInformational, false, true, kInformational, {}},
    {E::kInformational, true, true, kInformational, {}},
    {E::kIkeIntermediate, false, true, kIkeIntermediate, {}},
    {E::kIkeIntermediate, true, true, kIkeIntermediate, {}},
};

void add(std::string& problems, const std::string& problem) {
  if (!problems.empty()) problems += "; ";
  problems += problem;
}

}  // namespace

std::span<const ExchangeRule> exchange_rules() {
  return kRules;
}

const ExchangeRule* find_exchange_rule(ExchangeType exchange, bool is_response) {
  for (const ExchangeRule& r : kRules) {
    if (r.exchange == exchange && r.response == is_response) return &r;
  }
  return nullptr;
}

Status check_message_contents(ExchangeType exchange, bool is_response,
                              const std::vector<Payload>& payloads) {
  const std::string what = to_string(exchange) + (is_response ? " response" : " request");
  const ExchangeRule* rule = find_exchange_rule(exchange, is_response);
  if (rule == nullptr) return Status::error(what + ": no payload rules for this exchange");

  std::array<unsigned, 256> count{};
  bool standalone = false;  // an error (or standalone status) response
  std::string problems;
  for (const Payload& p : payloads) {
    if (std::holds_alternative<UnknownPayload>(p.body)) continue;
    ++count[static_cast<uint8_t>(p.type)];
    if (const Notify* n = p.get<Notify>(); n != nullptr && is_response) {
      for (NotifyType s : rule->standalone_notifies) standalone |= n->type == s;
      standalone |= is_error_notify(n->type);
    }
  }
  // Unexpected types, in first-seen order.
  std::array<bool, 256> reported{};
  for (const Payload& p : payloads) {
    const auto t = static_cast<uint8_t>(p.type);
    if (std::holds_alternative<UnknownPayload>(p.body) || reported[t]) continue;
    bool listed = false;
    for (const PayloadRule& r : rule->payloads) listed |= r.type == p.type;
    if (!listed) {
      reported[t] = true;
      std::string hint;
      if (rule->encrypted && find_payload_codec(p.type) != nullptr &&
          find_payload_codec(p.type)->ends_chain) {
        hint = " (check the decrypted content)";
      }
      add(problems, "unexpected " + payload_name(p.type) + hint);
    }
  }
  for (const PayloadRule& r : rule->payloads) {
    const unsigned n = count[static_cast<uint8_t>(r.type)];
    if (r.max != kUnlimited && n > r.max) {
      add(problems, std::to_string(n) + " " + payload_name(r.type) + " payloads (at most " +
                        std::to_string(r.max) + ")");
    }
    if (!standalone && r.group == 0 && n < r.min) {
      add(problems, "missing " + payload_name(r.type));
    }
  }
  // Groups: all members present, or none.
  for (const PayloadRule& r : rule->payloads) {
    if (r.group == 0 || standalone) continue;
    std::string have, missing;
    bool first_of_group = true;
    for (const PayloadRule& m : rule->payloads) {
      if (m.group != r.group) continue;
      if (&m < &r) first_of_group = false;
      std::string& list = count[static_cast<uint8_t>(m.type)] > 0 ? have : missing;
      list += (list.empty() ? "" : ", ") + payload_name(m.type);
    }
    if (first_of_group && !have.empty() && !missing.empty()) {
      add(problems, have + " without " + missing + " (they come together)");
    }
  }
  if (problems.empty()) return Status::ok();
  return Status::error(what + ": " + problems);
}

}  // namespace tcpsec::ike
