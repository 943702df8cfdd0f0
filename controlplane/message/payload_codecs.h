// The body codec of each payload type (internal to controlplane/message).
//
// parse_*: decode a payload body (what follows the 4-byte generic header)
// into its struct; the error names the field, without the payload's name
// (the chain walker prefixes "SA payload: ").
// serialize_*: append the body; refuses what cannot be encoded or would not
// parse back (the same validate_* the parser uses).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/status.h"
#include "controlplane/message/byte_io.h"
#include "controlplane/message/payloads.h"

namespace tcpsec::ike::codec {

using Body = std::span<const uint8_t>;

Status parse_sa(Body body, Sa& out);
Status serialize_sa(const Sa& sa, ByteWriter& w);

Status parse_ts(Body body, Ts& out);
Status serialize_ts(const Ts& ts, ByteWriter& w);

Status parse_ke(Body body, Ke& out);
Status serialize_ke(const Ke& v, ByteWriter& w);
Status parse_id(Body body, Id& out);
Status serialize_id(const Id& v, ByteWriter& w);
Status parse_cert(Body body, Cert& out);
Status serialize_cert(const Cert& v, ByteWriter& w);
Status parse_certreq(Body body, CertReq& out);
Status serialize_certreq(const CertReq& v, ByteWriter& w);
Status parse_auth(Body body, Auth& out);
Status serialize_auth(const Auth& v, ByteWriter& w);
Status parse_nonce(Body body, Nonce& out);
Status serialize_nonce(const Nonce& v, ByteWriter& w);
Status parse_notify(Body body, Notify& out);
Status serialize_notify(const Notify& v, ByteWriter& w);
Status parse_delete(Body body, Delete& out);
Status serialize_delete(const Delete& v, ByteWriter& w);
Status parse_vendor_id(Body body, VendorId& out);
Status serialize_vendor_id(const VendorId& v, ByteWriter& w);
Status parse_encrypted(Body body, Encrypted& out);
Status serialize_encrypted(const Encrypted& v, ByteWriter& w);
Status parse_encrypted_fragment(Body body, EncryptedFragment& out);
Status serialize_encrypted_fragment(const EncryptedFragment& v, ByteWriter& w);
Status parse_cp(Body body, Cp& out);
Status serialize_cp(const Cp& v, ByteWriter& w);
Status parse_eap(Body body, Eap& out);
Status serialize_eap(const Eap& v, ByteWriter& w);

// "9 bytes", for error messages.
inline std::string n_bytes(size_t n) {
  return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

}  // namespace tcpsec::ike::codec
