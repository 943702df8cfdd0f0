// IKEv2 protocol numbers (RFC 7296 section 3, RFC 7383, and the IANA "Internet
// Key Exchange Version 2 (IKEv2) Parameters" registries).
//
// The enums are open: a value read from the wire that is not listed here is
// still a valid enum value (the codec keeps unknown transforms, notifies and
// attributes rather than failing), so a switch over them needs a default.
#pragma once

#include <cstdint>
#include <string>

namespace tcpsec::ike {

enum class ExchangeType : uint8_t {
  kIkeSaInit = 34,
  kIkeAuth = 35,
  kCreateChildSa = 36,
  kInformational = 37,
  kIkeSessionResume = 38,  // RFC 5723
  kIkeIntermediate = 43,   // RFC 9242
  kIkeFollowupKe = 44,     // RFC 9370
};

// Next Payload values. kNone ends a chain.
enum class PayloadType : uint8_t {
  kNone = 0,
  kSa = 33,
  kKe = 34,
  kIdi = 35,
  kIdr = 36,
  kCert = 37,
  kCertReq = 38,
  kAuth = 39,
  kNonce = 40,
  kNotify = 41,
  kDelete = 42,
  kVendorId = 43,
  kTsi = 44,
  kTsr = 45,
  kEncrypted = 46,  // SK
  kCp = 47,
  kEap = 48,
  kEncryptedFragment = 53,  // SKF, RFC 7383
};

// Notify Message Types: 1..16383 are errors, 16384.. status.
enum class NotifyType : uint16_t {
  kUnsupportedCriticalPayload = 1,
  kInvalidIkeSpi = 4,
  kInvalidMajorVersion = 5,
  kInvalidSyntax = 7,
  kInvalidMessageId = 9,
  kInvalidSpi = 11,
  kNoProposalChosen = 14,
  kInvalidKePayload = 17,
  kAuthenticationFailed = 24,
  kSinglePairRequired = 34,
  kNoAdditionalSas = 35,
  kInternalAddressFailure = 36,
  kFailedCpRequired = 37,
  kTsUnacceptable = 38,
  kInvalidSelectors = 39,
  kTemporaryFailure = 43,
  kChildSaNotFound = 44,
  kInitialContact = 16384,
  kSetWindowSize = 16385,
  kAdditionalTsPossible = 16386,
  kIpcompSupported = 16387,
  kNatDetectionSourceIp = 16388,
  kNatDetectionDestinationIp = 16389,
  kCookie = 16390,
  kUseTransportMode = 16391,
  kHttpCertLookupSupported = 16392,
  kRekeySa = 16393,
  kEspTfcPaddingNotSupported = 16394,
  kNonFirstFragmentsAlso = 16395,
  kMobikeSupported = 16396,
  kRedirectSupported = 16406,
  kRedirect = 16407,
  kChildlessIkev2Supported = 16418,
  kEapOnlyAuthentication = 16417,
  kIkev2FragmentationSupported = 16430,
  kSignatureHashAlgorithms = 16431,
  kIntermediateExchangeSupported = 16438,
};

inline constexpr bool is_error_notify(NotifyType t) {
  return static_cast<uint16_t>(t) >= 1 && static_cast<uint16_t>(t) < 16384;
}

enum class ProtocolId : uint8_t {
  kNone = 0,  // Notify payloads about no SA
  kIke = 1,
  kAh = 2,
  kEsp = 3,
};

enum class TransformType : uint8_t {
  kEncr = 1,
  kPrf = 2,
  kInteg = 3,
  kDh = 4,  // "Key Exchange Method" since RFC 9370
  kEsn = 5,
};

// Transform IDs, one enum per transform type (the numbers overlap).
enum class EncrId : uint16_t {
  kDes = 2,
  k3des = 3,
  kNull = 11,
  kAesCbc = 12,
  kAesCtr = 13,
  kAesCcm8 = 14,
  kAesCcm12 = 15,
  kAesCcm16 = 16,
  kAesGcm8 = 18,
  kAesGcm12 = 19,
  kAesGcm16 = 20,
  kNullAuthAesGmac = 21,
  kChacha20Poly1305 = 28,
};

enum class PrfId : uint16_t {
  kHmacMd5 = 1,
  kHmacSha1 = 2,
  kAes128Xcbc = 4,
  kHmacSha2_256 = 5,
  kHmacSha2_384 = 6,
  kHmacSha2_512 = 7,
  kAes128Cmac = 8,
};

enum class IntegId : uint16_t {
  kNone = 0,
  kHmacMd5_96 = 1,
  kHmacSha1_96 = 2,
  kAesXcbc96 = 5,
  kAesCmac96 = 8,
  kHmacSha2_256_128 = 12,
  kHmacSha2_384_192 = 13,
  kHmacSha2_512_256 = 14,
};

enum class DhGroup : uint16_t {
  kNone = 0,
  kModp1024 = 2,
  kModp2048 = 14,
  kModp3072 = 15,
  kModp4096 = 16,
  kEcp256 = 19,
  kEcp384 = 20,
  kEcp521 = 21,
  kCurve25519 = 31,
  kCurve448 = 32,
};

enum class EsnId : uint16_t {
  kNoEsn = 0,
  kEsn = 1,
};

// Transform attribute types. Key Length is the only one IKEv2 defines; it is
// always TV format (AF bit set).
enum class TransformAttributeType : uint16_t {
  kKeyLength = 14,
};

enum class AuthMethod : uint8_t {
  kRsaSignature = 1,
  kSharedKeyMic = 2,  // PSK
  kDssSignature = 3,
  kEcdsaSha256P256 = 9,
  kEcdsaSha384P384 = 10,
  kEcdsaSha512P521 = 11,
  kGenericSecurePassword = 12,
  kNullAuthentication = 13,
  kDigitalSignature = 14,  // RFC 7427
};

enum class IdType : uint8_t {
  kIpv4Addr = 1,
  kFqdn = 2,
  kRfc822Addr = 3,
  kIpv6Addr = 5,
  kDerAsn1Dn = 9,
  kDerAsn1Gn = 10,
  kKeyId = 11,
  kFcName = 12,
  kNull = 13,
};

enum class CertEncoding : uint8_t {
  kPkcs7X509 = 1,
  kPgp = 2,
  kDnsSignedKey = 3,
  kX509Signature = 4,
  kKerberos = 6,
  kCrl = 7,
  kArl = 8,
  kSpki = 9,
  kX509Attribute = 10,
  kRawRsaKey = 11,
  kHashUrlX509Cert = 12,
  kHashUrlX509Bundle = 13,
  kOcspContent = 14,
  kRawPublicKey = 15,
};

enum class TsType : uint8_t {
  kIpv4AddrRange = 7,
  kIpv6AddrRange = 8,
};

enum class CfgType : uint8_t {
  kRequest = 1,
  kReply = 2,
  kSet = 3,
  kAck = 4,
};

enum class CpAttributeType : uint16_t {
  kInternalIp4Address = 1,
  kInternalIp4Netmask = 2,
  kInternalIp4Dns = 3,
  kInternalIp4Nbns = 4,
  kInternalIp4Dhcp = 6,
  kApplicationVersion = 7,
  kInternalIp6Address = 8,
  kInternalIp6Dns = 10,
  kInternalIp6Dhcp = 12,
  kInternalIp4Subnet = 13,
  kSupportedAttributes = 14,
  kInternalIp6Subnet = 15,
};

// Header flags (RFC 7296 3.1).
namespace header_flags {
inline constexpr uint8_t kInitiator = 0x08;
inline constexpr uint8_t kVersion = 0x10;
inline constexpr uint8_t kResponse = 0x20;
}  // namespace header_flags

// Names for logs: the IANA name ("IKE_SA_INIT", "ENCR_AES_GCM_16", "SA"), or
// e.g. "exchange type 99" for a number this table does not know.
std::string to_string(ExchangeType v);
std::string to_string(PayloadType v);  // the RFC's short notation (SA, KE, IDi, N, SK, ...)
std::string to_string(NotifyType v);
std::string to_string(ProtocolId v);
std::string to_string(TransformType v);
std::string to_string(AuthMethod v);
std::string to_string(IdType v);
std::string to_string(CertEncoding v);
std::string to_string(TsType v);
std::string to_string(CfgType v);
std::string to_string(CpAttributeType v);
// A transform ID is named within its type: (kEncr, 20) -> "ENCR_AES_GCM_16".
std::string transform_id_to_string(TransformType type, uint16_t id);

}  // namespace tcpsec::ike
