// libFuzzer target for the IKEv2 message codec (controlplane/message): the
// responder parses whatever arrives on UDP 500/4500 before any
// authentication, so this is attack surface.
//
// Each input is tried twice:
// * as a whole IKE message: parse();
// * as decrypted SK content: parse_payload_chain(input[0], input[1..]).
// Seeds: tests/controlplane/message/vectors/seeds/ (inner chains there carry
// their first payload type as byte 0).
//
// Invariants (a violation traps):
// * a parse failure has a message; UNSUPPORTED_CRITICAL_PAYLOAD names a type
//   this codec does not know;
// * what parses serializes, parses back to the same value, and serializes
//   to the same bytes again (serialize is a function of the value);
// * a message that parses with an SK/SKF payload locates its data at the end;
// * check_message_contents never crashes (its verdict is not checked).
#include <cstddef>
#include <cstdint>
#include <span>

#include "controlplane/message/exchange_rules.h"
#include "controlplane/message/message_codec.h"
#include "controlplane/message/payload_registry.h"

namespace {

using namespace tcpsec;
using namespace tcpsec::ike;

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

void check_failure(const Status& s, const ParseError& e) {
  CHECK(!s.message().empty());
  if (e.kind == ParseErrorKind::kUnsupportedCriticalPayload) {
    CHECK(find_payload_codec(static_cast<PayloadType>(e.payload_type)) == nullptr);
  }
}

void fuzz_message(std::span<const uint8_t> data) {
  ParseError error;
  Expected<Message> m = parse(data, &error);
  if (!m) {
    check_failure(m.status(), error);
    return;
  }
  Expected<Bytes> wire = serialize(*m);
  CHECK(wire.has_value());
  Expected<Message> back = parse(*wire);
  CHECK(back.has_value());
  CHECK(*back == *m);
  Expected<Bytes> again = serialize(*back);
  CHECK(again.has_value() && *again == *wire);
  CHECK(parse_header(data).has_value());

  const PayloadType last = m->payloads.empty() ? PayloadType::kNone : m->payloads.back().type;
  Expected<EncryptedDataLocation> at = locate_encrypted_data(data);
  if (last == PayloadType::kEncrypted || last == PayloadType::kEncryptedFragment) {
    CHECK(at.has_value());
    CHECK(at->offset + at->length == data.size());
    Expected<MessageForEncryption> out = serialize_for_encryption(*m, at->length);
    CHECK(out.has_value());
    CHECK(out->encrypted_data.offset == at->offset && out->bytes.size() == wire->size());
  } else {
    CHECK(!at.has_value());
  }
  (void)check_message_contents(m->header.exchange, m->header.response, m->payloads);
}

void fuzz_chain(std::span<const uint8_t> data) {
  if (data.empty()) return;
  const auto first = static_cast<PayloadType>(data[0]);
  ParseError error;
  Expected<std::vector<Payload>> c = parse_payload_chain(first, data.subspan(1), &error);
  if (!c) {
    check_failure(c.status(), error);
    return;
  }
  Expected<Bytes> wire = serialize_payload_chain(*c);
  CHECK(wire.has_value());
  // The chain that parsed may have started with NONE (empty) only if empty.
  CHECK(first_payload_type(*c) == first || (c->empty() && first == PayloadType::kNone));
  Expected<std::vector<Payload>> back = parse_payload_chain(first_payload_type(*c), *wire);
  CHECK(back.has_value());
  CHECK(*back == *c);
  (void)check_message_contents(ExchangeType::kIkeAuth, false, *c);
  (void)check_message_contents(ExchangeType::kCreateChildSa, true, *c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  fuzz_message(input);
  fuzz_chain(input);
  return 0;
}
