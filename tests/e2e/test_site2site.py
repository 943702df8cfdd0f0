"""A manually keyed ESP tunnel between two tcpsec-dataplanes carries ping
and a 100 MB TCP transfer between real kernels, checksum intact, over plain
ESP, NAT-T UDP encapsulation and pseudo-TCP. The hosts' MTU is left at
1500: TCP finds the tunnel's smaller MTU through our ICMP errors (PMTUD)."""

import subprocess
import textwrap

import pytest

from site2site import A_HOST, B_HOST, SiteToSite

SIZE = 100 * 1024 * 1024
JUMBO_SIZE = 20 * 1024 * 1024

SERVER = textwrap.dedent("""
    import hashlib, socket, sys
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((sys.argv[1], 5001)); l.listen(1); l.settimeout(30)
    print("listening", flush=True)
    c, _ = l.accept(); c.settimeout(60)
    h = hashlib.sha256(); n = 0
    while True:
        d = c.recv(1 << 20)
        if not d: break
        h.update(d); n += len(d)
    print(n, h.hexdigest(), flush=True)
""")

CLIENT = textwrap.dedent("""
    import hashlib, socket, sys
    size = int(sys.argv[2]); block = bytes(range(256)) * 4096
    s = socket.create_connection((sys.argv[1], 5001), timeout=60)
    h = hashlib.sha256(); sent = 0
    while sent < size:
        chunk = block[: min(len(block), size - sent)]
        s.sendall(chunk); h.update(chunk); sent += len(chunk)
    s.shutdown(socket.SHUT_WR); s.recv(1)
    print(sent, h.hexdigest(), flush=True)
""")


def transfer(s, size):
    """hostA sends `size` bytes to hostB over TCP; both ends' SHA-256 agree."""
    server = s.ns["hostB"].popen(["/usr/bin/python3", "-c", SERVER, B_HOST],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "listening"
    client = s.ns["hostA"].run(f"/usr/bin/python3 -c '{CLIENT}' {B_HOST} {size}", check=False,
                               timeout=240)
    out, err = server.communicate(timeout=60)
    assert client.returncode == 0, client.stderr + s.a.output() + s.b.output()
    assert out.split() == client.stdout.split(), (out, err, client.stdout)
    assert int(out.split()[0]) == size


@pytest.mark.parametrize("encap,workers", [("plain", 1), ("udp", 1), ("tcp", 1), ("plain", 2),
                                           ("tcp", 2)],
                         ids=["plain", "udp", "tcp", "plain-2workers", "tcp-2workers"])
def test_tunnel_carries_ping_and_100mb(encap, workers):
    with SiteToSite(encap, workers) as s:
        ping = s.ns["hostA"].run(f"ping -c 3 -i 0.2 -W 2 {B_HOST}", check=False)
        assert " 0% packet loss" in ping.stdout, ping.stdout + s.a.output() + s.b.output()
        transfer(s, SIZE)
    for dp in (s.a, s.b):
        assert dp.counter("esp_encrypted") > 0 and dp.counter("esp_decrypted") > 0
        assert dp.drop("esp_bad_icv") == 0
    assert s.a.counter("esp_encrypted") > SIZE // 1500  # the data went through ESP
    # TCP learnt the tunnel MTU from our ICMP "fragmentation needed".
    assert s.a.counter("pmtu_icmp_sent") >= 1
    if workers == 2:
        # Each SA is owned by one worker; packets for it that arrive on the
        # other worker's queue are handed over, never processed twice.
        assert s.a.counter("esp_handed_off") + s.b.counter("esp_handed_off") > 0
        assert s.a.drop("esp_replay") == 0 and s.b.drop("esp_replay") == 0
    if encap == "tcp":
        assert s.a.counter("ctcp_established") == 1 and s.b.counter("ctcp_syn_received") == 1


@pytest.mark.parametrize("encap", ["plain", "tcp"])
def test_tunnel_carries_jumbo_frames(encap):
    """Every link at MTU 9000: a ping of 8828 bytes with DF crosses the tunnel
    whole (one ESP packet each way; the dataplane's mbufs are sized for the
    ports' MTU, so nothing arrives chained and is dropped), and a TCP
    transfer at jumbo segment sizes arrives intact."""
    with SiteToSite(encap, 1, mtu=9000) as s:
        ping = s.ns["hostA"].run(f"ping -c 3 -i 0.2 -W 2 -M do -s 8800 {B_HOST}", check=False)
        assert " 0% packet loss" in ping.stdout, ping.stdout + s.a.output() + s.b.output()
        transfer(s, JUMBO_SIZE)
    for dp in (s.a, s.b):
        assert dp.drop("multi_segment") == 0 and dp.drop("esp_bad_icv") == 0
        assert dp.counter("pmtu_fragmented") == 0
    # Jumbo segments: far fewer ESP packets than 1500-byte ones would take.
    assert JUMBO_SIZE // 9000 <= s.a.counter("esp_encrypted") < JUMBO_SIZE // 3000
