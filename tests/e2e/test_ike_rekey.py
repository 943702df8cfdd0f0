"""Rekeying under traffic against strongSwan 5.9: Child SA and IKE SA
rekeys started by strongSwan and by tcpsec-ike (Gateway Rekey), each
while a ping flow runs through the real dataplane. Make-before-break:
not one ping may be lost, and both ends agree on the new SPIs."""

import re
import time

import pytest

from ike_topology import SS_NET, IkeInterop, ike_config


@pytest.fixture
def net():
    with IkeInterop() as n:
        yield n


def installed_child(sas):
    kids = [c for c in sas["site"]["child-sas"].values() if c["state"] == "INSTALLED"]
    assert len(kids) == 1, sas
    return kids[0]


def finish(p):
    out, _ = p.communicate(timeout=120)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("tcpsec_initiates", [False, True], ids=["ss-initiator", "tcpsec-initiator"])
def test_rekeys_under_traffic_lose_nothing(net, tcpsec_initiates):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=tcpsec_initiates))
    with net.charon(initiator=not tcpsec_initiates) as charon:
        if not tcpsec_initiates:
            charon.initiate("net", timeout=20, check=False)
        sas = charon.wait_established(timeout=20, ike="site", child="net")
        first = installed_child(sas)
        flow = net.ping_flow(160)  # 8 s of traffic
        time.sleep(1)
        # strongSwan rekeys the Child SA, then the IKE SA.
        charon.rekey(child="net")
        time.sleep(1)
        charon.rekey(ike="site")
        time.sleep(1)
        # tcpsec-ike rekeys the Child SA, then the IKE SA.
        net.rekey(ike=False)
        assert net.ike.wait_for("child_rekeyed", 10)
        time.sleep(1)
        net.rekey(ike=True)
        time.sleep(1.5)
        sent, received = finish(flow)
        log = net.diagnostics() + charon.log_tail(80)
        assert sent == 160 and received == 160, f"{received}/{sent} pings answered" + log
        sas = charon.list_sas()
        now = installed_child(sas)
        assert now["spi-in"] != first["spi-in"] and now["spi-out"] != first["spi-out"], sas
        ours = net.ike_sas()
        assert len(ours) == 1, ours
        assert len(ours[0].children) == 1, ours
        # Both ends agree on the current Child SA and IKE SA.
        assert f"{ours[0].children[0].spi_in:08x}" == now["spi-out"], (ours, sas)
        assert f"{ours[0].children[0].spi_out:08x}" == now["spi-in"], (ours, sas)
        assert f"{ours[0].initiator_spi:016x}" == sas["site"]["initiator-spi"], (ours, sas)
        assert net.ike.output().count("ike_rekeyed") >= 2, net.ike.output()
        assert "ike_down" not in net.ike.output()
    net.stop()
    assert net.dp.drop("esp_no_sa") == 0
    assert net.dp.drop("esp_replay") == 0
