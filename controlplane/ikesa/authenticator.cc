#include "controlplane/ikesa/authenticator.h"

#include "controlplane/certs/certs.h"
#include "controlplane/crypto/auth.h"
#include "controlplane/ikesa/ike_auth.h"
#include "controlplane/ikesa/negotiation.h"

namespace tcpsec::ikesa {

namespace {

// The octets one side signs (RFC 7296 2.15): the initiator's (RealMessage1,
// Nr, prf(SK_pi, IDi)) or the responder's (RealMessage2, Ni, prf(SK_pr, IDr)).
Expected<ike::Bytes> octets(const IkeSa& sa, bool initiator_side, const ike::Id& id) {
  const auto& k = sa.keys();
  return ikecrypto::signed_octets(sa.transforms.prf, initiator_side ? k.sk_pi : k.sk_pr,
                                  initiator_side ? sa.init_request : sa.init_response,
                                  initiator_side ? sa.nonce_r : sa.nonce_i, id_body(id));
}

class PskAuthenticator final : public Authenticator {
 public:
  Expected<Proof> prove(const IkeSa& sa, TaskContext& ctx, const ike::Id& our_id,
                        const ike::Id& peer_id) override {
    auto secret = shared_secret(ctx.config, sa.connection(), peer_id);
    if (!secret) return secret.status();
    auto data = octets(sa, sa.initiator(), our_id);
    if (!data) return data.status();
    auto auth = ikecrypto::shared_key_auth(sa.transforms.prf, *secret, *data);
    if (!auth) return auth.status();
    return Proof{{}, ike::Auth{ike::AuthMethod::kSharedKeyMic, *auth}};
  }

  Status verify(const IkeSa& sa, TaskContext& ctx, const ike::Id& peer_id,
                const std::vector<ike::Payload>& in) override {
    const auto* auth = ike::find_payload(in, ike::PayloadType::kAuth)->get<ike::Auth>();
    if (auth->method != ike::AuthMethod::kSharedKeyMic)
      return Status::error("peer used " + ike::to_string(auth->method) +
                           ", this connection expects a shared key");
    auto secret = shared_secret(ctx.config, sa.connection(), peer_id);
    if (!secret) return secret.status();
    auto data = octets(sa, !sa.initiator(), peer_id);
    if (!data) return data.status();
    return ikecrypto::verify_shared_key_auth(sa.transforms.prf, *secret, *data, auth->data);
  }
};

std::vector<std::string> paths(const google::protobuf::RepeatedPtrField<std::string>& r) {
  return {r.begin(), r.end()};
}

bool is_signature_method(ike::AuthMethod m) {
  return m == ike::AuthMethod::kRsaSignature || m == ike::AuthMethod::kEcdsaSha256P256 ||
         m == ike::AuthMethod::kEcdsaSha384P384 || m == ike::AuthMethod::kEcdsaSha512P521 ||
         m == ike::AuthMethod::kDigitalSignature;
}

class CertAuthenticator final : public Authenticator {
 public:
  Expected<Proof> prove(const IkeSa& sa, TaskContext&, const ike::Id& our_id,
                        const ike::Id&) override {
    const v1::Connection& c = sa.connection();
    auto creds = certs::LocalCredentials::load(c.local_certificate(), c.local_private_key());
    if (!creds) return creds.status();
    // (That our_id is bound to the certificate is checked by validation;
    // the peer checks it again.)
    auto choice = certs::choose_signature(creds->key(), sa.peer_signature_hashes);
    if (!choice) return choice.status();
    auto data = octets(sa, sa.initiator(), our_id);
    if (!data) return data.status();
    auto sig = ikecrypto::sign_auth(choice->method, creds->key(), *data, choice->hash);
    if (!sig) return sig.status();
    Proof proof;
    for (const auto& cert : creds->chain()) {
      proof.certs.emplace_back(ike::PayloadType::kCert, ike::Cert{ike::CertEncoding::kX509Signature,
                                                                  certs::der_of(cert.get())});
    }
    proof.auth = ike::Auth{static_cast<ike::AuthMethod>(choice->method), std::move(*sig)};
    return proof;
  }

  Status verify(const IkeSa& sa, TaskContext& ctx, const ike::Id& peer_id,
                const std::vector<ike::Payload>& in) override {
    const auto* auth = ike::find_payload(in, ike::PayloadType::kAuth)->get<ike::Auth>();
    if (!is_signature_method(auth->method))
      return Status::error("peer used " + ike::to_string(auth->method) +
                           ", this connection expects a certificate signature");
    certs::X509Ptr end_entity;
    std::vector<certs::X509Ptr> intermediates;
    for (const auto& p : in) {
      const auto* cert = p.get<ike::Cert>();
      if (!cert) continue;
      if (cert->encoding != ike::CertEncoding::kX509Signature) continue;  // not ours to use
      auto x = certs::parse_der(cert->data);
      if (!x) return x.status();
      if (end_entity) {
        intermediates.push_back(std::move(*x));
      } else {
        end_entity = std::move(*x);
      }
    }
    if (!end_entity)
      return Status::error("peer sent no X.509 certificate (CERT payload) with its AUTH");
    auto trust =
        certs::TrustStore::load(paths(ctx.config.ca_certificates()), paths(ctx.config.crl_files()));
    if (!trust) return Status::error("trust anchors: " + trust.error());
    if (auto s = trust->verify(end_entity.get(), intermediates); !s) return s;
    if (auto s = certs::check_identity(end_entity.get(), peer_id); !s) return s;
    certs::PkeyPtr key = certs::public_key(end_entity.get());
    auto data = octets(sa, !sa.initiator(), peer_id);
    if (!data) return data.status();
    return ikecrypto::verify_auth(static_cast<ikecrypto::AuthMethod>(auth->method), key.get(),
                                  *data, auth->data);
  }
};

}  // namespace

std::unique_ptr<Authenticator> make_authenticator(v1::AuthKind kind) {
  if (kind == v1::AUTH_KIND_PUBKEY) return std::make_unique<CertAuthenticator>();
  return std::make_unique<PskAuthenticator>();
}

bool uses_certificates(const v1::Connection& c) {
  return c.local_auth() == v1::AUTH_KIND_PUBKEY || c.remote_auth() == v1::AUTH_KIND_PUBKEY;
}

ike::Payload signature_hash_notify() {
  using H = ikecrypto::SignatureHash;
  ike::Bytes data;
  for (H h : {H::kSha256, H::kSha384, H::kSha512}) {
    data.push_back(static_cast<uint8_t>(static_cast<uint16_t>(h) >> 8));
    data.push_back(static_cast<uint8_t>(h));
  }
  return notify_payload(ike::NotifyType::kSignatureHashAlgorithms, std::move(data));
}

std::vector<uint16_t> peer_signature_hashes(const std::vector<ike::Payload>& in) {
  std::vector<uint16_t> out;
  const ike::Notify* n = ike::find_notify(in, ike::NotifyType::kSignatureHashAlgorithms);
  if (!n) return out;
  for (size_t i = 0; i + 1 < n->data.size(); i += 2)
    out.push_back(static_cast<uint16_t>(n->data[i] << 8 | n->data[i + 1]));
  return out;
}

Expected<std::optional<ike::Payload>> certificate_request(const v1::GatewayConfig& config,
                                                          const v1::Connection& c) {
  if (c.remote_auth() != v1::AUTH_KIND_PUBKEY) return std::optional<ike::Payload>();
  auto trust = certs::TrustStore::load(paths(config.ca_certificates()), {});
  if (!trust) return Status::error("trust anchors: " + trust.error());
  return std::optional<ike::Payload>(
      ike::Payload(ike::PayloadType::kCertReq,
                   ike::CertReq{ike::CertEncoding::kX509Signature, trust->authority_hashes()}));
}

}  // namespace tcpsec::ikesa
