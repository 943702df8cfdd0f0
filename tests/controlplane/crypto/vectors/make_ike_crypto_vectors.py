#!/usr/bin/python3
"""Independent reference for tcpsec's IKE crypto (controlplane/crypto).

Computes, from fixed inputs, what RFC 7296 (2.13-2.18, 2.15, 3.14), RFC 5282
(AES-GCM in IKE) and RFC 7634 define, with nothing but the Python standard
library (hmac, hashlib, pow) and the `cryptography` package (AES, ECDH,
X25519), and writes ike_crypto_vectors.h for the C++ tests. Written from the
RFCs, not from the C++ code it checks.

  /usr/bin/python3 make_ike_crypto_vectors.py > ike_crypto_vectors.h

Covered: MODP-2048 / ECP-384 / X25519 public values and shared secrets for
fixed private keys; SKEYSEED and the seven IKE SA keys for several transform
sets; the rekeyed IKE SA's SKEYSEED and keys; Child SA KEYMAT with and without
PFS; shared-key AUTH; SK payloads protected with fixed IVs (minimal zero
padding, as the C++ side pads); SK/SKF payloads protected here with unusual
padding for the C++ side to open.
"""
import hashlib
import hmac
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

# IANA IKEv2 transform IDs (RFC 7296 3.3.2).
PRF = {'sha1': (2, hashlib.sha1), 'sha256': (5, hashlib.sha256),
       'sha384': (6, hashlib.sha384), 'sha512': (7, hashlib.sha512)}
ENCR_AES_CBC, ENCR_AES_GCM_16, ENCR_CHACHA20_POLY1305 = 12, 20, 28
# integrity id -> (key length, truncated ICV length, hash)
INTEG = {0: (0, 0, None), 2: (20, 12, hashlib.sha1), 12: (32, 16, hashlib.sha256),
         13: (48, 24, hashlib.sha384), 14: (64, 32, hashlib.sha512)}


def det(label, n):
    """Deterministic filler bytes (SHA-256 in counter mode over a label)."""
    out = b''
    i = 0
    while len(out) < n:
        out += hashlib.sha256(label.encode() + i.to_bytes(4, 'big')).digest()
        i += 1
    return out[:n]


def prf(h, key, data):
    return hmac.new(key, data, h).digest()


def prf_plus(h, key, seed, n):
    """RFC 7296 2.13: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n)."""
    out, t, i = b'', b'', 1
    while len(out) < n:
        t = prf(h, key, t + seed + bytes([i]))
        out += t
        i += 1
    return out[:n]


def encr_keymat_len(encr, bits):
    """Key + salt bytes (RFC 5282 7.1, RFC 7634 2)."""
    if encr == ENCR_AES_CBC:
        return bits // 8
    if encr == ENCR_AES_GCM_16:
        return bits // 8 + 4
    if encr == ENCR_CHACHA20_POLY1305:
        return 32 + 4
    raise ValueError(encr)


# --- Diffie-Hellman -------------------------------------------------------

# RFC 3526 section 3, 2048-bit MODP group, generator 2.
MODP2048_P = int(
    'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1'
    '29024E088A67CC74020BBEA63B139B22514A08798E3404DD'
    'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245'
    'E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED'
    'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D'
    'C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F'
    '83655D23DCA3AD961C62F356208552BB9ED529077096966D'
    '670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B'
    'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9'
    'DE2BCBF6955817183995497CEA956AE515D2261898FA0510'
    '15728E5A8AACAA68FFFFFFFFFFFFFFFF', 16)


def modp_vectors():
    xi = det('modp2048 initiator private', 32)
    xr = det('modp2048 responder private', 32)
    gi = pow(2, int.from_bytes(xi, 'big'), MODP2048_P)
    gr = pow(2, int.from_bytes(xr, 'big'), MODP2048_P)
    shared = pow(gr, int.from_bytes(xi, 'big'), MODP2048_P)
    assert shared == pow(gi, int.from_bytes(xr, 'big'), MODP2048_P)
    # RFC 7296 3.4 / 2.14: padded to the prime's 256 bytes.
    return xi, gi.to_bytes(256, 'big'), xr, gr.to_bytes(256, 'big'), shared.to_bytes(256, 'big')


def ecp384_vectors():
    curve = ec.SECP384R1()
    n = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973
    di = int.from_bytes(det('ecp384 initiator private', 48), 'big') % n
    dr = int.from_bytes(det('ecp384 responder private', 48), 'big') % n
    ki = ec.derive_private_key(di, curve)
    kr = ec.derive_private_key(dr, curve)

    def ke(k):  # RFC 5903 7: x | y without the 0x04 octet
        nums = k.public_key().public_numbers()
        return nums.x.to_bytes(48, 'big') + nums.y.to_bytes(48, 'big')

    shared = ki.exchange(ec.ECDH(), kr.public_key())  # x coordinate, 48 bytes
    assert shared == kr.exchange(ec.ECDH(), ki.public_key())
    return di.to_bytes(48, 'big'), ke(ki), dr.to_bytes(48, 'big'), ke(kr), shared


def x25519_vectors():
    si = det('x25519 initiator private', 32)
    sr = det('x25519 responder private', 32)
    ki = x25519.X25519PrivateKey.from_private_bytes(si)
    kr = x25519.X25519PrivateKey.from_private_bytes(sr)
    from cryptography.hazmat.primitives import serialization
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    shared = ki.exchange(kr.public_key())
    return (si, ki.public_key().public_bytes(*raw), sr, kr.public_key().public_bytes(*raw),
            shared)


# --- IKE SA keys (RFC 7296 2.14) -----------------------------------------

NI = det('Ni', 32)
NR = det('Nr', 48)  # nonces of different lengths (16..256 allowed)
SPI_I = bytes.fromhex('0102030405060708')
SPI_R = bytes.fromhex('a1a2a3a4a5a6a7a8')


def ike_sa_keys(prf_name, encr, bits, integ, g_ir, ni=NI, nr=NR, spi_i=SPI_I, spi_r=SPI_R,
                skeyseed=None):
    h = PRF[prf_name][1]
    if skeyseed is None:
        skeyseed = prf(h, ni + nr, g_ir)
    plen = h().digest_size
    alen = INTEG[integ][0]
    elen = encr_keymat_len(encr, bits)
    keymat = prf_plus(h, skeyseed, ni + nr + spi_i + spi_r, 3 * plen + 2 * alen + 2 * elen)
    keys = {}
    pos = 0
    for name, n in (('sk_d', plen), ('sk_ai', alen), ('sk_ar', alen), ('sk_ei', elen),
                    ('sk_er', elen), ('sk_pi', plen), ('sk_pr', plen)):
        keys[name] = keymat[pos:pos + n]
        pos += n
    return skeyseed, keys


# --- SK payload (RFC 7296 3.14, RFC 5282, RFC 7634) -----------------------

def ike_header(length, next_payload=46, exchange=35, flags=0x08, msg_id=1):
    return (SPI_I + SPI_R + bytes([next_payload, 0x20, exchange, flags]) +
            struct.pack('>II', msg_id, length))


def sk_protect(encr, bits, integ, sk_e, sk_a, iv, inner, pad_len=None, pad_byte=0,
               prefix=b'', skf=None, first_inner=35):
    """The whole message: prefix (e.g. non-ESP marker), IKE header, SK or SKF
    header, IV, ciphertext, ICV."""
    aead = encr != ENCR_AES_CBC
    block = 1 if aead else 16
    if pad_len is None:
        pad_len = (-(len(inner) + 1)) % block
    plain = inner + bytes([pad_byte]) * pad_len + bytes([pad_len])
    assert len(plain) % block == 0
    icv_len = 16 if aead else INTEG[integ][1]
    body_len = len(iv) + len(plain) + icv_len
    hdr_len = 4 if skf is None else 8
    sk_hdr = bytes([first_inner, 0]) + struct.pack('>H', hdr_len + body_len)
    if skf is not None:
        sk_hdr += struct.pack('>HH', *skf)
    ike = ike_header(28 + hdr_len + body_len, next_payload=46 if skf is None else 53)
    aad = ike + sk_hdr
    if encr == ENCR_AES_CBC:
        enc = Cipher(algorithms.AES(bytes(sk_e)), modes.CBC(iv)).encryptor()
        ct = enc.update(plain) + enc.finalize()
        icv = hmac.new(sk_a, aad + iv + ct, INTEG[integ][2]).digest()[:icv_len]
        return prefix + aad + iv + ct + icv, prefix + aad
    key, salt = sk_e[:-4], sk_e[-4:]
    aead_cls = AESGCM if encr == ENCR_AES_GCM_16 else ChaCha20Poly1305
    sealed = aead_cls(key).encrypt(salt + iv, plain, aad)  # ct | 16-byte tag
    return prefix + aad + iv + sealed, prefix + aad


# --- RFC 7427 AlgorithmIdentifier, DER-encoded from the OID --------------

def der_tlv(tag, content):
    assert len(content) < 128
    return bytes([tag, len(content)]) + content


def algorithm_identifier(oid, null_parameters):
    arcs = [int(a) for a in oid.split('.')]
    body = bytes([40 * arcs[0] + arcs[1]])
    for a in arcs[2:]:
        chunk = [a & 0x7f]
        a >>= 7
        while a:
            chunk.insert(0, 0x80 | (a & 0x7f))
            a >>= 7
        body += bytes(chunk)
    content = der_tlv(0x06, body) + (b'\x05\x00' if null_parameters else b'')
    return der_tlv(0x30, content)


# --- output ----------------------------------------------------------------

out = []


def arr(name, data):
    body = ', '.join('0x%02x' % b for b in data)
    lines = []
    line = ''
    for item in body.split(', '):
        if len(line) + len(item) + 2 > 92:
            lines.append(line.rstrip())
            line = ''
        line += item + ', '
    if line:
        lines.append(line.rstrip().rstrip(','))
    if not data:
        out.append('inline constexpr std::array<uint8_t, 0> %s{};' % name)
        return
    out.append('inline constexpr uint8_t %s[] = {\n    %s};' % (name, '\n    '.join(lines)))


def main():
    out.append('// Generated by make_ike_crypto_vectors.py (Python hmac/hashlib + cryptography);')
    out.append('// do not edit. Regenerate:')
    out.append('//   /usr/bin/python3 make_ike_crypto_vectors.py > ike_crypto_vectors.h')
    out.append('// clang-format off')
    out.append('#pragma once\n\n#include <array>\n#include <cstddef>\n#include <cstdint>\n#include <span>\n')
    out.append('namespace tcpsec::ikecrypto::vectors {\n')

    dh = {'modp2048': modp_vectors(), 'ecp384': ecp384_vectors(), 'x25519': x25519_vectors()}
    for g, (pi, ki, pr, kr, s) in dh.items():
        arr('k%sPrivI' % g.capitalize(), pi)
        arr('k%sPublicI' % g.capitalize(), ki)
        arr('k%sPrivR' % g.capitalize(), pr)
        arr('k%sPublicR' % g.capitalize(), kr)
        arr('k%sShared' % g.capitalize(), s)
    arr('kNi', NI)
    arr('kNr', NR)
    arr('kSpiI', SPI_I)
    arr('kSpiR', SPI_R)
    out.append('')

    sets = [  # name, prf, encr, bits, integ, g^ir
        ('cbc256_sha256', 'sha256', ENCR_AES_CBC, 256, 12, 'modp2048'),
        ('cbc128_sha1', 'sha1', ENCR_AES_CBC, 128, 2, 'modp2048'),
        ('cbc128_sha384', 'sha384', ENCR_AES_CBC, 128, 13, 'ecp384'),
        ('cbc256_sha512', 'sha512', ENCR_AES_CBC, 256, 14, 'x25519'),
        ('gcm128_prf256', 'sha256', ENCR_AES_GCM_16, 128, 0, 'x25519'),
        ('gcm256_prf384', 'sha384', ENCR_AES_GCM_16, 256, 0, 'ecp384'),
        ('gcm256_prf512', 'sha512', ENCR_AES_GCM_16, 256, 0, 'modp2048'),
        ('chacha_prf256', 'sha256', ENCR_CHACHA20_POLY1305, 0, 0, 'x25519'),
    ]
    key_names = ('sk_d', 'sk_ai', 'sk_ar', 'sk_ei', 'sk_er', 'sk_pi', 'sk_pr')
    all_keys = {}
    for name, prf_name, encr, bits, integ, g in sets:
        skeyseed, keys = ike_sa_keys(prf_name, encr, bits, integ, dh[g][4])
        all_keys[name] = keys
        arr('k_%s_skeyseed' % name, skeyseed)
        for k in key_names:
            arr('k_%s_%s' % (name, k), keys[k])
    out.append('''
struct IkeSaVector {
  const char* name;
  uint16_t prf, encr, key_bits, integ;
  std::span<const uint8_t> shared_secret, skeyseed;
  std::span<const uint8_t> sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr;
};
inline const IkeSaVector kIkeSaVectors[] = {''')
    for name, prf_name, encr, bits, integ, g in sets:
        ks = ', '.join('k_%s_%s' % (name, k) for k in key_names)
        out.append('    {"%s", %d, %d, %d, %d, k%sShared, k_%s_skeyseed, %s},' %
                   (name, PRF[prf_name][0], encr, bits, integ, g.capitalize(), name, ks))
    out.append('};\n')

    # Rekey (2.18): the old SA is cbc256_sha256 (PRF SHA-256); the new one
    # negotiates AES-GCM-256 with PRF SHA-384, new nonces, SPIs and g^ir.
    old = all_keys['cbc256_sha256']
    rk_ni, rk_nr = det('rekey Ni', 32), det('rekey Nr', 32)
    rk_spi_i, rk_spi_r = det('rekey SPIi', 8), det('rekey SPIr', 8)
    rk_gir = dh['ecp384'][4]
    rk_seed = prf(hashlib.sha256, old['sk_d'], rk_gir + rk_ni + rk_nr)
    _, rk_keys = ike_sa_keys('sha384', ENCR_AES_GCM_16, 256, 0, None, rk_ni, rk_nr, rk_spi_i,
                             rk_spi_r, skeyseed=rk_seed)
    arr('kRekeyNi', rk_ni)
    arr('kRekeyNr', rk_nr)
    arr('kRekeySpiI', rk_spi_i)
    arr('kRekeySpiR', rk_spi_r)
    arr('kRekeySkeyseed', rk_seed)  # g^ir: kEcp384Shared, old SA: cbc256_sha256
    for k in key_names:
        arr('kRekey_%s' % k, rk_keys[k])
    out.append('')

    # Child SAs (2.17) from cbc256_sha256's SK_d (PRF SHA-256).
    c_ni, c_nr = det('child Ni', 32), det('child Nr', 32)
    arr('kChildNi', c_ni)
    arr('kChildNr', c_nr)
    children = [  # name, encr, bits, integ, pfs g^ir
        ('esp_gcm256', ENCR_AES_GCM_16, 256, 0, None),
        ('esp_gcm128_pfs', ENCR_AES_GCM_16, 128, 0, 'x25519'),
        ('esp_cbc128_sha256', ENCR_AES_CBC, 128, 12, None),
        ('esp_cbc256_sha1_pfs', ENCR_AES_CBC, 256, 2, 'modp2048'),
        ('esp_chacha', ENCR_CHACHA20_POLY1305, 0, 0, None),
    ]
    for name, encr, bits, integ, pfs in children:
        e, a = encr_keymat_len(encr, bits), INTEG[integ][0]
        seed = (dh[pfs][4] if pfs else b'') + c_ni + c_nr
        km = prf_plus(hashlib.sha256, old['sk_d'], seed, 2 * (e + a))
        arr('k_%s_ei2r' % name, km[:e])
        arr('k_%s_ai2r' % name, km[e:e + a])
        arr('k_%s_er2i' % name, km[e + a:2 * e + a])
        arr('k_%s_ar2i' % name, km[2 * e + a:])
    out.append('''
struct ChildSaVector {
  const char* name;
  uint16_t encr, key_bits, integ;
  std::span<const uint8_t> pfs_shared_secret;  // empty: no PFS
  std::span<const uint8_t> encryption_i2r, integrity_i2r, encryption_r2i, integrity_r2i;
};
inline const ChildSaVector kChildSaVectors[] = {''')
    for name, encr, bits, integ, pfs in children:
        pfs_ref = ('k%sShared' % pfs.capitalize()) if pfs else 'std::span<const uint8_t>()'
        out.append('    {"%s", %d, %d, %d, %s, k_%s_ei2r, k_%s_ai2r, k_%s_er2i, k_%s_ar2i},' %
                   (name, encr, bits, integ, pfs_ref, name, name, name, name))
    out.append('};\n')

    # Shared-key AUTH (2.15), initiator side, with the keys of two sets.
    real_msg1 = det('IKE_SA_INIT request', 300)
    idi_body = bytes([2, 0, 0, 0]) + b'initiator.example'  # ID_FQDN
    psk = b'correct horse battery staple'
    arr('kAuthRealMessage1', real_msg1)
    arr('kAuthIdiBody', idi_body)
    arr('kAuthPsk', psk)
    for name in ('cbc256_sha256', 'cbc256_sha512'):
        prf_name = dict((s[0], s[1]) for s in sets)[name]
        h = PRF[prf_name][1]
        octets = real_msg1 + NR + prf(h, all_keys[name]['sk_pi'], idi_body)
        auth = prf(h, prf(h, psk, b'Key Pad for IKEv2'), octets)
        arr('k_%s_auth_octets' % name, octets)
        arr('k_%s_auth' % name, auth)
    out.append('')

    # Signature AUTH data over cbc256_sha256's initiator octets, for the C++
    # side to verify. ECDSA signatures are randomized, so these bytes change
    # on every run; the keys do not.
    octets = real_msg1 + NR + prf(hashlib.sha256, all_keys['cbc256_sha256']['sk_pi'], idi_body)
    for curve, size, label in ((ec.SECP256R1(), 32, 'P256'), (ec.SECP384R1(), 48, 'P384')):
        key = ec.derive_private_key(int.from_bytes(det('signer ' + label, size), 'big') % (2 ** (8 * size - 2)), curve)
        nums = key.public_key().public_numbers()
        arr('kSig%sPublic' % label, b'\x04' + nums.x.to_bytes(size, 'big') + nums.y.to_bytes(size, 'big'))
        h = hashes.SHA256() if size == 32 else hashes.SHA384()
        der = key.sign(octets, ec.ECDSA(h))
        r, s_ = utils.decode_dss_signature(der)
        # Methods 9 / 10 (RFC 4754): r | s, each the size of the group order.
        arr('kSig%sRaw' % label, r.to_bytes(size, 'big') + s_.to_bytes(size, 'big'))
        # Method 14 (RFC 7427): length | AlgorithmIdentifier | DER signature.
        algid = algorithm_identifier('1.2.840.10045.4.3.2' if size == 32 else '1.2.840.10045.4.3.3', False)
        arr('kSig%sMethod14' % label, bytes([len(algid)]) + algid + der)
    out.append('')

    # SK payloads protected with fixed IVs; minimal zero padding (what the
    # C++ protect writes). Keys: SK_ei / SK_ai of each set.
    inner = det('inner payloads', 61)
    arr('kSkInner', inner)
    sk_cases = []
    for name, prf_name, encr, bits, integ, g in sets:
        keys = all_keys[name]
        iv = det('iv ' + name, 16 if encr == ENCR_AES_CBC else 8)
        msg, aad = sk_protect(encr, bits, integ, keys['sk_ei'], keys['sk_ai'], iv, inner)
        arr('k_%s_sk_iv' % name, iv)
        arr('k_%s_sk_header' % name, aad)
        arr('k_%s_sk_message' % name, msg)
        sk_cases.append(name)
    out.append('''
// Protected by the C++ side with the given IV and compared byte for byte:
// the buffer is `header` (IKE header + SK header, lengths final) followed by
// the body protect() writes; the plaintext is kSkInner.
struct SkProtectVector {
  const char* name;  // one of kIkeSaVectors, whose SK_ei / SK_ai are the keys
  std::span<const uint8_t> iv, header, message;
};
inline const SkProtectVector kSkProtectVectors[] = {''')
    for name in sk_cases:
        out.append('    {"%s", k_%s_sk_iv, k_%s_sk_header, k_%s_sk_message},' %
                   (name, name, name, name))
    out.append('};\n')

    # Messages protected here for the C++ side to open: nonzero and
    # non-minimal padding, a 4-byte non-ESP marker before the IKE header
    # (UDP 4500), SKF with fragment 2 of 3. Keys: SK_er / SK_ar (responder's).
    open_cases = [
        ('cbc256_sha256', 210, 0xa5, b'', None),
        ('cbc128_sha1', 2, 0x00, b'\x00\x00\x00\x00', None),
        ('gcm128_prf256', 37, 0x5a, b'\x00\x00\x00\x00', None),
        ('gcm256_prf384', 0, 0x00, b'', (2, 3)),
        ('cbc256_sha512', 18, 0x11, b'', (1, 2)),
        ('chacha_prf256', 5, 0xff, b'', None),
    ]
    inner2 = det('inner payloads from python', 45)
    arr('kSkOpenInner', inner2)
    for i, (name, pad_len, pad_byte, prefix, skf) in enumerate(open_cases):
        s = [x for x in sets if x[0] == name][0]
        encr, bits, integ = s[2], s[3], s[4]
        keys = all_keys[name]
        iv = det('open iv %d' % i, 16 if encr == ENCR_AES_CBC else 8)
        msg, _ = sk_protect(encr, bits, integ, keys['sk_er'], keys['sk_ar'], iv, inner2,
                            pad_len=pad_len, pad_byte=pad_byte, prefix=prefix, skf=skf)
        arr('kSkOpen%d' % i, msg)
    out.append('''
// Protected by Python with SK_er / SK_ar; the C++ side must return
// kSkOpenInner. ike_header_offset is 4 after a non-ESP marker; skf: SKF
// payload (8-byte header).
struct SkOpenVector {
  const char* name;
  size_t ike_header_offset;
  bool skf;
  std::span<const uint8_t> message;
};
inline const SkOpenVector kSkOpenVectors[] = {''')
    for i, (name, pad_len, pad_byte, prefix, skf) in enumerate(open_cases):
        out.append('    {"%s", %d, %s, kSkOpen%d},' %
                   (name, len(prefix), 'true' if skf else 'false', i))
    out.append('};\n')

    out.append('}  // namespace tcpsec::ikecrypto::vectors')
    out.append('// clang-format on')
    sys.stdout.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
