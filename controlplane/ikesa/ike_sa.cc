#include "controlplane/ikesa/ike_sa.h"

namespace tcpsec::ikesa {

const char* to_string(IkeSaState s) {
  switch (s) {
    case IkeSaState::kConnecting:
      return "CONNECTING";
    case IkeSaState::kEstablished:
      return "ESTABLISHED";
    case IkeSaState::kDeleting:
      return "DELETING";
    case IkeSaState::kDead:
      return "DEAD";
  }
  return "?";
}

Bytes spi_bytes(uint64_t spi) {
  Bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(spi >> (56 - 8 * i));
  return b;
}

IkeSa::IkeSa(const v1::Connection& connection, bool initiator, uint64_t our_spi)
    : connection_(connection), initiator_(initiator) {
  (initiator ? spi_i_ : spi_r_) = our_spi;
}

Status IkeSa::install_keys(std::span<const uint8_t> shared_secret) {
  auto seed = ikecrypto::skeyseed(transforms.prf, nonce_i, nonce_r, shared_secret);
  if (!seed) return seed.status();
  return install_keys_from_skeyseed(*seed);
}

Status IkeSa::install_keys_from_skeyseed(std::span<const uint8_t> skeyseed) {
  auto keys = ikecrypto::derive_ike_sa_keys(transforms, skeyseed, nonce_i, nonce_r,
                                            spi_bytes(spi_i_), spi_bytes(spi_r_));
  if (!keys) return keys.status();
  auto sk = ikecrypto::make_sk_ciphers(transforms, *keys, initiator_);
  if (!sk) return sk.status();
  keys_.emplace(std::move(*keys));
  sk_.emplace(std::move(*sk));
  return Status::ok();
}

Expected<Bytes> IkeSa::protect(ike::ExchangeType exchange, bool response, uint32_t message_id,
                               const std::vector<ike::Payload>& inner) {
  if (!sk_) return Status::error("IKE SA has no keys yet");
  auto chain = ike::serialize_payload_chain(inner);
  if (!chain) return chain.status();
  ike::Message m;
  m.header.initiator_spi = spi_i_;
  m.header.responder_spi = spi_r_;
  m.header.exchange = exchange;
  m.header.initiator = initiator_;
  m.header.response = response;
  m.header.message_id = message_id;
  ike::Encrypted sk;
  sk.first_inner_type = ike::first_payload_type(inner);
  m.payloads.emplace_back(ike::PayloadType::kEncrypted, sk);
  size_t body = sk_->outbound.body_length(chain->size());
  auto out = ike::serialize_for_encryption(m, body);
  if (!out) return out.status();
  ikecrypto::SkLayout layout;
  layout.sk_header_offset = out->encrypted_data.offset - ikecrypto::kSkHeaderLength;
  if (auto s = sk_->outbound.protect(out->bytes, layout, *chain); !s) return s;
  return std::move(out->bytes);
}

Expected<std::vector<ike::Payload>> IkeSa::open(std::span<const uint8_t> datagram) {
  if (!sk_) return Status::error("IKE SA has no keys yet");
  auto message = ike::parse(datagram);
  if (!message) return message.status();
  const ike::Payload* skp = message->find(ike::PayloadType::kEncrypted);
  if (!skp) return Status::error("no SK payload (unprotected message after IKE_SA_INIT)");
  auto where = ike::locate_encrypted_data(datagram);
  if (!where) return where.status();
  Bytes copy(datagram.begin(), datagram.end());
  ikecrypto::SkLayout layout;
  layout.sk_header_offset = where->offset - ikecrypto::kSkHeaderLength;
  auto inner = sk_->inbound.unprotect(copy, layout);
  if (!inner) return inner.status();
  return ike::parse_payload_chain(skp->get<ike::Encrypted>()->first_inner_type, *inner);
}

}  // namespace tcpsec::ikesa
