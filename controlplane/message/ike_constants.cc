#include "controlplane/message/ike_constants.h"

#include <span>
#include <string_view>

namespace tcpsec::ike {
namespace {

struct Name {
  uint16_t value;
  std::string_view name;
};

std::string lookup(std::span<const Name> table, uint16_t value, std::string_view what) {
  for (const Name& n : table) {
    if (n.value == value) return std::string(n.name);
  }
  return std::string(what) + " " + std::to_string(value);
}

constexpr Name kExchangeNames[] = {
    {34, "IKE_SA_INIT"},     {35, "IKE_AUTH"},           {36, "CREATE_CHILD_SA"},
    {37, "INFORMATIONAL"},   {38, "IKE_SESSION_RESUME"}, {43, "IKE_INTERMEDIATE"},
    {44, "IKE_FOLLOWUP_KE"},
};

constexpr Name kPayloadNames[] = {
    {0, "NONE"},     {33, "SA"},   {34, "KE"},    {35, "IDi"}, {36, "IDr"}, {37, "CERT"},
    {38, "CERTREQ"}, {39, "AUTH"}, {40, "Nonce"}, {41, "N"},   {42, "D"},   {43, "V"},
    {44, "TSi"},     {45, "TSr"},  {46, "SK"},    {47, "CP"},  {48, "EAP"}, {53, "SKF"},
};

constexpr Name kNotifyNames[] = {
    {1, "UNSUPPORTED_CRITICAL_PAYLOAD"},
    {4, "INVALID_IKE_SPI"},
    {5, "INVALID_MAJOR_VERSION"},
    {7, "INVALID_SYNTAX"},
    {9, "INVALID_MESSAGE_ID"},
    {11, "INVALID_SPI"},
    {14, "NO_PROPOSAL_CHOSEN"},
    {17, "INVALID_KE_PAYLOAD"},
    {24, "AUTHENTICATION_FAILED"},
    {34, "SINGLE_PAIR_REQUIRED"},
    {35, "NO_ADDITIONAL_SAS"},
    {36, "INTERNAL_ADDRESS_FAILURE"},
    {37, "FAILED_CP_REQUIRED"},
    {38, "TS_UNACCEPTABLE"},
    {39, "INVALID_SELECTORS"},
    {43, "TEMPORARY_FAILURE"},
    {44, "CHILD_SA_NOT_FOUND"},
    {16384, "INITIAL_CONTACT"},
    {16385, "SET_WINDOW_SIZE"},
    {16386, "ADDITIONAL_TS_POSSIBLE"},
    {16387, "IPCOMP_SUPPORTED"},
    {16388, "NAT_DETECTION_SOURCE_IP"},
    {16389, "NAT_DETECTION_DESTINATION_IP"},
    {16390, "COOKIE"},
    {16391, "USE_TRANSPORT_MODE"},
    {16392, "HTTP_CERT_LOOKUP_SUPPORTED"},
    {16393, "REKEY_SA"},
    {16394, "ESP_TFC_PADDING_NOT_SUPPORTED"},
    {16395, "NON_FIRST_FRAGMENTS_ALSO"},
    {16396, "MOBIKE_SUPPORTED"},
    {16406, "REDIRECT_SUPPORTED"},
    {16407, "REDIRECT"},
    {16417, "EAP_ONLY_AUTHENTICATION"},
    {16418, "CHILDLESS_IKEV2_SUPPORTED"},
    {16430, "IKEV2_FRAGMENTATION_SUPPORTED"},
    {16431, "SIGNATURE_HASH_ALGORITHMS"},
    {16438, "INTERMEDIATE_EXCHANGE_SUPPORTED"},
};

constexpr Name kProtocolNames[] = {{0, "NONE"}, {1, "IKE"}, {2, "AH"}, {3, "ESP"}};

constexpr Name kTransformTypeNames[] = {
    {1, "ENCR"}, {2, "PRF"}, {3, "INTEG"}, {4, "DH"}, {5, "ESN"},
};

constexpr Name kEncrNames[] = {
    {2, "ENCR_DES"},
    {3, "ENCR_3DES"},
    {11, "ENCR_NULL"},
    {12, "ENCR_AES_CBC"},
    {13, "ENCR_AES_CTR"},
    {14, "ENCR_AES_CCM_8"},
    {15, "ENCR_AES_CCM_12"},
    {16, "ENCR_AES_CCM_16"},
    {18, "ENCR_AES_GCM_8"},
    {19, "ENCR_AES_GCM_12"},
    {20, "ENCR_AES_GCM_16"},
    {21, "ENCR_NULL_AUTH_AES_GMAC"},
    {28, "ENCR_CHACHA20_POLY1305"},
};

constexpr Name kPrfNames[] = {
    {1, "PRF_HMAC_MD5"},      {2, "PRF_HMAC_SHA1"},     {4, "PRF_AES128_XCBC"},
    {5, "PRF_HMAC_SHA2_256"}, {6, "PRF_HMAC_SHA2_384"}, {7, "PRF_HMAC_SHA2_512"},
    {8, "PRF_AES128_CMAC"},
};

constexpr Name kIntegNames[] = {
    {0, "NONE"},
    {1, "AUTH_HMAC_MD5_96"},
    {2, "AUTH_HMAC_SHA1_96"},
    {5, "AUTH_AES_XCBC_96"},
    {8, "AUTH_AES_CMAC_96"},
    {12, "AUTH_HMAC_SHA2_256_128"},
    {13, "AUTH_HMAC_SHA2_384_192"},
    {14, "AUTH_HMAC_SHA2_512_256"},
};

constexpr Name kDhNames[] = {
    {0, "NONE"},     {2, "MODP_1024"}, {14, "MODP_2048"}, {15, "MODP_3072"},  {16, "MODP_4096"},
    {19, "ECP_256"}, {20, "ECP_384"},  {21, "ECP_521"},   {31, "CURVE25519"}, {32, "CURVE448"},
};

constexpr Name kEsnNames[] = {{0, "NO_ESN"}, {1, "ESN"}};

constexpr Name kAuthNames[] = {
    {1, "RSA_SIGNATURE"},
    {2, "SHARED_KEY_MIC"},
    {3, "DSS_SIGNATURE"},
    {9, "ECDSA_SHA256_P256"},
    {10, "ECDSA_SHA384_P384"},
    {11, "ECDSA_SHA512_P521"},
    {12, "GENERIC_SECURE_PASSWORD"},
    {13, "NULL_AUTHENTICATION"},
    {14, "DIGITAL_SIGNATURE"},
};

constexpr Name kIdNames[] = {
    {1, "ID_IPV4_ADDR"}, {2, "ID_FQDN"},        {3, "ID_RFC822_ADDR"},
    {5, "ID_IPV6_ADDR"}, {9, "ID_DER_ASN1_DN"}, {10, "ID_DER_ASN1_GN"},
    {11, "ID_KEY_ID"},   {12, "ID_FC_NAME"},    {13, "ID_NULL"},
};

constexpr Name kCertNames[] = {
    {1, "PKCS7_X509"},
    {2, "PGP"},
    {3, "DNS_SIGNED_KEY"},
    {4, "X509_SIGNATURE"},
    {6, "KERBEROS"},
    {7, "CRL"},
    {8, "ARL"},
    {9, "SPKI"},
    {10, "X509_ATTRIBUTE"},
    {11, "RAW_RSA_KEY"},
    {12, "HASH_URL_X509_CERT"},
    {13, "HASH_URL_X509_BUNDLE"},
    {14, "OCSP_CONTENT"},
    {15, "RAW_PUBLIC_KEY"},
};

constexpr Name kTsNames[] = {{7, "TS_IPV4_ADDR_RANGE"}, {8, "TS_IPV6_ADDR_RANGE"}};

constexpr Name kCfgNames[] = {{1, "CFG_REQUEST"}, {2, "CFG_REPLY"}, {3, "CFG_SET"}, {4, "CFG_ACK"}};

constexpr Name kCpAttributeNames[] = {
    {1, "INTERNAL_IP4_ADDRESS"}, {2, "INTERNAL_IP4_NETMASK"},  {3, "INTERNAL_IP4_DNS"},
    {4, "INTERNAL_IP4_NBNS"},    {6, "INTERNAL_IP4_DHCP"},     {7, "APPLICATION_VERSION"},
    {8, "INTERNAL_IP6_ADDRESS"}, {10, "INTERNAL_IP6_DNS"},     {12, "INTERNAL_IP6_DHCP"},
    {13, "INTERNAL_IP4_SUBNET"}, {14, "SUPPORTED_ATTRIBUTES"}, {15, "INTERNAL_IP6_SUBNET"},
};

}  // namespace

std::string to_string(ExchangeType v) {
  return lookup(kExchangeNames, static_cast<uint16_t>(v), "exchange type");
}
std::string to_string(PayloadType v) {
  return lookup(kPayloadNames, static_cast<uint16_t>(v), "payload type");
}
std::string to_string(NotifyType v) {
  return lookup(kNotifyNames, static_cast<uint16_t>(v), "notify type");
}
std::string to_string(ProtocolId v) {
  return lookup(kProtocolNames, static_cast<uint16_t>(v), "protocol");
}
std::string to_string(TransformType v) {
  return lookup(kTransformTypeNames, static_cast<uint16_t>(v), "transform type");
}
std::string to_string(AuthMethod v) {
  return lookup(kAuthNames, static_cast<uint16_t>(v), "auth method");
}
std::string to_string(IdType v) {
  return lookup(kIdNames, static_cast<uint16_t>(v), "ID type");
}
std::string to_string(CertEncoding v) {
  return lookup(kCertNames, static_cast<uint16_t>(v), "cert encoding");
}
std::string to_string(TsType v) {
  return lookup(kTsNames, static_cast<uint16_t>(v), "TS type");
}
std::string to_string(CfgType v) {
  return lookup(kCfgNames, static_cast<uint16_t>(v), "CFG type");
}
std::string to_string(CpAttributeType v) {
  return lookup(kCpAttributeNames, static_cast<uint16_t>(v), "CP attribute");
}

std::string transform_id_to_string(TransformType type, uint16_t id) {
  switch (type) {
    case TransformType::kEncr:
      return lookup(kEncrNames, id, "ENCR");
    case TransformType::kPrf:
      return lookup(kPrfNames, id, "PRF");
    case TransformType::kInteg:
      return lookup(kIntegNames, id, "INTEG");
    case TransformType::kDh:
      return lookup(kDhNames, id, "DH");
    case TransformType::kEsn:
      return lookup(kEsnNames, id, "ESN");
  }
  return to_string(type) + " id " + std::to_string(id);
}

}  // namespace tcpsec::ike
