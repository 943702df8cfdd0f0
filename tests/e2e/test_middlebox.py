"""Pseudo-TCP across a stateful NAT middlebox that drops UDP: the client
dataplane opens the connection on demand, IKE and ESP cross both ways, the
NAT rewrites the outer (= inner) addresses, and conntrack never calls one of
our segments invalid - even for a one-way ESP stream far beyond one TCP
window, which the receiver's window ACKs keep inside conntrack's window."""

import struct
import time

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from middlebox import (CHOST_MAC, CLIENT_PUB, GHOST_MAC, GW_PUB, MB_WAN, Middlebox)
from tcpsec_e2e import recv_matching


def ike(spi_i, spi_r, size=96):
    nonce = b"\x5a" * (size - 32)
    return (struct.pack(">QQBBBBII", spi_i, spi_r, 40, 0x20, 34, 0x08 if spi_r == 0 else 0x20, 0, size)
            + struct.pack(">BBH", 0, 0, 4 + len(nonce)) + nonce)


def test_ike_and_esp_cross_udp_dropping_nat():
    with Middlebox() as m:
        chost = m.ns["chost"].raw_socket("host")
        ghost = m.ns["ghost"].raw_socket("host")

        # The client's IKE_SA_INIT: the client dataplane opens pseudo-TCP.
        spi_i = 0x1111222233334444
        chost.send(bytes(Ether(src=CHOST_MAC, dst=m.cgw_loc_mac)
                         / IP(src=CLIENT_PUB, dst=GW_PUB) / UDP(sport=500, dport=500) / ike(spi_i, 0)))
        req = recv_matching(ghost, lambda f: UDP in Ether(f) and Ether(f)[UDP].dport == 500, 5)
        assert req is not None, m.client.output() + m.gateway.output()
        req = Ether(req)
        assert req[IP].src == MB_WAN  # NATed, exactly as NAT-T would see it
        assert req[IP].dst == GW_PUB
        assert bytes(req[UDP].payload)[:8] == struct.pack(">Q", spi_i)

        # The gateway's answer travels back through the NAT's reverse mapping.
        ghost.send(bytes(Ether(src=GHOST_MAC, dst=m.ggw_loc_mac)
                         / IP(src=GW_PUB, dst=MB_WAN) / UDP(sport=500, dport=500) / ike(spi_i, 0x77)))
        resp = recv_matching(chost, lambda f: UDP in Ether(f) and Ether(f)[UDP].sport == 500, 5)
        assert resp is not None, m.client.output() + m.gateway.output()
        assert Ether(resp)[IP].dst == CLIENT_PUB

        # Plain UDP across the middlebox is dropped: the reason tcpsec exists.
        m.send_plain_udp_ike()

        # ESP: the client's SPI is learned for the connection; then a one-way
        # stream of 300 KB from the gateway (several TCP windows).
        esp = struct.pack(">II", 0xC0000001, 1) + b"\x01" * 100
        chost.send(bytes(Ether(src=CHOST_MAC, dst=m.cgw_loc_mac) / IP(src=CLIENT_PUB, dst=GW_PUB, proto=50) / esp))
        got = recv_matching(ghost, lambda f: IP in Ether(f) and Ether(f)[IP].proto == 50, 5)
        assert got is not None, m.client.output()
        n, size = 300, 1000
        received = 0
        for i in range(n):
            payload = struct.pack(">II", 0xD0000001, i + 1) + bytes([i % 251]) * size
            ghost.send(bytes(Ether(src=GHOST_MAC, dst=m.ggw_loc_mac) / IP(src=GW_PUB, dst=MB_WAN, proto=50) / payload))
            if i % 20 == 19:
                time.sleep(0.01)  # the raw socket has a small queue
        deadline = time.time() + 5
        while received < n and time.time() < deadline:
            f = recv_matching(chost, lambda f: IP in Ether(f) and Ether(f)[IP].proto == 50, 0.5)
            if f is not None:
                received += 1
        assert received == n, f"{received}/{n} ESP packets arrived\n" + m.client.output()

    assert m.nft.get("invalid", 0) == 0, m.nft
    assert m.nft.get("udp", 0) == 1, m.nft
    assert m.nft.get("forwarded", 0) >= n
    assert m.client.counter("ctcp_established") == 1
    assert m.gateway.counter("ctcp_syn_received") == 1
    assert m.client.counter("ctcp_window_acks") >= 3  # 300 KB / 32 KB
    assert m.gateway.counter("ctcp_encap_esp") == n
    assert m.client.counter("ctcp_decap_esp") == n
