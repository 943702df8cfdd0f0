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

ike::Header IkeSa::header(ike::ExchangeType exchange, bool response, uint32_t message_id) const {
  ike::Header h;
  h.initiator_spi = spi_i_;
  h.responder_spi = spi_r_;
  h.exchange = exchange;
  h.initiator = initiator_;
  h.response = response;
  h.message_id = message_id;
  return h;
}

Expected<Bytes> IkeSa::protect(ike::ExchangeType exchange, bool response, uint32_t message_id,
                               const std::vector<ike::Payload>& inner) {
  if (!sk_) return Status::error("IKE SA has no keys yet");
  auto chain = ike::serialize_payload_chain(inner);
  if (!chain) return chain.status();
  ike::Message m;
  m.header = header(exchange, response, message_id);
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

namespace tcpsec::ikesa {

namespace {

constexpr size_t kMaxFragments = 64;  // refuse more (hostile input)

}  // namespace

Expected<std::vector<Bytes>> IkeSa::protect_message(ike::ExchangeType exchange, bool response,
                                                    uint32_t message_id,
                                                    const std::vector<ike::Payload>& inner) {
  auto whole = protect(exchange, response, message_id, inner);
  if (!whole) return whole.status();
  if (!peer_fragmentation || whole->size() <= kMaxUnfragmented)
    return std::vector<Bytes>{std::move(*whole)};
  auto chain = ike::serialize_payload_chain(inner);
  if (!chain) return chain.status();
  // Room for inner bytes per fragment: the datagram limit less header, SKF
  // header, IV, ICV, a block of padding and the pad length byte.
  const auto& out = sk_->outbound;
  const size_t overhead = ike::kHeaderLen + ikecrypto::kSkfHeaderLength + out.iv_length() +
                          out.icv_length() + out.block_length() + 1;
  const size_t chunk = kMaxUnfragmented - overhead;
  const size_t total = (chain->size() + chunk - 1) / chunk;
  if (total > kMaxFragments) return Status::error("message too large for IKE fragmentation");
  std::vector<Bytes> fragments;
  for (size_t i = 0; i < total; ++i) {
    std::span<const uint8_t> part(chain->data() + i * chunk,
                                  std::min(chunk, chain->size() - i * chunk));
    ike::Message m;
    m.header = header(exchange, response, message_id);
    ike::EncryptedFragment skf;
    skf.fragment_number = static_cast<uint16_t>(i + 1);
    skf.total_fragments = static_cast<uint16_t>(total);
    skf.first_inner_type = i == 0 ? ike::first_payload_type(inner) : ike::PayloadType::kNone;
    m.payloads.emplace_back(ike::PayloadType::kEncryptedFragment, skf);
    auto bytes = ike::serialize_for_encryption(m, out.body_length(part.size()));
    if (!bytes) return bytes.status();
    ikecrypto::SkLayout layout;
    layout.sk_header_length = ikecrypto::kSkfHeaderLength;
    layout.sk_header_offset = bytes->encrypted_data.offset - ikecrypto::kSkfHeaderLength;
    if (auto s = sk_->outbound.protect(bytes->bytes, layout, part); !s) return s;
    fragments.push_back(std::move(bytes->bytes));
  }
  return fragments;
}

Expected<std::optional<std::vector<ike::Payload>>> IkeSa::receive(
    std::span<const uint8_t> datagram) {
  using Result = std::optional<std::vector<ike::Payload>>;
  if (!sk_) return Status::error("IKE SA has no keys yet");
  auto message = ike::parse(datagram);
  if (!message) return message.status();
  const ike::Payload* skf = message->find(ike::PayloadType::kEncryptedFragment);
  if (!skf) {
    auto inner = open(datagram);
    if (!inner) return inner.status();
    return Result(std::move(*inner));
  }
  const auto* f = skf->get<ike::EncryptedFragment>();
  if (f->total_fragments == 0 || f->fragment_number == 0 ||
      f->fragment_number > f->total_fragments || f->total_fragments > kMaxFragments) {
    return Status::error("SKF: fragment " + std::to_string(f->fragment_number) + " of " +
                         std::to_string(f->total_fragments) + " is out of range");
  }
  auto where = ike::locate_encrypted_data(datagram);
  if (!where) return where.status();
  Bytes copy(datagram.begin(), datagram.end());
  ikecrypto::SkLayout layout;
  layout.sk_header_length = ikecrypto::kSkfHeaderLength;
  layout.sk_header_offset = where->offset - ikecrypto::kSkfHeaderLength;
  auto plain = sk_->inbound.unprotect(copy, layout);  // each fragment is authenticated
  if (!plain) return plain.status();
  const auto& h = message->header;
  if (!reassembly_ || reassembly_->message_id != h.message_id ||
      reassembly_->response != h.response || reassembly_->total != f->total_fragments) {
    reassembly_ = Reassembly{h.message_id, h.response, f->total_fragments, ike::PayloadType::kNone,
                             std::vector<Bytes>(f->total_fragments)};
  }
  Reassembly& r = *reassembly_;
  if (f->fragment_number == 1) r.first_type = f->first_inner_type;
  r.parts[f->fragment_number - 1].assign(plain->begin(), plain->end());
  Bytes chain;
  for (const auto& part : r.parts) {
    if (part.empty()) return Result();  // more to come
    chain.insert(chain.end(), part.begin(), part.end());
  }
  ike::PayloadType first = r.first_type;
  reassembly_.reset();
  auto inner = ike::parse_payload_chain(first, chain);
  if (!inner) return inner.status();
  return Result(std::move(*inner));
}

}  // namespace tcpsec::ikesa
