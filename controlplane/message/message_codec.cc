#include "controlplane/message/message_codec.h"

#include <limits>
#include <string>

#include "controlplane/message/byte_io.h"
#include "controlplane/message/payload_codecs.h"
#include "controlplane/message/payload_registry.h"

namespace tcpsec::ike {
namespace {

using codec::n_bytes;

constexpr uint8_t kMajorVersion = 2;
constexpr uint8_t kCriticalBit = 0x80;

Status fail(ParseError* error, ParseErrorKind kind, std::string message, uint8_t type = 0) {
  if (error != nullptr) *error = ParseError{kind, type};
  return Status::error(std::move(message));
}

Status syntax(ParseError* error, std::string message) {
  return fail(error, ParseErrorKind::kInvalidSyntax, std::move(message));
}

// SK and SKF carry the first inner payload type in their Next Payload field.
PayloadType first_inner_type(const PayloadBody& body) {
  if (const auto* sk = std::get_if<Encrypted>(&body)) return sk->first_inner_type;
  if (const auto* skf = std::get_if<EncryptedFragment>(&body)) return skf->first_inner_type;
  return PayloadType::kNone;
}
void set_first_inner_type(PayloadBody& body, PayloadType type) {
  if (auto* sk = std::get_if<Encrypted>(&body)) sk->first_inner_type = type;
  if (auto* skf = std::get_if<EncryptedFragment>(&body)) skf->first_inner_type = type;
}

// Where we are, for messages: "payload 3 (SA) at offset 40".
std::string position(size_t index, PayloadType type, size_t offset) {
  return "payload " + std::to_string(index) + " (" + payload_name(type) + ") at offset " +
         std::to_string(offset);
}

// Walks a chain of generic payload headers starting with `next`. `outer`:
// the message's own chain (SK/SKF allowed, last); else decrypted content.
// `base` is the chain's offset in the message, for error messages.
Status walk_chain(PayloadType next, std::span<const uint8_t> data, size_t base, bool outer,
                  std::vector<Payload>& out, ParseError* error) {
  const char* container = outer ? "the message" : "the encrypted content";
  ByteReader r(data);
  size_t index = 0;
  while (next != PayloadType::kNone) {
    ++index;
    const size_t offset = base + r.position();
    if (index > kMaxPayloads) {
      return syntax(error,
                    "more than " + std::to_string(kMaxPayloads) + " payloads in " + container);
    }
    if (r.remaining() < kGenericHeaderLen) {
      return syntax(error, position(index, next, offset) + ": generic header needs 4 bytes, " +
                               n_bytes(r.remaining()) + " left in " + container);
    }
    const auto following = static_cast<PayloadType>(r.u8());
    const bool critical = (r.u8() & kCriticalBit) != 0;
    const uint16_t length = r.u16();
    if (length < kGenericHeaderLen) {
      return syntax(error, position(index, next, offset) + ": payload length " +
                               std::to_string(length) + " is less than the 4-byte generic header");
    }
    if (length - kGenericHeaderLen > r.remaining()) {
      return syntax(error, position(index, next, offset) + ": payload length " +
                               std::to_string(length) + " exceeds " + container + " (" +
                               n_bytes(r.remaining() + kGenericHeaderLen) + " left)");
    }
    std::span<const uint8_t> body = r.bytes(length - kGenericHeaderLen);

    const PayloadCodec* codec = find_payload_codec(next);
    if (codec == nullptr) {
      if (critical) {
        return fail(error, ParseErrorKind::kUnsupportedCriticalPayload,
                    position(index, next, offset) + ": unsupported critical payload type " +
                        std::to_string(static_cast<unsigned>(next)),
                    static_cast<uint8_t>(next));
      }
      out.emplace_back(next, UnknownPayload{Bytes(body.begin(), body.end())}, false);
      next = following;
      continue;
    }
    if (body.size() < codec->min_body_length) {
      return syntax(error, std::string(codec->name) + " payload: body of " + n_bytes(body.size()) +
                               " is shorter than its " + std::to_string(codec->min_body_length) +
                               "-byte fixed fields");
    }
    Payload p;
    p.type = next;
    p.critical = critical;
    if (Status s = codec->parse(body, p.body); !s) {
      return syntax(error, std::string(codec->name) + " payload: " + s.message());
    }
    if (codec->ends_chain) {
      if (!outer) {
        return syntax(error, position(index, next, offset) +
                                 ": an encrypted payload inside the encrypted content");
      }
      if (!r.empty()) {
        return syntax(error, position(index, next, offset) +
                                 ": the encrypted payload is not last (" + n_bytes(r.remaining()) +
                                 " follow it)");
      }
      set_first_inner_type(p.body, following);
      out.push_back(std::move(p));
      return Status::ok();
    }
    out.push_back(std::move(p));
    next = following;
  }
  if (!r.empty()) {
    return syntax(error, "payload chain ends (Next Payload NONE after payload " +
                             std::to_string(index) + ") with " + n_bytes(r.remaining()) +
                             " left in " + container);
  }
  return Status::ok();
}

Status write_chain(const std::vector<Payload>& payloads, bool outer, ByteWriter& w) {
  if (payloads.size() > kMaxPayloads) {
    return Status::error("more than " + std::to_string(kMaxPayloads) + " payloads");
  }
  for (size_t i = 0; i < payloads.size(); ++i) {
    const Payload& p = payloads[i];
    const bool last = i + 1 == payloads.size();
    const std::string name = payload_name(p.type);
    if (p.type == PayloadType::kNone) {
      return Status::error("payload " + std::to_string(i + 1) + ": type NONE");
    }
    const PayloadCodec* codec = find_payload_codec(p.type);
    PayloadType next = last ? PayloadType::kNone : payloads[i + 1].type;
    if (codec != nullptr && codec->ends_chain) {
      if (!outer) return Status::error(name + " payload inside the encrypted content");
      if (!last) return Status::error(name + " payload is not the last payload");
      next = first_inner_type(p.body);
    }
    const size_t start = w.size();
    w.u8(static_cast<uint8_t>(next));
    w.u8(p.critical ? kCriticalBit : 0);
    w.u16(0);  // length, patched below
    if (codec != nullptr) {
      if (Status s = codec->serialize(p.body, w); !s) {
        return Status::error(name + " payload: " + s.message());
      }
    } else {
      const auto* unknown = std::get_if<UnknownPayload>(&p.body);
      if (unknown == nullptr) {
        return Status::error(name +
                             " payload: no codec for this type, body must be UnknownPayload");
      }
      if (p.critical) {  // we would refuse it ourselves
        return Status::error(name + " payload: unknown type marked critical");
      }
      w.bytes(unknown->body);
    }
    const size_t length = w.size() - start;
    if (length > std::numeric_limits<uint16_t>::max()) {
      return Status::error(name + " payload: " + n_bytes(length) + " exceed the 16-bit length");
    }
    w.patch_u16(start + 2, static_cast<uint16_t>(length));
  }
  return Status::ok();
}

}  // namespace

Notify error_notify(const ParseError& error) {
  Notify n;
  n.protocol = ProtocolId::kNone;
  switch (error.kind) {
    case ParseErrorKind::kUnsupportedCriticalPayload:
      n.type = NotifyType::kUnsupportedCriticalPayload;
      n.data = {error.payload_type};
      break;
    case ParseErrorKind::kInvalidMajorVersion:
      n.type = NotifyType::kInvalidMajorVersion;
      break;
    case ParseErrorKind::kInvalidSyntax:
      n.type = NotifyType::kInvalidSyntax;
      break;
  }
  return n;
}

Expected<Header> parse_header(std::span<const uint8_t> datagram, ParseError* error) {
  if (datagram.size() < kHeaderLen) {
    return syntax(error, "IKE header: message of " + n_bytes(datagram.size()) +
                             " is shorter than the 28-byte header");
  }
  ByteReader r(datagram);
  Header h;
  h.initiator_spi = r.u64();
  h.responder_spi = r.u64();
  r.skip(1);  // next payload: the chain walk reads it
  const uint8_t version = r.u8();
  h.exchange = static_cast<ExchangeType>(r.u8());
  const uint8_t flags = r.u8();
  h.message_id = r.u32();
  const uint32_t length = r.u32();
  if (version >> 4 != kMajorVersion) {
    return fail(
        error, ParseErrorKind::kInvalidMajorVersion,
        "IKE header: major version " + std::to_string(version >> 4) + " (only 2 is supported)");
  }
  h.minor_version = version & 0x0f;
  if (length != datagram.size()) {
    return syntax(error, "IKE header: length field " + std::to_string(length) +
                             " but the message has " + n_bytes(datagram.size()));
  }
  // Reserved flag bits are ignored on receipt (RFC 7296 3.1).
  h.initiator = (flags & header_flags::kInitiator) != 0;
  h.higher_version = (flags & header_flags::kVersion) != 0;
  h.response = (flags & header_flags::kResponse) != 0;
  return h;
}

Expected<Message> parse(std::span<const uint8_t> datagram, ParseError* error) {
  Expected<Header> header = parse_header(datagram, error);
  if (!header) return header.status();
  Message m;
  m.header = *header;
  const auto first = static_cast<PayloadType>(datagram[16]);
  if (Status s = walk_chain(first, datagram.subspan(kHeaderLen), kHeaderLen, /*outer=*/true,
                            m.payloads, error);
      !s) {
    return s;
  }
  return m;
}

Expected<std::vector<Payload>> parse_payload_chain(PayloadType first_type,
                                                   std::span<const uint8_t> chain,
                                                   ParseError* error) {
  std::vector<Payload> payloads;
  if (Status s = walk_chain(first_type, chain, 0, /*outer=*/false, payloads, error); !s) return s;
  return payloads;
}

Expected<Bytes> serialize(const Message& message) {
  const Header& h = message.header;
  if (h.minor_version > 0x0f) {
    return Status::error("IKE header: minor version " + std::to_string(h.minor_version) +
                         " does not fit 4 bits");
  }
  Bytes out;
  ByteWriter w(out);
  w.u64(h.initiator_spi);
  w.u64(h.responder_spi);
  w.u8(static_cast<uint8_t>(first_payload_type(message.payloads)));
  w.u8(static_cast<uint8_t>(kMajorVersion << 4 | h.minor_version));
  w.u8(static_cast<uint8_t>(h.exchange));
  w.u8((h.initiator ? header_flags::kInitiator : 0) |
       (h.higher_version ? header_flags::kVersion : 0) |
       (h.response ? header_flags::kResponse : 0));
  w.u32(h.message_id);
  w.u32(0);  // length, patched below
  if (Status s = write_chain(message.payloads, /*outer=*/true, w); !s) return s;
  if (out.size() > std::numeric_limits<uint32_t>::max()) {
    return Status::error("IKE message of " + n_bytes(out.size()) + " exceeds the length field");
  }
  w.patch_u32(24, static_cast<uint32_t>(out.size()));
  return out;
}

Expected<Bytes> serialize_payload_chain(const std::vector<Payload>& payloads) {
  Bytes out;
  ByteWriter w(out);
  if (Status s = write_chain(payloads, /*outer=*/false, w); !s) return s;
  return out;
}

Expected<MessageForEncryption> serialize_for_encryption(const Message& message,
                                                        size_t encrypted_data_length) {
  if (message.payloads.empty()) return Status::error("no SK or SKF payload to encrypt into");
  Message copy = message;
  PayloadBody& body = copy.payloads.back().body;
  if (auto* sk = std::get_if<Encrypted>(&body)) {
    sk->data.assign(encrypted_data_length, 0);
  } else if (auto* skf = std::get_if<EncryptedFragment>(&body)) {
    skf->data.assign(encrypted_data_length, 0);
  } else {
    return Status::error("the last payload is " + payload_name(copy.payloads.back().type) +
                         ", not SK or SKF");
  }
  Expected<Bytes> bytes = serialize(copy);
  if (!bytes) return bytes.status();
  MessageForEncryption out;
  out.encrypted_data = {bytes->size() - encrypted_data_length, encrypted_data_length};
  out.bytes = std::move(*bytes);
  return out;
}

Expected<EncryptedDataLocation> locate_encrypted_data(std::span<const uint8_t> datagram) {
  Expected<Message> m = parse(datagram);
  if (!m) return m.status();
  if (m->payloads.empty()) return Status::error("no SK or SKF payload in the message");
  const PayloadBody& body = m->payloads.back().body;
  size_t length;
  if (const auto* sk = std::get_if<Encrypted>(&body)) {
    length = sk->data.size();
  } else if (const auto* skf = std::get_if<EncryptedFragment>(&body)) {
    length = skf->data.size();
  } else {
    return Status::error("the last payload is " + payload_name(m->payloads.back().type) +
                         ", not SK or SKF");
  }
  return EncryptedDataLocation{datagram.size() - length, length};
}

}  // namespace tcpsec::ike
