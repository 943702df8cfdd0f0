"""tcpsec-ike against strongSwan 5.9 (kernel-libipsec) in namespaces, as
responder and as initiator: PSK, the tunnel comes up, the host's ping
crosses it through the real dataplane, and a wrong PSK is refused with
AUTHENTICATION_FAILED and no SA left behind (ike_topology.py)."""

import time

import pytest

from ike_topology import HOST_NET, PSK, IkeInterop, ike_config


@pytest.fixture
def net():
    with IkeInterop() as n:
        yield n


def established(net, charon):
    sas = charon.wait_established(timeout=20, ike="site", child="net")
    assert sas["site"]["state"] == "ESTABLISHED", sas
    return sas


@pytest.mark.parametrize("ike,esp", [("aes128-sha256-ecp256", "aes128gcm16"),
                                     ("aes256gcm16-prfsha384-ecp384", "aes256-sha256"),
                                     ("aes128-sha256-modp2048", "aes128-sha1")],
                         ids=["cbc-ecp256/gcm", "gcm-ecp384/cbc", "modp2048/sha1"])
def test_strongswan_initiates(net, ike, esp):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False, ike=ike, esp=esp))
    with net.charon(initiator=True, ike=ike, esp=esp) as charon:
        charon.initiate("net", timeout=20, check=False)
        try:
            sas = established(net, charon)
        except BaseException:
            print(net.diagnostics(), charon.log_tail(80))
            raise
        assert net.ike.wait_for("event site ike_up"), net.diagnostics()
        out = net.ping()
        assert " 0% packet loss" in out, out + net.diagnostics() + charon.log_tail(60)
        child = [c for c in sas["site"]["child-sas"].values() if c["state"] == "INSTALLED"][0]
        assert child["encap"] == "yes"  # libipsec: ESP in UDP 4500
    net.stop()
    assert net.dp.counter("esp_encrypted") >= 5 and net.dp.counter("esp_decrypted") >= 5
    assert net.dp.counter("ike_punted") >= 2  # IKE_SA_INIT, IKE_AUTH came up the stream


def test_tcpsec_initiates(net):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=True))
    with net.charon(initiator=False) as charon:
        try:
            established(net, charon)
        except BaseException:
            print(net.diagnostics(), charon.log_tail(80))
            raise
        assert net.ike.wait_for("event site child_up"), net.diagnostics()
        # Our first IKE SA with this peer says so (RFC 7296 2.4).
        assert "parsed IKE_AUTH request 1 [ IDi N(INIT_CONTACT)" in charon.log(), charon.log_tail(20)
        out = net.ping()
        assert " 0% packet loss" in out, out + net.diagnostics() + charon.log_tail(60)
    net.stop()
    assert net.dp.counter("ike_injected") >= 2


def test_wrong_psk_is_refused(net):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False,
                             psk="not the psk we share 0000"))
    with net.charon(initiator=True) as charon:
        r = charon.initiate("net", timeout=15, check=False)
        assert r.returncode != 0
        assert net.ike.wait_for("auth_failed"), net.diagnostics()
        assert "AUTHENTICATION_FAILED" in charon.log(), charon.log_tail(40)
        assert charon.list_sas() == {}
    net.stop()
    assert "shared key MIC mismatch" in net.ike.output()
    assert net.dp.counter("esp_encrypted") == 0


def test_remote_access_client_gets_an_address_from_the_pool(net):
    """strongSwan as a remote-access client asks for a virtual IP (CP
    CFG_REQUEST); tcpsec leases 10.3.0.1 from its pool, narrows the
    client's traffic selector to it, and the client's traffic from that
    address reaches the protected host."""
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False, remote_ts=None,
                             extra='address_pool: "10.3.0.0/24"'))
    with net.charon(initiator=True, vips="0.0.0.0", local_ts=None) as charon:
        charon.initiate("net", timeout=20, check=False)
        sas = established(net, charon)
        assert sas["site"].get("local-vips") == ["10.3.0.1"], sas
        child = [c for c in sas["site"]["child-sas"].values() if c["state"] == "INSTALLED"][0]
        assert child["local-ts"] == ["10.3.0.1/32"], child
        assert net.ike.wait_for("address_leased: 10.3.0.1"), net.diagnostics()
        r = net.ns["ss"].run("ping -n -c 3 -i 0.2 -W 2 -I 10.3.0.1 10.10.0.5", check=False)
        assert " 0% packet loss" in r.stdout, r.stdout + net.diagnostics() + charon.log_tail(60)


def test_large_ike_auth_from_strongswan_is_reassembled(net):
    """63 extra traffic selectors on tcpsec's side make strongSwan's
    IKE_AUTH request larger than a 1280-byte datagram: it sends RFC 7383
    fragments (tcpsec announces support) and tcpsec reassembles them. Over
    UDP no IP fragment is needed (the dataplane does not reassemble those).
    tcpsec's own fragmenting is covered by the daemon unit tests
    (IkeDaemonFragmentation)."""
    extra = [f"172.17.{i}.0/24" for i in range(63)]
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False,
                             extra="".join(f' local_ts: "{p}"' for p in extra)))
    with net.charon(initiator=True, remote_ts=[HOST_NET] + extra,
                    conn_extra={"fragmentation": "yes"}) as charon:
        charon.initiate("net", timeout=20, check=False)
        established(net, charon)
        assert "IKE_AUTH request 1 [ EF(" in charon.log(), charon.log_tail(40)
        out = net.ping()
        assert " 0% packet loss" in out, out + net.diagnostics()
    net.stop()
    assert net.dp.drop("ip_fragment") == 0


def test_100mb_tcp_transfer_and_delete_from_strongswan(net):
    """A 100 MB TCP transfer from the protected host to strongSwan's side
    arrives with its SHA-256 intact through the tunnel tcpsec-ike set up;
    then strongSwan deletes the IKE SA and tcpsec removes every SA from
    the dataplane."""
    import subprocess as sp

    from test_site2site import CLIENT, SERVER

    size = 100 * 1024 * 1024
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False))
    with net.charon(initiator=True) as charon:
        charon.initiate("net", timeout=20, check=False)
        established(net, charon)
        server = net.ns["ss"].popen(["/usr/bin/python3", "-c", SERVER, "10.20.0.1"],
                                    stdout=sp.PIPE, stderr=sp.PIPE, text=True)
        assert server.stdout.readline().strip() == "listening"
        client = net.ns["host"].run(f"/usr/bin/python3 -c '{CLIENT}' 10.20.0.1 {size}", check=False,
                                    timeout=240)
        out, err = server.communicate(timeout=60)
        assert client.returncode == 0, client.stderr
        assert out.split() == client.stdout.split(), (out, err, client.stdout)
        assert int(out.split()[0]) == size
        charon.terminate(ike="site")
        assert net.ike.wait_for("ike_down: deleted by the peer"), net.ike.output()
        assert len(net.ike_sas()) == 0
    net.stop()
    assert net.dp.counter("esp_encrypted") > size // 1500
    assert net.dp.drop("esp_bad_icv") == 0


def test_additional_child_sa_by_create_child_sa(net):
    """strongSwan brings up a second Child SA (another pair of selectors,
    within tcpsec's) on the established IKE SA: a CREATE_CHILD_SA without
    REKEY_SA, which tcpsec answers with an additional Child SA installed in
    the dataplane with its own policies; both carry traffic."""
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False))
    net.ns["ss"].run("ip addr add 10.20.0.200/32 dev lo")
    second = {"net2": {"local_ts": "10.20.0.200/32", "remote_ts": "10.10.0.5/32",
                       "esp_proposals": "aes128gcm16"}}
    with net.charon(initiator=True, local_ts="10.20.0.0/25", extra_children=second) as charon:
        charon.initiate("net", timeout=20, check=False)
        established(net, charon)
        charon.initiate("net2", timeout=20, check=False)
        assert "CREATE_CHILD_SA request" in charon.log(), charon.log_tail(30)
        kids = [c for c in charon.list_sas()["site"]["child-sas"].values()
                if c["state"] == "INSTALLED"]
        assert len(kids) == 2, charon.log_tail(30)
        ours = net.ike_sas()
        assert len(ours[0].children) == 2, ours
        assert {f"{c.spi_in:08x}" for c in ours[0].children} == {k["spi-out"] for k in kids}
        for src in ("10.20.0.1", "10.20.0.200"):
            r = net.ns["ss"].run(f"ping -n -c 3 -i 0.2 -W 2 -I {src} 10.10.0.5", check=False)
            assert " 0% packet loss" in r.stdout, src + r.stdout + net.diagnostics()
