// Which payloads each exchange carries (RFC 7296 1.2-1.5, 2.6, 3.3.6, RFC
// 9242), as a table: one row per (exchange, request/response) listing the
// payload types that may appear and how often. Anything not listed is
// unexpected. check_message_contents() applies a row to a parsed message:
// the message's own payloads for IKE_SA_INIT, the decrypted inner payloads
// for the encrypted exchanges.
//
// Not covered: EAP rounds after the first IKE_AUTH (HDR, SK{EAP} and the
// final SK{AUTH}), IKE_SESSION_RESUME and IKE_FOLLOWUP_KE have no rows; the
// order of payloads (e.g. COOKIE first) is not checked.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"
#include "controlplane/message/payloads.h"

namespace tcpsec::ike {

inline constexpr uint8_t kUnlimited = 255;

struct PayloadRule {
  PayloadType type;
  uint8_t min;  // 1: required
  uint8_t max;  // kUnlimited: any number
  // Non-zero: payloads with the same group come together or not at all
  // (SA, TSi, TSr of a child SA in IKE_AUTH: absent for a childless SA).
  uint8_t group = 0;
};

struct ExchangeRule {
  ExchangeType exchange;
  bool response;
  bool encrypted;  // the rule applies to the decrypted SK content
  std::span<const PayloadRule> payloads;
  // Status notifies that make a complete response on their own, like an
  // error notify does (IKE_SA_INIT: COOKIE, REDIRECT).
  std::span<const NotifyType> standalone_notifies;
};

std::span<const ExchangeRule> exchange_rules();
const ExchangeRule* find_exchange_rule(ExchangeType exchange, bool is_response);

// Checks the payload types (and counts) against the exchange's row. A
// response that carries an error Notify (type < 16384), or one of the row's
// standalone notifies, needs none of the required payloads: "HDR, SK{N(
// AUTHENTICATION_FAILED)}" passes. Payloads of unknown types (non-critical,
// kept as UnknownPayload) are ignored as RFC 7296 says. Errors list every
// problem: "IKE_AUTH request: missing AUTH; unexpected KE".
Status check_message_contents(ExchangeType exchange, bool is_response,
                              const std::vector<Payload>& payloads);

}  // namespace tcpsec::ike
