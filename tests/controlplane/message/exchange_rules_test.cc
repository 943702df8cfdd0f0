// The exchange rules table: required, at-most-once and unexpected payloads,
// the child SA group, and error responses.
#include <gtest/gtest.h>

#include <string>

#include "controlplane/message/exchange_rules.h"
#include "tests/controlplane/message/expected_messages.h"

namespace tcpsec::ike {
namespace {

using E = ExchangeType;
using P = PayloadType;

#define EXPECT_MENTIONS(status, part)                                      \
  do {                                                                     \
    Status s_ = (status);                                                  \
    EXPECT_FALSE(s_.is_ok());                                              \
    EXPECT_NE(s_.message().find(part), std::string::npos) << s_.message(); \
  } while (0)

std::vector<Payload> without(std::vector<Payload> ps, PayloadType type) {
  std::erase_if(ps, [&](const Payload& p) { return p.type == type; });
  return ps;
}

TEST(ExchangeRules, VectorsPass) {
  EXPECT_TRUE(
      check_message_contents(E::kIkeSaInit, false, expected::ike_sa_init_request().payloads));
  EXPECT_TRUE(
      check_message_contents(E::kIkeSaInit, true, expected::ike_sa_init_response().payloads));
  EXPECT_TRUE(check_message_contents(E::kIkeAuth, false, expected::ike_auth_request_inner()));
  EXPECT_TRUE(check_message_contents(E::kIkeAuth, true, expected::ike_auth_response_inner()));
  EXPECT_TRUE(
      check_message_contents(E::kInformational, false, expected::informational_delete_inner()));
  EXPECT_TRUE(check_message_contents(E::kInformational, true, {}));  // liveness reply
}

TEST(ExchangeRules, MissingRequiredPayload) {
  std::vector<Payload> init = expected::ike_sa_init_request().payloads;
  EXPECT_MENTIONS(check_message_contents(E::kIkeSaInit, false, without(init, P::kKe)),
                  "IKE_SA_INIT request: missing KE");
  EXPECT_MENTIONS(check_message_contents(E::kIkeAuth, false,
                                         without(expected::ike_auth_request_inner(), P::kAuth)),
                  "IKE_AUTH request: missing AUTH");
  // Every problem is listed.
  EXPECT_MENTIONS(
      check_message_contents(E::kIkeSaInit, false, without(without(init, P::kKe), P::kNonce)),
      "IKE_SA_INIT request: missing KE; missing Nonce");
}

TEST(ExchangeRules, DuplicateOfAtMostOncePayload) {
  std::vector<Payload> init = expected::ike_sa_init_request().payloads;
  init.push_back(init[1]);  // a second KE
  EXPECT_MENTIONS(check_message_contents(E::kIkeSaInit, false, init),
                  "IKE_SA_INIT request: 2 KE payloads (at most 1)");
  // Notifies and vendor IDs may repeat.
  std::vector<Payload> ok = expected::ike_sa_init_request().payloads;
  ok.push_back(ok.back());
  EXPECT_TRUE(check_message_contents(E::kIkeSaInit, false, ok));
}

TEST(ExchangeRules, UnexpectedPayload) {
  std::vector<Payload> init = expected::ike_sa_init_request().payloads;
  init.push_back({P::kIdi, Id{IdType::kFqdn, expected::ascii("x")}});
  EXPECT_MENTIONS(check_message_contents(E::kIkeSaInit, false, init),
                  "IKE_SA_INIT request: unexpected IDi");
  // The outer payloads of an encrypted exchange are not its contents.
  EXPECT_MENTIONS(
      check_message_contents(E::kIkeAuth, false, expected::ike_auth_sk_message().payloads),
      "unexpected SK (check the decrypted content)");
  // Unknown (non-critical) payloads are ignored.
  std::vector<Payload> unknown = expected::ike_sa_init_request().payloads;
  unknown.push_back(Payload(static_cast<PayloadType>(150), UnknownPayload{{1}}));
  EXPECT_TRUE(check_message_contents(E::kIkeSaInit, false, unknown));
}

TEST(ExchangeRules, ChildSaPayloadsComeTogether) {
  std::vector<Payload> auth = expected::ike_auth_request_inner();
  EXPECT_MENTIONS(check_message_contents(E::kIkeAuth, false, without(auth, P::kTsr)),
                  "IKE_AUTH request: SA, TSi without TSr (they come together)");
  // Childless (RFC 6023): none of them.
  EXPECT_TRUE(check_message_contents(E::kIkeAuth, false,
                                     without(without(without(auth, P::kSa), P::kTsi), P::kTsr)));
  // CREATE_CHILD_SA: SA required, TSi/TSr together (absent: IKE SA rekey).
  std::vector<Payload> rekey_ike = {expected::ike_sa_init_request().payloads[0],
                                    expected::ike_sa_init_request().payloads[1],
                                    expected::ike_sa_init_request().payloads[2]};
  EXPECT_TRUE(check_message_contents(E::kCreateChildSa, false, rekey_ike));
  rekey_ike.push_back(auth[7]);  // TSi alone
  EXPECT_MENTIONS(check_message_contents(E::kCreateChildSa, false, rekey_ike),
                  "CREATE_CHILD_SA request: TSi without TSr");
}

TEST(ExchangeRules, ErrorResponsesPass) {
  EXPECT_TRUE(check_message_contents(E::kIkeAuth, true, expected::auth_failed_inner()));
  EXPECT_TRUE(check_message_contents(E::kIkeSaInit, true,
                                     {expected::notify(NotifyType::kInvalidKePayload, {0, 19})}));
  EXPECT_TRUE(check_message_contents(
      E::kIkeSaInit, true, {expected::notify(NotifyType::kCookie, expected::fill(16, 1))}));
  EXPECT_TRUE(check_message_contents(E::kCreateChildSa, true,
                                     {expected::notify(NotifyType::kNoProposalChosen)}));
  // IKE SA up, child SA refused: IDr and AUTH but no SA/TSi/TSr.
  std::vector<Payload> partial = {expected::ike_auth_response_inner()[0],
                                  expected::ike_auth_response_inner()[1],
                                  expected::notify(NotifyType::kTsUnacceptable)};
  EXPECT_TRUE(check_message_contents(E::kIkeAuth, true, partial));
  // A status notify alone is not a response; nor is an error notify in a request.
  EXPECT_MENTIONS(
      check_message_contents(E::kIkeAuth, true, {expected::notify(NotifyType::kInitialContact)}),
      "IKE_AUTH response: missing IDr; missing AUTH");
  EXPECT_MENTIONS(check_message_contents(E::kIkeSaInit, false,
                                         {expected::notify(NotifyType::kInvalidKePayload)}),
                  "IKE_SA_INIT request: missing SA");
  // Even an error response may not carry payloads the exchange never has.
  std::vector<Payload> odd = expected::auth_failed_inner();
  odd.push_back({P::kDelete, Delete{ProtocolId::kIke, {}}});
  EXPECT_MENTIONS(check_message_contents(E::kIkeAuth, true, odd), "unexpected D");
}

TEST(ExchangeRules, UnknownExchange) {
  EXPECT_MENTIONS(check_message_contents(static_cast<ExchangeType>(99), false, {}),
                  "exchange type 99 request: no payload rules for this exchange");
}

TEST(ExchangeRules, TableIsConsistent) {
  for (const ExchangeRule& r : exchange_rules()) {
    EXPECT_EQ(find_exchange_rule(r.exchange, r.response), &r) << "duplicate row";
    for (const PayloadRule& p : r.payloads) {
      EXPECT_LE(p.min, p.max);
      EXPECT_TRUE(p.group == 0 || p.min == 0) << "a grouped payload cannot be required";
    }
  }
}

}  // namespace
}  // namespace tcpsec::ike
