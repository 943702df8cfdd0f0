"""The Linux TCP stack as the peer: a real kernel completes our handshakes,
receives our pseudo-TCP segments as stream bytes and sees our RSTs."""

import struct
import subprocess
import textwrap
import time

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from topology import GW4, GW6, HOST_MAC, PEER4, PEER6, Topology

CLIENT = textwrap.dedent("""
    import socket, sys, time
    family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
    # 1: stream bytes carry no trailer: the gateway must drop them.
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((sys.argv[1], 10000))
    print("connected", flush=True)
    s.send(b"x" * 32)
    time.sleep(0.3)
    s.close()
    # 2: FIN with nothing in flight: the gateway answers with RST.
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((sys.argv[1], 443))
    s.shutdown(socket.SHUT_WR)
    try:
        data = s.recv(100)
        print("eof" if not data else "data", flush=True)
    except ConnectionResetError:
        print("reset", flush=True)
""")

SERVER = textwrap.dedent("""
    import socket, sys
    family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
    l = socket.socket(family, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((sys.argv[1], 10000))
    l.listen(1)
    l.settimeout(8)
    print("listening", flush=True)
    c, _ = l.accept()
    c.settimeout(3)
    want = int(sys.argv[2])
    buf = b""
    while len(buf) < want:
        d = c.recv(4096)
        if not d:
            break
        buf += d
    print(buf.hex(), flush=True)
    c.close()                  # FIN: the gateway answers with RST
    import time; time.sleep(0.5)
""")


@pytest.mark.parametrize("family", ["v4", "v6"])
def test_kernel_client_completes_handshake_and_sees_rst(family):
    gw = GW4 if family == "v4" else GW6
    with Topology() as t:
        client = t.peer.popen(["/usr/bin/python3", "-c", CLIENT, gw], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        out, err = client.communicate(timeout=20)
        assert "connected" in out, out + err + t.dp.output()
        assert "reset" in out, out + err
    dp = t.dp
    assert dp.counter("ctcp_syn_received") >= 1
    assert dp.counter("ctcp_established") == 2
    assert dp.counter("ctcp_fin_answered_with_rst") >= 1
    # The kernel's stream bytes carry no trailer: refused and counted.
    assert dp.drop("ctcp_trailer_bad_zero") >= 1


def ike_sa_init(spi):
    # IKE header: initiator SPI, responder SPI 0, next payload SA, v2.0,
    # IKE_SA_INIT, initiator flag, message ID 0, length; then a dummy body.
    body = b"\x00" * 36
    return struct.pack(">QQBBBBII", spi, 0, 33, 0x20, 34, 0x08, 0, 28 + len(body)) + body


@pytest.mark.parametrize("family", ["v4", "v6"])
def test_initiator_opens_connection_to_kernel_and_sends_held_ike(family):
    gw, peer = (GW4, PEER4) if family == "v4" else (GW6, PEER6)
    with Topology() as t:
        inner_udp = UDP(sport=500, dport=500) / ike_sa_init(0x0102030405060708)
        if family == "v4":
            l3 = IP(src=gw, dst=peer, id=0x1234) / inner_udp
        else:
            l3 = IPv6(src=gw, dst=peer) / inner_udp
        udp_bytes = bytes(l3[UDP])
        want = len(udp_bytes) + 16
        server = t.peer.popen(["/usr/bin/python3", "-c", SERVER, peer, str(want)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "listening"
        host = t.host.raw_socket("host")
        host.send(bytes(Ether(src=HOST_MAC, dst=t.loc_mac) / l3))
        out, err = server.communicate(timeout=15)
        time.sleep(0.3)
    received = bytes.fromhex(out.strip().splitlines()[-1]) if out.strip() else b""
    expected_udp = bytearray(udp_bytes)
    expected_udp[6:8] = b"\x00\x00"  # inner UDP checksum is sent as zero
    ip_id = 0x1234 if family == "v4" else 0
    trailer = b"\x00" * 4 + struct.pack(">H", ip_id) + b"\x00\x00" + b"\x21\x45\x6c\x69\x10\x11\x01\x00"
    assert received == bytes(expected_udp) + trailer, (out, err, t.dp.output())
    dp = t.dp
    # The SYN waited for ARP/ND instead of being lost: no retransmit needed.
    assert dp.counter("ctcp_syn_sent") == 1
    assert dp.counter("arp_requests" if family == "v4" else "nd_solicitations") >= 1
    assert dp.counter("ctcp_established") == 1
    assert dp.counter("ctcp_held_for_handshake") == 1
    assert dp.counter("ctcp_encap_ike") == 1
    assert dp.counter("ctcp_fin_answered_with_rst") == 1


def test_initiator_reports_handshake_failure_when_nobody_answers():
    # No listener on the peer: its kernel answers SYN with RST, which closes
    # the attempt; with the peer unreachable the timeout reports it instead.
    with Topology(extra_pseudo_tcp="handshake_timeout_ms: 600 syn_retransmit_ms: 200") as t:
        t.peer.run("ip link set wan down")
        l3 = IP(src=GW4, dst=PEER4) / UDP(sport=500, dport=500) / ike_sa_init(0x1111)
        t.host.raw_socket("host").send(bytes(Ether(src=HOST_MAC, dst=t.loc_mac) / l3))
        time.sleep(1.5)
    dp = t.dp
    assert dp.counter("ctcp_handshake_failed") == 1
    assert dp.counter("ctcp_syn_sent") >= 3  # first SYN and retransmits
    assert dp.drop("encap_handshake_failed") == 1  # the held IKE packet
    assert "event: handshake_failed" in dp.output()


GRACE_CLIENT = textwrap.dedent("""
    import socket, sys, time
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(6)
    s.connect((sys.argv[1], 443))
    start = time.time()
    try:
        s.recv(100)
        print("eof")
    except ConnectionResetError:
        print(f"reset after {time.time() - start:.1f}")
""")


def test_connection_without_ike_is_reset_after_grace():
    # A connection that never carries IKE (a scanner, a confused client)
    # is closed with RST once ike_grace_s has passed: the kernel sees it.
    with Topology(extra_pseudo_tcp="ike_grace_s: 1") as t:
        c = t.peer.popen(["/usr/bin/python3", "-c", GRACE_CLIENT, GW4], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        out, err = c.communicate(timeout=20)
    assert out.startswith("reset after"), out + err
    assert 0.9 <= float(out.split()[-1]) <= 2.5
    assert t.dp.counter("ctcp_closed_no_ike_grace") == 1
    assert t.dp.counter("ctcp_rst_sent") == 1
