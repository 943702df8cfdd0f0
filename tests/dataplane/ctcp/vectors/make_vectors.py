#!/usr/bin/python3
"""Generates ctcp_vectors.h: byte-exact pseudo-TCP test vectors.

The expected packets are built with scapy from the wire format described in
shared/reference/wire-formats.md section 1 (QuickSec / Cisco "IPsec over
TCP"), independently of dataplane/ctcp/framing.cc: scapy computes every
length and checksum (IPv4 header, TCP over pseudo-header + payload + trailer,
UDP over IPv4 and IPv6 pseudo-headers). The tests never run python; the
header is checked in.

Regenerate with:

    cd tests/dataplane/ctcp/vectors && /usr/bin/python3 make_vectors.py > ctcp_vectors.h

and `make_vectors.py --check` compares a fresh generation with the checked-in
header.
Needs python3-scapy (tested with 2.5.0). Output is deterministic.
"""

import socket
import struct
import sys
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP, IPOption_Router_Alert
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop,
                                PadN)
from scapy.layers.ipsec import ESP
from scapy.packet import Raw

TRAILER_MAGIC = bytes([0x21, 0x45, 0x6C, 0x69])
WINDOW = 65535  # QuickSec's fixed window

V4_SRC, V4_DST = "192.0.2.1", "198.51.100.2"
V6_SRC, V6_DST = "2001:db8::1", "2001:db8:1::2"


def ike_message(initiator_spi: bytes, nonce_len: int) -> bytes:
    """An IKEv2 IKE_SA_INIT request: header + one Nonce payload (RFC 7296)."""
    assert len(initiator_spi) == 8
    nonce = bytes((0x5A + i) & 0xFF for i in range(nonce_len))
    nonce_payload = struct.pack("!BBH", 0, 0, 4 + len(nonce)) + nonce
    header = initiator_spi + bytes(8)  # responder SPI: zero
    header += struct.pack(
        "!BBBBII",
        40,  # next payload: Nonce (Ni)
        0x20,  # version 2.0
        34,  # exchange: IKE_SA_INIT
        0x08,  # flags: Initiator
        0,  # message ID
        28 + len(nonce_payload))
    return header + nonce_payload


def esp_packet(payload_len: int) -> ESP:
    data = bytes((0xC3 ^ i) & 0xFF for i in range(payload_len))
    return ESP(spi=0x1000ABCD, seq=1, data=data)


def trailer(proto: int, ipv4_id: int) -> bytes:
    t = bytes(4)  # bytes 0-3: zero
    t += struct.pack("!H", ipv4_id)  # IKE on IPv4: the IPv4 ID; else zero
    t += bytes(2)  # "direction": QuickSec writes zero
    t += TRAILER_MAGIC + bytes([0x10, proto, 0x01, 0x00])
    assert len(t) == 16
    return t


def ip_headers(family: str, chain: bool, ipv4_id: int, l4proto: int):
    """The IP header (+ extension headers) of the inner packet."""
    if family == "v4":
        opts = [IPOption_Router_Alert()] if chain else []
        return IP(src=V4_SRC, dst=V4_DST, id=ipv4_id, flags="DF", ttl=64, tos=0x10,
                  options=opts, proto=l4proto)
    hdr = IPv6(src=V6_SRC, dst=V6_DST, hlim=64, tc=0x20, fl=0x12345)
    if chain:
        hdr = hdr / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt(
            options=[PadN(optdata=bytes(12))])  # 16 bytes: len field 1
    return hdr


class Vector:

    def __init__(self, name, family, chain, kind, size_arg, ipv4_id, sport, dport, seq, ack):
        self.name = name
        self.kind = kind
        self.sport, self.dport, self.seq, self.ack = sport, dport, seq, ack
        l4proto = 17 if kind == "ike" else 50

        # The inner packet, as the local IKE daemon / ESP engine sends it;
        # scapy fills in lengths and the UDP and IPv4 header checksums.
        if kind == "ike":
            self.initiator_spi = bytes([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, size_arg])
            ike = ike_message(self.initiator_spi, size_arg)
            upper = UDP(sport=500, dport=500) / Raw(ike)
            l4_len = 8 + len(ike)
        else:
            upper = esp_packet(size_arg)
            l4_len = 8 + size_arg
        self.inner = bytes(ip_headers(family, chain, ipv4_id, l4proto) / upper)
        l3 = self.inner[:-l4_len]
        l4 = self.inner[-l4_len:]
        if kind == "ike":
            udp_len, udp_sum = struct.unpack("!HH", l4[4:8])
            assert udp_sum != 0, "inner UDP must carry a real checksum"
            assert udp_len == l4_len
            l4_zero = l4[:6] + b"\x00\x00" + l4[8:]
        else:
            assert struct.unpack("!II", l4[:8]) == (0x1000ABCD, 1)
            l4_zero = l4

        # Expected pseudo-TCP packet: same L3 header chain with upper protocol
        # TCP, TCP header (20 bytes, ACK, window 65535), inner payload with its
        # UDP checksum zeroed, trailer. scapy computes lengths and checksums.
        ipv4_trailer_id = ipv4_id if (kind == "ike" and family == "v4") else 0
        tcp = TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags="A", window=WINDOW,
                  dataofs=5, urgptr=0, options=[])
        outer = ip_headers(family, chain, ipv4_id, 6) / tcp / Raw(
            l4_zero + trailer(l4proto, ipv4_trailer_id))
        self.encapsulated = bytes(outer)
        assert len(self.encapsulated) == len(self.inner) + 36
        self._check_l3(family, l3)

        # Expected result of decapsulating `encapsulated`: the inner packet
        # with its UDP checksum zero on IPv4 and recomputed on IPv6 (RFC 8200
        # 8.1 forbids a zero UDP checksum).
        if kind == "ike" and family == "v4":
            dec = ip_headers(family, chain, ipv4_id, 17) / UDP(
                sport=500, dport=500, chksum=0) / Raw(l4[8:])
            self.decapsulated = bytes(dec)
            assert self.decapsulated[-l4_len + 6:-l4_len + 8] == b"\x00\x00"
        elif kind == "ike":
            dec = ip_headers(family, chain, ipv4_id, 17) / UDP(sport=500, dport=500) / Raw(l4[8:])
            self.decapsulated = bytes(dec)
        else:
            self.decapsulated = self.inner
        assert len(self.decapsulated) == len(self.inner)

    def _check_l3(self, family, inner_l3):
        """The L3 header chain may only differ in lengths, protocol, checksum."""
        out_l3 = self.encapsulated[:len(inner_l3)]
        if family == "v4":
            assert out_l3[:2] == inner_l3[:2] and out_l3[4:9] == inner_l3[4:9]
            assert out_l3[12:] == inner_l3[12:] and out_l3[9] == 6
        else:
            assert out_l3[:4] == inner_l3[:4] and out_l3[7:40] == inner_l3[7:40]


def control(name, family, sport, dport, seq, ack, flags):
    if family == "v4":
        l3 = IP(src=V4_SRC, dst=V4_DST, id=0, flags="DF", ttl=64, tos=0)
        src = socket.inet_pton(socket.AF_INET, V4_SRC) + bytes(12)
        dst = socket.inet_pton(socket.AF_INET, V4_DST) + bytes(12)
    else:
        l3 = IPv6(src=V6_SRC, dst=V6_DST, hlim=64, tc=0, fl=0)
        src = socket.inet_pton(socket.AF_INET6, V6_SRC)
        dst = socket.inet_pton(socket.AF_INET6, V6_DST)
    pkt = bytes(l3 / TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags,
                           window=WINDOW, dataofs=5, urgptr=0, options=[]))
    return dict(name=name, v6=family == "v6", src=src, dst=dst, sport=sport, dport=dport,
                seq=seq, ack=ack, flags=pkt[len(pkt) - 20 + 13], bytes=pkt)


def framing_vectors():
    return [
        # name, family, ext-chain/options, kind, nonce or ESP data length, IPv4 ID, ports, seq, ack
        Vector("ike_v4", "v4", False, "ike", 32, 0x1234, 49152, 10000, 0x01020304, 0xA0B0C0D0),
        Vector("ike_v4_odd", "v4", False, "ike", 17, 0xBEEF, 1024, 443, 0xFFFFFFF0, 0),
        Vector("ike_v4_options", "v4", True, "ike", 24, 0x0001, 10000, 61000, 7, 0x80000000),
        Vector("esp_v4", "v4", False, "esp", 48, 0x4321, 49152, 10000, 0x01020394, 0xA0B0C0D0),
        Vector("ike_v6", "v6", False, "ike", 32, 0, 49153, 443, 0x11111111, 0x22222222),
        Vector("ike_v6_odd", "v6", False, "ike", 21, 0, 443, 50000, 0xDEADBEEF, 0xCAFEF00D),
        Vector("esp_v6", "v6", False, "esp", 64, 0, 49153, 443, 0x11111161, 0x22222222),
        Vector("ike_v6_ext", "v6", True, "ike", 32, 0, 2000, 10000, 0x00000001, 0x00000002),
        Vector("esp_v6_ext", "v6", True, "esp", 40, 0, 2000, 10000, 0x00000060, 0x00000002),
    ]


def control_vectors():
    return [
        control("syn_v4", "v4", 49152, 10000, 0x0BADCAFE, 0, "S"),
        control("synack_v4", "v4", 10000, 49152, 0x12345678, 0x0BADCAFF, "SA"),
        control("rstack_v4", "v4", 10000, 49152, 0, 0x0BADCAFF, "RA"),
        control("syn_v6", "v6", 49153, 443, 0xFEDCBA98, 0, "S"),
        control("synack_v6", "v6", 443, 49153, 0x01010101, 0xFEDCBA99, "SA"),
        control("rstack_v6", "v6", 443, 49153, 0x01010102, 0xFEDCBA99, "RA"),
    ]


def c_array(name, data: bytes) -> str:
    lines = []
    for i in range(0, len(data), 12):
        lines.append("    " + " ".join(f"0x{b:02x}," for b in data[i:i + 12]))
    return f"inline constexpr uint8_t {name}[{len(data)}] = {{\n" + "\n".join(lines) + "\n};\n"


def generate() -> str:
    out = []
    out.append("// GENERATED by tests/dataplane/ctcp/vectors/make_vectors.py (scapy); do not edit.\n"
               "// Regenerate with\n"
               "//   cd tests/dataplane/ctcp/vectors && /usr/bin/python3 make_vectors.py"
               " > ctcp_vectors.h\n"
               "// and check it is current with `make_vectors.py --check`.\n"
               "// Pseudo-TCP framing vectors per shared/reference/wire-formats.md section 1.\n"
               "#pragma once\n\n"
               "#include <cstdint>\n#include <span>\n\n"
               "// clang-format off\n"
               "namespace tcpsec::ctcp::vectors {\n\n"
               "struct FramingVector {\n"
               "  const char* name;\n"
               "  uint16_t src_port;\n  uint16_t dst_port;\n  uint32_t seq;\n  uint32_t ack;\n"
               "  uint8_t inner_proto;           // 17 (IKE in UDP) or 50 (ESP)\n"
               "  const uint8_t* initiator_spi;  // IKE only, else nullptr\n"
               "  std::span<const uint8_t> inner;         // as the IKE daemon / ESP sends it\n"
               "  std::span<const uint8_t> encapsulated;  // the pseudo-TCP segment\n"
               "  std::span<const uint8_t> decapsulated;  // decapsulating `encapsulated`\n"
               "};\n\n"
               "struct ControlVector {\n"
               "  const char* name;\n  bool v6;\n"
               "  uint8_t src[16];\n  uint8_t dst[16];\n"
               "  uint16_t src_port;\n  uint16_t dst_port;\n  uint32_t seq;\n  uint32_t ack;\n"
               "  uint8_t flags;\n"
               "  std::span<const uint8_t> bytes;\n"
               "};\n\n")
    fv = framing_vectors()
    for v in fv:
        if v.kind == "ike":
            out.append(c_array(f"k_{v.name}_spi", v.initiator_spi))
        out.append(c_array(f"k_{v.name}_inner", v.inner))
        out.append(c_array(f"k_{v.name}_encapsulated", v.encapsulated))
        out.append(c_array(f"k_{v.name}_decapsulated", v.decapsulated))
        out.append("\n")
    out.append("inline constexpr FramingVector kFramingVectors[] = {\n")
    for v in fv:
        proto = 17 if v.kind == "ike" else 50
        spi = f"k_{v.name}_spi" if proto == 17 else "nullptr"
        out.append(f"    {{\"{v.name}\", {v.sport}, {v.dport}, 0x{v.seq:08x}u, 0x{v.ack:08x}u, "
                   f"{proto}, {spi},\n     k_{v.name}_inner, k_{v.name}_encapsulated, "
                   f"k_{v.name}_decapsulated}},\n")
    out.append("};\n\n")
    cv = control_vectors()
    for c in cv:
        out.append(c_array(f"k_{c['name']}", c["bytes"]))
    out.append("\ninline constexpr ControlVector kControlVectors[] = {\n")

    def init(b):
        return "{" + ", ".join(f"0x{x:02x}" for x in b) + "}"

    for c in cv:
        out.append(f"    {{\"{c['name']}\", {'true' if c['v6'] else 'false'},\n"
                   f"     {init(c['src'])},\n     {init(c['dst'])},\n"
                   f"     {c['sport']}, {c['dport']}, 0x{c['seq']:08x}u, 0x{c['ack']:08x}u, "
                   f"0x{c['flags']:02x}, k_{c['name']}}},\n")
    out.append("};\n\n}  // namespace tcpsec::ctcp::vectors\n// clang-format on\n")
    return "".join(out)


def main():
    text = generate()
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        path = Path(__file__).with_name("ctcp_vectors.h")
        if path.read_text() != text:
            sys.exit(f"{path} is stale: regenerate it")
        return
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
