// LocalCredentials, TrustStore and the choice of AUTH method (certs.h).
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "controlplane/certs/certs.h"
#include "controlplane/crypto/openssl_util.h"

namespace tcpsec::certs {

namespace {

using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, ikecrypto::ossl::Deleter<X509_STORE_CTX_free>>;
using EkuPtr =
    std::unique_ptr<EXTENDED_KEY_USAGE, ikecrypto::ossl::Deleter<EXTENDED_KEY_USAGE_free>>;

// Stack of borrowed certificates (sk_X509_free leaves them alone).
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using StackPtr = std::unique_ptr<STACK_OF(X509), StackFree>;

// CRLs are optional per issuer: a certificate whose issuer has no CRL
// loaded passes the revocation check.
int verify_callback(int ok, X509_STORE_CTX* ctx) {
  if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL) return 1;
  return ok;
}

bool is_date_error(int e) {
  return e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID ||
         e == X509_V_ERR_CRL_HAS_EXPIRED || e == X509_V_ERR_CRL_NOT_YET_VALID;
}

// keyUsage and extendedKeyUsage of the end-entity (see TrustStore::verify).
Status check_usage(X509* cert) {
  const std::string who = "certificate \"" + subject_text(cert) + "\"";
  const uint32_t ku = X509_get_key_usage(cert);  // UINT32_MAX: no extension
  if (ku != UINT32_MAX && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))) {
    return Status::error(who +
                         ": its keyUsage allows neither digitalSignature nor "
                         "nonRepudiation");
  }
  EkuPtr eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  if (!eku) return Status::ok();
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    const ASN1_OBJECT* o = sk_ASN1_OBJECT_value(eku.get(), i);
    int nid = OBJ_obj2nid(o);
    if (nid == NID_server_auth || nid == NID_client_auth || nid == NID_ipsec_IKE ||
        nid == NID_anyExtendedKeyUsage) {
      return Status::ok();
    }
    char oid[64];
    if (OBJ_obj2txt(oid, sizeof oid, o, 1) > 0 && std::string(oid) == "1.3.6.1.5.5.8.2.2") {
      return Status::ok();  // iKEIntermediate (strongSwan's pki --flag ikeIntermediate)
    }
  }
  return Status::error(who +
                       ": its extendedKeyUsage holds none of serverAuth, clientAuth, "
                       "ipsecIKE, iKEIntermediate, anyExtendedKeyUsage");
}

}  // namespace

Expected<LocalCredentials> LocalCredentials::load(const std::string& chain_path,
                                                  const std::string& key_path) {
  auto chain = load_certificates(chain_path);
  if (!chain) return chain.status();
  auto key = load_private_key(key_path);
  if (!key) return key.status();
  X509* ee = chain->front().get();
  if (X509_check_private_key(ee, key->get()) != 1) {
    ERR_clear_error();
    return Status::error(key_path + ": this " + key_description(key->get()) +
                         " key does not belong to the first certificate of " + chain_path + " (\"" +
                         subject_text(ee) + "\")");
  }
  LocalCredentials out;
  out.chain_ = std::move(*chain);
  out.key_ = std::move(*key);
  return out;
}

Expected<TrustStore> TrustStore::load(const std::vector<std::string>& ca_paths,
                                      const std::vector<std::string>& crl_paths) {
  if (ca_paths.empty()) return Status::error("no CA certificate (trust anchor) configured");
  TrustStore t;
  t.store_.reset(X509_STORE_new());
  if (!t.store_) return ikecrypto::ossl::failure("X509_STORE_new");
  for (const auto& path : ca_paths) {
    auto certs = load_certificates(path);
    if (!certs) return certs.status();
    for (auto& c : *certs) {
      if (X509_check_ca(c.get()) == 0) {
        return Status::error(path + ": certificate \"" + subject_text(c.get()) +
                             "\" is not a CA (no basicConstraints CA:TRUE)");
      }
      if (X509_STORE_add_cert(t.store_.get(), c.get()) != 1) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE)
          return ikecrypto::ossl::failure(path + ": adding to the trust store");
        ERR_clear_error();
        continue;
      }
      t.anchors_.push_back(std::move(c));
    }
  }
  for (const auto& path : crl_paths) {
    auto crls = load_crls(path);
    if (!crls) return crls.status();
    for (auto& c : *crls) {
      if (X509_STORE_add_crl(t.store_.get(), c.get()) != 1) {
        return ikecrypto::ossl::failure(path + ": adding a CRL to the trust store");
      }
      t.crls_.push_back(std::move(c));
    }
  }
  if (!t.crls_.empty()) X509_STORE_set_flags(t.store_.get(), X509_V_FLAG_CRL_CHECK);
  X509_STORE_set_verify_cb(t.store_.get(), verify_callback);
  return t;
}

Status TrustStore::verify(X509* end_entity, const std::vector<X509Ptr>& intermediates,
                          std::time_t at) const {
  const std::string who = "certificate \"" + subject_text(end_entity) + "\"";
  StackPtr untrusted(sk_X509_new_null());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!untrusted || !ctx) return ikecrypto::ossl::failure("verifying " + who);
  for (const auto& c : intermediates) sk_X509_push(untrusted.get(), c.get());
  if (X509_STORE_CTX_init(ctx.get(), store_.get(), end_entity, untrusted.get()) != 1) {
    return ikecrypto::ossl::failure("verifying " + who);
  }
  if (at != 0) X509_STORE_CTX_set_time(ctx.get(), 0, at);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int e = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    std::string where;
    if (X509* bad = X509_STORE_CTX_get_current_cert(ctx.get()); bad && bad != end_entity) {
      where = " (at \"" + subject_text(bad) + "\")";
    }
    return Status::error(who + (is_date_error(e) ? " is not valid: " : " is not trusted: ") +
                         X509_verify_cert_error_string(e) + where);
  }
  return check_usage(end_entity);
}

Bytes TrustStore::authority_hashes() const {
  Bytes out;
  for (const auto& a : anchors_) {
    Bytes h = spki_sha1(a.get());
    out.insert(out.end(), h.begin(), h.end());
  }
  return out;
}

std::string key_description(EVP_PKEY* key) {
  if (!key) return "no";
  if (EVP_PKEY_is_a(key, "RSA")) return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1) {
      std::string g(group, len);
      if (g == "prime256v1") return "EC P-256";
      if (g == "secp384r1") return "EC P-384";
      if (g == "secp521r1") return "EC P-521";
      return "EC " + g;
    }
    return "EC";
  }
  return EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "unknown";
}

Expected<SignatureChoice> choose_signature(EVP_PKEY* key, std::span<const uint16_t> peer_hashes) {
  using ikecrypto::AuthMethod;
  using ikecrypto::SignatureHash;
  const std::string desc = key_description(key);
  const bool rsa = key && EVP_PKEY_is_a(key, "RSA");
  const bool ec = key && EVP_PKEY_is_a(key, "EC");
  if (!rsa && !ec) return Status::error("a " + desc + " key cannot sign IKE AUTH (RSA or EC)");
  auto offered = [&](SignatureHash h) {
    return std::find(peer_hashes.begin(), peer_hashes.end(), static_cast<uint16_t>(h)) !=
           peer_hashes.end();
  };
  // Preference per key: the hash that fits its size first.
  std::vector<SignatureHash> order = {SignatureHash::kSha256, SignatureHash::kSha384,
                                      SignatureHash::kSha512};
  if (desc == "EC P-384") {
    order = {SignatureHash::kSha384, SignatureHash::kSha512, SignatureHash::kSha256};
  } else if (desc == "EC P-521") {
    order = {SignatureHash::kSha512, SignatureHash::kSha384, SignatureHash::kSha256};
  }
  for (SignatureHash h : order) {
    if (offered(h)) return SignatureChoice{AuthMethod::kDigitalSignature, h};
  }
  if (rsa) return SignatureChoice{AuthMethod::kRsaSignature};
  if (desc == "EC P-256") return SignatureChoice{AuthMethod::kEcdsaSha256P256};
  if (desc == "EC P-384") return SignatureChoice{AuthMethod::kEcdsaSha384P384};
  if (desc == "EC P-521") return SignatureChoice{AuthMethod::kEcdsaSha512P521};
  return Status::error("a " + desc +
                       " key signs only with RFC 7427 (method 14), and the peer sent no "
                       "SIGNATURE_HASH_ALGORITHMS we share");
}

}  // namespace tcpsec::certs
