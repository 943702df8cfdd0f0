// Hostile and malformed input: one test per error class, each checking that
// the error names the payload and field. And a sweep: every truncation and
// every single-byte corruption of the vectors is refused or parsed, never a
// crash (ASan in the fuzz build checks the reads).
#include <gtest/gtest.h>

#include <algorithm>
#include <span>
#include <string>

#include "controlplane/message/message_codec.h"
#include "tests/controlplane/message/expected_messages.h"
#include "tests/controlplane/message/vectors/ike_vectors.h"

namespace tcpsec::ike {
namespace {

using expected::fill;

// A message with the given payload bytes after a valid header.
Bytes message_with(uint8_t first_type, const Bytes& payloads) {
  Bytes m = {0x8a, 0x3c, 0x5e, 0x7f, 1,          2,    3,  4,    0, 0, 0, 0,
             0,    0,    0,    0,    first_type, 0x20, 34, 0x08, 0, 0, 0, 0};
  const uint32_t len = static_cast<uint32_t>(kHeaderLen + payloads.size());
  m.push_back(len >> 24);
  m.push_back(len >> 16);
  m.push_back(len >> 8);
  m.push_back(len);
  m.insert(m.end(), payloads.begin(), payloads.end());
  return m;
}

// A generic payload header followed by `body`.
Bytes payload(uint8_t next, const Bytes& body, uint8_t flags = 0) {
  const size_t len = 4 + body.size();
  Bytes p = {next, flags, static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
  p.insert(p.end(), body.begin(), body.end());
  return p;
}

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Parses `bytes`, expects failure, returns the message.
std::string parse_error(const Bytes& bytes, ParseError* detail = nullptr) {
  Expected<Message> m = parse(bytes, detail);
  EXPECT_FALSE(m.has_value());
  return m ? std::string() : m.error();
}

std::string chain_error(PayloadType first, const Bytes& bytes) {
  Expected<std::vector<Payload>> c = parse_payload_chain(first, bytes);
  EXPECT_FALSE(c.has_value());
  return c ? std::string() : c.error();
}

std::string serialize_error(const Message& m) {
  Expected<Bytes> b = serialize(m);
  EXPECT_FALSE(b.has_value());
  return b ? std::string() : b.error();
}

#define EXPECT_MENTIONS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "error was: " << (text)

Bytes serialized(const Message& m) {
  Expected<Bytes> b = serialize(m);
  EXPECT_TRUE(b.has_value()) << b.error();
  return b ? *b : Bytes{};
}

// Finds `needle` in `hay` (a marker placed by the test); its offset.
size_t find(const Bytes& hay, const Bytes& needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end());
  EXPECT_NE(it, hay.end());
  return static_cast<size_t>(it - hay.begin());
}

const Bytes kNonce = payload(0, fill(32, 1));

TEST(IkeParseErrors, TruncatedHeader) {
  Bytes m(vectors::kIkeSaInitRequest, vectors::kIkeSaInitRequest + 20);
  std::string e = parse_error(m);
  EXPECT_MENTIONS(e, "IKE header: message of 20 bytes is shorter than the 28-byte header");
  EXPECT_FALSE(parse_header(m).has_value());
}

TEST(IkeParseErrors, LengthFieldDisagreesWithDatagram) {
  Bytes m = message_with(40, kNonce);
  m[27] += 1;
  EXPECT_MENTIONS(parse_error(m), "IKE header: length field 65 but the message has 64 bytes");
  Bytes cut(vectors::kIkeSaInitRequest, vectors::kIkeSaInitRequest + 300);
  EXPECT_MENTIONS(parse_error(cut), "length field 370");
}

TEST(IkeParseErrors, MajorVersionIsReportedAsSuch) {
  Bytes m = message_with(40, kNonce);
  m[17] = 0x30;
  ParseError detail;
  EXPECT_MENTIONS(parse_error(m, &detail), "IKE header: major version 3");
  EXPECT_EQ(detail.kind, ParseErrorKind::kInvalidMajorVersion);
  EXPECT_EQ(error_notify(detail).type, NotifyType::kInvalidMajorVersion);
  m[17] = 0x21;  // minor versions are accepted and kept
  Expected<Message> ok = parse(m);
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_EQ(ok->header.minor_version, 1);
}

TEST(IkeParseErrors, PayloadLengthBelowGenericHeader) {
  Bytes m = message_with(40, Bytes{0, 0, 0, 2, 0, 0, 0, 0});
  ParseError detail;
  EXPECT_MENTIONS(parse_error(m, &detail),
                  "payload 1 (Nonce) at offset 28: payload length 2 is less than the 4-byte "
                  "generic header");
  EXPECT_EQ(detail.kind, ParseErrorKind::kInvalidSyntax);
  EXPECT_EQ(error_notify(detail).type, NotifyType::kInvalidSyntax);
}

TEST(IkeParseErrors, PayloadPastTheEnd) {
  Bytes p = kNonce;
  p[3] += 10;
  EXPECT_MENTIONS(parse_error(message_with(40, p)),
                  "payload 1 (Nonce) at offset 28: payload length 46 exceeds the message "
                  "(36 bytes left)");
  // A chain that promises another payload but has no bytes for it.
  Bytes q = kNonce;
  q[0] = 43;  // next: V
  EXPECT_MENTIONS(parse_error(message_with(40, q)),
                  "payload 2 (V) at offset 64: generic header needs 4 bytes, 0 bytes left");
}

TEST(IkeParseErrors, ChainMustEndAtTheEnd) {
  EXPECT_MENTIONS(parse_error(message_with(40, kNonce + Bytes{1, 2, 3})),
                  "payload chain ends (Next Payload NONE after payload 1) with 3 bytes left");
  EXPECT_MENTIONS(chain_error(PayloadType::kNonce, kNonce + Bytes{0}),
                  "with 1 byte left in the encrypted content");
}

TEST(IkeParseErrors, UnknownCriticalPayloadCarriesItsType) {
  Bytes m = message_with(40, payload(200, fill(32, 1)) + payload(0, {1, 2, 3}, 0x80));
  ParseError detail;
  EXPECT_MENTIONS(parse_error(m, &detail),
                  "payload 2 (payload type 200) at offset 64: unsupported critical payload type "
                  "200");
  EXPECT_EQ(detail.kind, ParseErrorKind::kUnsupportedCriticalPayload);
  EXPECT_EQ(detail.payload_type, 200);
  Notify n = error_notify(detail);
  EXPECT_EQ(n.type, NotifyType::kUnsupportedCriticalPayload);
  EXPECT_EQ(n.data, Bytes{200});
  // Without the critical bit it is skipped (kept as bytes).
  Expected<Message> ok = parse(message_with(40, payload(200, fill(32, 1)) + payload(0, {1, 2, 3})));
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_EQ(ok->payloads[1].type, static_cast<PayloadType>(200));
  EXPECT_EQ(ok->payloads[1].get<UnknownPayload>()->body, (Bytes{1, 2, 3}));
}

TEST(IkeParseErrors, EncryptedPayloadMustBeLast) {
  // SK (next: IDi, the first inner type) followed by more bytes.
  Bytes m = message_with(46, payload(35, fill(40, 3)) + payload(0, fill(16, 1)));
  EXPECT_MENTIONS(parse_error(m), "payload 1 (SK) at offset 28: the encrypted payload is not last");
  Bytes f = message_with(40, payload(53, fill(32, 1)) + payload(0, Bytes{0, 1, 0, 1, 9, 9}));
  Expected<Message> skf_ok = parse(f);
  ASSERT_TRUE(skf_ok.has_value()) << skf_ok.error();
  EXPECT_MENTIONS(chain_error(PayloadType::kEncrypted, payload(0, fill(8, 1))),
                  "payload 1 (SK) at offset 0: an encrypted payload inside the encrypted content");
}

TEST(IkeParseErrors, NonceLength) {
  EXPECT_MENTIONS(parse_error(message_with(40, payload(0, fill(15, 1)))),
                  "Nonce payload: nonce length 15 outside 16..256");
  EXPECT_MENTIONS(parse_error(message_with(40, payload(0, fill(257, 1)))),
                  "Nonce payload: nonce length 257 outside 16..256");
  Message m = expected::ike_sa_init_request();
  m.payloads[2].get<Nonce>()->data.resize(8);
  EXPECT_MENTIONS(serialize_error(m), "Nonce payload: nonce length 8 outside 16..256");
}

// An SA payload body with one proposal: header fields given.
Bytes proposal_bytes(uint8_t last, uint8_t number, uint8_t protocol, const Bytes& spi,
                     uint8_t transforms, const Bytes& transform_bytes) {
  const size_t len = 8 + spi.size() + transform_bytes.size();
  Bytes p = {last,   0,        static_cast<uint8_t>(len >> 8),   static_cast<uint8_t>(len),
             number, protocol, static_cast<uint8_t>(spi.size()), transforms};
  return p + spi + transform_bytes;
}
const Bytes kGcmTransform = {0, 0, 0, 12, 1, 0, 0, 20, 0x80, 14, 1, 0};

TEST(IkeParseErrors, ProposalSpiSize) {
  Bytes sa = proposal_bytes(0, 1, 3, fill(8, 1), 1, kGcmTransform);
  EXPECT_MENTIONS(parse_error(message_with(33, payload(0, sa))),
                  "SA payload: proposal 1: SPI size 8 is invalid for ESP (IKE: 0 or 8, AH/ESP: 4)");
  Bytes ike = proposal_bytes(0, 1, 1, fill(4, 1), 1, kGcmTransform);
  EXPECT_MENTIONS(parse_error(message_with(33, payload(0, ike))),
                  "SA payload: proposal 1: SPI size 4 is invalid for IKE");
  Bytes overrun = proposal_bytes(0, 1, 3, fill(4, 1), 1, kGcmTransform);
  overrun[6] = 200;
  EXPECT_MENTIONS(parse_error(message_with(33, payload(0, overrun))),
                  "SA payload: proposal 1: SPI size 200 exceeds proposal (16 left)");
}

TEST(IkeParseErrors, TransformAttributeOverrun) {
  Message m = expected::ike_sa_init_request();
  Transform& t = m.payloads[0].get<Sa>()->proposals[1].transforms[2];
  t.attributes.push_back({0x1234, false, 0, {0xab, 0xcd}});
  Bytes wire = serialized(m);
  const size_t at = find(wire, {0x12, 0x34, 0x00, 0x02, 0xab, 0xcd});
  wire[at + 3] = 9;
  EXPECT_MENTIONS(parse_error(wire),
                  "SA payload: proposal 2 transform 3: attribute length 9 exceeds transform "
                  "(2 left)");
}

TEST(IkeParseErrors, ProposalAndTransformStructure) {
  // Transform count disagrees with the transforms present.
  Bytes count = proposal_bytes(0, 1, 1, {}, 2, kGcmTransform);
  EXPECT_MENTIONS(parse_error(message_with(33, payload(0, count))),
                  "SA payload: proposal 1: number of transforms is 2 but the proposal holds 1");
  // Last-substruc says more proposals follow, but none does.
  Bytes more = proposal_bytes(2, 1, 1, {}, 1, kGcmTransform);
  EXPECT_MENTIONS(parse_error(message_with(33, payload(0, more))),
                  "SA payload: proposal 1: marked more (2) but it ends the payload");
  Bytes bad_last = proposal_bytes(7, 1, 1, {}, 1, kGcmTransform);
  EXPECT_MENTIONS(parse_error(message_with(33, payload(0, bad_last))),
                  "SA payload: proposal 1: last-substruc 7 (must be 0 or 2)");
  // Transform length past the proposal.
  Bytes long_transform = kGcmTransform;
  long_transform[3] = 40;
  Bytes p = proposal_bytes(0, 1, 1, {}, 1, long_transform);
  EXPECT_MENTIONS(parse_error(message_with(33, payload(0, p))),
                  "SA payload: proposal 1 transform 1: transform length 40 exceeds proposal "
                  "(12 left)");
  // Key length in TLV format.
  Bytes tlv_key = {0, 0, 0, 14, 1, 0, 0, 20, 0x00, 14, 0, 2, 1, 0};
  EXPECT_MENTIONS(
      parse_error(message_with(33, payload(0, proposal_bytes(0, 1, 1, {}, 1, tlv_key)))),
      "SA payload: proposal 1 transform 1: key length attribute in TLV format");
  // An SA payload with nothing in it.
  EXPECT_MENTIONS(parse_error(message_with(33, payload(0, {}))),
                  "SA payload: body of 0 bytes is shorter than its 8-byte fixed fields");
}

TEST(IkeParseErrors, TooManyProposalsAndTransforms) {
  Message m = expected::ike_sa_init_request();
  Sa& sa = *m.payloads[0].get<Sa>();
  sa.proposals.resize(kMaxProposals + 1, sa.proposals[0]);
  EXPECT_MENTIONS(serialize_error(m), "SA payload: more than 64 proposals");
  // On the wire: 65 proposals.
  Bytes body;
  for (int i = 0; i < 65; ++i)
    body = body + proposal_bytes(i == 64 ? 0 : 2, 1, 1, {}, 1, kGcmTransform);
  EXPECT_MENTIONS(parse_error(message_with(33, payload(0, body))),
                  "SA payload: more than 64 proposals");
  Bytes transforms;
  for (int i = 0; i < 65; ++i) {
    Bytes t = kGcmTransform;
    t[0] = i == 64 ? 0 : 3;
    transforms = transforms + t;
  }
  EXPECT_MENTIONS(
      parse_error(message_with(33, payload(0, proposal_bytes(0, 1, 1, {}, 65, transforms)))),
      "SA payload: proposal 1: more than 64 transforms");
}

// A TS payload body with one IPv4 selector.
Bytes ts_v4(uint16_t sp, uint16_t ep, const Bytes& start, const Bytes& end) {
  return Bytes{1,
               0,
               0,
               0,
               7,
               0,
               0,
               16,
               static_cast<uint8_t>(sp >> 8),
               static_cast<uint8_t>(sp),
               static_cast<uint8_t>(ep >> 8),
               static_cast<uint8_t>(ep)} +
         start + end;
}

TEST(IkeParseErrors, TrafficSelectorRanges) {
  EXPECT_MENTIONS(
      chain_error(PayloadType::kTsi, payload(0, ts_v4(0, 65535, {10, 0, 0, 9}, {10, 0, 0, 1}))),
      "TSi payload: selector 1: start address is above end address");
  EXPECT_MENTIONS(
      chain_error(PayloadType::kTsr, payload(0, ts_v4(80, 79, {10, 0, 0, 1}, {10, 0, 0, 1}))),
      "TSr payload: selector 1: start port 80 is above end port 79");
  Bytes wrong_len = ts_v4(0, 65535, {10, 0, 0, 1}, {10, 0, 0, 1});
  wrong_len[4] = 8;  // claims IPv6 with an IPv4 length
  EXPECT_MENTIONS(
      chain_error(PayloadType::kTsi, payload(0, wrong_len)),
      "TSi payload: selector 1: selector length 16 for TS_IPV6_ADDR_RANGE (must be 40)");
  Bytes count = ts_v4(0, 65535, {10, 0, 0, 1}, {10, 0, 0, 1});
  count[0] = 2;
  EXPECT_MENTIONS(chain_error(PayloadType::kTsi, payload(0, count)),
                  "TSi payload: selector 2 of 2: header needs 4 bytes, 0 bytes left");
  Bytes none = {0, 0, 0, 0};
  EXPECT_MENTIONS(chain_error(PayloadType::kTsi, payload(0, none)),
                  "TSi payload: number of selectors is 0");
}

TEST(IkeParseErrors, TooManyPayloads) {
  Bytes chain;
  for (int i = 0; i < 65; ++i) chain = chain + payload(i == 64 ? 0 : 43, {1});
  EXPECT_MENTIONS(parse_error(message_with(43, chain)), "more than 64 payloads in the message");
  EXPECT_MENTIONS(chain_error(PayloadType::kVendorId, chain),
                  "more than 64 payloads in the encrypted content");
  Message m;
  m.payloads.assign(65, Payload(PayloadType::kVendorId, VendorId{{1}}));
  EXPECT_MENTIONS(serialize_error(m), "more than 64 payloads");
}

TEST(IkeParseErrors, OtherPayloadFields) {
  // Delete: ESP with a wrong SPI size, count disagreeing, IKE with SPIs.
  EXPECT_MENTIONS(
      chain_error(PayloadType::kDelete, payload(0, {3, 8, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8})),
      "D payload: SPI size 8 for ESP (must be 4)");
  EXPECT_MENTIONS(chain_error(PayloadType::kDelete, payload(0, {3, 4, 0, 2, 1, 2, 3, 4})),
                  "D payload: number of SPIs 2 needs 8 bytes, payload has 4 bytes");
  EXPECT_MENTIONS(chain_error(PayloadType::kDelete, payload(0, {1, 0, 0, 1})),
                  "D payload: IKE SA delete with SPI size 0, 1 SPIs");
  // Notify SPI size past the payload.
  EXPECT_MENTIONS(chain_error(PayloadType::kNotify, payload(0, {3, 9, 0x40, 0x07, 1, 2})),
                  "N payload: USE_TRANSPORT_MODE: SPI size 9 exceeds payload (2 left)");
  // SKF fragment numbering.
  EXPECT_MENTIONS(parse_error(message_with(53, payload(0, {0, 4, 0, 3, 1, 2}))),
                  "SKF payload: fragment number 4 of total 3");
  // EAP length field.
  EXPECT_MENTIONS(chain_error(PayloadType::kEap, payload(0, {2, 1, 0, 9, 1})),
                  "EAP payload: EAP length field 9 but the payload holds 5 bytes");
  // CP attribute past the payload.
  EXPECT_MENTIONS(chain_error(PayloadType::kCp, payload(0, {1, 0, 0, 0, 0, 1, 0, 4, 10})),
                  "CP payload: attribute 1 (INTERNAL_IP4_ADDRESS): length 4 exceeds payload "
                  "(1 left)");
  // ID_IPV4_ADDR of the wrong size; KE without data; fixed fields missing.
  EXPECT_MENTIONS(chain_error(PayloadType::kIdi, payload(0, {1, 0, 0, 0, 10, 0, 0})),
                  "IDi payload: ID_IPV4_ADDR of 3 bytes (must be 4)");
  EXPECT_MENTIONS(chain_error(PayloadType::kKe, payload(0, {0, 19, 0, 0})),
                  "KE payload: key exchange data is empty");
  EXPECT_MENTIONS(chain_error(PayloadType::kAuth, payload(0, {2, 0})),
                  "AUTH payload: body of 2 bytes is shorter than its 4-byte fixed fields");
}

TEST(IkeSerializeErrors, RefusesWhatWouldNotParseBack) {
  Message m = expected::ike_sa_init_request();
  m.payloads[1].type = PayloadType::kNonce;  // a KE body under the Nonce type
  EXPECT_MENTIONS(serialize_error(m), "Nonce payload: body does not match the payload type");

  Message sk = expected::ike_auth_sk_message();
  sk.payloads.push_back(Payload(PayloadType::kVendorId, VendorId{{1}}));
  EXPECT_MENTIONS(serialize_error(sk), "SK payload is not the last payload");

  std::vector<Payload> inner = {{PayloadType::kEncrypted, Encrypted{}}};
  Expected<Bytes> c = serialize_payload_chain(inner);
  ASSERT_FALSE(c.has_value());
  EXPECT_MENTIONS(c.error(), "SK payload inside the encrypted content");

  Message unknown;
  unknown.payloads = {Payload(static_cast<PayloadType>(201), UnknownPayload{{}}, true)};
  EXPECT_MENTIONS(serialize_error(unknown),
                  "payload type 201 payload: unknown type marked critical");

  Message esp = expected::ike_sa_init_request();
  esp.payloads[0].get<Sa>()->proposals[0].protocol = ProtocolId::kEsp;
  EXPECT_MENTIONS(serialize_error(esp), "SA payload: proposal 1: SPI size 0 is invalid for ESP");

  Message ts;
  Ts bad{{expected::ts_v4(0, 0, 65535, {1, 2, 3}, {1, 2, 3, 4})}};
  ts.payloads = {{PayloadType::kTsi, bad}};
  EXPECT_MENTIONS(serialize_error(ts),
                  "TSi payload: selector 1: TS_IPV4_ADDR_RANGE needs 4-byte addresses");
}

// Every prefix and every single-byte change of every vector: an error with a
// message, or a message that serializes and parses back to itself.
void sweep(std::span<const uint8_t> vector, int first_type) {
  auto check = [&](const Bytes& bytes) {
    if (first_type < 0) {
      Expected<Message> m = parse(bytes);
      if (!m) {
        EXPECT_FALSE(m.error().empty());
        return;
      }
      Expected<Bytes> again = serialize(*m);
      ASSERT_TRUE(again.has_value()) << again.error();
      Expected<Message> back = parse(*again);
      ASSERT_TRUE(back.has_value()) << back.error();
      EXPECT_EQ(*back, *m);
    } else {
      Expected<std::vector<Payload>> c =
          parse_payload_chain(static_cast<PayloadType>(first_type), bytes);
      if (!c) {
        EXPECT_FALSE(c.error().empty());
        return;
      }
      Expected<Bytes> again = serialize_payload_chain(*c);
      ASSERT_TRUE(again.has_value()) << again.error();
      Expected<std::vector<Payload>> back =
          parse_payload_chain(static_cast<PayloadType>(first_type), *again);
      ASSERT_TRUE(back.has_value()) << back.error();
      EXPECT_EQ(*back, *c);
    }
  };
  const Bytes whole(vector.begin(), vector.end());
  for (size_t n = 0; n < whole.size(); ++n) check(Bytes(whole.begin(), whole.begin() + n));
  for (size_t i = 0; i < whole.size(); ++i) {
    for (uint8_t x : {0x01, 0x80, 0xff}) {
      Bytes b = whole;
      b[i] ^= x;
      check(b);
    }
  }
}

TEST(IkeHostileInput, TruncationsAndByteFlipsOfEveryVector) {
  namespace v = vectors;
  sweep(v::kIkeSaInitRequest, -1);
  sweep(v::kIkeSaInitResponse, -1);
  sweep(v::kIkeAuthSkMessage, -1);
  sweep(v::kIkeAuthSkfFragment1, -1);
  sweep(v::kIkeAuthRequestInner, v::kIkeAuthRequestInnerFirstType);
  sweep(v::kIkeAuthResponseInner, v::kIkeAuthResponseInnerFirstType);
  sweep(v::kInformationalDeleteInner, v::kInformationalDeleteInnerFirstType);
}

}  // namespace
}  // namespace tcpsec::ike
