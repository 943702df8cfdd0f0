"""The real binary driven by pcap files: pseudo-TCP segments and host
packets in, byte-exact expected packets out, every refused input counted
under its own drop reason. Connections are installed from the configuration
(PseudoTcpConnection) so sequence numbers are known in advance."""

import struct
import subprocess

import pytest
from scapy.all import rdpcap, wrpcap
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from tcpsec_e2e import run_pcap, unique

GW_MAC, PEER_MAC, LOCAL_MAC, HOST_MAC = ("02:00:00:00:00:01", "02:00:00:00:01:01",
                                         "02:00:00:00:00:03", "02:00:00:00:03:02")
GW4, PEER4, GW6, PEER6 = "192.0.2.10", "198.51.100.7", "2001:db8:0:1::10", "2001:db8:9::7"
ISPI = 0xAAAA0000BBBB0001
ESP_OUT = 0x22222222

CONFIG = """
eal {{ file_prefix: "{prefix}" no_huge: true no_pci: true memory_mb: 512
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "net_pcap0,rx_pcap=public-in.pcap,tx_pcap=public-out.pcap"
        role: PORT_ROLE_PUBLIC addresses: "192.0.2.10/24" addresses: "2001:db8:0:1::10/64"
        mac: "{gw_mac}" }}
ports {{ name: "local" vdev: "net_pcap1,rx_pcap=local-in.pcap,tx_pcap=local-out.pcap"
        role: PORT_ROLE_LOCAL addresses: "169.254.77.1/30" mac: "{local_mac}" }}
routes {{ prefix: "0.0.0.0/0" next_hop: "192.0.2.1" port: "public" }}
routes {{ prefix: "::/0" next_hop: "2001:db8:0:1::1" port: "public" }}
neighbors {{ address: "192.0.2.1" mac: "{peer_mac}" port: "public" }}
neighbors {{ address: "2001:db8:0:1::1" mac: "{peer_mac}" port: "public" }}
neighbors {{ address: "169.254.77.2" mac: "{host_mac}" port: "local" }}
pseudo_tcp {{
  listeners {{ address: "0.0.0.0" ports: [10000] }}
  listeners {{ address: "::" ports: [10000] }}
  strict_trailer: true
  connections {{ local_address: "{gw4}" peer_address: "{peer4}" local_port: 10000 peer_port: 5555
                send_next: 1000 receive_next: 5000 ike_initiator_spis: {ispi} esp_spis: {esp} }}
  connections {{ local_address: "{gw6}" peer_address: "{peer6}" local_port: 10000 peer_port: 5555
                send_next: 7000 receive_next: 9000 ike_initiator_spis: {ispi} }}
}}
workers {{ count: 1 }}
"""


def trailer(proto, ip_id=0, magic=b"\x21\x45\x6c\x69"):
    return b"\x00" * 4 + struct.pack(">H", ip_id) + b"\x00\x00" + magic + bytes([0x10, proto, 1, 0])


def ike(spi_i, spi_r=0, size=64):
    nonce = b"\x5a" * (size - 32)
    return (struct.pack(">QQBBBBII", spi_i, spi_r, 40, 0x20, 34, 0x08, 0, size)
            + struct.pack(">BBH", 0, 0, 4 + len(nonce)) + nonce)


def seg(l3, seq, ack, payload=b"", flags="A", sport=5555, dport=10000, chksum=None):
    tcp = TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, window=65535)
    if chksum is not None:
        tcp.chksum = chksum
    return Ether(src=PEER_MAC, dst=GW_MAC) / l3 / tcp / Raw(payload)


@pytest.fixture
def run(tmp_path):
    def go(public_in, local_in):
        wrpcap(str(tmp_path / "public-in.pcap"), public_in)
        wrpcap(str(tmp_path / "local-in.pcap"), local_in)
        cfg = CONFIG.format(prefix=unique("tcpsec-pcap"), gw_mac=GW_MAC, local_mac=LOCAL_MAC,
                            peer_mac=PEER_MAC, host_mac=HOST_MAC, gw4=GW4, peer4=PEER4, gw6=GW6,
                            peer6=PEER6, ispi=ISPI, esp=ESP_OUT)
        counters = run_pcap(cfg, str(tmp_path), duration=1.0)
        pub = rdpcap(str(tmp_path / "public-out.pcap"))
        loc = rdpcap(str(tmp_path / "local-out.pcap"))
        return counters, pub, loc
    return go


def test_decap_and_encap_are_byte_exact(run, tmp_path):
    ike_in = bytes(UDP(sport=500, dport=500, chksum=0) / ike(ISPI))
    esp_in = struct.pack(">II", 0x11111111, 7) + b"\xab" * 40
    ike6_in = bytes(UDP(sport=500, dport=500, chksum=0) / ike(ISPI, size=80))
    public_in = [
        seg(IP(src=PEER4, dst=GW4, id=0x77), 5000, 1000, ike_in + trailer(17, 0x77)),
        seg(IP(src=PEER4, dst=GW4), 5000 + len(ike_in) + 16, 1000, esp_in + trailer(50)),
        seg(IPv6(src=PEER6, dst=GW6), 9000, 7000, ike6_in + trailer(17)),
    ]
    ike_out = UDP(sport=500, dport=500) / ike(ISPI, 0x99, size=72)
    esp_out = struct.pack(">II", ESP_OUT, 1) + b"\xcd" * 36
    local_in = [
        Ether(src=HOST_MAC, dst=LOCAL_MAC) / IP(src=GW4, dst=PEER4, id=0x4242) / ike_out,
        Ether(src=HOST_MAC, dst=LOCAL_MAC) / IP(src=GW4, dst=PEER4, proto=50) / Raw(esp_out),
        Ether(src=HOST_MAC, dst=LOCAL_MAC) / IPv6(src=GW6, dst=PEER6) / ike_out,
    ]
    counters, pub, loc = run(public_in, local_in)

    # Decapsulated, to the host: the inner packets exactly (IPv4 UDP checksum
    # zero, IPv6 UDP checksum recomputed).
    want_loc = [
        Ether(src=LOCAL_MAC, dst=HOST_MAC) / IP(src=PEER4, dst=GW4, id=0x77, proto=17) / Raw(ike_in),
        Ether(src=LOCAL_MAC, dst=HOST_MAC) / IP(src=PEER4, dst=GW4, proto=50) / Raw(esp_in),
        Ether(src=LOCAL_MAC, dst=HOST_MAC) / IPv6(src=PEER6, dst=GW6) / UDP(ike6_in),
    ]
    want_loc[2][UDP].chksum = None
    assert [bytes(p) for p in loc] == [bytes(p) for p in want_loc]

    # Encapsulated, to the peer: sequence numbers continue from the installed
    # state, ACK numbers follow what was received.
    rcv4 = 5000 + len(ike_in) + 16 + len(esp_in) + 16
    ike_bytes = bytearray(bytes(ike_out))
    ike_bytes[6:8] = b"\x00\x00"
    ike_bytes = bytes(ike_bytes)
    want_pub = [
        Ether(src=GW_MAC, dst=PEER_MAC) / IP(src=GW4, dst=PEER4, id=0x4242)
        / TCP(sport=10000, dport=5555, seq=1000, ack=rcv4, flags="A", window=65535)
        / Raw(ike_bytes + trailer(17, 0x4242)),
        Ether(src=GW_MAC, dst=PEER_MAC) / IP(src=GW4, dst=PEER4)
        / TCP(sport=10000, dport=5555, seq=1000 + len(ike_bytes) + 16, ack=rcv4, flags="A", window=65535)
        / Raw(esp_out + trailer(50)),
        Ether(src=GW_MAC, dst=PEER_MAC) / IPv6(src=GW6, dst=PEER6)
        / TCP(sport=10000, dport=5555, seq=7000, ack=9000 + len(ike6_in) + 16, flags="A", window=65535)
        / Raw(ike_bytes + trailer(17)),
    ]
    assert [bytes(p) for p in pub] == [bytes(p) for p in want_pub]
    c = counters["counters"]
    assert c["ctcp_decap_ike"] == 2 and c["ctcp_decap_esp"] == 1
    assert c["ctcp_encap_ike"] == 2 and c["ctcp_encap_esp"] == 1
    assert sum(counters["drops"].values()) == 0, counters["drops"]

    # tshark's tcpencap dissector decodes every segment we wrote.
    out = subprocess.run(["tshark", "-r", str(tmp_path / "public-out.pcap"), "-d",
                          "tcp.port==10000,tcpencap", "-T", "fields", "-e", "tcpencap.proto",
                          "-e", "isakmp.ispi", "-e", "esp.spi", "-e", "_ws.malformed"],
                         capture_output=True, text=True, check=True).stdout
    rows = [r.split("\t") for r in out.rstrip("\n").split("\n")]
    assert [r[0] for r in rows] == ["0x11", "0x32", "0x11"], out
    assert rows[0][1] == rows[2][1] == "aaaa0000bbbb0001"
    assert rows[1][2] == "0x22222222"
    assert all(r[3] == "" for r in rows), out


# (description, segment, drop reason it must be counted under)
HOSTILE = [
    ("bad TCP checksum", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 1000, b"x" * 40, chksum=0x1234),
     "tcp_bad_checksum"),
    ("trailer too short", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 1000, b"\x00" * 10),
     "ctcp_trailer_truncated"),
    ("trailer not zero", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 1000,
                                     struct.pack(">II", 1, 1) + b"\x01" * 8 + b"\x01" + trailer(50)[1:]),
     "ctcp_trailer_bad_zero"),
    ("bad magic (strict)", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 1000,
                                       struct.pack(">II", 1, 1) + b"\x00" * 8 + trailer(50, magic=b"ABCD")),
     "ctcp_trailer_bad_magic"),
    ("AH refused", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 1000, b"\x00" * 24 + trailer(51)),
     "ctcp_ah_ipcomp_refused"),
    ("IPComp refused", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 1000, b"\x00" * 24 + trailer(108)),
     "ctcp_ah_ipcomp_refused"),
    ("unknown inner protocol", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 1000, b"\x00" * 24 + trailer(6)),
     "ctcp_trailer_bad_proto"),
    ("inner UDP length lies", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 1000,
                                          bytes(UDP(sport=500, dport=500, len=200) / ike(ISPI)) + trailer(17)),
     "ctcp_inner_udp_bad_length"),
    ("ESP SPI zero", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 1000, b"\x00" * 24 + trailer(50)),
     "ctcp_inner_bad_spi"),
    ("ESP truncated", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 1000, b"\x01\x02\x03" + trailer(50)),
     "ctcp_inner_esp_truncated"),
    ("TCP data offset too big", lambda: Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=PEER4, dst=GW4)
     / TCP(sport=5555, dport=10000, dataofs=15, flags="A"), "tcp_bad_data_offset"),
    ("truncated IP", lambda: Ether(bytes(seg(IP(src=PEER4, dst=GW4), 5000, 1000, b"x" * 40))[:30]),
     "ip_truncated"),
    ("IP total length beyond frame", lambda: Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=PEER4, dst=GW4, len=400)
     / TCP(sport=5555, dport=10000), "ip_bad_total_length"),
    ("bad IPv4 header checksum", lambda: Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=PEER4, dst=GW4, chksum=1)
     / TCP(sport=5555, dport=10000), "ip_bad_checksum"),
    ("IPv4 fragment", lambda: Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=PEER4, dst=GW4, flags="MF")
     / TCP(sport=5555, dport=10000), "ip_fragment"),
    ("SYN with FIN", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 0, flags="SF"), "tcp_bad_flags"),
    ("segment to a closed port", lambda: seg(IP(src=PEER4, dst=GW4), 5000, 0, flags="S", dport=2222),
     "tcp_no_connection"),
    ("reset out of window", lambda: seg(IP(src=PEER4, dst=GW4), 5000 + 10_000_000, 0, flags="R"),
     "tcp_rst_out_of_window"),
    ("not our address", lambda: seg(IP(src=PEER4, dst="192.0.2.99"), 5000, 1000, b"x" * 20),
     "ip_not_for_us"),
]


@pytest.mark.parametrize("name,make,reason", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_segment_is_counted_and_harmless(run, name, make, reason):
    # The hostile segment, then a valid one on the same connection: the valid
    # one must still pass (nothing applied from the refused one).
    ike_in = bytes(UDP(sport=500, dport=500, chksum=0) / ike(ISPI))
    good = seg(IP(src=PEER4, dst=GW4, id=1), 5000, 1000, ike_in + trailer(17, 1))
    counters, pub, loc = run([make(), good], [])
    assert counters["drops"].get(reason, 0) == 1, counters["drops"]
    others = {k: v for k, v in counters["drops"].items() if k != reason and v}
    assert not others, others
    assert counters["counters"]["ctcp_decap_ike"] == 1
    assert len(loc) == 1 and bytes(loc[0][IP].payload) == ike_in


def test_listener_handshake_and_stray_segments(run):
    public_in = [
        seg(IP(src="203.0.113.9", dst=GW4), 100, 0, flags="S", sport=6000),
        seg(IPv6(src="2001:db8:5::9", dst=GW6), 200, 0, flags="S", sport=6001),
        seg(IP(src="203.0.113.9", dst=GW4), 300, 77, b"junk", flags="A", sport=6002),
        seg(IP(src=PEER4, dst=GW4), 5000, 1000, flags="A"),  # keepalive on the installed connection
    ]
    counters, pub, loc = run(public_in, [])
    assert len(pub) == 3
    synack4, synack6, rst = (p[TCP] for p in pub)
    assert synack4.flags == "SA" and synack4.ack == 101 and synack4.dport == 6000
    assert synack6.flags == "SA" and synack6.ack == 201 and synack6.dport == 6001
    assert rst.flags == "RA" and rst.seq == 77 and rst.ack == 304  # RFC 793 reset generation
    c = counters["counters"]
    assert c["ctcp_syn_received"] == 2 and c["ctcp_rst_sent"] == 1 and c["ctcp_keepalives"] == 1
    assert counters["connections"] == 4  # two installed, two half-open
