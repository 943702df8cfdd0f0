"""tcpsec-ike's defences and liveness against strongSwan 5.9:
COOKIEs under load (RFC 7296 2.6), INITIAL_CONTACT from a restarted peer
(its stale SAs go), dead peer detection (a peer that vanishes is found and
its SAs leave the dataplane)."""

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from ike_topology import DP_PUB, IkeInterop, ike_config

VECTORS = os.path.join(os.path.dirname(__file__), "data", "strongswan", "ikev2_psk_ecp256.json")


@pytest.fixture
def net():
    with IkeInterop() as n:
        yield n


def dataplane_sas(net):
    out = subprocess.run([os.environ["TCPSEC_TCPSECCTL"], "--socket", net.dp_sock, "sas", "--json"],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    return data.get("sas", data) if isinstance(data, dict) else data


def test_cookie_is_demanded_under_load_and_strongswan_returns_it(net):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False,
                             timers="retransmit_ms: 500 retransmit_tries: 3 cookie_threshold: 1"))
    # One half-open SA: an old IKE_SA_INIT replayed from another port that
    # never continues.
    first = bytes.fromhex(json.load(open(VECTORS))["messages"][0]["ike_hex"])
    with net.ns["ss"].entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 5500))
        s.sendto(first, (DP_PUB, 500))
        s.settimeout(3)
        reply, _ = s.recvfrom(4096)
        s.close()
    assert len(reply) > 100  # a full IKE_SA_INIT response: the SA is half-open now
    with net.charon(initiator=True) as charon:
        charon.initiate("net", timeout=20, check=False)
        sas = charon.wait_established(timeout=20, ike="site", child="net")
        assert sas["site"]["state"] == "ESTABLISHED"
        assert "N(COOKIE)" in charon.log(), charon.log_tail(40)
    assert "COOKIE required from 192.0.2.20" in net.ike.output(), net.ike.output()


def test_initial_contact_from_a_restarted_peer_removes_stale_sas(net):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False))
    charon = net.charon(initiator=True)
    with charon:
        charon.initiate("net", timeout=20, check=False)
        charon.wait_established(timeout=20, ike="site", child="net")
        # The peer "reboots": killed without a delete, then back.
        charon.proc.send_signal(signal.SIGKILL)
        charon.proc.wait()
    with net.charon(initiator=True) as again:
        again.initiate("net", timeout=20, check=False)
        again.wait_established(timeout=20, ike="site", child="net")
        assert "N(INIT_CONTACT)" in again.log()
        assert net.ike.wait_for("stale IKE SA"), net.ike.output()
        assert len(net.ike_sas()) == 1
        sas = dataplane_sas(net)
        assert len(sas) == 2, sas  # only the new Child SA's pair
        out = net.ping()
        assert " 0% packet loss" in out, out + net.diagnostics()


def test_dead_peer_is_detected_and_its_sas_removed(net):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False, extra="dpd_delay_s: 2",
                             timers="retransmit_ms: 300 retransmit_tries: 2"))
    charon = net.charon(initiator=True)
    with charon:
        charon.initiate("net", timeout=20, check=False)
        charon.wait_established(timeout=20, ike="site", child="net")
        assert len(dataplane_sas(net)) == 2
        charon.proc.send_signal(signal.SIGKILL)
        charon.proc.wait()
        assert net.ike.wait_for("peer_dead", timeout=15), net.ike.output()
        deadline = time.time() + 5
        while time.time() < deadline and dataplane_sas(net):
            time.sleep(0.2)
        assert dataplane_sas(net) == [], dataplane_sas(net)
        assert len(net.ike_sas()) == 0
