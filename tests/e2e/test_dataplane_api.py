"""The Dataplane gRPC service's mutations through a real channel, driven by
an independent client (Python grpcio + protobuf, dataplane_grpc.py), with
scapy as the remote gateway: SAs and policies applied to a running
dataplane carry traffic both ways, bad requests are refused whole (nothing
changes), updates keep sequence numbers and replay windows, deletes stop
traffic, and a dumped state restored into a restarted dataplane lets the
tunnel continue where it was."""


import grpc
import pytest
from scapy.layers.inet import IP, UDP

from dataplane_api_topology import (GW, HOST, IN_KEY, IN_SPI, OUT_KEY, OUT_SPI, PEER, REMOTE_HOST,
                                    TUNNEL, Api, decrypt_out, esp_seq, inner, peer_sa, sa_text)
from dataplane_grpc import msg, pb

P = pb()


def send_outbound(t, n, start=0):
    """n packets host -> remote; returns [(esp bytes, encap, outer ip)] seen on the wire."""
    for i in range(start, start + n):
        t.from_host(inner(i))
    return t.esp_on_wire(n)


def send_inbound(t, seqs, sa=None):
    """The peer's ESP with these sequence numbers; returns what reaches the host."""
    sa = sa or peer_sa()
    for s in seqs:
        t.from_peer(sa.encrypt(inner(s, reverse=True), seq_num=s))
    return t.at_host(len(seqs), timeout=1.5)


def check_outbound(got, first):
    """Each ESP packet decrypts to the original inner packet (TTL one less)."""
    for k, (esp, _, _) in enumerate(got):
        spi, seq = esp_seq(esp)
        assert spi == OUT_SPI
        plain = decrypt_out(esp)
        want = inner(first + k)
        assert plain[IP].src == HOST and plain[IP].dst == REMOTE_HOST and plain[IP].ttl == 63
        assert bytes(plain[UDP]) == bytes(IP(bytes(want))[UDP])
    return [esp_seq(e)[1] for e, _, _ in got]


def rpc_error(fn, *args):
    with pytest.raises(grpc.RpcError) as e:
        fn(*args)
    return e.value


def test_apply_list_and_traffic_both_ways():
    with Api() as t:
        c = t.client
        # Nothing installed, nothing passes: the default policy discards.
        assert list(c.list_sas().sas) == [] and c.list_sas().capacity == 4096
        t.from_host(inner(0))
        assert t.esp_on_wire(1, timeout=0.5) == []

        r = c.apply(TUNNEL)
        assert (r.sas_added, r.sas_updated, r.sas_deleted, r.policies_set) == (2, 0, 0, 2)
        sas = c.sas_by_spi()
        assert set(sas) == {(OUT_SPI, P.DIRECTION_OUTBOUND), (IN_SPI, P.DIRECTION_INBOUND)}
        out = sas[(OUT_SPI, P.DIRECTION_OUTBOUND)]
        assert (out.name, out.mode, out.algorithm) == ("out", P.MODE_TUNNEL, P.ESP_ALGORITHM_AES_GCM_128)
        assert (out.tunnel_local, out.tunnel_peer, out.encapsulation) == (GW, PEER, "plain")
        assert (out.packets, out.bytes, out.sequence) == (0, 0, 0)
        assert not out.soft_expired and not out.hard_expired and 0 <= out.age_s < 5
        pols = c.list_policies().policies
        # Priority order per direction (INBOUND = 1 sorts first).
        assert [(p.name, p.direction, p.sa_spi) for p in pols] == [
            ("protect-in", P.DIRECTION_INBOUND, IN_SPI), ("protect-out", P.DIRECTION_OUTBOUND, OUT_SPI)]
        assert list(pols[1].match.local_prefixes) == ["10.10.0.0/24"]

        # host -> ESP that scapy decrypts, sequence numbers from 1.
        got = send_outbound(t, 3)
        assert len(got) == 3 and all(enc == "plain" for _, enc, _ in got)
        assert check_outbound(got, 0) == [1, 2, 3]
        # scapy's ESP -> plaintext at the host.
        at_host = send_inbound(t, [1, 2])
        assert [bytes(p[UDP].payload) for p in at_host] == [bytes([1]) * 40, bytes([2]) * 40]
        assert all(p.dst == HOST and p.ttl == 63 for p in at_host)

        sas = c.sas_by_spi()
        out, inb = sas[(OUT_SPI, P.DIRECTION_OUTBOUND)], sas[(IN_SPI, P.DIRECTION_INBOUND)]
        assert (out.packets, out.sequence) == (3, 3) and out.bytes >= 3 * 68
        assert (inb.packets, inb.sequence) == (2, 2) and inb.bytes >= 2 * 68
        cnt, drops = t.counters()
        assert cnt["esp_encrypted"] == 3 and cnt["esp_decrypted"] == 2
        assert drops["spd_discard"] == 1  # the packet sent before the policies

        # Spare SPIs: free, distinct, >= 256, never an installed inbound SPI.
        spis = c.allocate_spis(64)
        assert len(set(spis)) == 64 and all(s >= 256 and s != IN_SPI for s in spis)
        assert len(c.allocate_spis()) == 1
        e = rpc_error(c.allocate_spis, 65)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 64" in e.details()


BAD_KEY = f"""
add_sas {{ name: "spare" {sa_text(0x3000, "DIRECTION_INBOUND", IN_KEY)} }}
add_sas {{ name: "short" {sa_text(0x3001, "DIRECTION_OUTBOUND", OUT_KEY[:16])} }}
"""


def test_bad_requests_are_refused_whole_and_change_nothing():
    with Api() as t:
        c = t.client
        c.apply(TUNNEL)
        before_sas = sorted((s.spi, s.direction, s.name) for s in c.list_sas().sas)
        before_pols = c.list_policies()

        def refused(text, code, *needles):
            e = rpc_error(c.apply, text)
            assert e.code() == code, (e.code(), e.details())
            for n in needles:
                assert n in e.details(), e.details()
            # Nothing of it applied.
            assert sorted((s.spi, s.direction, s.name) for s in c.list_sas().sas) == before_sas
            assert c.list_policies() == before_pols
            return e.details()

        inv = grpc.StatusCode.INVALID_ARGUMENT
        # One valid SA and one with a 16-byte AES-GCM-128 key: the message
        # names the request's field, the key bytes are never in it.
        d = refused(BAD_KEY, inv, "add_sas[1].encryption_key")
        assert "16" in d and "20" in d and "\\x01" not in d
        refused(f'add_sas {{ name: "dup" {sa_text(IN_SPI, "DIRECTION_INBOUND", IN_KEY)} }}', inv,
                "add_sas[0].spi", "already installed")
        refused("delete_sas { spi: 0x4444 direction: DIRECTION_OUTBOUND }", inv, "delete_sas[0]",
                "not installed")
        refused(f"update_sas {{ {sa_text(0x4444, 'DIRECTION_OUTBOUND', OUT_KEY)} }}", inv,
                "update_sas[0]", "not installed")
        refused("""set_policies { name: "dangling" priority: 20 direction: DIRECTION_OUTBOUND
                   action: POLICY_ACTION_PROTECT sa_spi: 0x5555 }""", inv, "set_policies[0]")
        refused("""set_policies { priority: 30 direction: DIRECTION_OUTBOUND action: POLICY_ACTION_BYPASS }""",
                inv, "set_policies[0].name", "required")
        refused('delete_policies: "nope"', inv, "delete_policies[0]", "nope")
        # The outbound SA is still named by "protect-out": it cannot go alone.
        refused(f"delete_sas {{ spi: {OUT_SPI} direction: DIRECTION_OUTBOUND }}", inv)
        # A good SA together with a bad policy: neither is installed.
        refused(f"""add_sas {{ name: "fine" {sa_text(0x6000, "DIRECTION_OUTBOUND", OUT_KEY)} }}
                    set_policies {{ name: "bad-prio" priority: 10 direction: DIRECTION_OUTBOUND
                                   action: POLICY_ACTION_PROTECT sa_spi: 0x6000 }}""", inv, "priority")

        # The tunnel still works both ways.
        got = send_outbound(t, 2)
        assert check_outbound(got, 0) == [1, 2]
        assert len(send_inbound(t, [1])) == 1


def test_relay_mode_refuses_sas_and_policies():
    with Api(ipsec=False) as t:
        c = t.client
        for text in (TUNNEL, 'delete_policies: "x"'):
            e = rpc_error(c.apply, text)
            assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "relay" in e.details() and "ipsec.enabled" in e.details()
        e = rpc_error(c.allocate_spis, 1)
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert list(c.list_sas().sas) == [] and c.list_sas().capacity == 0
        # What a relay has (listeners) can still be changed.
        r = c.apply(f'listeners {{ listeners {{ address: "{GW}" ports: [443] }} }}')
        assert r == P.ApplyReply()
        assert [list(l.ports) for l in c.dump().listeners.listeners] == [[443]]


def test_update_sas_keeps_sequence_numbers_and_replay_window():
    with Api() as t:
        c = t.client
        c.apply(TUNNEL)
        assert check_outbound(send_outbound(t, 4), 0) == [1, 2, 3, 4]
        assert len(send_inbound(t, [1, 2, 3])) == 3

        # The peer moved behind a NAT: ESP in UDP 4500 from now on.
        r = c.apply(f"""update_sas {{ name: "out-natt" {sa_text(OUT_SPI, "DIRECTION_OUTBOUND", OUT_KEY, "udp {}")} }}
                        update_sas {{ name: "in-renamed" {sa_text(IN_SPI, "DIRECTION_INBOUND", IN_KEY)} }}""")
        assert (r.sas_added, r.sas_updated) == (0, 2)
        sas = c.sas_by_spi()
        assert sas[(OUT_SPI, P.DIRECTION_OUTBOUND)].encapsulation == "udp"
        assert sas[(OUT_SPI, P.DIRECTION_OUTBOUND)].name == "out-natt"
        # The replacement continues above what was sent (the dataplane
        # leaves a gap for packets the worker may still send from the old
        # record; ipsec_state.cc kReplaceSequenceGap).
        resumed = sas[(OUT_SPI, P.DIRECTION_OUTBOUND)].sequence
        assert resumed >= 4
        assert sas[(OUT_SPI, P.DIRECTION_OUTBOUND)].packets == 4  # counters carried over
        assert sas[(IN_SPI, P.DIRECTION_INBOUND)].name == "in-renamed"

        got = send_outbound(t, 3, start=4)
        assert [enc for _, enc, _ in got] == ["udp"] * 3
        assert all(ip[UDP].sport == 4500 and ip[UDP].dport == 4500 for _, _, ip in got)
        # No sequence number used twice under the same key.
        assert check_outbound(got, 4) == [resumed + 1, resumed + 2, resumed + 3]

        # The inbound window survived the update: an old packet is a replay.
        _, drops0 = t.counters()
        assert send_inbound(t, [2]) == []
        _, drops1 = t.counters()
        assert drops1["esp_replay"] == drops0["esp_replay"] + 1
        assert len(send_inbound(t, [4])) == 1


def test_delete_sas_stops_their_traffic():
    with Api() as t:
        c = t.client
        c.apply(TUNNEL)
        assert len(send_outbound(t, 1)) == 1 and len(send_inbound(t, [1])) == 1

        r = c.apply(f"""delete_sas {{ spi: {IN_SPI} direction: DIRECTION_INBOUND tunnel_local: "{GW}" }}
                        delete_policies: "protect-in" """)
        assert (r.sas_deleted, r.policies_deleted) == (1, 1)
        _, d0 = t.counters()
        assert send_inbound(t, [2, 3]) == []
        _, d1 = t.counters()
        assert d1["esp_no_sa"] - d0["esp_no_sa"] == 2

        r = c.apply(f"""delete_sas {{ spi: {OUT_SPI} direction: DIRECTION_OUTBOUND }}
                        delete_policies: "protect-out" """)
        assert (r.sas_deleted, r.policies_deleted) == (1, 1)
        assert list(c.list_sas().sas) == [] and list(c.list_policies().policies) == []
        for i in range(3):
            t.from_host(inner(i))
        assert t.esp_on_wire(1, timeout=0.7) == []
        _, d2 = t.counters()
        assert d2["spd_discard"] - d1["spd_discard"] == 3


def test_dump_restart_restore_continues_the_tunnel():
    with Api() as t:
        c = t.client
        c.apply(TUNNEL)
        assert check_outbound(send_outbound(t, 5), 0) == [1, 2, 3, 4, 5]
        assert len(send_inbound(t, [1, 2])) == 2
        state = c.dump()
        sas = {(s.spi, s.direction): s for s in state.sas}
        out, inb = sas[(OUT_SPI, P.DIRECTION_OUTBOUND)], sas[(IN_SPI, P.DIRECTION_INBOUND)]
        assert out.encryption_key == OUT_KEY and inb.encryption_key == IN_KEY
        assert out.last_sequence == 5 and inb.last_sequence == 0
        assert sorted(p.name for p in state.policies) == ["protect-in", "protect-out"]
        assert [list(l.ports) for l in state.listeners.listeners] == [[10000]]

        t.restart()
        c = t.client
        assert list(c.list_sas().sas) == []
        r = c.restore(state)
        assert (r.sas_added, r.sas_deleted, r.policies_set) == (2, 0, 2)
        assert c.sas_by_spi()[(OUT_SPI, P.DIRECTION_OUTBOUND)].sequence == 5
        # The peer's replay window is at 5: what follows must be above it.
        assert check_outbound(send_outbound(t, 2, start=5), 5) == [6, 7]
        assert len(send_inbound(t, [3])) == 1

        # Restoring the same state again changes nothing but counts updates;
        # restoring an empty state removes everything.
        r = c.restore(state)
        assert (r.sas_added, r.sas_updated, r.sas_deleted) == (0, 2, 0)
        resumed = c.sas_by_spi()[(OUT_SPI, P.DIRECTION_OUTBOUND)].sequence
        assert resumed >= 7
        assert check_outbound(send_outbound(t, 1, start=7), 7) == [resumed + 1]
        r = c.restore(msg("DataplaneState"))
        assert (r.sas_deleted, r.policies_deleted) == (2, 2)
        assert list(c.list_sas().sas) == [] and list(c.dump().listeners.listeners) == []


def test_full_sa_table_is_resource_exhausted_and_changes_nothing():
    with Api(max_sas=64) as t:
        c = t.client
        assert c.list_sas().capacity == 64
        fill = "".join(f'add_sas {{ {sa_text(0x9000 + i, "DIRECTION_INBOUND", IN_KEY)} }}\n' for i in range(64))
        assert c.apply(fill).sas_added == 64
        # One outbound SA (room) and one inbound (none): neither goes in.
        e = rpc_error(c.apply, f"""add_sas {{ {sa_text(0x9100, "DIRECTION_OUTBOUND", OUT_KEY)} }}
                                   add_sas {{ {sa_text(0x9100, "DIRECTION_INBOUND", IN_KEY)} }}""")
        assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "INBOUND" in e.details() and "max_sas 64" in e.details()
        assert len(c.list_sas().sas) == 64
        assert all(s.direction == P.DIRECTION_INBOUND for s in c.list_sas().sas)
        # A deleted SA's record can be used again.
        c.apply("delete_sas { spi: 0x9000 direction: DIRECTION_INBOUND tunnel_local: \"%s\" }" % GW)
        assert c.apply(f'add_sas {{ {sa_text(0x9100, "DIRECTION_INBOUND", IN_KEY)} }}').sas_added == 1
