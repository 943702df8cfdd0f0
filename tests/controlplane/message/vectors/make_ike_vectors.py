#!/usr/bin/python3
"""Generates ike_vectors.h: byte-exact IKEv2 test vectors built with scapy.

scapy's IKEv2 layer (scapy.contrib.ikev2) builds the messages: it computes
every length, count and Next Payload chaining, independently of
controlplane/message. Where scapy 2.5's layer is wrong or missing, the
script says so and builds that part from RFC 7296 by hand:
  * the Delete payload (scapy models it as a Vendor ID): body by hand;
  * IPv6 traffic selectors (scapy's default selector length is 20): length 40;
  * CP attributes with an empty value (scapy writes an IPField): bytes by hand;
  * proposals with an SPI (scapy's length leaves it out unless SPIsize is
    given): SPIsize set;
  * IDi and CP lengths (scapy's length field refers to a missing "load"): set;
  * Notify with an SPI (scapy leaves the SPI out of the length): none used;
  * Next Payload between payloads (scapy only fills the header's): chain().
The script then dissects each message again with scapy and checks the
payload sequence, so a chaining mistake is caught here.

Field contents are the pattern fill(n, seed)[i] = (seed + 7*i) & 0xff, which
the C++ tests compute too (tests/controlplane/message/expected_messages.h).

Regenerate with:

    cd tests/controlplane/message/vectors && /usr/bin/python3 make_ike_vectors.py > ike_vectors.h

`make_ike_vectors.py --check` compares a fresh generation with the checked-in
header; `make_ike_vectors.py --seeds DIR` writes fuzzer seeds (one .bin per
vector; inner chains get their first payload type as a prefix byte, as
tests/fuzz/ike_message_fuzz.cc reads them).
Needs python3-scapy (tested with 2.5.0). Output is deterministic.
"""

import struct
import sys
from pathlib import Path

from scapy.contrib.ikev2 import (IKEv2, IKEv2_payload_AUTH, IKEv2_payload_CERTREQ,
                                 IKEv2_payload_CP, IKEv2_payload_Delete,
                                 IKEv2_payload_Encrypted, IKEv2_payload_Encrypted_Fragment,
                                 IKEv2_payload_IDi, IKEv2_payload_IDr, IKEv2_payload_KE,
                                 IKEv2_payload_Nonce, IKEv2_payload_Notify,
                                 IKEv2_payload_Proposal, IKEv2_payload_SA,
                                 IKEv2_payload_Transform, IKEv2_payload_TSi,
                                 IKEv2_payload_TSr, IKEv2_payload_VendorID,
                                 IPv4TrafficSelector, IPv6TrafficSelector)
from scapy.packet import Raw

INITIATOR_SPI = bytes.fromhex("8a3c5e7f01234567")
RESPONDER_SPI = bytes.fromhex("c0ffee0011223344")


def fill(n: int, seed: int) -> bytes:
    return bytes((seed + 7 * i) & 0xFF for i in range(n))


# IANA numbers, written out here rather than taken from scapy's tables.
ENCR, PRF, INTEG, DH, ESN = 1, 2, 3, 4, 5
ENCR_AES_CBC, ENCR_AES_GCM_16, ENCR_CHACHA20_POLY1305 = 12, 20, 28
PRF_SHA256, PRF_SHA384, PRF_SHA512 = 5, 6, 7
AUTH_SHA256_128, AUTH_SHA384_192 = 12, 13
N_NAT_SRC, N_NAT_DST, N_COOKIE_UNUSED = 16388, 16389, 16390
N_USE_TRANSPORT_MODE, N_INITIAL_CONTACT = 16391, 16384
N_FRAGMENTATION_SUPPORTED, N_SIGNATURE_HASH_ALGORITHMS = 16430, 16431
N_AUTHENTICATION_FAILED = 24


def transform(ttype, tid, key_length=None):
    if key_length is None:
        return IKEv2_payload_Transform(transform_type=ttype, transform_id=tid)
    return IKEv2_payload_Transform(transform_type=ttype, transform_id=tid, length=12,
                                   key_length=key_length)


def proposal(number, proto, spi, transforms):
    trans = transforms[0]
    for t in transforms[1:]:
        trans = trans / t
    # SPIsize given: scapy's proposal length counts the SPI only if it is set.
    return IKEv2_payload_Proposal(proposal=number, proto=proto, SPI=spi, SPIsize=len(spi),
                                  trans_nb=len(transforms), trans=trans)


# Payload type numbers (IANA), to chain payloads: scapy 2.5 fills Next
# Payload only between the IKEv2 header and the first payload.
PAYLOAD_TYPE = {
    IKEv2_payload_SA: 33, IKEv2_payload_KE: 34, IKEv2_payload_IDi: 35, IKEv2_payload_IDr: 36,
    IKEv2_payload_CERTREQ: 38, IKEv2_payload_AUTH: 39, IKEv2_payload_Nonce: 40,
    IKEv2_payload_Notify: 41, IKEv2_payload_Delete: 42, IKEv2_payload_VendorID: 43,
    IKEv2_payload_TSi: 44, IKEv2_payload_TSr: 45, IKEv2_payload_CP: 47,
}


def chain(*payloads):
    for p, following in zip(payloads, payloads[1:] + (None,)):
        p.next_payload = 0 if following is None else PAYLOAD_TYPE[type(following)]
    pkt = payloads[0]
    for p in payloads[1:]:
        pkt = pkt / p
    return pkt


def ike_sa_init_proposals():
    p1 = proposal(1, 1, b"", [
        transform(ENCR, ENCR_AES_CBC, 256),
        transform(ENCR, ENCR_AES_CBC, 128),
        transform(PRF, PRF_SHA256),
        transform(INTEG, AUTH_SHA256_128),
        transform(DH, 19),
    ])
    p2 = proposal(2, 1, b"", [
        transform(ENCR, ENCR_AES_GCM_16, 256),
        transform(PRF, PRF_SHA384),
        transform(DH, 19),
        transform(DH, 31),
    ])
    p3 = proposal(3, 1, b"", [
        transform(ENCR, ENCR_CHACHA20_POLY1305),
        transform(PRF, PRF_SHA512),
        transform(DH, 31),
    ])
    return p1 / p2 / p3


def ike_sa_init_request():
    hdr = IKEv2(init_SPI=INITIATOR_SPI, resp_SPI=bytes(8), exch_type=34, flags="Initiator",
                id=0)
    return bytes(hdr / chain(
        IKEv2_payload_SA(prop=ike_sa_init_proposals()),
        IKEv2_payload_KE(group=19, load=fill(64, 0x10)),
        IKEv2_payload_Nonce(load=fill(32, 0x20)),
        IKEv2_payload_Notify(proto=0, type=N_NAT_SRC, load=fill(20, 0x30)),
        IKEv2_payload_Notify(proto=0, type=N_NAT_DST, load=fill(20, 0x40)),
        IKEv2_payload_Notify(proto=0, type=N_FRAGMENTATION_SUPPORTED),
        IKEv2_payload_Notify(proto=0, type=N_SIGNATURE_HASH_ALGORITHMS,
                             load=bytes.fromhex("000200030004")),
        IKEv2_payload_VendorID(vendorID=fill(16, 0x50)),
    ))


def ike_sa_init_response():
    hdr = IKEv2(init_SPI=INITIATOR_SPI, resp_SPI=RESPONDER_SPI, exch_type=34, flags="Response",
                id=0)
    chosen = proposal(2, 1, b"", [
        transform(ENCR, ENCR_AES_GCM_16, 256),
        transform(PRF, PRF_SHA384),
        transform(DH, 19),
    ])
    return bytes(hdr / chain(
        IKEv2_payload_SA(prop=chosen),
        IKEv2_payload_KE(group=19, load=fill(64, 0x60)),
        IKEv2_payload_Nonce(load=fill(48, 0x70)),
        IKEv2_payload_Notify(proto=0, type=N_NAT_SRC, load=fill(20, 0x80)),
        IKEv2_payload_Notify(proto=0, type=N_NAT_DST, load=fill(20, 0x90)),
        IKEv2_payload_Notify(proto=0, type=N_FRAGMENTATION_SUPPORTED),
        IKEv2_payload_CERTREQ(cert_type=4, cert_data=fill(20, 0xA0)),
        IKEv2_payload_VendorID(vendorID=fill(16, 0x50)),
    ))


def cp_attribute(atype, value=b""):
    return struct.pack("!HH", atype, len(value)) + value


def ike_auth_request_inner():
    """The decrypted content of an IKE_AUTH request (first payload: IDi)."""
    esp = proposal(1, 3, bytes.fromhex("c1a2b3d4"), [
        transform(ENCR, ENCR_AES_GCM_16, 128),
        transform(ESN, 0),
        transform(ESN, 1),
    ]) / proposal(2, 3, bytes.fromhex("c1a2b3d4"), [
        transform(ENCR, ENCR_AES_CBC, 256),
        transform(INTEG, AUTH_SHA256_128),
        transform(ESN, 0),
    ])
    ts_i = [
        IPv4TrafficSelector(IP_protocol_ID=0, start_port=0, end_port=65535,
                            starting_address_v4="10.1.0.0", ending_address_v4="10.1.255.255"),
        IPv6TrafficSelector(IP_protocol_ID=17, length=40, start_port=500, end_port=500,
                            starting_address_v6="2001:db8:1::",
                            ending_address_v6="2001:db8:1::ffff"),
    ]
    ts_r = [
        IPv4TrafficSelector(IP_protocol_ID=6, start_port=443, end_port=443,
                            starting_address_v4="192.0.2.10", ending_address_v4="192.0.2.10"),
        IPv6TrafficSelector(IP_protocol_ID=0, length=40, start_port=0, end_port=65535,
                            starting_address_v6="::", ending_address_v6="ffff:" * 7 + "ffff"),
    ]
    # CFG_REQUEST with empty attributes (asking for any value): by hand.
    cp_attrs = cp_attribute(1) + cp_attribute(3) + cp_attribute(8)
    return bytes(chain(
        IKEv2_payload_IDi(IDtype=2, ID=b"client.example.com", length=8 + 18),
        IKEv2_payload_Notify(proto=0, type=N_INITIAL_CONTACT),
        IKEv2_payload_IDr(IDtype=2, ID=b"gw.example.net"),
        IKEv2_payload_AUTH(auth_type=2, load=fill(32, 0xB0)),
        IKEv2_payload_CP(CFGType=1, length=8 + len(cp_attrs), attributes=[Raw(cp_attrs)]),
        IKEv2_payload_Notify(proto=0, type=N_USE_TRANSPORT_MODE),
        IKEv2_payload_SA(prop=esp),
        IKEv2_payload_TSi(traffic_selector=ts_i),
        IKEv2_payload_TSr(traffic_selector=ts_r),
    ))


def ike_auth_response_inner():
    """The decrypted content of an IKE_AUTH response (first payload: IDr)."""
    esp = proposal(1, 3, bytes.fromhex("5e6f7081"), [
        transform(ENCR, ENCR_AES_GCM_16, 128),
        transform(ESN, 0),
    ])
    cp_attrs = cp_attribute(1, bytes([10, 8, 0, 5])) + cp_attribute(3, bytes([10, 8, 0, 1]))
    return bytes(chain(
        IKEv2_payload_IDr(IDtype=1, ID="198.51.100.1"),
        IKEv2_payload_AUTH(auth_type=2, load=fill(32, 0xC0)),
        IKEv2_payload_CP(CFGType=2, length=8 + len(cp_attrs), attributes=[Raw(cp_attrs)]),
        IKEv2_payload_SA(prop=esp),
        IKEv2_payload_TSi(traffic_selector=[
            IPv4TrafficSelector(IP_protocol_ID=0, starting_address_v4="10.8.0.5",
                                ending_address_v4="10.8.0.5")]),
        IKEv2_payload_TSr(traffic_selector=[
            IPv4TrafficSelector(IP_protocol_ID=0, starting_address_v4="0.0.0.0",
                                ending_address_v4="255.255.255.255")]),
    ))


def informational_delete_inner():
    """Decrypted INFORMATIONAL request: delete two ESP SAs, then the IKE SA.
    scapy models D as a Vendor ID, so the bodies are written here."""
    esp_body = struct.pack("!BBH", 3, 4, 2) + bytes.fromhex("c1a2b3d4") + bytes.fromhex(
        "0badf00d")
    ike_body = struct.pack("!BBH", 1, 0, 0)
    return bytes(chain(IKEv2_payload_Delete(vendorID=esp_body),
                       IKEv2_payload_Delete(vendorID=ike_body)))


def ike_auth_sk_message():
    """IKE_AUTH request: HDR, SK{...} with 16-byte IV, ciphertext, 16-byte ICV."""
    hdr = IKEv2(init_SPI=INITIATOR_SPI, resp_SPI=RESPONDER_SPI, exch_type=35, flags="Initiator",
                id=1)
    sk = IKEv2_payload_Encrypted(next_payload=35, load=fill(16 + 96 + 16, 0xD0))
    return bytes(hdr / sk)


def ike_auth_skf_fragments():
    """IKE_AUTH request fragments 1 and 3 of 3 (RFC 7383): only fragment 1
    names the first inner payload."""
    hdr = dict(init_SPI=INITIATOR_SPI, resp_SPI=RESPONDER_SPI, exch_type=35,
               flags="Initiator", id=1)
    first = IKEv2(**hdr) / IKEv2_payload_Encrypted_Fragment(
        next_payload=35, frag_number=1, frag_total=3, load=fill(16 + 64 + 16, 0xE0))
    last = IKEv2(**hdr) / IKEv2_payload_Encrypted_Fragment(
        next_payload=0, frag_number=3, frag_total=3, load=fill(16 + 32 + 16, 0xF0))
    return bytes(first), bytes(last)


def informational_error_response():
    """INFORMATIONAL response in the clear is not a thing; this is the
    decrypted content of an IKE_AUTH error response: N(AUTHENTICATION_FAILED)."""
    return bytes(IKEv2_payload_Notify(proto=0, type=N_AUTHENTICATION_FAILED))


# Payload class names scapy must see when dissecting each message again.
def dissect(data: bytes, first_class=None):
    from scapy.contrib import ikev2
    pkt = IKEv2(data) if first_class is None else first_class(data)
    names = []
    layer = pkt if first_class is not None else pkt.payload
    while layer and not isinstance(layer, Raw) and layer.__class__.__name__ != "NoPayload":
        names.append(layer.__class__.__name__.replace("IKEv2_payload_", ""))
        layer = layer.payload
    del ikev2
    return names


def vectors():
    frag1, frag3 = ike_auth_skf_fragments()
    # name, bytes, first payload type (inner chains only), expected scapy dissection
    return [
        ("kIkeSaInitRequest", ike_sa_init_request(), None,
         ["SA", "KE", "Nonce", "Notify", "Notify", "Notify", "Notify", "VendorID"]),
        ("kIkeSaInitResponse", ike_sa_init_response(), None,
         ["SA", "KE", "Nonce", "Notify", "Notify", "Notify", "CERTREQ", "VendorID"]),
        ("kIkeAuthRequestInner", ike_auth_request_inner(), (35, IKEv2_payload_IDi),
         ["IDi", "Notify", "IDr", "AUTH", "CP", "Notify", "SA", "TSi", "TSr"]),
        ("kIkeAuthResponseInner", ike_auth_response_inner(), (36, IKEv2_payload_IDr),
         ["IDr", "AUTH", "CP", "SA", "TSi", "TSr"]),
        ("kInformationalDeleteInner", informational_delete_inner(), (42, IKEv2_payload_Delete),
         ["Delete", "Delete"]),
        ("kAuthFailedInner", informational_error_response(), (41, IKEv2_payload_Notify),
         ["Notify"]),
        ("kIkeAuthSkMessage", ike_auth_sk_message(), None, ["Encrypted"]),
        ("kIkeAuthSkfFragment1", frag1, None, ["Encrypted_Fragment"]),
        ("kIkeAuthSkfFragment3", frag3, None, ["Encrypted_Fragment"]),
    ]


def c_array(name: str, data: bytes) -> str:
    lines = [f"inline constexpr uint8_t {name}[{len(data)}] = {{"]
    for i in range(0, len(data), 12):
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + 12]) + ",")
    lines.append("};")
    return "\n".join(lines)


def render() -> str:
    out = [
        "// GENERATED by tests/controlplane/message/vectors/make_ike_vectors.py (scapy); do not edit.",
        "// Regenerate with",
        "//   cd tests/controlplane/message/vectors && /usr/bin/python3 make_ike_vectors.py > ike_vectors.h",
        "// and check it is current with `make_ike_vectors.py --check`.",
        "// IKEv2 messages (RFC 7296) and decrypted inner payload chains; see the script for",
        "// what each holds. Field contents: fill(n, seed)[i] = (seed + 7 * i) & 0xff.",
        "#pragma once",
        "",
        "#include <cstdint>",
        "",
        "// clang-format off",
        "namespace tcpsec::ike::vectors {",
        "",
    ]
    for name, data, inner, expected in vectors():
        got = dissect(data, inner[1] if inner else None)
        if got != expected:
            sys.exit(f"{name}: scapy dissects {got}, expected {expected}")
        if inner:
            out.append(f"// Inner chain; first payload type {inner[0]}.")
            out.append(f"inline constexpr uint8_t {name}FirstType = {inner[0]};")
        out.append(c_array(name, data))
        out.append("")
    out.append("}  // namespace tcpsec::ike::vectors")
    out.append("// clang-format on")
    return "\n".join(out) + "\n"


def write_seeds(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    for name, data, inner, _ in vectors():
        # ike_message_fuzz: the whole input is tried as a message, and input[1:]
        # as an inner chain whose first type is input[0].
        seed = data if inner is None else bytes([inner[0]]) + data
        (directory / f"{name}.bin").write_bytes(seed)


def main():
    here = Path(__file__).resolve().parent
    if sys.argv[1:] == ["--check"]:
        current = (here / "ike_vectors.h").read_text()
        if current != render():
            sys.exit("ike_vectors.h is out of date: regenerate it")
        print("ike_vectors.h is current")
    elif len(sys.argv) == 3 and sys.argv[1] == "--seeds":
        write_seeds(Path(sys.argv[2]))
    elif len(sys.argv) == 1:
        sys.stdout.write(render())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
