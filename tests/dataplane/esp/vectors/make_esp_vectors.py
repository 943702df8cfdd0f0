#!/usr/bin/python3
"""Generates esp_vectors.h: byte-exact ESP interop vectors built by scapy.

Each vector is an inner packet and the ESP packet scapy's
SecurityAssociation (scapy.layers.ipsec) makes of it, for every algorithm
the dataplane implements, in tunnel mode (IPv4/IPv6 in IPv4/IPv6) and
transport mode (IPv4 with an option, IPv6 with a hop-by-hop header), with
and without extended sequence numbers. The tests encrypt the inner packet
with dataplane/esp and compare with scapy's bytes, and decrypt scapy's
packet back to the inner one. The tests never run python; the header is
checked in.

Byte-exact needs the IV our code uses for a given sequence number:
  * AES-GCM, ChaCha20-Poly1305: the 64-bit sequence number;
  * AES-CBC: AES-ECB under the SA's key of seq (8 bytes) || SPI || 0
    (see dataplane/esp/esp.h), computed here with `cryptography`.
and the outer header our SA template gives: TTL / hop limit 64, IPv4 ID =
low 16 bits of the sequence number, DF copied from an inner IPv4 packet (set
for IPv6), DSCP and ECN copied, flow label 0.

scapy 2.5 leaves the ESN high bits out of the HMAC ICV of ESP (its
AuthAlgo.sign/verify are called without esn_en): for HMAC algorithms with
ESN, the ICV is recomputed here over ESP header, IV, ciphertext and seq_hi,
as RFC 4303 2.2.1 says. (AEAD AAD with ESN is scapy's own.)

Regenerate with:

    cd tests/dataplane/esp/vectors && /usr/bin/python3 make_esp_vectors.py > esp_vectors.h

and `make_esp_vectors.py --check` compares a fresh generation with the
checked-in header. Needs python3-scapy (tested with 2.5.0) and
python3-cryptography. Output is deterministic.
"""

import hashlib
import hmac
import struct
import sys
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from scapy.layers.inet import IP, UDP, IPOption_Router_Alert
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.packet import Raw

# Algorithm order and names as dataplane/crypto/algorithm.h (crypto::Algorithm).
# name, scapy crypt algo, key bytes, salt bytes, scapy auth algo, auth key bytes, icv
ALGORITHMS = [
    ("aes128gcm16", "AES-GCM", 16, 4, "NULL", 0, 16),
    ("aes256gcm16", "AES-GCM", 32, 4, "NULL", 0, 16),
    ("chacha20poly1305", "CHACHA20-POLY1305", 32, 4, "NULL", 0, 16),
    ("aes128-sha256", "AES-CBC", 16, 0, "SHA2-256-128", 32, 16),
    ("aes256-sha256", "AES-CBC", 32, 0, "SHA2-256-128", 32, 16),
    ("aes128-sha1", "AES-CBC", 16, 0, "HMAC-SHA1-96", 20, 12),
    ("aes256-sha1", "AES-CBC", 32, 0, "HMAC-SHA1-96", 20, 12),
    ("null-sha256", "NULL", 0, 0, "SHA2-256-128", 32, 16),
    ("null-sha1", "NULL", 0, 0, "HMAC-SHA1-96", 20, 12),
]

V4_IN_SRC, V4_IN_DST = "10.1.0.5", "10.2.0.9"
V6_IN_SRC, V6_IN_DST = "fd00:1::5", "fd00:2::9"
V4_TUN_SRC, V4_TUN_DST = "192.0.2.1", "198.51.100.2"
V6_TUN_SRC, V6_TUN_DST = "2001:db8::1", "2001:db8:1::2"
TTL = 64

# name suffix, mode, inner family, outer family, ESN, sequence number, payload bytes, tos
CASES = [
    ("tun_v4_v4", "tunnel", "v4", "v4", False, 1, 33, 0x00),
    ("tun_v6_v4", "tunnel", "v6", "v4", False, 0x1234, 0, 0xb8),
    ("tun_v4_v6", "tunnel", "v4", "v6", True, 0x100000003, 17, 0x29),
    ("tun_v6_v6", "tunnel", "v6", "v6", True, 0xfffffffe, 48, 0x02),
    ("trans_v4", "transport", "v4", "v4", False, 0x7fffffff, 5, 0x10),
    ("trans_v6", "transport", "v6", "v6", True, 0x2_00000001, 20, 0x00),
]


def key_bytes(n, salt):
    return bytes((salt * 29 + i * 7 + 3) & 0xFF for i in range(n))


def inner_packet(family, mode, payload_len, tos, seed):
    data = bytes((seed * 13 + i * 11) & 0xFF for i in range(payload_len))
    if family == "v4":
        opts = [IPOption_Router_Alert()] if mode == "transport" else []
        ip = IP(src=V4_IN_SRC, dst=V4_IN_DST, ttl=63, id=0x4242 + seed, tos=tos,
                flags="DF" if seed % 2 == 0 else 0, options=opts)
    else:
        ip = IPv6(src=V6_IN_SRC, dst=V6_IN_DST, hlim=63, tc=tos, fl=0xbeef)
        if mode == "transport":
            ip = ip / IPv6ExtHdrHopByHop()
    return bytes(ip / UDP(sport=4000 + seed, dport=5000) / Raw(data))


def cbc_iv(key, seq, spi):
    nonce = struct.pack("!QII", seq, spi, 0)
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(nonce) + enc.finalize()


def tunnel_header(outer, inner_family, inner, seq):
    if inner_family == "v4":
        tos = inner[1]
        df = bool(inner[6] & 0x40)
    else:
        tos = ((inner[0] & 0x0F) << 4) | (inner[1] >> 4)
        df = True
    if outer == "v4":
        return IP(src=V4_TUN_SRC, dst=V4_TUN_DST, ttl=TTL, tos=tos, id=seq & 0xFFFF,
                  flags="DF" if df else 0)
    return IPv6(src=V6_TUN_SRC, dst=V6_TUN_DST, hlim=TTL, tc=tos, fl=0)


class Vector:

    def __init__(self, alg_index, case_index):
        name, crypt, klen, slen, auth, alen, icv_len = ALGORITHMS[alg_index]
        suffix, mode, inner_family, outer, esn, seq, payload_len, tos = CASES[case_index]
        self.name = name.replace("-", "_") + "_" + suffix
        self.alg_index = alg_index
        self.mode = mode
        self.esn = esn
        self.seq = seq
        self.spi = 0x10000000 + alg_index * 0x100 + case_index
        self.outer = outer
        self.cipher_key = key_bytes(klen + slen, alg_index * 8 + case_index)
        self.auth_key = key_bytes(alen, alg_index * 8 + case_index + 100)
        seed = alg_index * len(CASES) + case_index
        self.inner = inner_packet(inner_family, mode, payload_len, tos, seed)

        if crypt == "AES-CBC":
            iv = cbc_iv(self.cipher_key, seq, self.spi)
        elif crypt == "NULL":
            iv = b""
        else:
            iv = struct.pack("!Q", seq)
        seq_lo, seq_hi = seq & 0xFFFFFFFF, seq >> 32
        assert esn or seq_hi == 0
        sa = SecurityAssociation(
            ESP, spi=self.spi, crypt_algo=crypt,
            crypt_key=self.cipher_key if crypt != "NULL" else None,
            auth_algo=auth, auth_key=self.auth_key if auth != "NULL" else None,
            tunnel_header=tunnel_header(outer, inner_family, self.inner, seq)
            if mode == "tunnel" else None,
            esn_en=esn, esn=seq_hi)
        cls = IP if inner_family == "v4" else IPv6
        pkt = bytes(sa.encrypt(cls(self.inner), seq_num=seq_lo, iv=iv, esn_en=esn,
                               esn=seq_hi))
        if esn and auth != "NULL":
            # RFC 4303 2.2.1: the ICV covers seq_hi after the payload (scapy 2.5
            # omits it; see the module docstring).
            l3 = self._l3_length(pkt)
            digest = hashlib.sha256 if "256" in auth else hashlib.sha1
            body = pkt[l3:-icv_len] + struct.pack("!I", seq_hi)
            pkt = pkt[:-icv_len] + hmac.new(self.auth_key, body, digest).digest()[:icv_len]
        self.encrypted = pkt
        self._check(sa, cls, auth, icv_len)

    @staticmethod
    def _l3_length(pkt):
        if pkt[0] >> 4 == 4:
            return (pkt[0] & 0x0F) * 4
        length, nh = 40, pkt[6]
        while nh == 0:  # hop-by-hop
            nh = pkt[length]
            length += (pkt[length + 1] + 1) * 8
        return length

    def _check(self, sa, cls, auth, icv_len):
        """scapy decrypts its packet back to the inner one; the ESP fields."""
        pkt = self.encrypted
        outer_cls = IP if pkt[0] >> 4 == 4 else IPv6
        l3 = self._l3_length(pkt)
        assert struct.unpack("!II", pkt[l3:l3 + 8]) == (self.spi, self.seq & 0xFFFFFFFF)
        assert (len(pkt) - l3) % 4 == 0
        verify = not (self.esn and auth != "NULL")
        dec = sa.decrypt(outer_cls(pkt), verify=verify, esn_en=self.esn, esn=self.seq >> 32)
        if self.mode == "tunnel":
            assert bytes(dec) == self.inner, self.name
        else:
            assert bytes(cls(bytes(dec))) == self.inner, self.name


def c_array(name, data: bytes) -> str:
    lines = []
    for i in range(0, len(data), 12):
        lines.append("    " + " ".join(f"0x{b:02x}," for b in data[i:i + 12]))
    body = "\n".join(lines) if data else "    0x00,"
    return f"inline constexpr uint8_t {name}[{max(len(data), 1)}] = {{\n{body}\n}};\n"


def span(name, data):
    return f"std::span<const uint8_t>(k_{name}, {len(data)})"


def generate() -> str:
    out = [
        "// GENERATED by tests/dataplane/esp/vectors/make_esp_vectors.py (scapy); do not edit.\n"
        "// Regenerate with\n"
        "//   cd tests/dataplane/esp/vectors && /usr/bin/python3 make_esp_vectors.py"
        " > esp_vectors.h\n"
        "// and check it is current with `make_esp_vectors.py --check`.\n"
        "// ESP packets from scapy's SecurityAssociation for every dataplane algorithm.\n"
        "#pragma once\n\n"
        "#include <cstdint>\n#include <span>\n\n"
        "// clang-format off\n"
        "namespace tcpsec::esp::vectors {\n\n"
        "struct EspVector {\n"
        "  const char* name;\n"
        "  uint8_t algorithm;  // crypto::Algorithm\n"
        "  bool tunnel;        // else transport mode\n"
        "  bool esn;\n"
        "  uint32_t spi;\n"
        "  uint64_t seq;       // the packet's full sequence number\n"
        "  std::span<const uint8_t> cipher_key;  // key || salt\n"
        "  std::span<const uint8_t> auth_key;\n"
        "  bool outer_v6;      // tunnel mode: outer family\n"
        "  std::span<const uint8_t> inner;\n"
        "  std::span<const uint8_t> encrypted;\n"
        "};\n\n"
        f"inline constexpr char kTunnelV4Source[] = \"{V4_TUN_SRC}\";\n"
        f"inline constexpr char kTunnelV4Destination[] = \"{V4_TUN_DST}\";\n"
        f"inline constexpr char kTunnelV6Source[] = \"{V6_TUN_SRC}\";\n"
        f"inline constexpr char kTunnelV6Destination[] = \"{V6_TUN_DST}\";\n"
        f"inline constexpr uint8_t kTunnelTtl = {TTL};\n\n"
    ]
    vectors = [Vector(a, c) for a in range(len(ALGORITHMS)) for c in range(len(CASES))]
    for v in vectors:
        out.append(c_array(f"k_{v.name}_cipher_key", v.cipher_key))
        out.append(c_array(f"k_{v.name}_auth_key", v.auth_key))
        out.append(c_array(f"k_{v.name}_inner", v.inner))
        out.append(c_array(f"k_{v.name}_encrypted", v.encrypted))
        out.append("\n")
    out.append("inline constexpr EspVector kEspVectors[] = {\n")
    for v in vectors:
        out.append(
            f"    {{\"{v.name}\", {v.alg_index}, {'true' if v.mode == 'tunnel' else 'false'}, "
            f"{'true' if v.esn else 'false'}, 0x{v.spi:08x}u, 0x{v.seq:x}ull,\n"
            f"     {span(v.name + '_cipher_key', v.cipher_key)},\n"
            f"     {span(v.name + '_auth_key', v.auth_key)},\n"
            f"     {'true' if v.outer == 'v6' else 'false'}, {span(v.name + '_inner', v.inner)},\n"
            f"     {span(v.name + '_encrypted', v.encrypted)}}},\n")
    out.append("};\n\n}  // namespace tcpsec::esp::vectors\n// clang-format on\n")
    return "".join(out)


def main():
    text = generate()
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        path = Path(__file__).with_name("esp_vectors.h")
        if path.read_text() != text:
            sys.exit(f"{path} is stale: regenerate it")
        return
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
