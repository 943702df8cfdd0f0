// Body codecs of the small payloads: KE, ID, CERT, CERTREQ, AUTH, Nonce, N,
// D, V, SK, SKF, CP, EAP (RFC 7296 3.4-3.16, RFC 7383 2.5).
#include <limits>

#include "controlplane/message/payload_codecs.h"

namespace tcpsec::ike::codec {
namespace {

// The registry checks each payload's minimum length before calling a parser;
// the parsers check again so that none relies on it.
Status need(Body body, size_t n, const char* what) {
  if (body.size() >= n) return Status::ok();
  return Status::error(std::string(what) + " needs " + n_bytes(n) + ", payload has " +
                       n_bytes(body.size()));
}

}  // namespace

// --- KE: DH group, reserved, key exchange data ---
Status parse_ke(Body body, Ke& out) {
  if (Status s = need(body, 4, "DH group and reserved field"); !s) return s;
  ByteReader r(body);
  out.group = r.u16();
  r.skip(2);
  out.data = r.copy(r.remaining());
  if (out.data.empty()) return Status::error("key exchange data is empty");
  return Status::ok();
}
Status serialize_ke(const Ke& v, ByteWriter& w) {
  if (v.data.empty()) return Status::error("key exchange data is empty");
  w.u16(v.group);
  w.zeros(2);
  w.bytes(v.data);
  return Status::ok();
}

// --- IDi / IDr: ID type, 3 reserved, identification data ---
namespace {
Status validate_id(const Id& v) {
  const size_t n = v.data.size();
  if (v.type == IdType::kIpv4Addr && n != 4) {
    return Status::error("ID_IPV4_ADDR of " + n_bytes(n) + " (must be 4)");
  }
  if (v.type == IdType::kIpv6Addr && n != 16) {
    return Status::error("ID_IPV6_ADDR of " + n_bytes(n) + " (must be 16)");
  }
  return Status::ok();
}
}  // namespace

Status parse_id(Body body, Id& out) {
  if (Status s = need(body, 4, "ID type and reserved field"); !s) return s;
  ByteReader r(body);
  out.type = static_cast<IdType>(r.u8());
  r.skip(3);
  out.data = r.copy(r.remaining());
  return validate_id(out);
}
Status serialize_id(const Id& v, ByteWriter& w) {
  if (Status s = validate_id(v); !s) return s;
  w.u8(static_cast<uint8_t>(v.type));
  w.zeros(3);
  w.bytes(v.data);
  return Status::ok();
}

// --- CERT / CERTREQ: encoding, data ---
Status parse_cert(Body body, Cert& out) {
  if (Status s = need(body, 1, "certificate encoding"); !s) return s;
  ByteReader r(body);
  out.encoding = static_cast<CertEncoding>(r.u8());
  out.data = r.copy(r.remaining());
  return Status::ok();
}
Status serialize_cert(const Cert& v, ByteWriter& w) {
  w.u8(static_cast<uint8_t>(v.encoding));
  w.bytes(v.data);
  return Status::ok();
}
Status parse_certreq(Body body, CertReq& out) {
  if (Status s = need(body, 1, "certificate encoding"); !s) return s;
  ByteReader r(body);
  out.encoding = static_cast<CertEncoding>(r.u8());
  out.authorities = r.copy(r.remaining());
  return Status::ok();
}
Status serialize_certreq(const CertReq& v, ByteWriter& w) {
  w.u8(static_cast<uint8_t>(v.encoding));
  w.bytes(v.authorities);
  return Status::ok();
}

// --- AUTH: method, 3 reserved, authentication data ---
Status parse_auth(Body body, Auth& out) {
  if (Status s = need(body, 4, "auth method and reserved field"); !s) return s;
  ByteReader r(body);
  out.method = static_cast<AuthMethod>(r.u8());
  r.skip(3);
  out.data = r.copy(r.remaining());
  if (out.data.empty()) return Status::error("authentication data is empty");
  return Status::ok();
}
Status serialize_auth(const Auth& v, ByteWriter& w) {
  if (v.data.empty()) return Status::error("authentication data is empty");
  w.u8(static_cast<uint8_t>(v.method));
  w.zeros(3);
  w.bytes(v.data);
  return Status::ok();
}

// --- Nonce: 16..256 bytes ---
namespace {
Status validate_nonce(const Nonce& v) {
  const size_t n = v.data.size();
  if (n >= kMinNonceLen && n <= kMaxNonceLen) return Status::ok();
  return Status::error("nonce length " + std::to_string(n) + " outside " +
                       std::to_string(kMinNonceLen) + ".." + std::to_string(kMaxNonceLen));
}
}  // namespace

Status parse_nonce(Body body, Nonce& out) {
  out.data.assign(body.begin(), body.end());
  return validate_nonce(out);
}
Status serialize_nonce(const Nonce& v, ByteWriter& w) {
  if (Status s = validate_nonce(v); !s) return s;
  w.bytes(v.data);
  return Status::ok();
}

// --- N: protocol, SPI size, notify type, SPI, data ---
Status parse_notify(Body body, Notify& out) {
  if (Status s = need(body, 4, "protocol, SPI size and notify type"); !s) return s;
  ByteReader r(body);
  out.protocol = static_cast<ProtocolId>(r.u8());
  const uint8_t spi_size = r.u8();
  out.type = static_cast<NotifyType>(r.u16());
  if (spi_size > r.remaining()) {
    return Status::error(to_string(out.type) + ": SPI size " + std::to_string(spi_size) +
                         " exceeds payload (" + std::to_string(r.remaining()) + " left)");
  }
  out.spi = r.copy(spi_size);
  out.data = r.copy(r.remaining());
  return Status::ok();
}
Status serialize_notify(const Notify& v, ByteWriter& w) {
  if (v.spi.size() > std::numeric_limits<uint8_t>::max()) {
    return Status::error(to_string(v.type) + ": SPI of " + n_bytes(v.spi.size()));
  }
  w.u8(static_cast<uint8_t>(v.protocol));
  w.u8(static_cast<uint8_t>(v.spi.size()));
  w.u16(static_cast<uint16_t>(v.type));
  w.bytes(v.spi);
  w.bytes(v.data);
  return Status::ok();
}

// --- D: protocol, SPI size, number of SPIs, SPIs ---
Status parse_delete(Body body, Delete& out) {
  if (Status s = need(body, 4, "protocol, SPI size and number of SPIs"); !s) return s;
  ByteReader r(body);
  out.protocol = static_cast<ProtocolId>(r.u8());
  const uint8_t spi_size = r.u8();
  const uint16_t count = r.u16();
  if (out.protocol == ProtocolId::kIke) {
    if (spi_size != 0 || count != 0 || !r.empty()) {
      return Status::error("IKE SA delete with SPI size " + std::to_string(spi_size) + ", " +
                           std::to_string(count) + " SPIs and " + n_bytes(r.remaining()) +
                           " of SPIs (must all be 0)");
    }
    return Status::ok();
  }
  if (out.protocol != ProtocolId::kEsp && out.protocol != ProtocolId::kAh) {
    return Status::error("protocol " + to_string(out.protocol) + " (must be IKE, AH or ESP)");
  }
  if (spi_size != 4) {
    return Status::error("SPI size " + std::to_string(spi_size) + " for " +
                         to_string(out.protocol) + " (must be 4)");
  }
  if (count > kMaxDeleteSpis) {
    return Status::error("number of SPIs " + std::to_string(count) + " exceeds the limit " +
                         std::to_string(kMaxDeleteSpis));
  }
  if (r.remaining() != size_t{count} * 4) {
    return Status::error("number of SPIs " + std::to_string(count) + " needs " +
                         n_bytes(size_t{count} * 4) + ", payload has " + n_bytes(r.remaining()));
  }
  out.spis.reserve(count);
  for (size_t i = 0; i < count; ++i) out.spis.push_back(r.u32());
  return Status::ok();
}
Status serialize_delete(const Delete& v, ByteWriter& w) {
  if (v.protocol == ProtocolId::kIke) {
    if (!v.spis.empty()) return Status::error("IKE SA delete with SPIs (must have none)");
    w.u8(static_cast<uint8_t>(v.protocol));
    w.zeros(3);
    return Status::ok();
  }
  if (v.protocol != ProtocolId::kEsp && v.protocol != ProtocolId::kAh) {
    return Status::error("protocol " + to_string(v.protocol) + " (must be IKE, AH or ESP)");
  }
  if (v.spis.size() > kMaxDeleteSpis) {
    return Status::error("number of SPIs " + std::to_string(v.spis.size()) + " exceeds the limit " +
                         std::to_string(kMaxDeleteSpis));
  }
  w.u8(static_cast<uint8_t>(v.protocol));
  w.u8(4);
  w.u16(static_cast<uint16_t>(v.spis.size()));
  for (uint32_t spi : v.spis) w.u32(spi);
  return Status::ok();
}

// --- V: vendor ID bytes ---
Status parse_vendor_id(Body body, VendorId& out) {
  out.data.assign(body.begin(), body.end());
  return Status::ok();
}
Status serialize_vendor_id(const VendorId& v, ByteWriter& w) {
  w.bytes(v.data);
  return Status::ok();
}

// --- SK: IV | ciphertext | ICV, opaque (first_inner_type is set by the chain walker) ---
Status parse_encrypted(Body body, Encrypted& out) {
  out.data.assign(body.begin(), body.end());
  return Status::ok();
}
Status serialize_encrypted(const Encrypted& v, ByteWriter& w) {
  w.bytes(v.data);
  return Status::ok();
}

// --- SKF: fragment number, total fragments, IV | ciphertext | ICV ---
namespace {
Status validate_fragment(const EncryptedFragment& v) {
  if (v.fragment_number == 0 || v.total_fragments == 0 || v.fragment_number > v.total_fragments) {
    return Status::error("fragment number " + std::to_string(v.fragment_number) + " of total " +
                         std::to_string(v.total_fragments) + " (must be 1..total)");
  }
  return Status::ok();
}
}  // namespace

Status parse_encrypted_fragment(Body body, EncryptedFragment& out) {
  if (Status s = need(body, 4, "fragment number and total fragments"); !s) return s;
  ByteReader r(body);
  out.fragment_number = r.u16();
  out.total_fragments = r.u16();
  out.data = r.copy(r.remaining());
  return validate_fragment(out);
}
Status serialize_encrypted_fragment(const EncryptedFragment& v, ByteWriter& w) {
  if (Status s = validate_fragment(v); !s) return s;
  w.u16(v.fragment_number);
  w.u16(v.total_fragments);
  w.bytes(v.data);
  return Status::ok();
}

// --- CP: CFG type, 3 reserved, attributes (R bit | type, length, value) ---
Status parse_cp(Body body, Cp& out) {
  if (Status s = need(body, 4, "CFG type and reserved field"); !s) return s;
  ByteReader r(body);
  out.type = static_cast<CfgType>(r.u8());
  r.skip(3);
  while (!r.empty()) {
    const size_t index = out.attributes.size() + 1;
    if (index > kMaxCpAttributes) {
      return Status::error("more than " + std::to_string(kMaxCpAttributes) + " attributes");
    }
    const std::string at = "attribute " + std::to_string(index);
    if (r.remaining() < 4) {
      return Status::error(at + ": header needs 4 bytes, " + n_bytes(r.remaining()) + " left");
    }
    CpAttribute a;
    a.type = r.u16() & 0x7fff;
    const uint16_t length = r.u16();
    if (length > r.remaining()) {
      return Status::error(at + " (" + to_string(static_cast<CpAttributeType>(a.type)) +
                           "): length " + std::to_string(length) + " exceeds payload (" +
                           std::to_string(r.remaining()) + " left)");
    }
    a.value = r.copy(length);
    out.attributes.push_back(std::move(a));
  }
  return Status::ok();
}
Status serialize_cp(const Cp& v, ByteWriter& w) {
  if (v.attributes.size() > kMaxCpAttributes) {
    return Status::error("more than " + std::to_string(kMaxCpAttributes) + " attributes");
  }
  w.u8(static_cast<uint8_t>(v.type));
  w.zeros(3);
  for (size_t i = 0; i < v.attributes.size(); ++i) {
    const CpAttribute& a = v.attributes[i];
    if (a.type > 0x7fff || a.value.size() > std::numeric_limits<uint16_t>::max()) {
      return Status::error("attribute " + std::to_string(i + 1) + ": type " +
                           std::to_string(a.type) + " or " + n_bytes(a.value.size()) +
                           " of value do not fit");
    }
    w.u16(a.type);
    w.u16(static_cast<uint16_t>(a.value.size()));
    w.bytes(a.value);
  }
  return Status::ok();
}

// --- EAP: one EAP message; its own length field must cover it exactly ---
namespace {
Status validate_eap(const Eap& v) {
  if (v.message.size() < 4) {
    return Status::error("EAP message of " + n_bytes(v.message.size()) +
                         " is shorter than its 4-byte header");
  }
  const size_t length = size_t{v.message[2]} << 8 | v.message[3];
  if (length != v.message.size()) {
    return Status::error("EAP length field " + std::to_string(length) + " but the payload holds " +
                         n_bytes(v.message.size()));
  }
  return Status::ok();
}
}  // namespace

Status parse_eap(Body body, Eap& out) {
  out.message.assign(body.begin(), body.end());
  return validate_eap(out);
}
Status serialize_eap(const Eap& v, ByteWriter& w) {
  if (Status s = validate_eap(v); !s) return s;
  w.bytes(v.message);
  return Status::ok();
}

}  // namespace tcpsec::ike::codec
