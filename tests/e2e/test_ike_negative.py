"""Hostile input to tcpsec-ike (ike_topology.py: the real dataplane punts
what arrives on UDP 500/4500 to tcpsec-ike; strongSwan is the honest peer).

From the strongSwan host's address, messages crafted here (struct for the
IKE bytes, scapy for the IP/UDP around them where the source port must be
strongSwan's own 4500) are sent to the gateway: truncated and malformed
IKE_SA_INIT, an IKE_SA_INIT without KE, a message for an unknown SPI,
garbage after the non-ESP marker on 4500, an IKE_AUTH with a bad ICV for a
real half-open SA, and a replay of strongSwan's own IKE_AUTH request after
the SA is up. For each, tcpsec-ike must log a line that says what it
dropped, keep running, leave no half-open IKE SA behind (ListIkeSas through
tcpsecctl), and still bring up a fresh strongSwan initiation afterwards."""

import json
import os
import socket
import struct
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from scapy.layers.inet import IP, UDP
from scapy.packet import Raw

import strongswan as ss
from ike_topology import DP_PUB, SS_PUB, IkeInterop, ike_config

TCPSECCTL = os.environ.get("TCPSEC_TCPSECCTL", "")

SA, KE, IDI, AUTH, NONCE, NOTIFY, SK = 33, 34, 35, 39, 40, 41, 46
IKE_SA_INIT, IKE_AUTH, INFORMATIONAL = 34, 35, 37
FLAG_INITIATOR, FLAG_RESPONSE = 0x08, 0x20


@pytest.fixture
def net():
    with IkeInterop() as n:
        yield n


# ---- IKEv2 bytes (RFC 7296 3.1-3.5) -----------------------------------------


def header(spi_i, spi_r, first, exchange, flags, message_id, body_len):
    return struct.pack("!QQBBBBII", spi_i, spi_r, first, 0x20, exchange, flags, message_id,
                       28 + body_len)


def chain(*payloads):
    """(type, body) pairs -> the first type and the payload chain bytes."""
    out = b""
    for i, (_, body) in enumerate(payloads):
        nxt = payloads[i + 1][0] if i + 1 < len(payloads) else 0
        out += struct.pack("!BBH", nxt, 0, 4 + len(body)) + body
    return payloads[0][0], out


def message(spi_i, spi_r, exchange, flags, message_id, *payloads):
    first, body = chain(*payloads)
    return header(spi_i, spi_r, first, exchange, flags, message_id, len(body)) + body


def ike_sa_payload():
    """One IKE proposal: AES-CBC-128, PRF-HMAC-SHA256, HMAC-SHA256-128, ECP-256."""
    transforms = [(1, 12, struct.pack("!HH", 0x800E, 128)), (2, 5, b""), (3, 12, b""), (4, 19, b"")]
    body = b""
    for i, (ttype, tid, attrs) in enumerate(transforms):
        last = i + 1 == len(transforms)
        body += struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), ttype, 0, tid) + attrs
    return struct.pack("!BBHBBBB", 0, 0, 8 + len(body), 1, 1, 0, len(transforms)) + body


def ke_payload():
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    return struct.pack("!HH", 19, 0) + point[1:]  # x | y (RFC 5903 7)


def ike_sa_init(spi_i, with_ke=True):
    payloads = [(SA, ike_sa_payload())]
    if with_ke:
        payloads.append((KE, ke_payload()))
    payloads.append((NONCE, os.urandom(32)))
    return message(spi_i, 0, IKE_SA_INIT, FLAG_INITIATOR, 0, *payloads)


def forged_ike_auth(spi_i, spi_r, message_id=1):
    """An IKE_AUTH request whose SK payload is random: IV, 48 bytes of
    "ciphertext", a 16-byte ICV that cannot verify."""
    sk_body = os.urandom(16 + 48 + 16)
    return header(spi_i, spi_r, SK, IKE_AUTH, FLAG_INITIATOR, message_id, 4 + len(sk_body)) + \
        struct.pack("!BBH", IDI, 0, 4 + len(sk_body)) + sk_body


# ---- sending from the strongSwan host ---------------------------------------


class Sender:
    """UDP from SS_PUB (ports of our own), and raw IP from strongSwan's
    port 4500 (charon holds that socket) built with scapy."""

    def __init__(self, net):
        self.ns = net.ns["ss"]
        with self.ns.entered():
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind((SS_PUB, 0))
            self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.udp.settimeout(3)

    def ike(self, data, port=500):
        """To UDP `port` of the gateway; on 4500 with the non-ESP marker."""
        self.udp.sendto((b"\0\0\0\0" if port == 4500 else b"") + data, (DP_PUB, port))

    def answer(self):
        try:
            data, _ = self.udp.recvfrom(65535)
            return data
        except socket.timeout:
            return None

    def from_4500(self, udp_payload):
        pkt = IP(src=SS_PUB, dst=DP_PUB) / UDP(sport=4500, dport=4500) / Raw(udp_payload)
        self.raw.sendto(bytes(pkt), (DP_PUB, 0))

    def close(self):
        self.udp.close()
        self.raw.close()


def ike_sas(net):
    assert TCPSECCTL, "TCPSEC_TCPSECCTL must name the tcpsecctl binary"
    res = subprocess.run([TCPSECCTL, "--ike-socket", net.ike_sock, "ike-sas", "--json"], text=True,
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout).get("ike_sas", [])


def wait_for(f, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = f()
        if v:
            return v
        time.sleep(0.2)
    return f()


def logged(net, text, timeout=5.0):
    assert net.ike.wait_for(text, timeout), f"tcpsec-ike did not log {text!r}:" + net.diagnostics()


def fresh_initiation_works(net, charon):
    """strongSwan initiates; the tunnel comes up and carries a ping; exactly
    one IKE SA, ESTABLISHED, on our side."""
    assert net.ike.proc.poll() is None, "tcpsec-ike died:" + net.diagnostics()
    charon.initiate("net", timeout=20, check=False)
    charon.wait_established(timeout=20, ike="site", child="net")
    assert " 0% packet loss" in net.ping(3), net.diagnostics() + charon.log_tail(40)
    sas = wait_for(lambda: [s for s in ike_sas(net) if s["state"] == "ESTABLISHED"])
    assert len(ike_sas(net)) == 1 and len(sas) == 1, ike_sas(net)
    return sas[0]


# ---- tests ---------------------------------------------------------------------


def test_malformed_unknown_and_forged_messages(net):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False))
    with net.charon(initiator=True) as charon:
        s = Sender(net)
        try:
            good = ike_sa_init(0x1111111111111111)
            # Truncated: half a header (the dataplane drops what is shorter than
            # an IKE header: it never reaches tcpsec-ike); a header and part of
            # the SA payload (the header's length says more); then a header
            # whose length is the datagram's but whose first payload runs past
            # the end.
            s.ike(good[:14])
            s.ike(good[:40])
            logged(net, f"dropped a message from {SS_PUB}")
            bad = bytearray(ike_sa_init(0x2222222222222222))
            struct.pack_into("!H", bad, 28 + 2, 4000)  # the SA payload's length
            s.ike(bytes(bad))
            logged(net, f"IKE_SA_INIT from {SS_PUB}: ")
            # Well-formed but without KE: refused with a notify, no SA.
            s.ike(ike_sa_init(0x3333333333333333, with_ke=False))
            reply = s.answer()
            assert reply and reply[18] == IKE_SA_INIT and reply[19] & FLAG_RESPONSE, reply
            assert struct.unpack("!Q", reply[8:16])[0] == 0  # no responder SPI: no SA
            logged(net, "event site no_proposal")
            # Nobody's SPIs.
            s.ike(forged_ike_auth(0x4444444444444444, 0x5555555555555555), port=4500)
            logged(net, "dropped IKE_AUTH from 192.0.2.20: no IKE SA 5555555555555555")
            # Garbage after the non-ESP marker on 4500.
            s.ike(b"garbage!" * 6, port=4500)
            wait_for(lambda: net.ike.output().count(f"dropped a message from {SS_PUB}") >= 2, 5)
            assert net.ike.output().count(f"dropped a message from {SS_PUB}") >= 2, net.diagnostics()
            assert ike_sas(net) == []

            # A real half-open SA, then an IKE_AUTH that cannot verify.
            s.ike(good)
            reply = s.answer()
            assert reply and reply[19] & FLAG_RESPONSE, reply
            spi_r = struct.unpack("!Q", reply[8:16])[0]
            assert spi_r != 0
            (sa,) = ike_sas(net)
            assert sa["state"] == "CONNECTING" and int(sa["responder_spi"]) == spi_r
            s.ike(forged_ike_auth(0x1111111111111111, spi_r), port=4500)
            logged(net, "site: request 1: ")
            assert s.answer() is None  # unauthenticated: no answer
            # The same IKE_SA_INIT again: the same response (a retransmission).
            s.ike(good)
            assert s.answer() == reply
            # Nothing half-open stays: retransmit_ms 500 x (1+2+4+8) = 7.5 s.
            logged(net, f"half-open IKE SA {spi_r:016x} with {SS_PUB} expired", timeout=15)
            assert wait_for(lambda: ike_sas(net) == [], 5), ike_sas(net)
        finally:
            s.close()
        sa = fresh_initiation_works(net, charon)
        assert sa["initiator"] is False and len(sa["children"]) == 1
    print(net.ike.output())  # shown with -s, or on failure


def test_replayed_ike_auth_after_the_sa_is_up(net, tmp_path):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False))
    # dpd_delay 1 s: strongSwan's DPD INFORMATIONALs move the message IDs on.
    with net.charon(initiator=True, dpd_delay=1) as charon:
        cap = ss.Capture(net.ns["ss"], "eth0", str(tmp_path / "ike.pcap"), bpf="udp port 4500")
        with cap:
            charon.initiate("net", timeout=20, check=False)
            charon.wait_established(timeout=20, ike="site", child="net")
            time.sleep(3)  # a few DPD exchanges
        requests = [bytes(p[UDP].payload) for p in cap.packets()
                    if p.haslayer(UDP) and p[IP].src == SS_PUB and p[UDP].dport == 4500]
        auth = [r for r in requests if r[:4] == b"\0\0\0\0" and len(r) > 32 and r[4 + 18] == IKE_AUTH
                and not r[4 + 19] & FLAG_RESPONSE]
        assert auth, f"no IKE_AUTH request captured: {len(requests)} packets"
        (before,) = ike_sas(net)
        assert before["state"] == "ESTABLISHED" and len(before["children"]) == 1
        s = Sender(net)
        try:
            s.from_4500(auth[0])
            # Old (DPD used IDs 2, 3, ...): dropped; had no DPD run, it would be
            # the last request and answered from the cache - either is logged.
            assert wait_for(lambda: "dropped IKE_AUTH request with message ID 1" in net.ike.output()
                            or "request 1 again (IKE_AUTH)" in net.ike.output(), 5), net.diagnostics()
            assert "dropped IKE_AUTH request with message ID 1" in net.ike.output(), net.diagnostics()
            # The same SA, nothing new installed, strongSwan unbothered.
            (after,) = ike_sas(net)
            assert (after["initiator_spi"], after["responder_spi"], after["state"]) == \
                (before["initiator_spi"], before["responder_spi"], "ESTABLISHED")
            assert after["children"] == before["children"]
            assert " 0% packet loss" in net.ping(3), net.diagnostics()
        finally:
            s.close()
        assert charon.list_sas()["site"]["state"] == "ESTABLISHED"
        # Down (strongSwan deletes it), and a fresh initiation still works.
        charon.terminate(ike="site")
        assert wait_for(lambda: ike_sas(net) == [], 10), ike_sas(net)
        fresh_initiation_works(net, charon)
    print(net.ike.output())  # shown with -s, or on failure
