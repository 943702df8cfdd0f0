// Files, single certificates and identities (certs.h).
#include "controlplane/certs/certs.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "controlplane/crypto/openssl_util.h"
#include "controlplane/selectors/identity.h"

namespace tcpsec::certs {

void X509Free::operator()(X509* p) const {
  X509_free(p);
}
void CrlFree::operator()(X509_CRL* p) const {
  X509_CRL_free(p);
}
void PkeyFree::operator()(EVP_PKEY* p) const {
  EVP_PKEY_free(p);
}
void StoreFree::operator()(X509_STORE* p) const {
  X509_STORE_free(p);
}

namespace {

using BioPtr = std::unique_ptr<BIO, ikecrypto::ossl::Deleter<BIO_free>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, ikecrypto::ossl::Deleter<GENERAL_NAMES_free>>;

constexpr size_t kMaxPemBytes = 1024 * 1024;

// The file's bytes in a memory BIO (so errors can tell "cannot open" from
// "not PEM"); `marker`: text the file must hold, else "no PEM <what> in it".
Expected<BioPtr> read_file(const std::string& path, const char* marker, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  std::string data = text.str();
  if (data.size() > kMaxPemBytes) return Status::error(path + ": larger than 1 MiB");
  if (data.find(marker) == std::string::npos)
    return Status::error(path + ": no PEM " + what + " in it");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || BIO_write(bio.get(), data.data(), static_cast<int>(data.size())) !=
                  static_cast<int>(data.size())) {
    return ikecrypto::ossl::failure(path);
  }
  return bio;
}

bool no_more_pem() {
  unsigned long e = ERR_peek_last_error();
  return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string asn1_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string ip_text(const Bytes& ip) {
  ike::Id id{ip.size() == 4 ? ike::IdType::kIpv4Addr : ike::IdType::kIpv6Addr, ip};
  std::string s = selectors::to_string(id);
  auto colon = s.find(':');
  return colon == std::string::npos ? s : s.substr(colon + 1);
}

std::string san_text(const SanIdentities& san) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  for (const auto& d : san.dns) add("DNS:" + d);
  for (const auto& e : san.email) add("email:" + e);
  for (const auto& i : san.ip) add("IP:" + ip_text(i));
  return out.empty() ? "none" : out;
}

bool email_equal(const std::string& a, const std::string& b) {
  auto at_a = a.rfind('@'), at_b = b.rfind('@');
  if (at_a == std::string::npos || at_b == std::string::npos) return a == b;
  return a.substr(0, at_a) == b.substr(0, at_b) && lower(a.substr(at_a)) == lower(b.substr(at_b));
}

}  // namespace

Expected<std::vector<X509Ptr>> load_certificates(const std::string& path) {
  auto bio = read_file(path, "-----BEGIN CERTIFICATE-----", "certificate");
  if (!bio) return bio.status();
  std::vector<X509Ptr> out;
  ERR_clear_error();
  while (X509* c = PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
  if (!no_more_pem()) return ikecrypto::ossl::failure(path + ": reading a certificate");
  ERR_clear_error();
  if (out.empty()) return Status::error(path + ": no PEM certificate in it");
  return out;
}

Expected<PkeyPtr> load_private_key(const std::string& path) {
  auto bio = read_file(path, "PRIVATE KEY-----", "private key");
  if (!bio) return bio.status();
  ERR_clear_error();
  // An empty passphrase: an encrypted key fails instead of prompting.
  PkeyPtr key(PEM_read_bio_PrivateKey(bio->get(), nullptr, nullptr, const_cast<char*>("")));
  if (!key) return ikecrypto::ossl::failure(path + ": not an unencrypted PEM private key");
  if (!EVP_PKEY_is_a(key.get(), "RSA") && !EVP_PKEY_is_a(key.get(), "EC")) {
    return Status::error(path + ": a " + std::string(EVP_PKEY_get0_type_name(key.get())) +
                         " key; only RSA and EC keys are supported");
  }
  return key;
}

Expected<std::vector<CrlPtr>> load_crls(const std::string& path) {
  auto bio = read_file(path, "-----BEGIN X509 CRL-----", "CRL (X509 CRL)");
  if (!bio) return bio.status();
  std::vector<CrlPtr> out;
  ERR_clear_error();
  while (X509_CRL* c = PEM_read_bio_X509_CRL(bio->get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(c);
  }
  if (!no_more_pem()) return ikecrypto::ossl::failure(path + ": reading a CRL");
  ERR_clear_error();
  if (out.empty()) return Status::error(path + ": no PEM CRL (X509 CRL) in it");
  return out;
}

Expected<X509Ptr> parse_der(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return ikecrypto::ossl::failure("CERT payload: not a DER X.509 certificate");
  if (p != der.data() + der.size())
    return Status::error("CERT payload: bytes after the DER certificate");
  return cert;
}

Bytes der_of(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_X509(cert, &p);
  return out;
}

std::string subject_text(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return "?";
  X509_NAME_print_ex(
      bio.get(), X509_get_subject_name(cert), 0,
      (XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_SPC_EQ) | ASN1_STRFLGS_UTF8_CONVERT);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Bytes subject_der(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509_NAME(X509_get_subject_name(cert), &der);
  if (len <= 0) return {};
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

PkeyPtr public_key(X509* cert) {
  return PkeyPtr(X509_get_pubkey(cert));
}

Bytes spki_sha1(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) return {};
  Bytes out(SHA_DIGEST_LENGTH);
  SHA1(der, static_cast<size_t>(len), out.data());
  OPENSSL_free(der);
  return out;
}

SanIdentities san_identities(X509* cert) {
  SanIdentities out;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    switch (n->type) {
      case GEN_DNS:
        out.dns.push_back(asn1_text(n->d.dNSName));
        break;
      case GEN_EMAIL:
        out.email.push_back(asn1_text(n->d.rfc822Name));
        break;
      case GEN_IPADD: {
        const ASN1_OCTET_STRING* ip = n->d.iPAddress;
        if (ASN1_STRING_length(ip) == 4 || ASN1_STRING_length(ip) == 16) {
          const uint8_t* d = ASN1_STRING_get0_data(ip);
          out.ip.emplace_back(d, d + ASN1_STRING_length(ip));
        }
        break;
      }
      default:
        break;
    }
  }
  return out;
}

Status check_identity(X509* cert, const ike::Id& id) {
  const std::string want(id.data.begin(), id.data.end());
  SanIdentities san = san_identities(cert);
  bool found = false;
  switch (id.type) {
    case ike::IdType::kFqdn:
      found = std::any_of(san.dns.begin(), san.dns.end(),
                          [&](const std::string& d) { return lower(d) == lower(want); });
      break;
    case ike::IdType::kRfc822Addr:
      found = std::any_of(san.email.begin(), san.email.end(),
                          [&](const std::string& e) { return email_equal(e, want); });
      break;
    case ike::IdType::kIpv4Addr:
    case ike::IdType::kIpv6Addr:
      found = std::find(san.ip.begin(), san.ip.end(), id.data) != san.ip.end();
      break;
    case ike::IdType::kDerAsn1Dn: {
      const unsigned char* p = id.data.data();
      std::unique_ptr<X509_NAME, ikecrypto::ossl::Deleter<X509_NAME_free>> name(
          d2i_X509_NAME(nullptr, &p, static_cast<long>(id.data.size())));
      ERR_clear_error();
      if (name && X509_NAME_cmp(name.get(), X509_get_subject_name(cert)) == 0) return Status::ok();
      return Status::error("identity " + selectors::to_string(id) +
                           " is not the certificate's subject \"" + subject_text(cert) + "\"");
    }
    default:
      return Status::error("identity " + selectors::to_string(id) +
                           ": this ID type cannot be bound to a certificate (use an FQDN, "
                           "email, IP address or DN)");
  }
  if (found) return Status::ok();
  return Status::error("identity " + selectors::to_string(id) +
                       " is not in the subjectAltName of certificate \"" + subject_text(cert) +
                       "\" (" + san_text(san) + ")");
}

}  // namespace tcpsec::certs
