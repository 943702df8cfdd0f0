#include "controlplane/crypto/diffie_hellman.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include <algorithm>
#include <string>

#include "controlplane/crypto/openssl_util.h"

namespace tcpsec::ikecrypto {

namespace {

enum class Family { kModp, kEcp, kX25519 };

struct GroupInfo {
  Family family;
  size_t public_length;  // KE payload data
  size_t secret_length;  // g^ir
  const char* name;      // OpenSSL group name (DH, EC); nullptr for X25519
  int nid;               // EC curve NID, for computing a test key's public point
};

const GroupInfo* group_info(DhGroup group) {
  static const GroupInfo kModp2048{Family::kModp, 256, 256, "modp_2048", 0};
  static const GroupInfo kEcp256{Family::kEcp, 64, 32, "P-256", NID_X9_62_prime256v1};
  static const GroupInfo kEcp384{Family::kEcp, 96, 48, "P-384", NID_secp384r1};
  static const GroupInfo kX25519{Family::kX25519, 32, 32, nullptr, 0};
  switch (group) {
    case DhGroup::kModp2048:
      return &kModp2048;
    case DhGroup::kEcp256:
      return &kEcp256;
    case DhGroup::kEcp384:
      return &kEcp384;
    case DhGroup::kCurve25519:
      return &kX25519;
  }
  return nullptr;
}

Status unsupported(DhGroup group) {
  return Status::error("unsupported " + to_string(group));
}

// The KE encoding of `key`'s public value.
Expected<Bytes> encode_public(const GroupInfo& info, EVP_PKEY* key, DhGroup group) {
  Bytes out(info.public_length);
  switch (info.family) {
    case Family::kModp: {
      BIGNUM* raw = nullptr;
      if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PUB_KEY, &raw) != 1) {
        return ossl::failure(to_string(group) + ": reading the public value");
      }
      ossl::BnPtr y(raw);
      if (BN_bn2binpad(y.get(), out.data(), static_cast<int>(out.size())) < 0) {
        return Status::error(to_string(group) + ": public value longer than the prime");
      }
      return out;
    }
    case Family::kEcp: {
      // 0x04 | x | y from OpenSSL; IKE drops the format octet (RFC 5903 7).
      uint8_t buf[1 + 2 * 66];
      size_t len = 0;
      if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf, sizeof buf,
                                          &len) != 1) {
        return ossl::failure(to_string(group) + ": reading the public point");
      }
      if (len != 1 + info.public_length || buf[0] != 0x04) {
        return Status::error(to_string(group) + ": OpenSSL gave a public point that is not " +
                             "uncompressed (" + std::to_string(len) + " bytes)");
      }
      std::copy(buf + 1, buf + len, out.begin());
      return out;
    }
    case Family::kX25519: {
      size_t len = out.size();
      if (EVP_PKEY_get_raw_public_key(key, out.data(), &len) != 1 || len != out.size()) {
        return ossl::failure(to_string(group) + ": reading the public value");
      }
      return out;
    }
  }
  return unsupported(group);
}

// An EVP_PKEY of `info`'s algorithm from OSSL_PARAMs (fromdata).
Expected<ossl::PkeyPtr> key_from_params(const GroupInfo& info, OSSL_PARAM_BLD* bld, int selection,
                                        const std::string& what) {
  ossl::ParamsPtr params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return ossl::failure(what + ": building parameters");
  ossl::PkeyCtxPtr ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, info.family == Family::kModp ? "DH" : "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    return ossl::failure(what);
  }
  return ossl::PkeyPtr(raw);
}

Expected<ossl::PkeyPtr> generate_key(const GroupInfo& info, DhGroup group) {
  EVP_PKEY* raw = nullptr;
  switch (info.family) {
    case Family::kModp: {
      ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
      OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                              const_cast<char*>(info.name), 0),
                             OSSL_PARAM_construct_end()};
      if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
          EVP_PKEY_CTX_set_params(ctx.get(), params) != 1 ||
          EVP_PKEY_generate(ctx.get(), &raw) != 1) {
        return ossl::failure(to_string(group) + ": key generation");
      }
      break;
    }
    case Family::kEcp:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", info.name);
      break;
    case Family::kX25519:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
      break;
  }
  if (!raw) return ossl::failure(to_string(group) + ": key generation");
  return ossl::PkeyPtr(raw);
}

// Test keys: the public value is computed here from the private one (OpenSSL
// 3.0's fromdata does not derive it).
Expected<ossl::PkeyPtr> modp_test_key(const GroupInfo& info, DhGroup group,
                                      std::span<const uint8_t> priv) {
  auto params_key = generate_key(info, group);  // for p and g
  if (!params_key) return params_key.status();
  BIGNUM* p_raw = nullptr;
  BIGNUM* g_raw = nullptr;
  if (EVP_PKEY_get_bn_param(params_key->get(), OSSL_PKEY_PARAM_FFC_P, &p_raw) != 1 ||
      EVP_PKEY_get_bn_param(params_key->get(), OSSL_PKEY_PARAM_FFC_G, &g_raw) != 1) {
    BN_free(p_raw);
    return ossl::failure(to_string(group) + ": reading p and g");
  }
  ossl::BnPtr p(p_raw), g(g_raw);
  ossl::BnPtr x(BN_secure_new()), y(BN_new());
  ossl::BnCtxPtr bn_ctx(BN_CTX_new());
  if (!x || !y || !bn_ctx || !BN_bin2bn(priv.data(), static_cast<int>(priv.size()), x.get()) ||
      BN_mod_exp(y.get(), g.get(), x.get(), p.get(), bn_ctx.get()) != 1) {
    return ossl::failure(to_string(group) + ": computing g^x");
  }
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, info.name, 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, x.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, y.get()) != 1) {
    return ossl::failure(to_string(group) + ": test key parameters");
  }
  return key_from_params(info, bld.get(), EVP_PKEY_KEYPAIR, to_string(group) + ": test key");
}

Expected<ossl::PkeyPtr> ecp_test_key(const GroupInfo& info, DhGroup group,
                                     std::span<const uint8_t> priv) {
  ossl::EcGroupPtr curve(EC_GROUP_new_by_curve_name(info.nid));
  ossl::BnCtxPtr bn_ctx(BN_CTX_new());
  ossl::BnPtr d(BN_secure_new());
  if (!curve || !bn_ctx || !d || !BN_bin2bn(priv.data(), static_cast<int>(priv.size()), d.get())) {
    return ossl::failure(to_string(group) + ": test key");
  }
  ossl::EcPointPtr q(EC_POINT_new(curve.get()));
  uint8_t pub[1 + 2 * 66];
  size_t pub_len = 0;
  if (!q || EC_POINT_mul(curve.get(), q.get(), d.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      (pub_len = EC_POINT_point2oct(curve.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, pub,
                                    sizeof pub, bn_ctx.get())) == 0) {
    return ossl::failure(to_string(group) + ": computing d*G");
  }
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, info.name, 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len) != 1) {
    return ossl::failure(to_string(group) + ": test key parameters");
  }
  return key_from_params(info, bld.get(), EVP_PKEY_KEYPAIR, to_string(group) + ": test key");
}

// The peer's public value as an EVP_PKEY, after the checks OpenSSL does not
// phrase in IKE terms.
Expected<ossl::PkeyPtr> peer_key(const GroupInfo& info, DhGroup group, EVP_PKEY* own,
                                 std::span<const uint8_t> value) {
  const std::string what = to_string(group) + " peer public value";
  if (value.size() != info.public_length) {
    return Status::error(what + ": " + std::to_string(value.size()) + " bytes, expected " +
                         std::to_string(info.public_length));
  }
  switch (info.family) {
    case Family::kModp: {
      BIGNUM* p_raw = nullptr;
      if (EVP_PKEY_get_bn_param(own, OSSL_PKEY_PARAM_FFC_P, &p_raw) != 1) {
        return ossl::failure(to_string(group) + ": reading p");
      }
      ossl::BnPtr p(p_raw);
      ossl::BnPtr y(BN_bin2bn(value.data(), static_cast<int>(value.size()), nullptr));
      ossl::BnPtr p_minus_1(BN_dup(p.get()));
      if (!y || !p_minus_1 || BN_sub_word(p_minus_1.get(), 1) != 1) {
        return ossl::failure(what);
      }
      // RFC 7296 5 / SP 800-56A 5.6.2.3.1: 1 < y < p-1; 0, 1 and p-1 give a
      // secret of 0 or +-1, and values >= p are not reduced.
      if (BN_is_zero(y.get()) || BN_is_one(y.get())) {
        return Status::error(what + ": " + (BN_is_zero(y.get()) ? "0" : "1") +
                             " is not allowed (1 < y < p-1)");
      }
      int c = BN_cmp(y.get(), p_minus_1.get());
      if (c == 0) return Status::error(what + ": p-1 is not allowed (1 < y < p-1)");
      if (c > 0) return Status::error(what + ": not less than the prime p");
      ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
      if (!bld ||
          OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, info.name, 0) !=
              1 ||
          OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, y.get()) != 1) {
        return ossl::failure(what);
      }
      return key_from_params(info, bld.get(), EVP_PKEY_PUBLIC_KEY, what);
    }
    case Family::kEcp: {
      uint8_t buf[1 + 2 * 66];
      buf[0] = 0x04;  // uncompressed point (RFC 5903 7 leaves it out on the wire)
      std::copy(value.begin(), value.end(), buf + 1);
      ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
      if (!bld ||
          OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, info.name, 0) !=
              1 ||
          OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, buf,
                                           1 + value.size()) != 1) {
        return ossl::failure(what);
      }
      auto key = key_from_params(info, bld.get(), EVP_PKEY_PUBLIC_KEY, what);
      if (!key) {
        // OpenSSL decodes the point when importing it; with the length
        // right, the only way to fail is a point that is not on the curve.
        ossl::drain_errors();
        return Status::error(what + ": not a point on the curve");
      }
      return key;
    }
    case Family::kX25519: {
      EVP_PKEY* raw =
          EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, value.data(), value.size());
      if (!raw) return ossl::failure(what);
      return ossl::PkeyPtr(raw);
    }
  }
  return unsupported(group);
}

}  // namespace

size_t dh_public_value_length(DhGroup group) {
  const GroupInfo* info = group_info(group);
  return info ? info->public_length : 0;
}

void DhKeyPair::PkeyFree::operator()(EVP_PKEY* p) const {
  EVP_PKEY_free(p);
}

DhKeyPair::DhKeyPair(DhGroup group, EVP_PKEY* key, Bytes public_value)
    : group_(group), key_(key), public_value_(std::move(public_value)) {}
DhKeyPair::DhKeyPair(DhKeyPair&&) noexcept = default;
DhKeyPair& DhKeyPair::operator=(DhKeyPair&&) noexcept = default;
DhKeyPair::~DhKeyPair() = default;

Expected<DhKeyPair> DhKeyPair::generate(DhGroup group) {
  const GroupInfo* info = group_info(group);
  if (!info) return unsupported(group);
  auto key = generate_key(*info, group);
  if (!key) return key.status();
  auto pub = encode_public(*info, key->get(), group);
  if (!pub) return pub.status();
  return DhKeyPair(group, key->release(), std::move(*pub));
}

Expected<DhKeyPair> DhKeyPair::from_private_key_for_testing(DhGroup group,
                                                            std::span<const uint8_t> private_key) {
  const GroupInfo* info = group_info(group);
  if (!info) return unsupported(group);
  if (private_key.empty()) return Status::error(to_string(group) + ": empty test private key");
  Expected<ossl::PkeyPtr> key = Status::error("unreached");
  switch (info->family) {
    case Family::kModp:
      key = modp_test_key(*info, group, private_key);
      break;
    case Family::kEcp:
      key = ecp_test_key(*info, group, private_key);
      break;
    case Family::kX25519: {
      if (private_key.size() != 32) {
        return Status::error(to_string(group) + ": test private key must be 32 bytes");
      }
      EVP_PKEY* raw = EVP_PKEY_new_raw_private_key_ex(nullptr, "X25519", nullptr,
                                                      private_key.data(), private_key.size());
      if (!raw) return ossl::failure(to_string(group) + ": test key");
      key = ossl::PkeyPtr(raw);
      break;
    }
  }
  if (!key) return key.status();
  auto pub = encode_public(*info, key->get(), group);
  if (!pub) return pub.status();
  return DhKeyPair(group, key->release(), std::move(*pub));
}

Expected<SecretBytes> DhKeyPair::shared_secret(std::span<const uint8_t> peer_public_value) const {
  const GroupInfo* info = group_info(group_);
  if (!info || !key_) return unsupported(group_);
  auto peer = peer_key(*info, group_, key_.get(), peer_public_value);
  if (!peer) return peer.status();

  const std::string what = to_string(group_) + " shared secret";
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) return ossl::failure(what);
  if (info->family == Family::kModp && EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) != 1) {
    return ossl::failure(what + ": padding");
  }
  // Validates the peer key too (OpenSSL's public key check: for ECP a point
  // of the group's order, for MODP y^q = 1 mod p).
  if (EVP_PKEY_derive_set_peer(ctx.get(), peer->get()) != 1) {
    return ossl::failure(to_string(group_) + " peer public value rejected");
  }
  size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1 || len > info->secret_length) {
    return ossl::failure(what);
  }
  SecretBytes secret(info->secret_length);
  len = secret.size();
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1) {
    if (info->family == Family::kX25519) {
      ossl::drain_errors();
      return Status::error(what + ": all zero (the peer sent a low-order point, RFC 8031 2.3)");
    }
    return ossl::failure(what);
  }
  if (len < secret.size()) {  // left-pad to the fixed length (2.14, RFC 5903 7)
    std::copy_backward(secret.begin(), secret.begin() + len, secret.end());
    std::fill(secret.begin(), secret.end() - len, 0);
  }
  uint8_t any = 0;
  for (uint8_t b : secret) any |= b;
  if (any == 0) return Status::error(what + ": all zero, refused (RFC 8031 2.3)");
  return secret;
}

}  // namespace tcpsec::ikecrypto
