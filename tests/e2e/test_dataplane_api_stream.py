"""The PacketStream (the control plane's IKE channel) and handshake events
through a real gRPC channel (independent Python client), with scapy on the
wires: while a stream is open, IKE that arrives on UDP 500, UDP 4500 (non-ESP
marker stripped) or inside pseudo-TCP comes up as PacketIn instead of going
to the LOCAL port's host; PacketOut leaves byte-exact as UDP (500, or 4500
with the marker) or over pseudo-TCP, opening a connection when needed; a
second stream is refused; a bad PacketOut does not end the stream; once the
stream closes, IKE goes to the LOCAL host again."""

import time

import grpc
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from dataplane_api_topology import GW, PEER, Api, ctcp_trailer, ike, tcp_seg
from dataplane_grpc import pb

P = pb()




def udp_from_gw(t, dport, count=1, timeout=2.0):
    """UDP datagrams (scapy IP) we sent to the peer's port `dport`."""
    def m(f):
        p = Ether(f)
        return IP in p and p[IP].src == GW and UDP in p and p[UDP].dport == dport
    return [Ether(f)[IP] for f in t.collect(t.wan, m, count, timeout)]


def checksums_valid(ip):
    """True when the IPv4 and UDP checksums are the ones scapy computes."""
    raw = bytes(ip)
    q = IP(raw)
    del q.chksum
    del q[UDP].chksum
    return bytes(IP(bytes(q))) == raw and ip[UDP].chksum != 0


def packet_out(transport, ike_bytes, local_port=500, peer_port=500, local=GW, peer=PEER, tcp_peer_port=0):
    return P.PacketOut(transport=transport, local_address=local, peer_address=peer, local_port=local_port,
                       peer_port=peer_port, tcp_peer_port=tcp_peer_port, ike=ike_bytes)


def at_local_host(t, timeout=1.5):
    """IKE datagrams (scapy IP) the LOCAL port's host receives."""
    def m(f):
        p = Ether(f)
        return IP in p and UDP in p and p[IP].dst == GW
    return [Ether(f)[IP] for f in t.collect(t.leth0, m, 1, timeout)]


def test_packet_stream_punts_and_injects_ike():
    with Api() as t:
        c = t.client
        # No stream: IKE goes to the LOCAL port's host, as in a relay.
        msg0 = ike(0x1111)
        t.from_peer(IP(src=PEER, dst=GW) / UDP(sport=500, dport=500) / msg0)
        [got] = at_local_host(t) or [None]
        assert got is not None and bytes(got[UDP].payload) == msg0

        w = c.watch()
        s = c.packet_stream()
        time.sleep(0.3)  # attached once the server takes the call
        # A second control plane is refused while the first holds the stream.
        s2 = c.packet_stream()
        assert s2.done.wait(5) and s2.error is not None
        assert s2.error.code() == grpc.StatusCode.ALREADY_EXISTS

        # UDP 500 comes up as it was.
        msg1 = ike(0x0102030405060708, size=80)
        t.from_peer(IP(src=PEER, dst=GW) / UDP(sport=500, dport=500) / msg1)
        p = s.get()
        assert p is not None
        assert (p.transport, p.port, p.local_address, p.peer_address) == (P.TRANSPORT_UDP, "public", GW, PEER)
        assert (p.local_port, p.peer_port, p.ike) == (500, 500, msg1)
        assert not p.HasField("connection")
        # UDP 4500: the non-ESP marker is stripped.
        msg2 = ike(0x2222, size=48)
        t.from_peer(IP(src=PEER, dst=GW) / UDP(sport=4501, dport=4500) / (b"\x00" * 4 + msg2))
        p = s.get()
        assert p is not None and (p.local_port, p.peer_port, p.ike) == (4500, 4501, msg2)
        # Pseudo-TCP: an installed connection carries IKE; its key comes along.
        c.apply(f"""add_connections {{ local_address: "{GW}" peer_address: "{PEER}" local_port: 10000
                      peer_port: 5555 send_next: 1000 receive_next: 5000 }}""")
        msg3 = ike(0x3333, size=64)
        inner_udp = bytes(UDP(sport=500, dport=500, len=8 + len(msg3), chksum=0)) + msg3
        t.from_peer(tcp_seg(5555, 10000, 5000, 1000, "A", inner_udp + ctcp_trailer(17)))
        p = s.get()
        assert p is not None and p.transport == P.TRANSPORT_PSEUDO_TCP and p.ike == msg3
        assert (p.local_address, p.peer_address, p.local_port, p.peer_port) == (GW, PEER, 500, 500)
        k = p.connection
        assert (k.local_address, k.local_port, k.peer_address, k.peer_port) == (GW, 10000, PEER, 5555)
        assert at_local_host(t, timeout=0.3) == []  # none of them went to the host
        cnt, _ = t.counters()
        assert cnt["ike_punted"] == 3

        # PacketOut UDP 500 and 4500: byte-exact on the wire, valid checksums.
        out1 = ike(0x0102030405060708, 0x99, size=72)
        s.send(packet_out(P.TRANSPORT_UDP, out1))
        [ip] = udp_from_gw(t, 500) or [None]
        assert ip is not None and (ip.dst, ip[UDP].sport) == (PEER, 500)
        assert bytes(ip[UDP].payload) == out1 and ip[UDP].len == 8 + len(out1)
        assert ip.len == 28 + len(out1) and checksums_valid(ip)
        out2 = ike(0x4444, 0x55, size=40)
        s.send(packet_out(P.TRANSPORT_UDP, out2, local_port=4500, peer_port=4501))
        [ip] = udp_from_gw(t, 4501) or [None]
        assert ip is not None and ip[UDP].sport == 4500
        assert bytes(ip[UDP].payload) == b"\x00" * 4 + out2 and checksums_valid(ip)

        # Bad PacketOuts are dropped (and logged); the stream goes on.
        s.send(packet_out(P.TRANSPORT_UDP, out1, local="not-an-address"))
        s.send(packet_out(P.TRANSPORT_UDP, out1, local="10.10.0.1"))  # not a PUBLIC address
        s.send(packet_out(P.TRANSPORT_UDP, out1[:20]))  # shorter than an IKE header
        s.send(packet_out(P.TRANSPORT_UNSPECIFIED, out1))
        out3 = ike(0x5555, size=36)
        s.send(packet_out(P.TRANSPORT_UDP, out3, peer_port=502))
        [ip] = udp_from_gw(t, 502) or [None]
        assert ip is not None and bytes(ip[UDP].payload) == out3
        assert not s.done.is_set()
        log = t.dp.output()
        assert "PacketOut.local_address" in log and "shorter than an IKE header" in log

        # PacketOut over pseudo-TCP with no connection for its SPI: one is
        # opened to tcp_peer_port, and the IKE follows the handshake.
        out4 = ike(0x6666666666666666, size=64)
        s.send(packet_out(P.TRANSPORT_PSEUDO_TCP, out4, tcp_peer_port=7777))
        [syn] = t.tcp_from_gw(1, lambda seg: seg.dport == 7777) or [None]
        assert syn is not None and syn[TCP].flags == "S" and syn.dst == PEER
        sport, isn = syn[TCP].sport, syn[TCP].seq
        t.from_peer(tcp_seg(7777, sport, 9000, isn + 1, "SA"))
        [data] = t.tcp_from_gw(1, lambda seg: seg.dport == 7777 and len(seg.payload) > 0) or [None]
        assert data is not None and data[TCP].seq == isn + 1 and data[TCP].ack == 9001
        payload = bytes(data[TCP].payload)
        assert payload[8:-16] == out4 and payload[-16:-4] == b"\x00" * 8 + b"\x21\x45\x6c\x69"
        up = w.wait_for(lambda e: e.type == P.EVENT_TYPE_CONNECTION_ESTABLISHED)
        assert up is not None and (up.connection.peer_port, up.connection.local_port) == (7777, sport)

        # No answer at all: the handshake fails and the event says so.
        s.send(packet_out(P.TRANSPORT_PSEUDO_TCP, ike(0x7777777777777777), tcp_peer_port=7778))
        syns = t.tcp_from_gw(2, lambda seg: seg.dport == 7778 and seg.flags == "S", timeout=1.0)
        assert len(syns) == 2  # the SYN and a retransmit
        failed = w.wait_for(lambda e: e.type == P.EVENT_TYPE_HANDSHAKE_FAILED, timeout=3)
        assert failed is not None and failed.connection.peer_port == 7778
        assert failed.connection.peer_address == PEER and failed.connection.local_address == GW
        cnt, drops = t.counters()
        assert cnt["ike_injected"] == 5 and cnt["ctcp_handshake_failed"] == 1
        assert drops["encap_handshake_failed"] == 1  # the IKE held for it

        # Closing the stream: IKE goes to the LOCAL host again.
        s.close()
        assert s.error is None
        time.sleep(0.2)
        t.drain()
        msg5 = ike(0x8888, size=56)
        t.from_peer(IP(src=PEER, dst=GW) / UDP(sport=500, dport=500) / msg5)
        [got] = at_local_host(t) or [None]
        assert got is not None and bytes(got[UDP].payload) == msg5
        cnt2, _ = t.counters()
        assert cnt2["ike_punted"] == cnt["ike_punted"]
        # And a new control plane may attach.
        s3 = c.packet_stream()
        time.sleep(0.3)
        t.from_peer(IP(src=PEER, dst=GW) / UDP(sport=500, dport=500) / msg1)
        p = s3.get()
        assert p is not None and p.ike == msg1
        s3.close()
        w.cancel()
