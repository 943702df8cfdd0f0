"""Two tcpsec gateways (tcpsec-dataplane + tcpsec-ike each), the client's
behind a conntrack NAT middlebox (tcp_gateways.py):

* AUTO through a middlebox that drops all UDP: tcpsec-ike's IKE_SA_INIT goes
  unanswered over UDP, it falls back to pseudo-TCP, both sides bring the IKE
  and Child SA up, ping and a 4 MB TCP transfer cross with sha256 intact,
  conntrack calls nothing invalid and lets no UDP through, both dataplanes
  count IKE and ESP in pseudo-TCP, and tshark's tcpencap dissector decodes
  the exchange on the middlebox's outside wire (IKE_SA_INIT and IKE_AUTH with
  the SPIs tcpsec-ike reported, ESP with the Child SA's SPIs);
* TCP from the start: the same, and no UDP ever reaches the middlebox;
* UDP when the middlebox lets UDP through: NAT detection (the client is
  behind masquerade) moves IKE to 4500 and ESP into UDP; no TCP at all.
"""

import json
import subprocess
import time

import pytest

from tcp_gateways import GGW_PUB, MB_WAN, TCP_PORT, TwoGateways


def up(t, timeout=20):
    assert t.wait_up(timeout), t.diagnostics()
    ike = dict(t.events(t.client))["ike_up"].split()
    spi_i, spi_r = ike[0].removesuffix("_i"), ike[1].removesuffix("_r")
    child = dict(t.events(t.client))["child_up"].split()  # "in X out Y"
    return spi_i, spi_r, int(child[1], 16), int(child[3], 16)


def traffic(t, size=4 << 20):
    out = t.ping(5)
    assert " 0% packet loss" in out, out + t.diagnostics()
    sent, received, _ = t.transfer(size)
    assert sent == received, "the transfer arrived damaged or incomplete\n" + t.diagnostics()


def tshark(pcap, *fields, decode=True, where=None):
    """One row of field values per frame of the capture that matches `where`
    (default: has the first field)."""
    cmd = ["tshark", "-n", "-r", pcap]
    if decode:
        cmd += ["-d", f"tcp.port=={TCP_PORT},tcpencap"]
    cmd += ["-Y", where or fields[0], "-T", "fields", "-E", "separator=/t"]
    for f in fields:
        cmd += ["-e", f]
    r = subprocess.run(cmd, text=True, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines()]


def ike_exchanges(pcap, decode=True):
    """{(exchange type, is response): set of (ispi, rspi, source)} on the wire."""
    seen = {}
    for exch, flags, ispi, rspi, src in tshark(pcap, "isakmp.exchangetype", "isakmp.flags",
                                                "isakmp.ispi", "isakmp.rspi", "ip.src",
                                                decode=decode):
        key = (int(exch), bool(int(flags, 0) & 0x20))
        seen.setdefault(key, set()).add((ispi.replace(":", ""), rspi.replace(":", ""), src))
    return seen


def esp_spis(pcap, decode=True):
    """{ESP SPI: set of sources} on the wire."""
    seen = {}
    for spi, src in tshark(pcap, "esp.spi", "ip.src", decode=decode):
        for s in spi.split(","):
            seen.setdefault(int(s, 0), set()).add(src)
    return seen


def check_wire(t, spi_i, spi_r, spi_in, spi_out, decode=True):
    """IKE_SA_INIT and IKE_AUTH, both ways, with tcpsec-ike's SPIs; ESP of the
    Child SA both ways; as seen outside the NAT (the client is MB_WAN there)."""
    t.stop_capture()
    ike = ike_exchanges(t.pcap, decode)
    init_request = (spi_i, "0000000000000000", MB_WAN)
    assert init_request in ike.get((34, False), set()), ike
    assert (spi_i, spi_r, GGW_PUB) in ike.get((34, True), set()), ike
    assert (spi_i, spi_r, MB_WAN) in ike.get((35, False), set()), ike
    assert (spi_i, spi_r, GGW_PUB) in ike.get((35, True), set()), ike
    esp = esp_spis(t.pcap, decode)
    assert esp.get(spi_out) == {MB_WAN}, esp  # the client's outbound SA
    assert esp.get(spi_in) == {GGW_PUB}, esp  # the gateway's outbound SA


def check_pseudo_tcp_counters(t):
    c, g = t.client.dp, t.gateway.dp
    diag = f"client {c.counters}\ngateway {g.counters}"
    assert c.counter("ctcp_syn_sent") == 1 and c.counter("ctcp_established") == 1, diag
    assert g.counter("ctcp_syn_received") == 1 and g.counter("ctcp_established") == 1, diag
    for dp in (c, g):
        # IKE_SA_INIT and IKE_AUTH each way; ping and the transfer in ESP.
        assert dp.counter("ctcp_encap_ike") >= 2 and dp.counter("ctcp_decap_ike") >= 2, diag
        assert dp.counter("ctcp_encap_esp") >= 100 and dp.counter("ctcp_decap_esp") >= 100, diag
        # Encrypted ESP leaves in pseudo-TCP, or is dropped where it would
        # have left the peer's window (conntrack would call it invalid).
        assert dp.counter("esp_encrypted") == (dp.counter("ctcp_encap_esp")
                                               + dp.drop("encap_peer_window_full")), diag
        assert dp.counter("esp_decrypted") == dp.counter("ctcp_decap_esp"), diag
        assert dp.counter("ike_punted") >= 2 and dp.counter("ike_injected") >= 2, diag


def test_auto_falls_back_to_pseudo_tcp_through_udp_dropping_nat():
    with TwoGateways("IKE_ENCAPSULATION_AUTO", drop_udp=True, capture=True) as t:
        spi_i, spi_r, spi_in, spi_out = up(t)
        kinds = [k for k, _ in t.events(t.client)]
        assert kinds[:4] == ["ike_connecting", "fallback_to_tcp", "ike_up", "child_up"], kinds
        assert f"pseudo-TCP to port {TCP_PORT}" in dict(t.events(t.client))["fallback_to_tcp"]
        assert [k for k, _ in t.events(t.gateway)][:2] == ["ike_up", "child_up"], t.diagnostics()
        assert "pseudo_tcp" in t.client.ctl("ike-sas", ike=True)
        assert "pseudo_tcp" in t.gateway.ctl("ike-sas", ike=True)
        traffic(t)
        check_wire(t, spi_i, spi_r, spi_in, spi_out)
    assert t.nft["invalid"] == 0, t.nft
    assert t.nft["udp_passed"] == 0, t.nft
    assert t.nft["udp_dropped"] == 2, t.nft  # auto_fallback_retransmits: 2 over UDP
    assert t.nft["tcp_passed"] > 2000 and t.nft["other_passed"] == 0, t.nft
    check_pseudo_tcp_counters(t)


def test_tcp_from_the_start_sends_no_udp():
    with TwoGateways("IKE_ENCAPSULATION_TCP", drop_udp=True, capture=True) as t:
        spi_i, spi_r, spi_in, spi_out = up(t)
        kinds = [k for k, _ in t.events(t.client)]
        assert "fallback_to_tcp" not in kinds, kinds
        assert "over pseudo-TCP" in dict(t.events(t.client))["ike_connecting"]
        traffic(t, size=2 << 20)
        check_wire(t, spi_i, spi_r, spi_in, spi_out)
        assert tshark(t.pcap, "frame.number", where="udp && !tcp") == []
    assert t.nft["invalid"] == 0, t.nft
    assert t.nft["udp_dropped"] == 0 and t.nft["udp_passed"] == 0, t.nft
    check_pseudo_tcp_counters(t)


def test_udp_with_nat_traversal_when_udp_passes():
    with TwoGateways("ENCAPSULATION_UDP", drop_udp=False, capture=True) as t:
        spi_i, spi_r, spi_in, spi_out = up(t)
        assert "fallback_to_tcp" not in [k for k, _ in t.events(t.client)]
        assert "udp-natt" in t.client.ctl("ike-sas", ike=True)
        assert "udp-natt" in t.gateway.ctl("ike-sas", ike=True)
        traffic(t, size=2 << 20)
        check_wire(t, spi_i, spi_r, spi_in, spi_out, decode=False)
        # IKE_SA_INIT on 500, then NAT detected: IKE_AUTH and ESP on 4500.
        ports = {(int(e), p) for e, p in tshark(t.pcap, "isakmp.exchangetype", "udp.dstport",
                                                decode=False)}
        assert {(34, "500"), (35, "4500")} <= ports and (35, "500") not in ports, ports
        esp_ports = {p for _, p in tshark(t.pcap, "esp.spi", "udp.dstport", decode=False)}
        assert esp_ports == {"4500"}, esp_ports
        assert tshark(t.pcap, "tcp", decode=False) == []
    assert t.nft["invalid"] == 0 and t.nft["tcp_passed"] == 0, t.nft
    assert t.nft["udp_passed"] > 1000, t.nft
    for dp in (t.client.dp, t.gateway.dp):
        assert dp.counter("ctcp_encap_esp") == 0 and dp.counter("ctcp_syn_sent") == 0
        assert dp.counter("esp_encrypted") >= 100 and dp.counter("esp_decrypted") >= 100


if __name__ == "__main__":
    pytest.main([__file__])


def test_rekeys_and_the_old_sas_delete_stay_on_the_one_tcp_connection():
    """Over pseudo-TCP, Child SA and IKE SA rekeys (the client's, then the
    gateway's) and the delete of the old IKE SA travel on the same TCP
    connection as the SA itself (QuickSec sent that delete over UDP, which
    this network drops): no new SYN, one connection on each side, traffic
    keeps flowing and ends on the new SAs."""
    with TwoGateways("IKE_ENCAPSULATION_TCP") as t:
        up(t)
        traffic(t, 1 << 20)
        syn_before = t.client.counters()["ctcp_syn_sent"]
        for side, conn in ((t.client, "gateway"), (t.gateway, "clients")):
            out = side.ctl("rekey", conn, ike=True)  # its Child SA
            assert side.ike.wait_for("child_rekeyed", 10), out + t.diagnostics()
            out = side.ctl("rekey", conn, "--ike", ike=True)  # then its IKE SA
            assert side.ike.wait_for("ike_rekeyed", 10), out + t.diagnostics()
        # Each side saw both Child SA rekeys and both IKE SA rekeys.
        deadline = time.time() + 10
        while time.time() < deadline and not all(
                [k for k, _ in t.events(side)].count(kind) >= 2
                for side in (t.client, t.gateway) for kind in ("child_rekeyed", "ike_rekeyed")):
            time.sleep(0.2)
        for side in (t.client, t.gateway):
            kinds = [k for k, _ in t.events(side)]
            assert kinds.count("child_rekeyed") >= 2 and kinds.count("ike_rekeyed") >= 2, kinds
        traffic(t, 1 << 20)
        assert t.client.counters()["ctcp_syn_sent"] == syn_before
        for side in (t.client, t.gateway):
            conns = json.loads(side.ctl("connections", "--json")).get("connections", [])
            assert len(conns) == 1, conns
            sas = json.loads(side.ctl("ike-sas", "--json", ike=True))
            assert len(sas.get("ike_sas", sas if isinstance(sas, list) else [])) == 1, sas
        events = [k for k, _ in t.events(t.client)]
        assert "ike_down" not in events and "peer_dead" not in events, t.diagnostics()
