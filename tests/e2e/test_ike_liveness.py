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


def test_configuration_pushed_over_grpc(net):
    """tcpsecctl ike-apply: a bad configuration is refused naming the field
    and changes nothing; a corrected one (the right PSK) replaces the
    running configuration, the stale connection's IKE SAs go, and strongSwan
    gets in."""
    ctl = os.environ["TCPSEC_TCPSECCTL"]
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False,
                             psk="the wrong psk, not the shared one"))

    def apply(text):
        path = os.path.join(net.tmp, "push.textproto")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run([ctl, "--ike-socket", net.ike_sock, "ike-apply", path],
                              capture_output=True, text=True)

    with net.charon(initiator=True) as charon:
        r = charon.initiate("net", timeout=15, check=False)
        assert r.returncode != 0  # wrong PSK
        bad = apply(ike_config(net.dp_sock, net.ike_sock, initiator=False).replace(
            'ike_proposals: "aes128-sha256-ecp256"', 'ike_proposals: "aes999-sha256-ecp256"'))
        assert bad.returncode == 1
        assert "connections[0].ike_proposals[0]" in bad.stdout + bad.stderr, bad
        good = apply(ike_config(net.dp_sock, net.ike_sock, initiator=False))
        assert good.returncode == 0, good
        # The connection is the same; only its secret changed.
        assert "0 connection(s) added, 0 removed, 0 changed" in good.stdout, good.stdout
        charon.initiate("net", timeout=20, check=False)
        charon.wait_established(timeout=20, ike="site", child="net")
        out = net.ping()
        assert " 0% packet loss" in out, out + net.diagnostics()
    assert "config_applied" in net.ike.output()
