// The codec against scapy-built vectors (vectors/ike_vectors.h): each parses
// to the expected typed message, named fields checked by hand too, and
// serializes back to the very same bytes.
#include <gtest/gtest.h>

#include <span>

#include "controlplane/message/exchange_rules.h"
#include "controlplane/message/message_codec.h"
#include "tests/controlplane/message/expected_messages.h"
#include "tests/controlplane/message/vectors/ike_vectors.h"

namespace tcpsec::ike {
namespace {

namespace v = vectors;
using expected::fill;

Message parse_ok(std::span<const uint8_t> bytes) {
  Expected<Message> m = parse(bytes);
  EXPECT_TRUE(m.has_value()) << m.error();
  return m ? *m : Message{};
}

std::vector<Payload> parse_chain_ok(uint8_t first, std::span<const uint8_t> bytes) {
  Expected<std::vector<Payload>> c = parse_payload_chain(static_cast<PayloadType>(first), bytes);
  EXPECT_TRUE(c.has_value()) << c.error();
  return c ? *c : std::vector<Payload>{};
}

Bytes to_bytes(std::span<const uint8_t> s) {
  return Bytes(s.begin(), s.end());
}

void expect_serializes_to(const Message& m, std::span<const uint8_t> wire) {
  Expected<Bytes> out = serialize(m);
  ASSERT_TRUE(out.has_value()) << out.error();
  EXPECT_EQ(*out, to_bytes(wire));
}

void expect_chain_serializes_to(const std::vector<Payload>& c, std::span<const uint8_t> wire) {
  Expected<Bytes> out = serialize_payload_chain(c);
  ASSERT_TRUE(out.has_value()) << out.error();
  EXPECT_EQ(*out, to_bytes(wire));
}

TEST(IkeVectors, IkeSaInitRequest) {
  Message m = parse_ok(v::kIkeSaInitRequest);
  EXPECT_EQ(m, expected::ike_sa_init_request());
  // A few fields by hand, so a mistake shared by parser and expectation shows.
  EXPECT_EQ(m.header.initiator_spi, 0x8a3c5e7f01234567u);
  EXPECT_EQ(m.header.responder_spi, 0u);
  EXPECT_EQ(m.header.exchange, ExchangeType::kIkeSaInit);
  EXPECT_TRUE(m.header.initiator);
  EXPECT_FALSE(m.header.response);
  ASSERT_EQ(m.payloads.size(), 8u);
  const Sa* sa = m.payloads[0].get<Sa>();
  ASSERT_NE(sa, nullptr);
  ASSERT_EQ(sa->proposals.size(), 3u);
  EXPECT_EQ(sa->proposals[0].transforms.size(), 5u);
  EXPECT_EQ(sa->proposals[0].transforms[0].key_length(), 256);
  EXPECT_EQ(sa->proposals[0].transforms[1].key_length(), 128);
  EXPECT_EQ(sa->proposals[0].transforms[2].key_length(), std::nullopt);
  EXPECT_EQ(sa->proposals[1].transforms[0].id, 20);  // ENCR_AES_GCM_16
  EXPECT_EQ(sa->proposals[2].transforms[0].id, 28);  // ENCR_CHACHA20_POLY1305
  EXPECT_EQ(m.payloads[1].get<Ke>()->group, 19);
  EXPECT_EQ(m.payloads[1].get<Ke>()->data.size(), 64u);
  EXPECT_EQ(m.payloads[2].get<Nonce>()->data, fill(32, 0x20));
  EXPECT_NE(m.find_notify(NotifyType::kNatDetectionSourceIp), nullptr);
  EXPECT_NE(m.find_notify(NotifyType::kNatDetectionDestinationIp), nullptr);
  EXPECT_NE(m.find_notify(NotifyType::kIkev2FragmentationSupported), nullptr);
  EXPECT_EQ(m.payloads[7].type, PayloadType::kVendorId);
  EXPECT_TRUE(check_message_contents(m.header.exchange, false, m.payloads));
  expect_serializes_to(m, v::kIkeSaInitRequest);
}

TEST(IkeVectors, IkeSaInitResponse) {
  Message m = parse_ok(v::kIkeSaInitResponse);
  EXPECT_EQ(m, expected::ike_sa_init_response());
  EXPECT_EQ(m.header.responder_spi, 0xc0ffee0011223344u);
  EXPECT_TRUE(m.header.response);
  EXPECT_FALSE(m.header.initiator);
  EXPECT_EQ(m.payloads[0].get<Sa>()->proposals[0].number, 2);
  EXPECT_EQ(m.payloads[2].get<Nonce>()->data.size(), 48u);
  const CertReq* cr = m.find(PayloadType::kCertReq)->get<CertReq>();
  EXPECT_EQ(cr->encoding, CertEncoding::kX509Signature);
  EXPECT_EQ(cr->authorities.size(), 20u);
  EXPECT_TRUE(check_message_contents(m.header.exchange, true, m.payloads));
  expect_serializes_to(m, v::kIkeSaInitResponse);
}

TEST(IkeVectors, IkeAuthRequestInnerChain) {
  std::vector<Payload> c =
      parse_chain_ok(v::kIkeAuthRequestInnerFirstType, v::kIkeAuthRequestInner);
  EXPECT_EQ(c, expected::ike_auth_request_inner());
  ASSERT_EQ(c.size(), 9u);
  EXPECT_EQ(c[0].type, PayloadType::kIdi);
  EXPECT_EQ(c[0].get<Id>()->type, IdType::kFqdn);
  EXPECT_EQ(c[2].type, PayloadType::kIdr);
  EXPECT_EQ(c[3].get<Auth>()->method, AuthMethod::kSharedKeyMic);
  EXPECT_EQ(c[4].get<Cp>()->attributes.size(), 3u);
  EXPECT_EQ(c[5].get<Notify>()->type, NotifyType::kUseTransportMode);
  const Proposal& esp = c[6].get<Sa>()->proposals[0];
  EXPECT_EQ(esp.protocol, ProtocolId::kEsp);
  EXPECT_EQ(esp.spi, (Bytes{0xc1, 0xa2, 0xb3, 0xd4}));
  const Ts* tsi = c[7].get<Ts>();
  ASSERT_EQ(tsi->selectors.size(), 2u);
  EXPECT_EQ(tsi->selectors[1].type, TsType::kIpv6AddrRange);
  EXPECT_EQ(tsi->selectors[1].start_port, 500);
  EXPECT_EQ(tsi->selectors[1].start_address.size(), 16u);
  EXPECT_EQ(c[8].type, PayloadType::kTsr);
  EXPECT_TRUE(check_message_contents(ExchangeType::kIkeAuth, false, c));
  expect_chain_serializes_to(c, v::kIkeAuthRequestInner);
  EXPECT_EQ(first_payload_type(c), PayloadType::kIdi);
}

TEST(IkeVectors, IkeAuthResponseInnerChain) {
  std::vector<Payload> c =
      parse_chain_ok(v::kIkeAuthResponseInnerFirstType, v::kIkeAuthResponseInner);
  EXPECT_EQ(c, expected::ike_auth_response_inner());
  EXPECT_EQ(c[0].get<Id>()->type, IdType::kIpv4Addr);
  EXPECT_EQ(c[2].get<Cp>()->type, CfgType::kReply);
  EXPECT_TRUE(check_message_contents(ExchangeType::kIkeAuth, true, c));
  expect_chain_serializes_to(c, v::kIkeAuthResponseInner);
}

TEST(IkeVectors, InformationalDelete) {
  std::vector<Payload> c =
      parse_chain_ok(v::kInformationalDeleteInnerFirstType, v::kInformationalDeleteInner);
  EXPECT_EQ(c, expected::informational_delete_inner());
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].get<Delete>()->spis, (std::vector<uint32_t>{0xc1a2b3d4, 0x0badf00d}));
  EXPECT_EQ(c[1].get<Delete>()->protocol, ProtocolId::kIke);
  EXPECT_TRUE(check_message_contents(ExchangeType::kInformational, false, c));
  expect_chain_serializes_to(c, v::kInformationalDeleteInner);
}

TEST(IkeVectors, AuthenticationFailedIsAValidIkeAuthResponse) {
  std::vector<Payload> c = parse_chain_ok(v::kAuthFailedInnerFirstType, v::kAuthFailedInner);
  EXPECT_EQ(c, expected::auth_failed_inner());
  EXPECT_TRUE(check_message_contents(ExchangeType::kIkeAuth, true, c));
  expect_chain_serializes_to(c, v::kAuthFailedInner);
}

TEST(IkeVectors, SkMessage) {
  Message m = parse_ok(v::kIkeAuthSkMessage);
  EXPECT_EQ(m, expected::ike_auth_sk_message());
  const Encrypted* sk = m.payloads.at(0).get<Encrypted>();
  EXPECT_EQ(sk->first_inner_type, PayloadType::kIdi);
  EXPECT_EQ(sk->data.size(), 128u);
  expect_serializes_to(m, v::kIkeAuthSkMessage);

  Expected<EncryptedDataLocation> at = locate_encrypted_data(v::kIkeAuthSkMessage);
  ASSERT_TRUE(at.has_value()) << at.error();
  EXPECT_EQ(at->offset, 28u + 4u);
  EXPECT_EQ(at->length, 128u);
}

TEST(IkeVectors, SkfFragments) {
  Message first = parse_ok(v::kIkeAuthSkfFragment1);
  EXPECT_EQ(first, expected::ike_auth_skf_fragment(1));
  EXPECT_EQ(first.payloads.at(0).get<EncryptedFragment>()->first_inner_type, PayloadType::kIdi);
  expect_serializes_to(first, v::kIkeAuthSkfFragment1);
  Message last = parse_ok(v::kIkeAuthSkfFragment3);
  EXPECT_EQ(last, expected::ike_auth_skf_fragment(3));
  EXPECT_EQ(last.payloads.at(0).get<EncryptedFragment>()->fragment_number, 3);
  expect_serializes_to(last, v::kIkeAuthSkfFragment3);
  Expected<EncryptedDataLocation> at = locate_encrypted_data(v::kIkeAuthSkfFragment1);
  ASSERT_TRUE(at.has_value()) << at.error();
  EXPECT_EQ(at->offset, 28u + 4u + 4u);  // after the fragment number and total
}

// serialize_for_encryption reserves the SK data and reports where it lies;
// the result parses back with the reserved length.
TEST(IkeEncryptionLayout, ReservesSkDataAndReportsOffsets) {
  Message m = expected::ike_auth_sk_message();
  Expected<MessageForEncryption> out = serialize_for_encryption(m, 200);
  ASSERT_TRUE(out.has_value()) << out.error();
  EXPECT_EQ(out->bytes.size(), 28u + 4u + 200u);
  EXPECT_EQ(out->encrypted_data.offset, 32u);
  EXPECT_EQ(out->encrypted_data.length, 200u);
  // Header length and SK payload length count the reserved data.
  EXPECT_EQ(out->bytes[27], static_cast<uint8_t>(232));
  EXPECT_EQ(out->bytes[30] << 8 | out->bytes[31], 204);
  EXPECT_EQ(out->bytes[28], 35);  // SK's Next Payload: IDi
  Expected<Message> back = parse(out->bytes);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(back->payloads[0].get<Encrypted>()->data, Bytes(200, 0));

  Expected<MessageForEncryption> bad = serialize_for_encryption(expected::ike_sa_init_request(), 8);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("not SK or SKF"), std::string::npos) << bad.error();
}

// Round trips of everything the vectors do not cover: unknown payloads,
// unknown transforms and attributes, critical bits, minor version.
TEST(IkeRoundTrip, UnknownThingsAreKept) {
  Message m = expected::ike_sa_init_request();
  m.header.minor_version = 1;
  m.header.higher_version = true;
  Transform odd = Transform::make(static_cast<TransformType>(240), 777, 64);
  odd.attributes.push_back({200, false, 0, {1, 2, 3}});
  odd.attributes.push_back({201, true, 9, {}});
  m.payloads[0].get<Sa>()->proposals[2].transforms.push_back(odd);
  m.payloads.insert(m.payloads.begin() + 3,
                    Payload(static_cast<PayloadType>(200), UnknownPayload{{9, 9, 9}}));
  m.payloads[4].critical = true;  // a known type with C set: kept, not refused
  m.payloads.push_back(
      Payload(PayloadType::kNotify,
              Notify{ProtocolId::kEsp, {1, 2, 3, 4}, static_cast<NotifyType>(40001), {7}}));
  Expected<Bytes> wire = serialize(m);
  ASSERT_TRUE(wire.has_value()) << wire.error();
  Expected<Message> back = parse(*wire);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, m);
  Expected<Bytes> again = serialize(*back);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *wire);
}

TEST(IkeRoundTrip, OpaquePortsAndUnknownSelectorTypes) {
  Ts ts{{expected::ts_v4(6, 65535, 0, {1, 2, 3, 4}, {1, 2, 3, 4}),
         TrafficSelector{static_cast<TsType>(10), 0, 0, 65535, {}, {}, {0xaa, 0xbb}}}};
  std::vector<Payload> c = {{PayloadType::kTsi, ts}};
  Expected<Bytes> wire = serialize_payload_chain(c);
  ASSERT_TRUE(wire.has_value()) << wire.error();
  Expected<std::vector<Payload>> back = parse_payload_chain(PayloadType::kTsi, *wire);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, c);
}

TEST(IkeNames, ToStringGivesIanaNames) {
  EXPECT_EQ(to_string(ExchangeType::kIkeSaInit), "IKE_SA_INIT");
  EXPECT_EQ(to_string(PayloadType::kEncryptedFragment), "SKF");
  EXPECT_EQ(to_string(NotifyType::kNatDetectionSourceIp), "NAT_DETECTION_SOURCE_IP");
  EXPECT_EQ(to_string(static_cast<NotifyType>(40001)), "notify type 40001");
  EXPECT_EQ(transform_id_to_string(TransformType::kEncr, 20), "ENCR_AES_GCM_16");
  EXPECT_EQ(transform_id_to_string(TransformType::kDh, 31), "CURVE25519");
  EXPECT_EQ(to_string(CpAttributeType::kInternalIp6Address), "INTERNAL_IP6_ADDRESS");
  EXPECT_EQ(to_string(AuthMethod::kDigitalSignature), "DIGITAL_SIGNATURE");
}

}  // namespace
}  // namespace tcpsec::ike
