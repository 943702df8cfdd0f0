// The payload registry: one row per payload type this codec implements. The
// generic-header chain walk (message_codec.cc) looks every payload up here;
// a type without a row is "unknown" (skipped, or refused if critical).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"
#include "controlplane/message/byte_io.h"
#include "controlplane/message/payloads.h"

namespace tcpsec::ike {

struct PayloadCodec {
  PayloadType type;
  std::string_view name;   // as in RFC 7296's notation: "SA", "IDi", "N", "SK"
  size_t min_body_length;  // checked by the walker before `parse`
  // SK and SKF: must be the last payload, and their Next Payload field holds
  // the type of the first (encrypted) inner payload.
  bool ends_chain;
  Status (*parse)(std::span<const uint8_t> body, PayloadBody& out);
  // Fails if `body` is not this row's alternative or cannot be encoded.
  Status (*serialize)(const PayloadBody& body, ByteWriter& out);
};

std::span<const PayloadCodec> payload_codecs();
const PayloadCodec* find_payload_codec(PayloadType type);  // nullptr: unknown type

// The name for messages: the row's name, or "payload type 99".
std::string payload_name(PayloadType type);

}  // namespace tcpsec::ike
