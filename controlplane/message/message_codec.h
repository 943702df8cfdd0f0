// IKEv2 message encoding and decoding (RFC 7296 3.1-3.2, RFC 7383).
//
// Receiving: parse() checks the header (length field = datagram length,
// major version 2) and walks the generic payload headers, decoding each
// payload through the registry (payload_registry.h). An SK or SKF payload
// must be last; it stays opaque (the crypto layer decrypts its data and
// calls parse_payload_chain() on the plaintext with first_inner_type).
// Exchange-level rules (which payloads an IKE_AUTH needs) are separate:
// exchange_rules.h.
//
// Sending: serialize() writes a Message; serialize_for_encryption() writes
// one whose SK/SKF data is filled in later, and says where that data goes.
//
// All errors name the payload and field ("SA payload: proposal 2 transform 3:
// attribute length 9 exceeds transform (6 left)"); nothing is read out of
// bounds whatever the input.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"
#include "controlplane/message/payloads.h"

namespace tcpsec::ike {

// What a responder answers a message that failed to parse with (RFC 7296
// 2.21.1, 3.10.1). Filled in by the parse functions when they fail.
enum class ParseErrorKind : uint8_t {
  kInvalidSyntax,               // INVALID_SYNTAX (or drop, if unauthenticated)
  kUnsupportedCriticalPayload,  // UNSUPPORTED_CRITICAL_PAYLOAD, data = payload_type
  kInvalidMajorVersion,         // INVALID_MAJOR_VERSION
};

struct ParseError {
  ParseErrorKind kind = ParseErrorKind::kInvalidSyntax;
  uint8_t payload_type = 0;  // kUnsupportedCriticalPayload: the unknown type
};

// The Notify to send back for `error` (protocol NONE, no SPI).
Notify error_notify(const ParseError& error);

// Only the fixed header: enough to find the IKE SA and answer with an error
// even when the payloads are bad. Checks the same header rules as parse().
Expected<Header> parse_header(std::span<const uint8_t> datagram, ParseError* error = nullptr);

Expected<Message> parse(std::span<const uint8_t> datagram, ParseError* error = nullptr);

// The decrypted content of an SK payload (or the reassembled SKF content):
// a chain starting with `first_type`. It may not contain SK or SKF.
Expected<std::vector<Payload>> parse_payload_chain(PayloadType first_type,
                                                   std::span<const uint8_t> chain,
                                                   ParseError* error = nullptr);

// Fails only on a Message that cannot be encoded or would not parse back
// (body not matching the type, SK not last, a nonce of 8 bytes, a field
// over its wire size); parse(serialize(m)) == m whenever it succeeds.
Expected<Bytes> serialize(const Message& message);

// The inner chain to encrypt into SK; its first type is payloads[0].type
// (kNone if empty), which goes into Encrypted::first_inner_type.
Expected<Bytes> serialize_payload_chain(const std::vector<Payload>& payloads);
inline PayloadType first_payload_type(const std::vector<Payload>& payloads) {
  return payloads.empty() ? PayloadType::kNone : payloads.front().type;
}

// Where the SK/SKF data (IV | ciphertext | ICV) lies in a serialized
// message. It always runs to the end of the message, so:
//   AEAD associated data (RFC 5282): bytes [0, offset)
//   integrity checksum (RFC 7296 3.14): over [0, offset + length - icv_len),
//   written at [offset + length - icv_len, offset + length)
struct EncryptedDataLocation {
  size_t offset = 0;
  size_t length = 0;
};

struct MessageForEncryption {
  Bytes bytes;  // header and payloads final; the encrypted data zero-filled
  EncryptedDataLocation encrypted_data;
};

// Serializes `message` whose last payload is SK or SKF, with that payload's
// data replaced by `encrypted_data_length` zero bytes for the caller to fill:
// all lengths (IKE header, SK generic header) already count it.
Expected<MessageForEncryption> serialize_for_encryption(const Message& message,
                                                        size_t encrypted_data_length);

// For a received message: parses it and locates its SK/SKF data.
Expected<EncryptedDataLocation> locate_encrypted_data(std::span<const uint8_t> datagram);

}  // namespace tcpsec::ike
