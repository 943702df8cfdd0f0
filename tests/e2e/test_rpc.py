"""The Dataplane gRPC service and tcpsecctl against the real binary: pcap
ports replay pseudo-TCP and host packets through an installed connection,
and tcpsecctl reads counters and connections while the dataplane runs. The
numbers must match the traffic and the final counters the binary writes."""

import json
import os
import socket
import stat
import subprocess
import time

from scapy.all import wrpcap

from tcpsec_e2e import Dataplane, unique
from test_pcap import (ESP_OUT, GW4, GW_MAC, HOST_MAC, ISPI, LOCAL_MAC, PEER4, PEER_MAC, IP, UDP,
                       Ether, Raw, ike, seg, trailer)

TCPSECCTL = os.environ.get("TCPSEC_TCPSECCTL", "")

CONFIG = """
eal {{ file_prefix: "{prefix}" no_huge: true no_pci: true memory_mb: 512
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "net_pcap0,rx_pcap=public-in.pcap,tx_pcap=public-out.pcap"
        role: PORT_ROLE_PUBLIC addresses: "192.0.2.10/24" mac: "{gw_mac}" }}
ports {{ name: "local" vdev: "net_pcap1,rx_pcap=local-in.pcap,tx_pcap=local-out.pcap"
        role: PORT_ROLE_LOCAL addresses: "169.254.77.1/30" mac: "{local_mac}" }}
routes {{ prefix: "0.0.0.0/0" next_hop: "192.0.2.1" port: "public" }}
neighbors {{ address: "192.0.2.1" mac: "{peer_mac}" port: "public" }}
neighbors {{ address: "169.254.77.2" mac: "{host_mac}" port: "local" }}
pseudo_tcp {{
  listeners {{ address: "0.0.0.0" ports: [10000] }}
  strict_trailer: true
  connections {{ local_address: "{gw4}" peer_address: "{peer4}" local_port: 10000 peer_port: 5555
                send_next: 1000 receive_next: 5000 ike_initiator_spis: {ispi} esp_spis: {esp} }}
}}
workers {{ count: 1 idle_sleep_us: 100 }}
rpc {{ unix_socket: "{sock}" }}
"""


def ctl(*args, check=True):
    assert TCPSECCTL, "TCPSEC_TCPSECCTL must name the tcpsecctl binary"
    res = subprocess.run([TCPSECCTL, *args], text=True, capture_output=True, timeout=30)
    if check:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


def values(entries):
    return {e["name"]: int(e["value"]) for e in entries}


def test_counters_and_connections_over_grpc(tmp_path):
    ike_in = bytes(UDP(sport=500, dport=500, chksum=0) / ike(ISPI))
    esp_in = bytes.fromhex("11111111") + (7).to_bytes(4, "big") + b"\xab" * 40
    public_in = [
        seg(IP(src=PEER4, dst=GW4), 5000, 1000, ike_in + trailer(17)),
        seg(IP(src=PEER4, dst=GW4), 5000 + len(ike_in) + 16, 1000, esp_in + trailer(50)),
        seg(IP(src=PEER4, dst=GW4), 5000, 1000, b"x" * 20, chksum=0x1234),  # tcp_bad_checksum
    ]
    ike_out = UDP(sport=500, dport=500) / ike(ISPI, 0x99, size=72)
    local_in = [Ether(src=HOST_MAC, dst=LOCAL_MAC) / IP(src=GW4, dst=PEER4) / ike_out]
    wrpcap(str(tmp_path / "public-in.pcap"), public_in)
    wrpcap(str(tmp_path / "local-in.pcap"), local_in)

    sock = str(tmp_path / "dp.sock")
    # A stale socket file from an earlier run is replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(sock)
    stale.close()
    cfg = CONFIG.format(prefix=unique("tcpsec-rpc"), gw_mac=GW_MAC, local_mac=LOCAL_MAC,
                        peer_mac=PEER_MAC, host_mac=HOST_MAC, gw4=GW4, peer4=PEER4, ispi=ISPI,
                        esp=ESP_OUT, sock=sock)
    dp = Dataplane(cfg, str(tmp_path))
    dp.start()
    try:
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)

        deadline = time.time() + 10
        while True:
            live = json.loads(ctl("--socket", sock, "counters", "--json").stdout)
            if values(live["counters"])["rx_packets"] >= 4 or time.time() > deadline:
                break
            time.sleep(0.1)
        time.sleep(0.3)  # nothing else arrives: the pcap files are replayed once
        live = json.loads(ctl("--socket", sock, "counters", "--json").stdout)
        conns = json.loads(ctl("--socket", sock, "connections", "--json").stdout)
        table = ctl("--socket", sock, "counters").stdout
        conn_table = ctl("--socket", sock, "connections").stdout
    finally:
        final = dp.stop()
    assert dp.proc.returncode == 0, dp.output()
    assert not os.path.exists(sock), "the socket is removed on shutdown"

    c = values(live["counters"])
    d = values(live["drops"])
    assert c["rx_packets"] == 4
    assert c["ctcp_decap_ike"] == 1 and c["ctcp_decap_esp"] == 1 and c["ctcp_encap_ike"] == 1
    assert d["tcp_bad_checksum"] == 1 and sum(d.values()) == 1, d
    assert "none" not in d
    # Every counter and drop reason, zero or not; the final JSON agrees.
    assert c == final["counters"]
    assert d == final["drops"]
    ports = {p["name"]: p for p in live["ports"]}
    assert set(ports) == {"public", "local"}
    for name, p in ports.items():
        assert int(p["rx_packets"]) == final["ports"][name]["rx"]
        assert int(p["tx_packets"]) == final["ports"][name]["tx"]
    assert int(ports["public"]["rx_packets"]) == 3 and int(ports["local"]["rx_packets"]) == 1
    assert int(ports["public"]["tx_packets"]) == 1 and int(ports["local"]["tx_packets"]) == 2
    assert [int(w["rx_packets"]) for w in live["workers"]] == [4]
    assert live["uptime_s"] > 0

    # People's tables: non-zero counters only.
    assert "ctcp_decap_ike" in table and "tcp_bad_checksum" in table
    assert "esp_encrypted" not in table
    assert "established" in conn_table and f"{ISPI:016x}" in conn_table

    assert conns["capacity"] > 0
    [conn] = conns["connections"]
    assert conn["local_address"] == GW4 and conn["local_port"] == 10000
    assert conn["peer_address"] == PEER4 and conn["peer_port"] == 5555
    assert conn["port"] == "public"
    assert conn["state"] == "CONNECTION_STATE_ESTABLISHED"
    assert conn["installed"] is True and conn["we_initiated"] is False
    assert int(conn["rx_packets"]) == 2 and int(conn["tx_packets"]) == 1
    assert [int(s) for s in conn["ike_initiator_spis"]] == [ISPI]
    assert conn["esp_spi_count"] == 1
    assert conn["receive_next"] == 5000 + len(ike_in) + 16 + len(esp_in) + 16
    assert conn["send_next"] == 1000 + len(bytes(ike_out)) + 16
    assert final["connections"] == 1


def test_missing_socket_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "nothing.sock")
    for cmd in ("counters", "connections"):
        res = ctl("--socket", missing, cmd, "--json", check=False)
        assert res.returncode == 1, res.stdout + res.stderr
        assert res.stdout == ""
        assert "cannot reach the dataplane" in res.stderr and missing in res.stderr
        assert "No such file or directory" in res.stderr


def test_not_a_socket_and_bad_usage(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("")
    res = ctl("--socket", str(plain), "counters", check=False)
    assert res.returncode == 1 and "not a socket" in res.stderr
    assert ctl("--socket", str(plain), "frobnicate", check=False).returncode == 2
    res = subprocess.run([TCPSECCTL, "counters"], text=True, capture_output=True,
                         env={k: v for k, v in os.environ.items() if k != "TCPSEC_SOCKET"})
    assert res.returncode == 2 and "--socket" in res.stderr


def test_dataplane_refuses_a_path_that_is_not_a_socket(tmp_path):
    plain = tmp_path / "taken"
    plain.write_text("keep me")
    cfg = f"""
eal {{ file_prefix: "{unique('tcpsec-rpcbad')}" no_huge: true no_pci: true memory_mb: 256
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "net_null0" role: PORT_ROLE_PUBLIC addresses: "192.0.2.1/24" }}
workers {{ count: 1 idle_sleep_us: 100 }}
rpc {{ unix_socket: "{plain}" }}
"""
    dp = Dataplane(cfg, str(tmp_path))
    try:
        dp.start()
        raise AssertionError("started:\n" + dp.output())
    except RuntimeError as e:
        assert "exists and is not a socket" in str(e), str(e)
    assert dp.proc.wait(timeout=15) == 1
    assert plain.read_text() == "keep me"
