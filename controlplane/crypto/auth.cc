#include "controlplane/crypto/auth.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "controlplane/crypto/openssl_util.h"
#include "controlplane/crypto/prf.h"

namespace tcpsec::ikecrypto {

namespace {

constexpr std::string_view kKeyPad = "Key Pad for IKEv2";  // 2.15, 17 octets, no NUL

using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, ossl::Deleter<ECDSA_SIG_free>>;

// RFC 7427 method 14: the AlgorithmIdentifiers we sign with and accept, in
// DER (RFC 7427 appendix A; ECDSA without parameters, RSA with NULL).
struct SignatureScheme {
  bool rsa;
  SignatureHash hash;
  const char* digest;
  std::span<const uint8_t> algorithm_identifier;
};

constexpr uint8_t kEcdsaSha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
constexpr uint8_t kEcdsaSha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
constexpr uint8_t kEcdsaSha512[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};
constexpr uint8_t kRsaSha256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                  0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
constexpr uint8_t kRsaSha384[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                  0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00};
constexpr uint8_t kRsaSha512[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                  0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00};

const std::array<SignatureScheme, 6> kSchemes = {{
    {false, SignatureHash::kSha256, "SHA256", kEcdsaSha256},
    {false, SignatureHash::kSha384, "SHA384", kEcdsaSha384},
    {false, SignatureHash::kSha512, "SHA512", kEcdsaSha512},
    {true, SignatureHash::kSha256, "SHA256", kRsaSha256},
    {true, SignatureHash::kSha384, "SHA384", kRsaSha384},
    {true, SignatureHash::kSha512, "SHA512", kRsaSha512},
}};

std::string method_name(AuthMethod m) {
  return "AUTH method " + std::to_string(static_cast<unsigned>(m));
}

// Checks that `key` suits `method` and gives the digest (and for methods
// 9-11 the size of r and s).
Status key_for_method(AuthMethod method, EVP_PKEY* key, const char** digest, size_t* ecdsa_half) {
  if (!key) return Status::error(method_name(method) + ": no key");
  const bool is_rsa = EVP_PKEY_is_a(key, "RSA");
  const bool is_ec = EVP_PKEY_is_a(key, "EC");
  const int bits = EVP_PKEY_get_bits(key);
  *ecdsa_half = 0;
  switch (method) {
    case AuthMethod::kRsaSignature:
      if (!is_rsa) return Status::error(method_name(method) + " (RSA) needs an RSA key");
      *digest = "SHA1";
      return Status::ok();
    case AuthMethod::kEcdsaSha256P256:
    case AuthMethod::kEcdsaSha384P384:
    case AuthMethod::kEcdsaSha512P521: {
      const int want = method == AuthMethod::kEcdsaSha256P256   ? 256
                       : method == AuthMethod::kEcdsaSha384P384 ? 384
                                                                : 521;
      if (!is_ec || bits != want) {
        return Status::error(method_name(method) + " needs an EC P-" + std::to_string(want) +
                             " key");
      }
      *digest = want == 256 ? "SHA256" : want == 384 ? "SHA384" : "SHA512";
      *ecdsa_half = (static_cast<size_t>(want) + 7) / 8;
      return Status::ok();
    }
    default:
      return Status::error(method_name(method) + " is not a signature method handled here");
  }
}

Expected<Bytes> digest_sign(EVP_PKEY* key, const char* digest, std::span<const uint8_t> data,
                            const std::string& what) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, digest, nullptr, nullptr, key, nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
    return ossl::failure(what + ": signing");
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1) {
    return ossl::failure(what + ": signing");
  }
  sig.resize(len);
  return sig;
}

Status digest_verify(EVP_PKEY* key, const char* digest, std::span<const uint8_t> data,
                     std::span<const uint8_t> sig, const std::string& what) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx ||
      EVP_DigestVerifyInit_ex(ctx.get(), nullptr, digest, nullptr, nullptr, key, nullptr) != 1) {
    return ossl::failure(what + ": verification setup");
  }
  if (EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) != 1) {
    ossl::drain_errors();
    return Status::error(what + ": signature does not verify");
  }
  return Status::ok();
}

// DER Ecdsa-Sig-Value <-> r | s, each `half` bytes (RFC 4754 7).
Expected<Bytes> der_to_raw(std::span<const uint8_t> der, size_t half, const std::string& what) {
  const uint8_t* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return ossl::failure(what + ": decoding ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes out(2 * half);
  if (BN_bn2binpad(r, out.data(), static_cast<int>(half)) < 0 ||
      BN_bn2binpad(s, out.data() + half, static_cast<int>(half)) < 0) {
    return Status::error(what + ": ECDSA r or s longer than the group order");
  }
  return out;
}

Expected<Bytes> raw_to_der(std::span<const uint8_t> raw, size_t half, const std::string& what) {
  if (raw.size() != 2 * half) {
    return Status::error(what + ": ECDSA signature is " + std::to_string(raw.size()) +
                         " bytes, expected " + std::to_string(2 * half) + " (r | s)");
  }
  EcdsaSigPtr sig(ECDSA_SIG_new());
  ossl::BnPtr r(BN_bin2bn(raw.data(), static_cast<int>(half), nullptr));
  ossl::BnPtr s(BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return ossl::failure(what + ": ECDSA signature");
  }
  r.release();  // owned by sig now
  s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return ossl::failure(what + ": encoding ECDSA signature");
  Bytes der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  i2d_ECDSA_SIG(sig.get(), &p);
  return der;
}

}  // namespace

Expected<Bytes> signed_octets(PrfId prf_id, std::span<const uint8_t> sk_p,
                              std::span<const uint8_t> real_message,
                              std::span<const uint8_t> peer_nonce,
                              std::span<const uint8_t> id_payload_body) {
  auto maced_id = prf(prf_id, sk_p, id_payload_body);
  if (!maced_id) return maced_id.status();
  Bytes out;
  out.reserve(real_message.size() + peer_nonce.size() + maced_id->size());
  out.insert(out.end(), real_message.begin(), real_message.end());
  out.insert(out.end(), peer_nonce.begin(), peer_nonce.end());
  out.insert(out.end(), maced_id->begin(), maced_id->end());
  return out;
}

Expected<Bytes> shared_key_auth(PrfId prf_id, std::span<const uint8_t> shared_secret,
                                std::span<const uint8_t> octets) {
  auto pad_key = prf(
      prf_id, shared_secret,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kKeyPad.data()), kKeyPad.size()));
  if (!pad_key) return pad_key.status();
  auto auth = prf(prf_id, *pad_key, octets);
  if (!auth) return auth.status();
  return Bytes(auth->begin(), auth->end());
}

Status verify_shared_key_auth(PrfId prf_id, std::span<const uint8_t> shared_secret,
                              std::span<const uint8_t> octets,
                              std::span<const uint8_t> received_auth) {
  auto expected = shared_key_auth(prf_id, shared_secret, octets);
  if (!expected) return expected.status();
  if (received_auth.size() != expected->size()) {
    return Status::error("AUTH: shared key MIC is " + std::to_string(received_auth.size()) +
                         " bytes, " + to_string(prf_id) + " gives " +
                         std::to_string(expected->size()));
  }
  if (CRYPTO_memcmp(expected->data(), received_auth.data(), expected->size()) != 0) {
    return Status::error(
        "AUTH: shared key MIC mismatch (wrong pre-shared key, or the "
        "IKE_SA_INIT messages differ between the peers)");
  }
  return Status::ok();
}

Expected<Bytes> sign_auth(AuthMethod method, EVP_PKEY* private_key, std::span<const uint8_t> octets,
                          SignatureHash hash) {
  const std::string what = method_name(method);
  if (method == AuthMethod::kDigitalSignature) {
    if (!private_key) return Status::error(what + ": no key");
    const bool rsa = EVP_PKEY_is_a(private_key, "RSA");
    if (!rsa && !EVP_PKEY_is_a(private_key, "EC")) {
      return Status::error(what + ": only RSA and EC keys are supported");
    }
    for (const SignatureScheme& s : kSchemes) {
      if (s.rsa != rsa || s.hash != hash) continue;
      auto sig = digest_sign(private_key, s.digest, octets, what);
      if (!sig) return sig.status();
      Bytes out;
      out.push_back(static_cast<uint8_t>(s.algorithm_identifier.size()));
      out.insert(out.end(), s.algorithm_identifier.begin(), s.algorithm_identifier.end());
      out.insert(out.end(), sig->begin(), sig->end());
      return out;
    }
    return Status::error(what + ": unsupported hash " +
                         std::to_string(static_cast<unsigned>(hash)));
  }
  const char* digest = nullptr;
  size_t half = 0;
  if (Status st = key_for_method(method, private_key, &digest, &half); !st) return st;
  auto sig = digest_sign(private_key, digest, octets, what);
  if (!sig || half == 0) return sig;
  return der_to_raw(*sig, half, what);
}

Status verify_auth(AuthMethod method, EVP_PKEY* public_key, std::span<const uint8_t> octets,
                   std::span<const uint8_t> auth_data) {
  const std::string what = method_name(method);
  if (method == AuthMethod::kDigitalSignature) {
    if (!public_key) return Status::error(what + ": no key");
    if (auth_data.empty() || auth_data.size() < 1u + auth_data[0]) {
      return Status::error(what + ": AUTH data shorter than its AlgorithmIdentifier");
    }
    const auto algorithm = auth_data.subspan(1, auth_data[0]);
    const auto sig = auth_data.subspan(1 + auth_data[0]);
    for (const SignatureScheme& s : kSchemes) {
      if (!std::equal(algorithm.begin(), algorithm.end(), s.algorithm_identifier.begin(),
                      s.algorithm_identifier.end())) {
        continue;
      }
      if (!EVP_PKEY_is_a(public_key, s.rsa ? "RSA" : "EC")) {
        return Status::error(what + ": the peer signed with " + (s.rsa ? "RSA" : "ECDSA") +
                             " but its key is not " + (s.rsa ? "RSA" : "EC"));
      }
      return digest_verify(public_key, s.digest, octets, sig, what);
    }
    return Status::error(what +
                         ": unsupported signature AlgorithmIdentifier (supported: "
                         "ECDSA or RSA PKCS#1 v1.5 with SHA-256/384/512)");
  }
  const char* digest = nullptr;
  size_t half = 0;
  if (Status st = key_for_method(method, public_key, &digest, &half); !st) return st;
  if (half == 0) return digest_verify(public_key, digest, octets, auth_data, what);
  auto der = raw_to_der(auth_data, half, what);
  if (!der) return der.status();
  return digest_verify(public_key, digest, octets, *der, what);
}

}  // namespace tcpsec::ikecrypto
