"""A raw-socket pseudo-TCP peer against the dataplane on af_packet: the
handshake with exact sequence numbers, IKE and ESP relayed between the peer
and the host on the LOCAL port in both directions, keepalives, resets, PMTU
(ICMP too-big and outer fragmentation) and a capture that tshark's tcpencap
dissector must decode cleanly."""

import os
import struct
import subprocess
import time

import pytest
from scapy.all import wrpcap
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6PacketTooBig, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from tcpsec_e2e import recv_matching
from topology import GW4, GW6, HOST_MAC, SCAPY4, SCAPY6, WAN_MAC, Topology

MAGIC = b"\x21\x45\x6c\x69\x10"


def trailer(proto, ip_id=0):
    return b"\x00" * 4 + struct.pack(">H", ip_id) + b"\x00\x00" + MAGIC + bytes([proto, 1, 0])


def ike(spi_i, spi_r=0, size=64):
    """A well-formed IKE_SA_INIT-shaped message of `size` bytes: the header
    and one Nonce payload filling the rest."""
    nonce = b"\x5a" * (size - 28 - 4)
    return (struct.pack(">QQBBBBII", spi_i, spi_r, 40, 0x20, 34, 0x08, 0, size)
            + struct.pack(">BBH", 0, 0, 4 + len(nonce)) + nonce)


class Peer:
    """One pseudo-TCP connection driven by hand from the peer's wire."""

    def __init__(self, t, family, dport=443, sport=40001):
        self.t = t
        self.v4 = family == "v4"
        self.me, self.gw = (SCAPY4, GW4) if self.v4 else (SCAPY6, GW6)
        self.sport, self.dport = sport, dport
        self.sock = t.peer.raw_socket("wan")
        self.host = t.host.raw_socket("host")
        self.seq = 1000
        self.captured = []

    def ip(self, src=None, dst=None, **kw):
        if self.v4:
            return IP(src=src or self.me, dst=dst or self.gw, **kw)
        return IPv6(src=src or self.me, dst=dst or self.gw)

    def send(self, flags, payload=b"", seq=None, ack=None):
        pkt = Ether(src=WAN_MAC, dst=self.t.gw_mac) / self.ip() / TCP(
            sport=self.sport, dport=self.dport, flags=flags,
            seq=self.seq if seq is None else seq, ack=self.ack if ack is None else ack,
            window=65535) / Raw(payload)
        self.captured.append(pkt)
        self.sock.send(bytes(pkt))

    def expect_tcp(self, timeout=3.0):
        def match(frame):
            p = Ether(frame)
            return TCP in p and p[TCP].dport == self.sport and p[TCP].sport == self.dport
        frame = recv_matching(self.sock, match, timeout)
        assert frame is not None, "no segment from the gateway\n" + self.t.dp.output()
        p = Ether(frame)
        self.captured.append(p)
        return p

    def handshake(self):
        self.ack = 0
        self.send("S")
        synack = self.expect_tcp()
        assert synack[TCP].flags == "SA"
        assert synack[TCP].ack == self.seq + 1
        assert synack[TCP].window == 65535
        assert synack[TCP].dataofs == 5
        self.iss = synack[TCP].seq
        self.seq += 1
        self.ack = self.iss + 1
        self.send("A")

    def send_data(self, inner_proto, inner, ip_id=0):
        payload = inner + trailer(inner_proto, ip_id)
        self.send("A", payload)
        self.seq += len(payload)

    def host_send(self, l3):
        self.host.send(bytes(Ether(src=HOST_MAC, dst=self.t.loc_mac) / l3))

    def host_expect(self, match, timeout=3.0):
        frame = recv_matching(self.host, lambda f: match(Ether(f)), timeout)
        assert frame is not None, "nothing reached the host\n" + self.t.dp.output()
        return Ether(frame)


@pytest.mark.parametrize("family", ["v4", "v6"])
def test_relay_between_peer_and_host(family, tmp_path):
    with Topology() as t:
        peer = Peer(t, family)
        peer.handshake()
        L3 = IP if peer.v4 else IPv6

        # Peer -> gateway: IKE_SA_INIT request; the host gets the bare UDP datagram.
        udp = bytes(UDP(sport=500, dport=500, chksum=0x1234) / ike(0xAAAA0000BBBB0001))
        peer.send_data(17, udp, ip_id=0 if not peer.v4 else 0)
        got = peer.host_expect(lambda p: UDP in p and p[UDP].dport == 500)
        assert got[L3].src == peer.me and got[L3].dst == peer.gw
        assert bytes(got[UDP].payload) == udp[8:]
        if peer.v4:
            assert got[UDP].chksum == 0  # cleared on IPv4
        else:
            ref = IPv6(bytes(got[IPv6]))
            del ref[UDP].chksum
            assert got[UDP].chksum == IPv6(bytes(ref))[UDP].chksum != 0  # recomputed on IPv6

        # Host -> peer: the response with the same initiator SPI is encapsulated.
        resp = UDP(sport=500, dport=500) / ike(0xAAAA0000BBBB0001, 0x5555, size=80)
        peer.host_send((IP(src=peer.gw, dst=peer.me, id=0x4242) if peer.v4
                        else IPv6(src=peer.gw, dst=peer.me)) / resp)
        seg = peer.expect_tcp()
        assert seg[TCP].flags == "A"
        assert seg[TCP].seq == peer.iss + 1
        assert seg[TCP].ack == peer.seq
        data = bytes(seg[TCP].payload)
        assert data[-16:] == trailer(17, 0x4242 if peer.v4 else 0)
        inner = bytearray(bytes(resp))
        inner[6:8] = b"\x00\x00"
        assert data[:-16] == bytes(inner)
        ref = L3(bytes(seg[L3]))
        del ref[TCP].chksum
        assert seg[TCP].chksum == L3(bytes(ref))[TCP].chksum
        next_seq = peer.iss + 1 + len(data)

        # Keepalive: an empty segment is accepted silently.
        peer.send("A")

        # ESP both ways; the host's first SPI is mapped to this connection.
        esp_in = struct.pack(">II", 0x11111111, 1) + b"\xab" * 48
        peer.send_data(50, esp_in)
        got = peer.host_expect(lambda p: L3 in p and bytes(p[L3].payload)[:4] == esp_in[:4])
        assert bytes(got[L3].payload) == esp_in
        esp_out = struct.pack(">II", 0x22222222, 1) + b"\xcd" * 40
        peer.host_send(L3(src=peer.gw, dst=peer.me, **({"proto": 50} if peer.v4 else {"nh": 50})) / esp_out)
        seg = peer.expect_tcp()
        assert seg[TCP].seq == next_seq
        assert bytes(seg[TCP].payload) == esp_out + trailer(50)
        next_seq += len(esp_out) + 16

        # PMTU: 1500 - 36 bytes fit; a larger inner packet cannot go whole.
        l3_header = 20 if peer.v4 else 40
        big = UDP(sport=500, dport=500) / ike(0xAAAA0000BBBB0001, 0x5555, size=1480 - l3_header - 8)
        if peer.v4:
            peer.host_send(IP(src=peer.gw, dst=peer.me, flags="DF") / big)
            icmp = peer.host_expect(lambda p: ICMP in p and p[ICMP].type == 3)
            assert icmp[ICMP].code == 4 and icmp[ICMP].nexthopmtu == 1464
            peer.host_send(IP(src=peer.gw, dst=peer.me, flags=0) / big)
            f1 = recv_matching(peer.sock, lambda f: IP in Ether(f) and Ether(f)[IP].flags == "MF")
            assert f1 is not None, t.dp.output()
            peer.captured.append(Ether(f1))
        else:
            peer.host_send(IPv6(src=peer.gw, dst=peer.me) / big)
            ptb = peer.host_expect(lambda p: ICMPv6PacketTooBig in p)
            assert ptb[ICMPv6PacketTooBig].mtu == 1464

        # A reset far outside the window is ignored; FIN is answered with RST.
        peer.send("R", seq=peer.seq + 10_000_000, ack=0)
        peer.send("FA")
        rst = peer.expect_tcp()
        assert "R" in str(rst[TCP].flags)
        wrpcap(str(tmp_path / "peer.pcap"), peer.captured)
        pcap = str(tmp_path / "peer.pcap")

    dp = t.dp
    assert dp.counter("ctcp_established") == 1
    assert dp.counter("ctcp_decap_ike") == 1 and dp.counter("ctcp_decap_esp") == 1
    assert dp.counter("ctcp_encap_ike") == (2 if family == "v4" else 1)
    assert dp.counter("ctcp_encap_esp") == 1
    assert dp.counter("ctcp_keepalives") >= 1
    assert dp.counter("ctcp_ike_mapped") == 1
    assert dp.counter("pmtu_icmp_sent") == 1
    if family == "v4":
        assert dp.counter("pmtu_fragmented") == 1
    assert dp.drop("tcp_rst_out_of_window") == 1
    assert dp.counter("ctcp_fin_answered_with_rst") == 1

    # tshark's tcpencap dissector is an independent parser of our output.
    out = subprocess.run(
        ["tshark", "-r", pcap, "-d", "tcp.port==443,tcpencap", "-T", "fields",
         "-e", "frame.number", "-e", "tcpencap.proto", "-e", "isakmp.ispi", "-e", "esp.spi",
         "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-Y", "tcpencap"],
        capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.rstrip("\n").split("\n")]
    assert any("aaaa0000bbbb0001" in r[2] for r in rows), out
    assert any(r[3] for r in rows), out  # ESP decoded with its SPI
    for r in rows:
        assert r[4] == "", f"malformed: {r}"


def test_two_workers_share_one_connection():
    """Two worker lcores, two RX queues per port (af_packet fanout spreads
    flows): outbound IKE from many UDP flows of one IKE SA is encapsulated by
    both workers onto one connection. Sequence numbers must tile the stream
    exactly - no reuse, no gap - and inbound segments spread over both
    workers must all be decapsulated."""
    with Topology(workers=2) as t:
        peer = Peer(t, "v4")
        peer.handshake()
        spi = 0xABCDEF0011223344
        peer.send_data(17, bytes(UDP(sport=500, dport=500, chksum=0) / ike(spi)))
        assert peer.host_expect(lambda p: UDP in p and p[UDP].dport == 500)
        n = 200
        for i in range(n):
            peer.host_send(IP(src=GW4, dst=SCAPY4) / UDP(sport=1024 + i, dport=500) / ike(spi, 7))
        segs = []
        deadline = time.time() + 5
        while len(segs) < n and time.time() < deadline:
            f = recv_matching(peer.sock, lambda f: TCP in Ether(f) and len(Ether(f)[TCP].payload) > 0, 0.5)
            if f is not None:
                segs.append(Ether(f)[TCP])
        # Peer -> gateway from many source ports (spread over both RX queues).
        for i in range(40):
            p = Peer(t, "v4", sport=41000 + i)
            p.handshake()
        out = t.dp.output()
    assert len(segs) == n, f"{len(segs)}/{n}\n{out}"
    spans = sorted((s.seq, len(s.payload)) for s in segs)
    expect = peer.iss + 1
    for seq, length in spans:
        assert seq == expect, (seq, expect)
        expect = seq + length
    assert t.dp.counter("ctcp_encap_ike") == n
    assert t.dp.counter("ctcp_established") == 41
    # Both workers did real work on both paths: RSS (af_packet fanout) spread
    # the flows, and both encapsulated onto the one connection above.
    workers = t.dp.counters["workers"]
    assert len(workers) == 2
    assert all(w["rx_packets"] > 0 and w["ctcp_encap"] > 0 for w in workers), workers


def test_peer_restart_behind_nat_is_recovered():
    """QuickSec could not detect a NAT reboot: the peer's new SYN on the same
    address and ports found a stale connection. We answer such a SYN with a
    challenge ACK (RFC 5961 4); the restarted peer, which has no connection,
    answers that with RST (at the ACK's number), which closes ours, and its
    next SYN opens a fresh connection."""
    with Topology() as t:
        peer = Peer(t, "v4")
        peer.handshake()
        old_iss = peer.iss
        # The peer "reboots": same ports, new initial sequence number.
        peer.seq = 777000
        peer.ack = 0
        peer.send("S")
        challenge = peer.expect_tcp()
        assert challenge[TCP].flags == "A" and challenge[TCP].seq == old_iss + 1
        # A stack without the connection answers an unexpected ACK with RST.
        peer.send("R", seq=challenge[TCP].ack, ack=0)
        time.sleep(0.2)
        peer.handshake()
        assert peer.iss != old_iss
    assert t.dp.counter("ctcp_challenge_ack") == 1
    assert t.dp.counter("ctcp_rst_received") == 1
    assert t.dp.counter("ctcp_established") == 2
