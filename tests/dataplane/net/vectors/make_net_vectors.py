#!/usr/bin/env python3
"""Builds the expected frames for the net tests with scapy.

The tests never run python: this script writes net_vectors.h next to it, which
is checked in. To regenerate (needs python3-scapy):

    /usr/bin/python3 tests/dataplane/net/vectors/make_net_vectors.py

Every frame here is built field by field by scapy (checksums and lengths
computed by scapy), independently of the C++ code under test.
"""

import os
import sys

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_Router_Alert
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6PacketTooBig,
    IPv6,
    IPv6ExtHdrHopByHop,
    in6_getnsma,
    in6_getnsmac,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Padding, Raw
from scapy.utils6 import inet_pton
import socket

OUR_MAC = "02:00:00:00:00:01"
PEER_MAC = "02:00:00:00:00:02"
OUR_V4 = "192.0.2.1"
PEER_V4 = "192.0.2.2"
ARP_TARGET_V4 = "192.0.2.99"
OUR_V6 = "2001:db8::1"
PEER_V6 = "2001:db8::2"
NS_TARGET_V6 = "2001:db8::ab:cdef"
REMOTE_V4 = "198.51.100.7"
FAR_V4 = "203.0.113.9"
REMOTE_V6 = "2001:db8:1::7"
FAR_V6 = "2001:db8:2::9"
MTU = 1400

PAYLOAD = bytes(range(56))


def nsma(addr):
    return socket.inet_ntop(socket.AF_INET6, in6_getnsma(inet_pton(socket.AF_INET6, addr)))


def nsmac(addr):
    # 33:33 + the low 32 bits of the solicited-node group (RFC 2464 7).
    return in6_getnsmac(in6_getnsma(inet_pton(socket.AF_INET6, addr)))


def vectors():
    v = {}
    # --- ARP ---------------------------------------------------------------
    v["kArpRequestIn"] = (
        Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC)
        / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_V4, hwdst="00:00:00:00:00:00", pdst=OUR_V4)
        / Padding(load=b"\xaa" * 18)  # junk padding must not be reflected
    )
    v["kArpReplyOut"] = (
        Ether(dst=PEER_MAC, src=OUR_MAC)
        / ARP(op=2, hwsrc=OUR_MAC, psrc=OUR_V4, hwdst=PEER_MAC, pdst=PEER_V4)
        / Padding(load=b"\x00" * 18)
    )
    v["kArpRequestOut"] = (
        Ether(dst="ff:ff:ff:ff:ff:ff", src=OUR_MAC)
        / ARP(op=1, hwsrc=OUR_MAC, psrc=OUR_V4, hwdst="00:00:00:00:00:00", pdst=ARP_TARGET_V4)
        / Padding(load=b"\x00" * 18)
    )
    # --- neighbour discovery -----------------------------------------------
    v["kNaSolicitedOut"] = (
        Ether(dst=PEER_MAC, src=OUR_MAC)
        / IPv6(src=OUR_V6, dst=PEER_V6, hlim=255)
        / ICMPv6ND_NA(R=0, S=1, O=1, tgt=OUR_V6)
        / ICMPv6NDOptDstLLAddr(lladdr=OUR_MAC)
    )
    v["kNaUnsolicitedOut"] = (
        Ether(dst="33:33:00:00:00:01", src=OUR_MAC)
        / IPv6(src=OUR_V6, dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(R=0, S=0, O=1, tgt=OUR_V6)
        / ICMPv6NDOptDstLLAddr(lladdr=OUR_MAC)
    )
    v["kNsOut"] = (
        Ether(dst=nsmac(NS_TARGET_V6), src=OUR_MAC)
        / IPv6(src=OUR_V6, dst=nsma(NS_TARGET_V6), hlim=255)
        / ICMPv6ND_NS(tgt=NS_TARGET_V6)
        / ICMPv6NDOptSrcLLAddr(lladdr=OUR_MAC)
    )
    # Inputs for parse_nd (from the IPv6 header on).
    v["kNsIn"] = (
        IPv6(src=PEER_V6, dst=nsma(OUR_V6), hlim=255)
        / ICMPv6ND_NS(tgt=OUR_V6)
        / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC)
    )
    # An unknown option (nonce, type 14) before the SLLA must be skipped.
    v["kNsNonceIn"] = (
        IPv6(src=PEER_V6, dst=OUR_V6, hlim=255)
        / ICMPv6ND_NS(tgt=OUR_V6)
        / Raw(load=bytes([14, 1, 1, 2, 3, 4, 5, 6]))
        / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC)
    )
    v["kNsDadIn"] = IPv6(src="::", dst=nsma(OUR_V6), hlim=255) / ICMPv6ND_NS(tgt=OUR_V6)
    v["kNaIn"] = (
        IPv6(src=PEER_V6, dst=OUR_V6, hlim=255)
        / ICMPv6ND_NA(R=0, S=1, O=1, tgt=PEER_V6)
        / ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC)
    )
    v["kNaNoOptionIn"] = (
        IPv6(src=PEER_V6, dst="ff02::1", hlim=255) / ICMPv6ND_NA(R=1, S=0, O=0, tgt=PEER_V6)
    )
    # --- echo (from the IP header on) --------------------------------------
    v["kEchoV4In"] = (
        IP(src=PEER_V4, dst=OUR_V4, ttl=57, id=0x1234, flags="DF", tos=0x10)
        / ICMP(type=8, id=0x4242, seq=7)
        / Raw(load=PAYLOAD)
    )
    v["kEchoV4OptionsIn"] = (
        IP(src=PEER_V4, dst=OUR_V4, ttl=57, id=0x1234, flags="DF", tos=0x10,
           options=[IPOption_Router_Alert()])
        / ICMP(type=8, id=0x4242, seq=7)
        / Raw(load=PAYLOAD)
    )
    v["kEchoV4Out"] = (
        IP(src=OUR_V4, dst=PEER_V4, ttl=64, id=0x1234, flags="DF", tos=0x10)
        / ICMP(type=0, id=0x4242, seq=7)
        / Raw(load=PAYLOAD)
    )
    v["kEchoV6In"] = (
        IPv6(src=PEER_V6, dst=OUR_V6, hlim=50, tc=0x20, fl=0x12345)
        / ICMPv6EchoRequest(id=0x4242, seq=7, data=PAYLOAD)
    )
    v["kEchoV6ExtIn"] = (
        IPv6(src=PEER_V6, dst=OUR_V6, hlim=50, tc=0x20, fl=0x12345)
        / IPv6ExtHdrHopByHop()
        / ICMPv6EchoRequest(id=0x4242, seq=7, data=PAYLOAD)
    )
    v["kEchoV6Out"] = (
        IPv6(src=OUR_V6, dst=PEER_V6, hlim=64, tc=0x20, fl=0x12345)
        / ICMPv6EchoReply(id=0x4242, seq=7, data=PAYLOAD)
    )
    # --- fragmentation needed / packet too big -----------------------------
    def v4_offending(total):
        hdr = IP(src=REMOTE_V4, dst=FAR_V4, ttl=61, id=0x5555, flags="DF") / TCP(
            sport=40000, dport=443, flags="A")
        return hdr / Raw(load=bytes(i & 0xff for i in range(total - len(hdr))))

    def v6_offending(total):
        hdr = IPv6(src=REMOTE_V6, dst=FAR_V6, hlim=61) / UDP(sport=40000, dport=4500)
        return hdr / Raw(load=bytes(i & 0xff for i in range(total - len(hdr))))

    for name, total in (("Big", 1500), ("Small", 100)):
        off = bytes(v4_offending(total))
        v[f"kFragNeeded{name}In"] = off
        v[f"kFragNeeded{name}Out"] = (
            IP(src=OUR_V4, dst=REMOTE_V4, tos=0xc0, id=0, flags="DF", ttl=64)
            / ICMP(type=3, code=4, nexthopmtu=MTU)
            / Raw(load=off[: 576 - 28])
        )
    for name, total in (("Big", 1500), ("Small", 200)):
        off = bytes(v6_offending(total))
        v[f"kPacketTooBig{name}In"] = off
        v[f"kPacketTooBig{name}Out"] = (
            IPv6(src=OUR_V6, dst=REMOTE_V6, hlim=64)
            / ICMPv6PacketTooBig(mtu=MTU)
            / Raw(load=off[: 1280 - 48])
        )
    return v


def c_array(name, data):
    lines = [f"inline constexpr uint8_t {name}[{len(data)}] = {{"]
    for i in range(0, len(data), 12):
        lines.append("    " + " ".join(f"0x{b:02x}," for b in data[i : i + 12]))
    lines.append("};")
    return "\n".join(lines)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "net_vectors.h")
    parts = [
        "// Generated by make_net_vectors.py (scapy); do not edit. Regenerate with",
        "//   /usr/bin/python3 tests/dataplane/net/vectors/make_net_vectors.py",
        "#pragma once",
        "",
        "#include <cstdint>",
        "",
        "// clang-format off",
        "namespace tcpsec::net::vectors {",
        "",
    ]
    consts = {
        "kOurMac": OUR_MAC, "kPeerMac": PEER_MAC, "kOurV4": OUR_V4, "kPeerV4": PEER_V4,
        "kArpTargetV4": ARP_TARGET_V4, "kOurV6": OUR_V6, "kPeerV6": PEER_V6,
        "kNsTargetV6": NS_TARGET_V6, "kRemoteV4": REMOTE_V4, "kRemoteV6": REMOTE_V6,
    }
    for k, s in consts.items():
        parts.append(f'inline constexpr char {k}[] = "{s}";')
    parts.append(f"inline constexpr uint16_t kMtu = {MTU};")
    parts.append("")
    for name, pkt in vectors().items():
        parts.append(c_array(name, bytes(pkt)))
        parts.append("")
    parts += ["}  // namespace tcpsec::net::vectors", "// clang-format on", ""]
    with open(out, "w") as f:
        f.write("\n".join(parts))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
