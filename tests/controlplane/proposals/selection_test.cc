// Proposal building and selection (controlplane/proposals/selection.h,
// proposal_builder.h), including strongSwan's IKE_SA_INIT SA payloads.
#include "controlplane/proposals/selection.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "controlplane/message/message_codec.h"
#include "controlplane/proposals/proposal_builder.h"

namespace tcpsec::proposals {
namespace {

using ike::DhGroup;
using ike::EncrId;
using ike::IntegId;
using ike::Transform;
using ike::TransformType;

std::vector<IkeProposalSpec> ike_specs(const std::vector<std::string>& texts) {
  auto s = parse_ike_proposals(texts);
  EXPECT_TRUE(s) << s.error();
  return s ? *s : std::vector<IkeProposalSpec>{};
}

std::vector<EspProposalSpec> esp_specs(const std::vector<std::string>& texts) {
  auto s = parse_esp_proposals(texts);
  EXPECT_TRUE(s) << s.error();
  return s ? *s : std::vector<EspProposalSpec>{};
}

// What a peer would offer: our builder on its configuration.
ike::Sa ike_offer(const std::vector<std::string>& texts) {
  return build_ike_sa(ike_specs(texts));
}

ike::Sa esp_offer(const std::vector<std::string>& texts, bool with_dh = false) {
  return build_esp_sa(esp_specs(texts), {0xc1, 0xc2, 0xc3, 0xc4}, with_dh);
}

TEST(Build, IkeProposalTransformsAndKeyLength) {
  auto specs = ike_specs({"aes128-sha256-ecp256"});
  ike::Proposal p = build_ike_proposal(specs[0], 3);
  EXPECT_EQ(p.number, 3);
  EXPECT_EQ(p.protocol, ike::ProtocolId::kIke);
  EXPECT_TRUE(p.spi.empty());
  ASSERT_EQ(p.transforms.size(), 4u);
  EXPECT_EQ(p.transforms[0], Transform::make(TransformType::kEncr, 12, 128));
  EXPECT_EQ(p.transforms[1], Transform::make(TransformType::kInteg, 12));
  EXPECT_EQ(p.transforms[2], Transform::make(TransformType::kPrf, 5));
  EXPECT_EQ(p.transforms[3], Transform::make(TransformType::kDh, 19));
  EXPECT_EQ(to_string(p), "aes128-sha256-ecp256");
}

TEST(Build, EspProposalHasEsnAndOptionalDh) {
  auto specs = esp_specs({"chacha20poly1305-x25519"});
  ike::Proposal p = build_esp_proposal(specs[0], 1, {1, 2, 3, 4}, /*with_dh=*/true);
  EXPECT_EQ(p.protocol, ike::ProtocolId::kEsp);
  EXPECT_EQ(p.spi, (ike::Bytes{1, 2, 3, 4}));
  ASSERT_EQ(p.transforms.size(), 3u);
  EXPECT_EQ(p.transforms[0], Transform::make(TransformType::kEncr, 28));  // no Key Length
  EXPECT_EQ(p.transforms[1], Transform::make(TransformType::kDh, 31));
  EXPECT_EQ(p.transforms[2], Transform::make(TransformType::kEsn, 0));
  ike::Proposal no_dh = build_esp_proposal(specs[0], 1, {1, 2, 3, 4}, false);
  EXPECT_EQ(no_dh.transforms.size(), 2u);
  EXPECT_EQ(to_string(p), "chacha20poly1305-x25519");
}

TEST(Build, SaNumbersProposals) {
  ike::Sa sa = ike_offer({"aes128-sha256-ecp256", "aes256gcm16-prfsha384-ecp384"});
  ASSERT_EQ(sa.proposals.size(), 2u);
  EXPECT_EQ(sa.proposals[0].number, 1);
  EXPECT_EQ(sa.proposals[1].number, 2);
  EXPECT_EQ(to_string(sa), "[aes128-sha256-ecp256, aes256gcm16-prfsha384-ecp384]");
}

TEST(SelectIke, OurPreferenceWins) {
  auto ours = ike_specs({"aes256gcm16-prfsha384-ecp384", "aes128-sha256-ecp256"});
  ike::Sa offered = ike_offer({"aes128-sha256-ecp256", "aes256gcm16-prfsha384-ecp384"});
  auto c = select_ike(offered, ours);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->ours, 0u);
  EXPECT_EQ(c->proposal.number, 2);  // the peer's number
  EXPECT_EQ(to_string(c->algorithms), "aes256gcm16-prfsha384-ecp384");
  EXPECT_EQ(c->proposal, build_ike_proposal(ours[0], 2));
}

TEST(SelectIke, SingleTransformOfEachTypeInOurOrder) {
  auto ours = ike_specs({"aes128-sha256-ecp256-modp2048"});
  ike::Sa offered = ike_offer({"aes256-aes128-sha1-sha256-modp2048-ecp256"});
  auto c = select_ike(offered, ours);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->algorithms.encryption, (EncryptionAlgorithm{EncrId::kAesCbc, 128}));
  EXPECT_EQ(c->algorithms.integrity, IntegId::kHmacSha2_256_128);
  EXPECT_EQ(c->algorithms.prf, ike::PrfId::kHmacSha2_256);
  EXPECT_EQ(c->algorithms.dh, DhGroup::kEcp256);
  EXPECT_EQ(to_string(c->proposal), "aes128-sha256-ecp256");
  EXPECT_EQ(c->proposal.transforms.size(), 4u);
}

TEST(SelectIke, MismatchNamesBothSides) {
  auto ours = ike_specs({"aes128-sha256-ecp256", "aes256gcm16-prfsha384-ecp384"});
  ike::Sa offered;
  ike::Proposal p;
  p.transforms = {Transform::make(TransformType::kEncr, 12, 256),
                  Transform::make(TransformType::kInteg, 2),
                  Transform::make(TransformType::kPrf, 2), Transform::make(TransformType::kDh, 2)};
  offered.proposals.push_back(p);
  offered.proposals.push_back(build_ike_proposal(ike_specs({"aes128-sha256-modp2048"})[0], 2));
  auto c = select_ike(offered, ours);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().failure, SelectFailure::kNoProposalChosen);
  EXPECT_EQ(c.error().message,
            "no proposal chosen (algorithms match, DH groups do not): offered "
            "[aes256-sha1-modp1024, aes128-sha256-modp2048], configured "
            "[aes128-sha256-ecp256, aes256gcm16-prfsha384-ecp384]");
}

TEST(SelectIke, KeyLengthMismatch) {
  auto ours = ike_specs({"aes128-sha256-ecp256"});
  auto c = select_ike(ike_offer({"aes256-sha256-ecp256"}), ours);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message,
            "no proposal chosen: offered [aes256-sha256-ecp256], configured "
            "[aes128-sha256-ecp256]");
  // AES without a Key Length attribute is not AES-128.
  ike::Sa offered = ike_offer({"aes128-sha256-ecp256"});
  offered.proposals[0].transforms[0].attributes.clear();
  EXPECT_FALSE(select_ike(offered, ours));
}

TEST(SelectIke, KeGroupMismatchAsksForOurGroup) {
  auto ours = ike_specs({"aes128-sha256-ecp256"});
  ike::Sa offered = ike_offer({"aes128-sha256-modp2048-ecp256"});
  auto c = select_ike(offered, ours, DhGroup::kModp2048);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().failure, SelectFailure::kInvalidKePayload);
  EXPECT_EQ(c.error().group, DhGroup::kEcp256);
  EXPECT_EQ(c.error().message,
            "KE payload has group modp2048, the chosen proposal aes128-sha256-ecp256 needs ecp256");
  // With the right KE it is chosen.
  auto ok = select_ike(offered, ours, DhGroup::kEcp256);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->algorithms.dh, DhGroup::kEcp256);
}

TEST(SelectIke, KeGroupPreferredAmongAcceptable) {
  auto ours = ike_specs({"aes128-sha256-ecp256-modp2048"});
  auto c = select_ike(ike_offer({"aes128-sha256-ecp256-modp2048"}), ours, DhGroup::kModp2048);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->algorithms.dh, DhGroup::kModp2048);
}

TEST(SelectIke, SkipsUnknownTypesAttributesAndProtocols) {
  auto ours = ike_specs({"aes128-sha256-ecp256"});
  ike::Sa offered = ike_offer({"aes128-sha256-ecp256", "aes128-sha256-ecp256"});
  offered.proposals[0].transforms.push_back(Transform::make(static_cast<TransformType>(6), 0));
  offered.proposals[1].transforms[0].attributes.push_back({99, true, 1, {}});
  EXPECT_FALSE(select_ike(offered, ours));
  offered.proposals.push_back(esp_offer({"aes128-sha256"}).proposals[0]);
  EXPECT_FALSE(select_ike(offered, ours));
}

TEST(SelectIke, AeadEchoesIntegNone) {
  auto ours = ike_specs({"aes128gcm16-prfsha256-ecp256"});
  ike::Sa offered = ike_offer({"aes128gcm16-prfsha256-ecp256"});
  offered.proposals[0].transforms.push_back(Transform::make(TransformType::kInteg, 0));
  auto c = select_ike(offered, ours);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->proposal.transforms.size(), 4u);
  EXPECT_EQ(c->algorithms.integrity, IntegId::kNone);
  // A real integrity algorithm with AEAD does not match.
  offered.proposals[0].transforms.back().id = 12;
  EXPECT_FALSE(select_ike(offered, ours));
}

TEST(AcceptIkeReply, AcceptsChosenAndRejectsOthers) {
  ike::Sa ours = ike_offer({"aes128-sha256-ecp256", "aes256gcm16-prfsha384-ecp384"});
  auto responder = select_ike(ours, ike_specs({"aes256gcm16-prfsha384-ecp384"}));
  ASSERT_TRUE(responder);
  ike::Sa reply{{responder->proposal}};
  auto c = accept_ike_reply(ours, reply);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->ours, 1u);
  EXPECT_EQ(to_string(c->algorithms), "aes256gcm16-prfsha384-ecp384");

  ike::Sa two = ours;  // the whole offer back: more than one proposal
  EXPECT_EQ(accept_ike_reply(ours, two).error(),
            "invalid proposal in the reply: the responder sent 2 proposals, RFC 7296 3.3.6 "
            "allows exactly one");
  ike::Sa multi{{ours.proposals[0]}};
  multi.proposals[0].transforms.push_back(Transform::make(TransformType::kDh, 19));
  EXPECT_EQ(accept_ike_reply(ours, multi).error(),
            "invalid proposal in the reply: more than one DH transform in "
            "aes128-sha256-ecp256-ecp256");
  ike::Sa foreign{{build_ike_proposal(ike_specs({"aes128-sha256-modp2048"})[0], 1)}};
  EXPECT_EQ(accept_ike_reply(ours, foreign).error(),
            "invalid proposal in the reply: MODP_2048 in aes128-sha256-modp2048 was not offered "
            "in aes128-sha256-ecp256");
  ike::Sa renumbered{{responder->proposal}};
  renumbered.proposals[0].number = 7;
  EXPECT_EQ(accept_ike_reply(ours, renumbered).error(),
            "invalid proposal in the reply: proposal number 7 was not offered");
  ike::Sa missing{{responder->proposal}};
  missing.proposals[0].transforms.pop_back();
  EXPECT_FALSE(accept_ike_reply(ours, missing));
}

TEST(SelectEsp, IkeAuthIgnoresDh) {
  auto ours = esp_specs({"aes128gcm16-ecp256"});
  ike::Sa offered = esp_offer({"aes128gcm16-modp2048"}, /*with_dh=*/true);
  auto c = select_esp(offered, ours, {.ike_auth = true, .ke_group = std::nullopt});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->algorithms.dh, DhGroup::kNone);
  EXPECT_EQ(c->peer_spi, (ike::Bytes{0xc1, 0xc2, 0xc3, 0xc4}));
  EXPECT_TRUE(c->proposal.spi.empty());
  EXPECT_EQ(to_string(c->proposal), "aes128gcm16");
  // In CREATE_CHILD_SA the groups must meet.
  auto rekey = select_esp(offered, ours);
  ASSERT_FALSE(rekey);
  EXPECT_EQ(rekey.error().message,
            "no proposal chosen (algorithms match, DH groups do not): offered "
            "[aes128gcm16-modp2048], configured [aes128gcm16-ecp256]");
}

TEST(SelectEsp, PfsKeGroup) {
  auto ours = esp_specs({"aes256-sha256-ecp384"});
  ike::Sa offered = esp_offer({"aes256-sha256-ecp256-ecp384"}, true);
  auto c = select_esp(offered, ours, {.ike_auth = false, .ke_group = DhGroup::kEcp256});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().failure, SelectFailure::kInvalidKePayload);
  EXPECT_EQ(c.error().group, DhGroup::kEcp384);
  auto ok = select_esp(offered, ours, {.ike_auth = false, .ke_group = DhGroup::kEcp384});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(to_string(ok->algorithms), "aes256-sha256-ecp384");
}

TEST(SelectEsp, NoPfsAcceptsDhNone) {
  auto ours = esp_specs({"aes128-sha256"});
  ike::Sa offered = esp_offer({"aes128-sha256"});
  offered.proposals[0].transforms.push_back(Transform::make(TransformType::kDh, 0));
  auto c = select_esp(offered, ours);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->algorithms.dh, DhGroup::kNone);
  EXPECT_EQ(c->proposal.transforms.size(), 4u);  // ENCR INTEG DH(NONE) ESN
}

TEST(SelectEsp, EsnAndMismatches) {
  auto ours = esp_specs({"aes128gcm16-esn", "aes128-sha256"});
  auto c = select_esp(esp_offer({"aes128gcm16-esn-noesn"}), ours);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->algorithms.esn, ike::EsnId::kEsn);
  auto none = select_esp(esp_offer({"aes128gcm16", "aes256-sha1"}), ours);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message,
            "no proposal chosen: offered [aes128gcm16, aes256-sha1], configured "
            "[aes128gcm16-esn, aes128-sha256]");
  // ESP SPIs are 4 bytes.
  ike::Sa bad_spi = esp_offer({"aes128-sha256"});
  bad_spi.proposals[0].spi = {1, 2};
  EXPECT_FALSE(select_esp(bad_spi, ours));
}

TEST(AcceptEspReply, Checks) {
  ike::Sa ours = esp_offer({"aes128gcm16-ecp256", "aes128-sha256-ecp256"}, true);
  auto responder = select_esp(ours, esp_specs({"aes128-sha256-ecp256"}));
  ASSERT_TRUE(responder);
  ike::Sa reply{{responder->proposal}};
  reply.proposals[0].spi = {9, 9, 9, 9};
  auto c = accept_esp_reply(ours, reply);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->peer_spi, (ike::Bytes{9, 9, 9, 9}));
  EXPECT_EQ(to_string(c->algorithms), "aes128-sha256-ecp256");
  reply.proposals[0].transforms.erase(reply.proposals[0].transforms.begin() + 2);  // the DH
  EXPECT_EQ(accept_esp_reply(ours, reply).error(),
            "invalid proposal in the reply: aes128-sha256 has no DH group, PFS was required");
  reply.proposals[0].spi.clear();
  EXPECT_EQ(accept_esp_reply(ours, reply).error(),
            "invalid proposal in the reply: ESP SPI of 0 bytes");
}

// strongSwan 5.9.8's IKE_SA_INIT for aes128-sha256-ecp256, from a capture.
std::string vector_hex(int message) {
  std::ifstream in(TCPSEC_STRONGSWAN_VECTOR);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  size_t pos = 0;
  for (int i = 0; i <= message; ++i) {
    pos = text.find("\"ike_hex\": \"", pos);
    if (pos == std::string::npos) return "";
    pos += 12;
  }
  return text.substr(pos, text.find('"', pos) - pos);
}

ike::Bytes from_hex(const std::string& hex) {
  ike::Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

TEST(StrongSwan, SaInitProposalsMatchOurs) {
  ike::Bytes request = from_hex(vector_hex(0));
  ike::Bytes response = from_hex(vector_hex(1));
  ASSERT_GT(request.size(), 28u) << "cannot read " << TCPSEC_STRONGSWAN_VECTOR;
  auto req = ike::parse(request);
  auto resp = ike::parse(response);
  ASSERT_TRUE(req) << req.error();
  ASSERT_TRUE(resp) << resp.error();
  const ike::Sa* offered = req->find(ike::PayloadType::kSa)->get<ike::Sa>();
  const ike::Sa* answered = resp->find(ike::PayloadType::kSa)->get<ike::Sa>();
  ASSERT_TRUE(offered && answered);
  const ike::Ke* ke = req->find(ike::PayloadType::kKe)->get<ike::Ke>();

  auto ours = ike_specs({"aes128-sha256-ecp256"});
  // What we would build is what strongSwan sent, byte for byte.
  ike::Sa built = build_ike_sa(ours);
  EXPECT_EQ(built, *offered);
  auto ours_bytes = ike::serialize_payload_chain({ike::Payload(ike::PayloadType::kSa, built)});
  ASSERT_TRUE(ours_bytes);
  ike::Bytes theirs(request.begin() + 28 + 4, request.begin() + 28 + ours_bytes->size());
  EXPECT_EQ(ike::Bytes(ours_bytes->begin() + 4, ours_bytes->end()), theirs);

  // As responder we choose it, and answer as strongSwan's responder did.
  auto c = select_ike(*offered, ours, static_cast<DhGroup>(ke->group));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(to_string(c->proposal), "aes128-sha256-ecp256");
  EXPECT_EQ(ike::Sa{{c->proposal}}, *answered);
  // As initiator we accept strongSwan's answer.
  auto a = accept_ike_reply(*offered, *answered);
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->algorithms, c->algorithms);
}

}  // namespace
}  // namespace tcpsec::proposals
