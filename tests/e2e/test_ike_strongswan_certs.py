"""tcpsec-ike against strongSwan 5.9 (kernel-libipsec) with certificates
(AUTH_KIND_PUBKEY), in the namespaces of ike_topology.py: a CA made by
pki.py issues tcpsec's and strongSwan's certificates (ECDSA P-256/P-384,
RSA 2048); strongSwan initiates and responds, the tunnel comes up, the
host's ping crosses it, and strongSwan's log shows which signature scheme
each side used (RFC 7427 method 14, since both send
SIGNATURE_HASH_ALGORITHMS). Refusals: strongSwan's certificate from a CA
tcpsec does not trust (auth_failed "is not trusted", AUTHENTICATION_FAILED
at strongSwan, no SA), and tcpsec's from a CA strongSwan does not trust.
And with strongSwan's RFC 7427 support off: the classic methods (1, 9)."""

import os

import pki
import pytest
import strongswan as ss

from ike_topology import DP_PUB, HOST_NET, SS_ID, SS_NET, SS_PUB, TCPSEC_ID, IkeInterop


@pytest.fixture
def net():
    with IkeInterop() as n:
        yield n


def cert_config(net, initiator, cert, cas):
    ca_lines = "\n".join(f'ca_certificates: "{c}"' for c in cas)
    return f"""
dataplane_socket: "{net.dp_sock}"
unix_socket: "{net.ike_sock}"
{ca_lines}
connections {{
  name: "site"
  local_address: "{DP_PUB}"
  remote_address: "{SS_PUB}"
  local_id: "fqdn:{TCPSEC_ID}"
  remote_id: "fqdn:{SS_ID}"
  local_auth: AUTH_KIND_PUBKEY
  remote_auth: AUTH_KIND_PUBKEY
  local_certificate: "{cert.cert_pem}"
  local_private_key: "{cert.key_pem}"
  ike_proposals: "aes128-sha256-ecp256"
  esp_proposals: "aes128gcm16"
  local_ts: "{HOST_NET}"
  remote_ts: "{SS_NET}"
  auto_start: {"true" if initiator else "false"}
}}
timers {{ retransmit_ms: 500 retransmit_tries: 3 }}
"""


def make_pki(net, tcpsec_key, ss_key):
    ca = pki.CA(os.path.join(net.tmp, "pki"))
    ours = ca.issue("tcpsec", san=[f"DNS:{TCPSEC_ID}", f"IP:{DP_PUB}"], key=tcpsec_key)
    theirs = ca.issue("ss", san=[f"DNS:{SS_ID}"], key=ss_key)
    return ca, ours, theirs


# strongSwan's name for the scheme it verified or used.
SCHEMES = {"ecdsa256": "ECDSA_WITH_SHA256_DER", "ecdsa384": "ECDSA_WITH_SHA384_DER",
           "rsa2048": "RSA_EMSA_PKCS1_SHA2_256"}

KEYS = [("ecdsa256", "ecdsa256"), ("rsa2048", "rsa2048"), ("ecdsa384", "rsa2048")]
KEY_IDS = ["ecdsa", "rsa", "ecdsa384-vs-rsa"]


def check_tunnel(net, charon, tcpsec_key, ss_key):
    try:
        sas = charon.wait_established(timeout=20, ike="site", child="net")
        assert sas["site"]["state"] == "ESTABLISHED", sas
    except BaseException:
        print(net.diagnostics(), charon.log_tail(80))
        raise
    assert net.ike.wait_for("event site child_up"), net.diagnostics()
    out = net.ping()
    assert " 0% packet loss" in out, out + net.diagnostics() + charon.log_tail(60)
    log = charon.log()
    # strongSwan verified our signature with the scheme of our key (method 14).
    ours = f"authentication of '{TCPSEC_ID}' with {SCHEMES[tcpsec_key]} successful"
    theirs = f"authentication of '{SS_ID}' (myself) with {SCHEMES[ss_key]} successful"
    assert ours in log, charon.log_tail(80)
    assert theirs in log, charon.log_tail(80)


@pytest.mark.parametrize("tcpsec_key,ss_key", KEYS, ids=KEY_IDS)
def test_strongswan_initiates_with_certificates(net, tcpsec_key, ss_key):
    ca, ours, theirs = make_pki(net, tcpsec_key, ss_key)
    net.start_ike(cert_config(net, False, ours, [ca.cert_pem]))
    with net.charon(initiator=True, auth="pubkey", cert=theirs, cacerts=[ca.cert_pem]) as charon:
        charon.initiate("net", timeout=20, check=False)
        check_tunnel(net, charon, tcpsec_key, ss_key)
    net.stop()
    assert net.dp.counter("esp_encrypted") >= 5 and net.dp.counter("esp_decrypted") >= 5


@pytest.mark.parametrize("tcpsec_key,ss_key", KEYS[:2], ids=KEY_IDS[:2])
def test_tcpsec_initiates_with_certificates(net, tcpsec_key, ss_key):
    ca, ours, theirs = make_pki(net, tcpsec_key, ss_key)
    net.start_ike(cert_config(net, True, ours, [ca.cert_pem]))
    with net.charon(initiator=False, auth="pubkey", cert=theirs, cacerts=[ca.cert_pem]) as charon:
        check_tunnel(net, charon, tcpsec_key, ss_key)
    net.stop()
    assert net.dp.counter("esp_encrypted") >= 5 and net.dp.counter("esp_decrypted") >= 5


def test_untrusted_strongswan_certificate_is_refused(net):
    ca, ours, _ = make_pki(net, "ecdsa256", "ecdsa256")
    rogue = pki.CA(os.path.join(net.tmp, "rogue"), name="rogue", cn="rogue CA")
    theirs = rogue.issue("ss-rogue", san=[f"DNS:{SS_ID}"])
    net.start_ike(cert_config(net, False, ours, [ca.cert_pem]))
    with net.charon(initiator=True, auth="pubkey", cert=theirs, cacerts=[ca.cert_pem]) as charon:
        r = charon.initiate("net", timeout=15, check=False)
        assert r.returncode != 0
        assert net.ike.wait_for("auth_failed"), net.diagnostics()
        assert "AUTHENTICATION_FAILED" in charon.log(), charon.log_tail(40)
        assert charon.list_sas() == {}
    net.stop()
    assert "is not trusted: unable to get local issuer certificate" in net.ike.output()
    assert net.dp.counter("esp_encrypted") == 0


def test_untrusted_tcpsec_certificate_is_refused_by_strongswan(net):
    ca, _, theirs = make_pki(net, "ecdsa256", "ecdsa256")
    rogue = pki.CA(os.path.join(net.tmp, "rogue"), name="rogue", cn="rogue CA")
    ours = rogue.issue("tcpsec-rogue", san=[f"DNS:{TCPSEC_ID}"])
    net.start_ike(cert_config(net, True, ours, [ca.cert_pem]))
    with net.charon(initiator=False, auth="pubkey", cert=theirs, cacerts=[ca.cert_pem]) as charon:
        assert net.ike.wait_for("ike_down"), net.diagnostics() + charon.log_tail(40)
        assert "AUTHENTICATION_FAILED" in net.ike.output(), net.diagnostics()
        assert charon.list_sas() == {}
        assert "no trusted ECDSA public key found for 'tcpsec.test'" in charon.log(), \
            charon.log_tail(40)
    net.stop()


@pytest.mark.parametrize("key,scheme", [("ecdsa256", "ECDSA-256 signature"),
                                        ("rsa2048", "RSA signature")], ids=["ecdsa", "rsa"])
def test_classic_auth_methods_without_rfc7427(net, key, scheme):
    """strongSwan with signature_authentication = no sends no
    SIGNATURE_HASH_ALGORITHMS: tcpsec signs with method 9 (ECDSA P-256) or
    1 (RSA, SHA-1) and verifies strongSwan's classic signature."""
    ca, ours, theirs = make_pki(net, key, key)
    net.start_ike(cert_config(net, False, ours, [ca.cert_pem]))
    conn = ss.connection("site", local_addrs=SS_PUB, remote_addrs=DP_PUB, local_id=SS_ID,
                         remote_id=TCPSEC_ID, auth="pubkey", cert=theirs, cacerts=[ca.cert_pem],
                         proposals="aes128-sha256-ecp256", esp_proposals="aes128gcm16",
                         local_ts=SS_NET, remote_ts=HOST_NET, rekey_time=0, child_rekey_time=0)
    with ss.Charon(net.ns["ss"], [conn], name="ss",
                   options={"signature_authentication": False}) as charon:
        charon.initiate("net", timeout=20, check=False)
        try:
            sas = charon.wait_established(timeout=20, ike="site", child="net")
            assert sas["site"]["state"] == "ESTABLISHED", sas
        except BaseException:
            print(net.diagnostics(), charon.log_tail(80))
            raise
        out = net.ping()
        assert " 0% packet loss" in out, out + net.diagnostics() + charon.log_tail(60)
        log = charon.log()
        assert f"authentication of '{TCPSEC_ID}' with {scheme} successful" in log, \
            charon.log_tail(80)
        assert f"authentication of '{SS_ID}' (myself) with {scheme} successful" in log, \
            charon.log_tail(80)
    net.stop()
