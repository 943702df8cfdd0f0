// A throwaway PKI made at test time with OpenSSL's APIs (the C++ twin of
// tests/e2e/pki.py): a CA, end-entity certificates with SANs, chosen
// validity (expired ones too), intermediates, CRLs; all written as PEM
// files in a fresh temporary directory, so configurations can name them.
//
//   TempDir dir;
//   TestCa ca(dir, "ca", "ec256");
//   Issued gw = ca.issue("gw", {"DNS:gw.test", "IP:192.0.2.1"}, "rsa2048");
//   gw.cert_path, gw.key_path, ca.cert_path
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "controlplane/certs/certs.h"

namespace tcpsec::certs::testing {

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "tcpsec-certs-XXXXXX").string();
    if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// "ec256", "ec384", "ec521", "rsa2048".
inline PkeyPtr make_key(const std::string& kind) {
  EVP_PKEY* k = nullptr;
  if (kind == "rsa2048") {
    k = EVP_RSA_gen(2048);
  } else {
    const char* curve = kind == "ec384" ? "P-384" : kind == "ec521" ? "P-521" : "P-256";
    k = EVP_EC_gen(curve);
  }
  if (!k) throw std::runtime_error("key generation " + kind);
  return PkeyPtr(k);
}

inline void write_pem(const std::string& path, X509* cert, EVP_PKEY* key = nullptr,
                      const std::vector<X509*>& more = {}) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  if (cert) PEM_write_X509(f, cert);
  for (X509* c : more) PEM_write_X509(f, c);
  if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

struct Issued {
  std::string cert_path, key_path;
  X509Ptr cert;
  PkeyPtr key;
};

inline void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error("extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

struct Validity {
  long not_before_s = -3600;  // relative to now
  long not_after_s = 365L * 24 * 3600;
};

class TestCa {
 public:
  // A self-signed CA "C=XX, O=tcpsec test, CN=<cn>" written to <dir>/<name>.pem.
  TestCa(const TempDir& dir, const std::string& name, const std::string& kind = "ec256",
         const std::string& cn = "")
      : dir_(dir), key_(make_key(kind)) {
    cert_ = make(cn.empty() ? "tcpsec test " + name : cn, key_.get(), nullptr, nullptr, {}, true,
                 Validity{-30L * 86400, 3650L * 86400});
    cert_path = dir.file(name + ".pem");
    key_path = dir.file(name + ".key.pem");
    write_pem(cert_path, cert_.get());
    write_pem(key_path, nullptr, key_.get());
  }

  // An end-entity (or, with `ca`, an intermediate CA) signed by this CA.
  // `sans`: "DNS:x", "email:x", "IP:x". Files <name>.pem, <name>.key.pem;
  // the certificate file holds `chain_extra` after it.
  Issued issue(const std::string& name, const std::vector<std::string>& sans,
               const std::string& kind = "ec256", Validity v = {}, bool ca = false,
               const std::string& cn = "", const std::string& eku = "serverAuth,clientAuth",
               const std::vector<X509*>& chain_extra = {}) {
    Issued out;
    out.key = make_key(kind);
    std::string subject_cn = cn;
    if (subject_cn.empty()) {
      subject_cn = name;
      for (const auto& s : sans)
        if (s.rfind("DNS:", 0) == 0) {
          subject_cn = s.substr(4);
          break;
        }
    }
    out.cert = make(subject_cn, out.key.get(), cert_.get(), key_.get(), sans, ca, v, eku);
    out.cert_path = dir_.file(name + ".pem");
    out.key_path = dir_.file(name + ".key.pem");
    write_pem(out.cert_path, out.cert.get(), nullptr, chain_extra);
    write_pem(out.key_path, nullptr, out.key.get());
    return out;
  }

  // A CRL of this CA revoking `revoked`, written to <dir>/<name>.
  std::string crl(const std::string& name, const std::vector<X509*>& revoked) {
    X509_CRL* crl = X509_CRL_new();
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(cert_.get()));
    ASN1_TIME* last = X509_gmtime_adj(nullptr, -60);
    ASN1_TIME* next = X509_gmtime_adj(nullptr, 7 * 24 * 3600);
    X509_CRL_set1_lastUpdate(crl, last);
    X509_CRL_set1_nextUpdate(crl, next);
    for (X509* c : revoked) {
      X509_REVOKED* r = X509_REVOKED_new();
      X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(c));
      X509_REVOKED_set_revocationDate(r, last);
      X509_CRL_add0_revoked(crl, r);
    }
    X509_CRL_sort(crl);
    X509_CRL_sign(crl, key_.get(), EVP_sha256());
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    std::string path = dir_.file(name);
    FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_X509_CRL(f, crl);
    std::fclose(f);
    X509_CRL_free(crl);
    return path;
  }

  X509* cert() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }
  std::string cert_path, key_path;

 private:
  X509Ptr make(const std::string& cn, EVP_PKEY* subject_key, X509* issuer, EVP_PKEY* issuer_key,
               const std::vector<std::string>& sans, bool ca, Validity v,
               const std::string& eku = "") {
    X509Ptr c(X509_new());
    X509_set_version(c.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c.get()), ++serial_ + (issuer ? 1000 : 0));
    X509_gmtime_adj(X509_getm_notBefore(c.get()), v.not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(c.get()), v.not_after_s);
    X509_set_pubkey(c.get(), subject_key);
    X509_NAME* n = X509_get_subject_name(c.get());
    X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("XX"),
                               -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("tcpsec test"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509* signer = issuer ? issuer : c.get();
    X509_set_issuer_name(c.get(), X509_get_subject_name(signer));
    add_ext(c.get(), signer, NID_subject_key_identifier, "hash");
    if (issuer) add_ext(c.get(), signer, NID_authority_key_identifier, "keyid");
    if (ca) {
      add_ext(c.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
      add_ext(c.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      add_ext(c.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
      add_ext(c.get(), signer, NID_key_usage, "critical,digitalSignature");
      if (!eku.empty()) add_ext(c.get(), signer, NID_ext_key_usage, eku);
    }
    if (!sans.empty()) {
      std::string s;
      for (const auto& x : sans) s += (s.empty() ? "" : ",") + x;
      add_ext(c.get(), signer, NID_subject_alt_name, s);
    }
    if (X509_sign(c.get(), issuer_key ? issuer_key : subject_key, EVP_sha256()) == 0)
      throw std::runtime_error("X509_sign");
    return c;
  }

  const TempDir& dir_;
  PkeyPtr key_;
  X509Ptr cert_;
  long serial_ = 0;
};

}  // namespace tcpsec::certs::testing
