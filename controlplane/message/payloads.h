// Typed IKEv2 payloads and messages (RFC 7296 section 3, RFC 7383).
//
// Plain values: parse() fills them from the wire, serialize() writes them
// back. Everything the wire derives from the structure (lengths, Next Payload
// chaining, counts, Last Substruc, SPI Size) is not stored; reserved fields
// are ignored on receipt and sent as zero. Things a peer may send that we do
// not know (transform types and IDs, attribute types, notify types, payload
// types without the critical bit) are kept, so a message round-trips.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "controlplane/message/ike_constants.h"

namespace tcpsec::ike {

using Bytes = std::vector<uint8_t>;

inline constexpr size_t kHeaderLen = 28;
inline constexpr size_t kGenericHeaderLen = 4;
inline constexpr size_t kMinNonceLen = 16;   // RFC 7296 3.9
inline constexpr size_t kMaxNonceLen = 256;  // RFC 7296 3.9

// Limits on hostile input (the fields allow more; no sane peer sends it).
inline constexpr size_t kMaxPayloads = 64;  // per chain (outer or inner)
inline constexpr size_t kMaxProposals = 64;
inline constexpr size_t kMaxTransformsPerProposal = 64;
inline constexpr size_t kMaxAttributesPerTransform = 16;
inline constexpr size_t kMaxTrafficSelectors = 64;
inline constexpr size_t kMaxCpAttributes = 64;
inline constexpr size_t kMaxDeleteSpis = 1024;

struct Header {
  uint64_t initiator_spi = 0;
  uint64_t responder_spi = 0;
  ExchangeType exchange = ExchangeType::kIkeSaInit;
  uint8_t minor_version = 0;    // major is always 2 (parse refuses others)
  bool initiator = false;       // I flag: sent by the original initiator
  bool higher_version = false;  // V flag
  bool response = false;        // R flag
  uint32_t message_id = 0;
  bool operator==(const Header&) const = default;
};

// --- SA (RFC 7296 3.3) ---

// One transform attribute. TV format (AF bit set) carries a 16-bit value;
// TLV format carries bytes.
struct TransformAttribute {
  uint16_t type = 0;  // without the AF bit
  bool tv = true;
  uint16_t value = 0;  // TV
  Bytes data;          // TLV
  bool operator==(const TransformAttribute&) const = default;
};

struct Transform {
  TransformType type = TransformType::kEncr;
  uint16_t id = 0;  // EncrId, PrfId, IntegId, DhGroup or EsnId per `type`
  std::vector<TransformAttribute> attributes;  // wire order

  // The Key Length attribute (bits), if present.
  std::optional<uint16_t> key_length() const;
  static Transform make(TransformType type, uint16_t id,
                        std::optional<uint16_t> key_length = std::nullopt);
  bool operator==(const Transform&) const = default;
};

struct Proposal {
  uint8_t number = 1;
  ProtocolId protocol = ProtocolId::kIke;
  Bytes spi;  // 0 or 8 bytes for IKE, 4 for AH and ESP
  std::vector<Transform> transforms;
  bool operator==(const Proposal&) const = default;
};

struct Sa {
  std::vector<Proposal> proposals;
  bool operator==(const Sa&) const = default;
};

// --- The other payloads ---

struct Ke {
  uint16_t group = 0;  // DhGroup
  Bytes data;
  bool operator==(const Ke&) const = default;
};

// IDi and IDr (Payload::type tells which).
struct Id {
  IdType type = IdType::kFqdn;
  Bytes data;
  bool operator==(const Id&) const = default;
};

struct Cert {
  CertEncoding encoding = CertEncoding::kX509Signature;
  Bytes data;
  bool operator==(const Cert&) const = default;
};

struct CertReq {
  CertEncoding encoding = CertEncoding::kX509Signature;
  Bytes authorities;  // X.509: concatenated SHA-1 hashes of CA public keys
  bool operator==(const CertReq&) const = default;
};

struct Auth {
  AuthMethod method = AuthMethod::kSharedKeyMic;
  Bytes data;
  bool operator==(const Auth&) const = default;
};

struct Nonce {
  Bytes data;  // 16..256 bytes
  bool operator==(const Nonce&) const = default;
};

struct Notify {
  ProtocolId protocol = ProtocolId::kNone;
  Bytes spi;  // empty, or the SPI of the SA the notify is about
  NotifyType type = NotifyType::kInitialContact;
  Bytes data;
  bool operator==(const Notify&) const = default;
};

// For IKE the SPI list is empty (the message's SPIs name the SA); for AH and
// ESP each SPI is 4 bytes.
struct Delete {
  ProtocolId protocol = ProtocolId::kEsp;
  std::vector<uint32_t> spis;
  bool operator==(const Delete&) const = default;
};

struct VendorId {
  Bytes data;
  bool operator==(const VendorId&) const = default;
};

// One traffic selector. Addresses are 4 (TS_IPV4_ADDR_RANGE) or 16
// (TS_IPV6_ADDR_RANGE) bytes, network order. An unknown TS type keeps its
// bytes after the 4-byte type/length header in `unknown_body`.
struct TrafficSelector {
  TsType type = TsType::kIpv4AddrRange;
  uint8_t ip_protocol = 0;  // 0: any
  uint16_t start_port = 0;
  uint16_t end_port = 65535;
  Bytes start_address;
  Bytes end_address;
  Bytes unknown_body;
  bool operator==(const TrafficSelector&) const = default;
};

// TSi and TSr (Payload::type tells which).
struct Ts {
  std::vector<TrafficSelector> selectors;
  bool operator==(const Ts&) const = default;
};

// SK: what follows the generic header (IV | ciphertext | ICV), opaque here.
// The SK payload's Next Payload field is the type of the first inner payload.
struct Encrypted {
  PayloadType first_inner_type = PayloadType::kNone;
  Bytes data;
  bool operator==(const Encrypted&) const = default;
};

// SKF (RFC 7383). first_inner_type is non-zero only in fragment 1.
struct EncryptedFragment {
  uint16_t fragment_number = 1;
  uint16_t total_fragments = 1;
  PayloadType first_inner_type = PayloadType::kNone;
  Bytes data;  // IV | ciphertext | ICV
  bool operator==(const EncryptedFragment&) const = default;
};

struct CpAttribute {
  uint16_t type = 0;  // CpAttributeType, without the reserved top bit
  Bytes value;        // empty in a request for "any"
  bool operator==(const CpAttribute&) const = default;
};

struct Cp {
  CfgType type = CfgType::kRequest;
  std::vector<CpAttribute> attributes;
  bool operator==(const Cp&) const = default;
};

// The whole EAP message (code, identifier, length, type data); its length
// field is checked against the payload.
struct Eap {
  Bytes message;
  bool operator==(const Eap&) const = default;
};

// A payload type we do not implement, sent without the critical bit: kept
// as bytes (RFC 7296 says to skip it) so the message still round-trips.
struct UnknownPayload {
  Bytes body;
  bool operator==(const UnknownPayload&) const = default;
};

using PayloadBody = std::variant<Sa, Ke, Id, Cert, CertReq, Auth, Nonce, Notify, Delete, VendorId,
                                 Ts, Encrypted, EncryptedFragment, Cp, Eap, UnknownPayload>;

// A payload: its type on the wire and its body. The body alternative must be
// the one for the type (Id for IDi and IDr, Ts for TSi and TSr,
// UnknownPayload for types without a codec); serialize() refuses a mismatch.
struct Payload {
  PayloadType type = PayloadType::kNone;
  bool critical = false;
  PayloadBody body;

  Payload() = default;
  Payload(PayloadType t, PayloadBody b, bool crit = false)
      : type(t), critical(crit), body(std::move(b)) {}

  template <typename T>
  const T* get() const {
    return std::get_if<T>(&body);
  }
  template <typename T>
  T* get() {
    return std::get_if<T>(&body);
  }
  bool operator==(const Payload&) const = default;
};

struct Message {
  Header header;
  std::vector<Payload> payloads;  // wire order; an SK or SKF payload is last

  // The first payload of `type`, or nullptr.
  const Payload* find(PayloadType type) const;
  // Notify payloads of `type` (first one), or nullptr.
  const Notify* find_notify(NotifyType type) const;
  bool operator==(const Message&) const = default;
};

// Helpers shared by Message and inner chains.
const Payload* find_payload(const std::vector<Payload>& payloads, PayloadType type);
const Notify* find_notify(const std::vector<Payload>& payloads, NotifyType type);

}  // namespace tcpsec::ike
