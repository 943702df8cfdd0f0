#include "controlplane/message/payload_registry.h"

#include <variant>

#include "controlplane/message/payload_codecs.h"

namespace tcpsec::ike {
namespace {

using codec::Body;

// Adapts a typed body codec (Status parse(Body, T&), Status serialize(const T&,
// ByteWriter&)) to the registry's PayloadBody signatures.
template <typename T, Status (*Parse)(Body, T&)>
Status parse_as(Body body, PayloadBody& out) {
  T value;
  if (Status s = Parse(body, value); !s) return s;
  out = std::move(value);
  return Status::ok();
}

template <typename T, Status (*Serialize)(const T&, ByteWriter&)>
Status serialize_as(const PayloadBody& body, ByteWriter& w) {
  const T* value = std::get_if<T>(&body);
  if (value == nullptr) return Status::error("body does not match the payload type");
  return Serialize(*value, w);
}

template <typename T, Status (*Parse)(Body, T&), Status (*Serialize)(const T&, ByteWriter&)>
constexpr PayloadCodec row(PayloadType type, std::string_view name, size_t min_body,
                           bool ends_chain = false) {
  return {type, name, min_body, ends_chain, &parse_as<T, Parse>, &serialize_as<T, Serialize>};
}

using namespace codec;
using P = PayloadType;

// Minimum body lengths are the fixed fields before any variable data.
constexpr PayloadCodec kCodecs[] = {
    row<Sa, parse_sa, serialize_sa>(P::kSa, "SA", 8),
    row<Ke, parse_ke, serialize_ke>(P::kKe, "KE", 4),
    row<Id, parse_id, serialize_id>(P::kIdi, "IDi", 4),
    row<Id, parse_id, serialize_id>(P::kIdr, "IDr", 4),
    row<Cert, parse_cert, serialize_cert>(P::kCert, "CERT", 1),
    row<CertReq, parse_certreq, serialize_certreq>(P::kCertReq, "CERTREQ", 1),
    row<Auth, parse_auth, serialize_auth>(P::kAuth, "AUTH", 4),
    row<Nonce, parse_nonce, serialize_nonce>(P::kNonce, "Nonce", 0),  // range: parse_nonce
    row<Notify, parse_notify, serialize_notify>(P::kNotify, "N", 4),
    row<Delete, parse_delete, serialize_delete>(P::kDelete, "D", 4),
    row<VendorId, parse_vendor_id, serialize_vendor_id>(P::kVendorId, "V", 0),
    row<Ts, parse_ts, serialize_ts>(P::kTsi, "TSi", 4),
    row<Ts, parse_ts, serialize_ts>(P::kTsr, "TSr", 4),
    row<Encrypted, parse_encrypted, serialize_encrypted>(P::kEncrypted, "SK", 0, true),
    row<Cp, parse_cp, serialize_cp>(P::kCp, "CP", 4),
    row<Eap, parse_eap, serialize_eap>(P::kEap, "EAP", 4),
    row<EncryptedFragment, parse_encrypted_fragment, serialize_encrypted_fragment>(
        P::kEncryptedFragment, "SKF", 4, true),
};

}  // namespace

std::span<const PayloadCodec> payload_codecs() {
  return kCodecs;
}

const PayloadCodec* find_payload_codec(PayloadType type) {
  for (const PayloadCodec& c : kCodecs) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

std::string payload_name(PayloadType type) {
  const PayloadCodec* c = find_payload_codec(type);
  return c != nullptr ? std::string(c->name) : to_string(type);
}

}  // namespace tcpsec::ike
