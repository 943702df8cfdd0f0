"""WatchEvents, listeners and connections through the Dataplane gRPC
service (independent Python client), checked on the wire with scapy: SA
lifetimes by packets and by time raise soft/hard expiry events and stop the
SA, replaced listeners stop / start answering SYNs while established
connections stay, and installed connections are listed and deleted with an
RST the peer sees and a connection_closed event."""

import time

import grpc
import pytest
from scapy.layers.inet import TCP

from dataplane_api_topology import (GW, IN_KEY, IN_SPI, OUT_KEY, OUT_SPI, PEER, Api, esp_seq, inner,
                                    peer_sa, sa_text, tcp_seg)
from dataplane_grpc import pb

P = pb()

LIFETIMES = f"""
add_sas {{ name: "out" {sa_text(OUT_SPI, "DIRECTION_OUTBOUND", OUT_KEY,
                                extra="soft { packets: 2 } hard { packets: 3 }")} }}
add_sas {{ name: "in" {sa_text(IN_SPI, "DIRECTION_INBOUND", IN_KEY,
                               extra="soft { seconds: 1 } hard { seconds: 2 }")} }}
set_policies {{ name: "protect-out" priority: 10 direction: DIRECTION_OUTBOUND
               action: POLICY_ACTION_PROTECT sa_spi: {OUT_SPI}
               match {{ local_prefixes: "10.10.0.0/24" remote_prefixes: "10.20.0.0/24" }} }}
set_policies {{ name: "protect-in" priority: 10 direction: DIRECTION_INBOUND
               action: POLICY_ACTION_PROTECT sa_spi: {IN_SPI}
               match {{ local_prefixes: "10.10.0.0/24" remote_prefixes: "10.20.0.0/24" }} }}
"""


def sa_event(type_, spi, direction):
    return lambda e: e.type == type_ and e.sa.spi == spi and e.sa.direction == direction


def test_sa_lifetimes_raise_events_and_stop_the_sa():
    with Api() as t:
        c = t.client
        w = c.watch()
        time.sleep(0.3)  # the subscription starts when the server takes the call
        started = time.time()
        c.apply(LIFETIMES)

        # Packets: soft after 2, hard after 3; the 4th is refused.
        for i in range(4):
            t.from_host(inner(i))
        got = t.esp_on_wire(4, timeout=1.5)
        assert [esp_seq(e)[1] for e, _, _ in got] == [1, 2, 3]
        soft = w.wait_for(sa_event(P.EVENT_TYPE_SA_SOFT_EXPIRED, OUT_SPI, P.DIRECTION_OUTBOUND))
        hard = w.wait_for(sa_event(P.EVENT_TYPE_SA_HARD_EXPIRED, OUT_SPI, P.DIRECTION_OUTBOUND))
        assert soft is not None and soft.limit == "packets"
        assert hard is not None and hard.limit == "packets"
        assert 0 < soft.time_s <= hard.time_s
        _, drops = t.counters()
        assert drops["esp_sa_expired"] == 1
        out = c.sas_by_spi()[(OUT_SPI, P.DIRECTION_OUTBOUND)]
        assert out.soft_expired and out.hard_expired and out.packets == 3

        # Time: the inbound SA works, is soft-expired after 1 s and gone after 2 s.
        assert len(t.at_host(1, timeout=0.01)) == 0
        t.from_peer(peer_sa().encrypt(inner(1, reverse=True), seq_num=1))
        assert len(t.at_host(1)) == 1
        soft = w.wait_for(sa_event(P.EVENT_TYPE_SA_SOFT_EXPIRED, IN_SPI, P.DIRECTION_INBOUND), timeout=3)
        assert soft is not None and soft.limit == "seconds" and soft.sa.tunnel_local == GW
        assert time.time() - started >= 0.9
        assert (IN_SPI, P.DIRECTION_INBOUND) in c.sas_by_spi()
        hard = w.wait_for(sa_event(P.EVENT_TYPE_SA_HARD_EXPIRED, IN_SPI, P.DIRECTION_INBOUND), timeout=3)
        assert hard is not None and hard.limit == "seconds"
        assert time.time() - started >= 1.9
        assert (IN_SPI, P.DIRECTION_INBOUND) not in c.sas_by_spi()
        t.from_peer(peer_sa().encrypt(inner(2, reverse=True), seq_num=2))
        assert t.at_host(1, timeout=0.7) == []
        assert t.counters()[1]["esp_no_sa"] == 1
        # Each event once.
        assert w.wait_for(lambda e: e.sa.spi in (OUT_SPI, IN_SPI), timeout=0.5) is None
        w.cancel()
        assert w.error is None

        # "protect-in" now names an SA that is gone: it drops, and it does
        # not block requests that have nothing to do with it (it did: every
        # Apply was refused with "installed policy 'protect-in'.sa_spi").
        assert "protect-in" in [p.name for p in c.list_policies().policies]
        r = c.apply(f'add_sas {{ name: "other" {sa_text(0x7000, "DIRECTION_INBOUND", IN_KEY)} }}')
        assert r.sas_added == 1
        # Deleting an SA that a policy still names is refused as before.
        with pytest.raises(grpc.RpcError) as e:
            c.apply(f"delete_sas {{ spi: {OUT_SPI} direction: DIRECTION_OUTBOUND }}")
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "protect-out" in e.value.details()
        # A new SA under the old SPI brings the policy back to work.
        c.apply(f'add_sas {{ name: "in2" {sa_text(IN_SPI, "DIRECTION_INBOUND", IN_KEY)} }}')
        t.from_peer(peer_sa().encrypt(inner(3, reverse=True), seq_num=1))
        assert len(t.at_host(1)) == 1


def handshake(t, sport, dport, isn=100):
    """SYN -> SYN|ACK -> ACK from the peer; returns our SYN|ACK (scapy IP) or None."""
    t.from_peer(tcp_seg(sport, dport, isn, 0, "S"))
    [synack] = t.tcp_from_gw(1, lambda s: s.dport == sport, timeout=1.5) or [None]
    if synack is None:
        return None
    t.from_peer(tcp_seg(sport, dport, isn + 1, synack[TCP].seq + 1, "A"))
    return synack


def conn_keys(c, state=None):
    return {(x.local_address, x.local_port, x.peer_address, x.peer_port)
            for x in c.connections().connections if state is None or x.state == state}


def test_replaced_listeners_take_effect_and_keep_connections():
    with Api() as t:
        c = t.client
        synack = handshake(t, 40000, 10000)
        assert synack is not None and synack[TCP].flags == "SA" and synack[TCP].ack == 101
        time.sleep(0.2)
        established = (GW, 10000, PEER, 40000)
        assert established in conn_keys(c, P.CONNECTION_STATE_ESTABLISHED)

        r = c.apply(f'listeners {{ listeners {{ address: "{GW}" ports: [10001, 443] }} }}')
        assert r == P.ApplyReply()
        _, d0 = t.counters()
        # The removed port no longer answers; the new ones do.
        t.from_peer(tcp_seg(40001, 10000, 500, 0, "S"))
        assert t.tcp_from_gw(1, lambda s: s.dport == 40001, timeout=0.7) == []
        _, d1 = t.counters()
        assert d1["tcp_no_connection"] == d0["tcp_no_connection"] + 1
        for sport, dport in ((40002, 10001), (40003, 443)):
            t.from_peer(tcp_seg(sport, dport, 700, 0, "S"))
            [sa] = t.tcp_from_gw(1, lambda s: s.dport == sport, timeout=1.5) or [None]
            assert sa is not None and sa[TCP].flags == "SA" and sa[TCP].sport == dport
        # The connection accepted before the change lives on.
        assert established in conn_keys(c, P.CONNECTION_STATE_ESTABLISHED)
        assert [sorted(l.ports) for l in c.dump().listeners.listeners] == [[443, 10001]]


def test_installed_connection_listed_then_deleted_with_rst_and_event():
    with Api() as t:
        c = t.client
        w = c.watch()
        time.sleep(0.3)
        r = c.apply(f"""add_connections {{ local_address: "{GW}" peer_address: "{PEER}" local_port: 10000
                          peer_port: 5555 send_next: 1000 receive_next: 5000
                          ike_initiator_spis: 0x0102030405060708 }}""")
        assert r.connections_added == 1
        [conn] = c.connections().connections
        assert (conn.local_address, conn.local_port, conn.peer_address, conn.peer_port) == (GW, 10000, PEER, 5555)
        assert conn.state == P.CONNECTION_STATE_ESTABLISHED and conn.installed and not conn.we_initiated
        assert (conn.send_next, conn.receive_next) == (1000, 5000) and conn.port == "public"
        assert list(conn.ike_initiator_spis) == [0x0102030405060708]
        [dumped] = c.dump().connections
        assert (dumped.send_next, dumped.receive_next) == (1000, 5000)

        # The same four-tuple cannot be added twice.
        try:
            c.apply(f"""add_connections {{ local_address: "{GW}" peer_address: "{PEER}" local_port: 10000
                          peer_port: 5555 send_next: 1 receive_next: 1 }}""")
            raise AssertionError("added twice")
        except grpc.RpcError as e:
            assert e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
            assert "add_connections[0]" in e.details(), e.details()

        r = c.apply(f"""delete_connections {{ local_address: "{GW}" local_port: 10000 peer_address: "{PEER}"
                          peer_port: 5555 }} reset_connections: true""")
        assert r.connections_deleted == 1
        [rst] = t.tcp_from_gw(1, lambda s: "R" in str(s.flags)) or [None]
        assert rst is not None, t.dp.output()
        assert (rst[TCP].sport, rst[TCP].dport, rst[TCP].seq) == (10000, 5555, 1000)
        assert "A" not in str(rst[TCP].flags) or rst[TCP].ack == 5000
        closed = w.wait_for(lambda e: e.type == P.EVENT_TYPE_CONNECTION_CLOSED)
        assert closed is not None and closed.reason == "deleted"
        k = closed.connection
        assert (k.local_address, k.local_port, k.peer_address, k.peer_port) == (GW, 10000, PEER, 5555)
        time.sleep(0.3)
        assert conn_keys(c, P.CONNECTION_STATE_ESTABLISHED) == set()
        assert t.counters()[0]["connections_deleted"] == 1
        w.cancel()
