// X.509 certificates for IKE_AUTH (OpenSSL 3): our own credentials (a PEM
// chain and its private key), trust anchors (CA PEM files, optional CRLs),
// verification of a peer's chain, binding of an IKE identity to a
// certificate (RFC 4945 3.1 spirit), the CERTREQ authority hashes, and the
// AUTH method a key signs with.
//
//   auto me = LocalCredentials::load("gw.pem", "gw.key");       // chain + key
//   auto trust = TrustStore::load({"ca.pem"}, {});             // anchors (+CRLs)
//   auto peer = parse_der(cert_payload.data);                  // the peer's CERT
//   trust->verify(*peer, intermediates);                       // chain, dates, usage
//   check_identity(peer->get(), idi);                          // SAN / subject DN
//   auto how = choose_signature(me->key(), peer_hashes);       // method 14 or 1/9/10/11
//
// Nothing here throws; errors name the file or certificate and the reason.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/crypto/auth.h"
#include "controlplane/message/payloads.h"

typedef struct x509_st X509;
typedef struct X509_crl_st X509_CRL;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_store_st X509_STORE;

namespace tcpsec::certs {

using ike::Bytes;

struct X509Free {
  void operator()(X509* p) const;
};
struct CrlFree {
  void operator()(X509_CRL* p) const;
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const;
};
struct StoreFree {
  void operator()(X509_STORE* p) const;
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using StorePtr = std::unique_ptr<X509_STORE, StoreFree>;

// ---- files ----------------------------------------------------------------

// Every certificate of a PEM file, in file order. Errors: "<path>: cannot
// open: <errno text>", "<path>: no PEM certificate in it", "<path>: <OpenSSL
// reason>".
Expected<std::vector<X509Ptr>> load_certificates(const std::string& path);
// An unencrypted PEM private key (PKCS#8, or traditional RSA / EC).
Expected<PkeyPtr> load_private_key(const std::string& path);
// Every CRL of a PEM file.
Expected<std::vector<CrlPtr>> load_crls(const std::string& path);

// ---- single certificates ----------------------------------------------------

Expected<X509Ptr> parse_der(std::span<const uint8_t> der);
Bytes der_of(X509* cert);
// "C=XX, O=tcpsec test, CN=gw" (RFC 2253-like, in certificate order).
std::string subject_text(X509* cert);
// The subject as DER (an ID_DER_ASN1_DN identity's data).
Bytes subject_der(X509* cert);
// The certificate's public key (a new reference).
PkeyPtr public_key(X509* cert);
// SHA-1 of the DER SubjectPublicKeyInfo: what CERTREQ lists per CA (RFC
// 7296 3.7; strongSwan's KEYID_PUBKEY_INFO_SHA1).
Bytes spki_sha1(X509* cert);

// The identities a certificate vouches for: its subjectAltName entries.
struct SanIdentities {
  std::vector<std::string> dns;    // dNSName
  std::vector<std::string> email;  // rfc822Name
  std::vector<Bytes> ip;           // iPAddress, 4 or 16 bytes
};
SanIdentities san_identities(X509* cert);

// Whether `id` is bound to `cert`: an FQDN must be a dNSName (without
// regard to case), an email an rfc822Name (the domain without regard to
// case), an IP address an iPAddress SAN, a DN equal to the subject
// (X509_NAME_cmp). Other ID types are refused. Error: "identity
// fqdn:x is not in the certificate's subjectAltName (DNS:a, IP:b) ...".
Status check_identity(X509* cert, const ike::Id& id);

// ---- our credentials ----------------------------------------------------------

class LocalCredentials {
 public:
  // `chain_path`: PEM, our certificate first, then any intermediates;
  // `key_path`: its private key, which must match the first certificate.
  static Expected<LocalCredentials> load(const std::string& chain_path,
                                         const std::string& key_path);
  X509* certificate() const { return chain_.front().get(); }
  const std::vector<X509Ptr>& chain() const { return chain_; }
  EVP_PKEY* key() const { return key_.get(); }

 private:
  std::vector<X509Ptr> chain_;
  PkeyPtr key_;
};

// ---- trust ------------------------------------------------------------------

class TrustStore {
 public:
  // Trust anchors from CA PEM files (each must hold at least one
  // certificate, all of them CAs); CRLs from `crl_paths` (optional: a
  // certificate's revocation is checked when a CRL of its issuer is loaded).
  static Expected<TrustStore> load(const std::vector<std::string>& ca_paths,
                                   const std::vector<std::string>& crl_paths);

  // Verifies `end_entity` (with `intermediates` as untrusted helpers) up to
  // one of our anchors with X509_verify_cert: signatures, validity at
  // `at` (0: now), basicConstraints of the issuers, revocation where a CRL
  // is loaded; then the end-entity's usage: keyUsage (when present) allows
  // digitalSignature or nonRepudiation, extendedKeyUsage (when present)
  // holds serverAuth, clientAuth, ipsecIKE or anyExtendedKeyUsage.
  // Errors begin "certificate \"<subject>\" is not trusted: ..." (no path
  // to an anchor, bad signature, revoked), "... is not valid: expired" etc.
  Status verify(X509* end_entity, const std::vector<X509Ptr>& intermediates,
                std::time_t at = 0) const;

  // Concatenated spki_sha1() of the anchors: a CERTREQ payload's data.
  Bytes authority_hashes() const;
  size_t size() const { return anchors_.size(); }

 private:
  std::vector<X509Ptr> anchors_;
  std::vector<CrlPtr> crls_;
  StorePtr store_;
};

// ---- AUTH methods -------------------------------------------------------------

struct SignatureChoice {
  ikecrypto::AuthMethod method;
  ikecrypto::SignatureHash hash = ikecrypto::SignatureHash::kSha256;
};

// How to sign AUTH with `key`. When the peer announced RFC 7427 support
// (SIGNATURE_HASH_ALGORITHMS, `peer_hashes` non-empty) and one of SHA-256,
// SHA-384, SHA-512 is common: Digital Signature (14) with SHA-256 (SHA-384
// for P-384, SHA-512 for P-521 keys when offered), which is what strongSwan
// 5.9 itself uses then. Otherwise the classic methods every strongSwan
// accepts: RSA -> 1 (PKCS#1 v1.5, SHA-1), EC P-256/384/521 -> 9/10/11.
Expected<SignatureChoice> choose_signature(EVP_PKEY* key, std::span<const uint16_t> peer_hashes);

// "RSA 2048", "EC P-256", ... for logs.
std::string key_description(EVP_PKEY* key);

}  // namespace tcpsec::certs
