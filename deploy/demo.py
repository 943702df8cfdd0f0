#!/usr/bin/python3
"""The gateway's main job on its embedded default: a remote-access client
behind a NAT that drops all UDP reaches the central gateway over pseudo-TCP.

Five network namespaces (client host, client dataplane, NAT middlebox,
gateway dataplane, gateway host), two real tcpsec-dataplane processes on
af_packet ports, and real Linux conntrack/NAT in the middle. Until the IKE
daemon lands, the hosts' IKE and ESP are played by raw sockets: an
IKE_SA_INIT exchange, then ESP both ways. Prints what crossed and the
counters of every box."""

import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
os.environ.setdefault("TCPSEC_DATAPLANE", os.path.join(HERE, "..", "build", "dataplane", "tcpsec-dataplane"))
TCPSECCTL = os.environ.get("TCPSEC_TCPSECCTL", os.path.join(HERE, "..", "build", "cli", "tcpsecctl"))

import tcpsec_e2e  # noqa: E402
tcpsec_e2e.DATAPLANE = os.environ["TCPSEC_DATAPLANE"]

from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402

from middlebox import CHOST_MAC, CLIENT_PUB, GHOST_MAC, GW_PUB, MB_WAN, Middlebox  # noqa: E402
from tcpsec_e2e import recv_matching  # noqa: E402


def ike(spi_i, spi_r):
    nonce = b"\x5a" * 32
    return (struct.pack(">QQBBBBII", spi_i, spi_r, 40, 0x20, 34, 0x08 if not spi_r else 0x20, 0, 64)
            + struct.pack(">BBH", 0, 0, 36) + nonce)


def main():
    packets = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print("== tcpsec demo: remote-access client behind a UDP-dropping NAT ==")
    with Middlebox() as m:
        chost = m.ns["chost"].raw_socket("host")
        ghost = m.ns["ghost"].raw_socket("host")
        print(f"client {CLIENT_PUB} -> NAT {MB_WAN} -> gateway {GW_PUB}:10000 (pseudo-TCP)")

        m.send_plain_udp_ike()
        print("IKE over plain UDP 500 sent across the middlebox (it drops UDP)")
        spi = 0x0123456789ABCDEF
        chost.send(bytes(Ether(src=CHOST_MAC, dst=m.cgw_loc_mac) / IP(src=CLIENT_PUB, dst=GW_PUB)
                         / UDP(sport=500, dport=500) / ike(spi, 0)))
        req = recv_matching(ghost, lambda f: UDP in Ether(f) and Ether(f)[UDP].dport == 500, 5)
        if req is None:
            print("IKE_SA_INIT did not arrive: see", m.workdir)
            return 1
        print(f"IKE_SA_INIT request arrived at the gateway host from {Ether(req)[IP].src} (NATed)")
        ghost.send(bytes(Ether(src=GHOST_MAC, dst=m.ggw_loc_mac) / IP(src=GW_PUB, dst=MB_WAN)
                         / UDP(sport=500, dport=500) / ike(spi, 0xFEDCBA9876543210)))
        resp = recv_matching(chost, lambda f: UDP in Ether(f) and Ether(f)[UDP].sport == 500, 5)
        print("IKE_SA_INIT response arrived at the client host" if resp is not None
              else "IKE_SA_INIT response lost")

        got = {"to gateway": 0, "to client": 0}
        start = time.time()
        for i in range(packets):
            chost.send(bytes(Ether(src=CHOST_MAC, dst=m.cgw_loc_mac) / IP(src=CLIENT_PUB, dst=GW_PUB, proto=50)
                             / (struct.pack(">II", 0xC1000001, i + 1) + b"\x11" * 400)))
            ghost.send(bytes(Ether(src=GHOST_MAC, dst=m.ggw_loc_mac) / IP(src=GW_PUB, dst=MB_WAN, proto=50)
                             / (struct.pack(">II", 0xD1000001, i + 1) + b"\x22" * 1000)))
            if i % 20 == 19:
                time.sleep(0.005)
        deadline = time.time() + 5
        while sum(got.values()) < 2 * packets and time.time() < deadline:
            for name, sock in (("to gateway", ghost), ("to client", chost)):
                f = recv_matching(sock, lambda f: IP in Ether(f) and Ether(f)[IP].proto == 50, 0.05)
                if f is not None:
                    got[name] += 1
        print(f"ESP: {got['to gateway']}/{packets} reached the gateway host, "
              f"{got['to client']}/{packets} the client host in {time.time() - start:.1f} s")
        print("\n-- live, from the running gateway: tcpsecctl connections / counters --")
        sock = os.path.join(m.workdir, "gateway.sock")
        for what in ("connections", "counters"):
            out = subprocess.run([TCPSECCTL, "--socket", sock, what], capture_output=True, text=True)
            print(out.stdout or out.stderr)
    print("\n-- middlebox (nftables) --")
    for k, v in m.nft.items():
        print(f"  {k:24} {v} packets")
    for name, dp in (("client dataplane", m.client), ("gateway dataplane", m.gateway)):
        print(f"\n-- {name} --")
        for k, v in dp.counters["counters"].items():
            if v:
                print(f"  {k:32} {v}")
        for k, v in dp.counters["drops"].items():
            if v:
                print(f"  drop {k:27} {v}")
    ok = resp is not None and got["to gateway"] == packets and got["to client"] == packets \
        and m.nft.get("invalid", 0) == 0
    print("\nresult:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
