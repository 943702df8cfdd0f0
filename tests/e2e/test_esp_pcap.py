"""Manually keyed ESP through the real binary on pcap ports, checked by an
independent implementation: every packet the dataplane encrypts must
decrypt with scapy's SecurityAssociation, and every packet scapy encrypts
must come out of the dataplane as the original inner packet - for every
algorithm, over plain ESP, UDP encapsulation (RFC 3948) and pseudo-TCP, with
IPv4 and IPv6 inner and outer headers. Replays and forgeries are counted."""

import hashlib
import hmac
import os
import struct
import subprocess

import pytest
from scapy.all import rdpcap, wrpcap
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from tcpsec_e2e import DATAPLANE, run_pcap, unique

GW_MAC, NH_MAC, PROT_MAC, HOST_MAC, LOCAL_MAC = ("02:00:00:00:00:01", "02:00:00:00:01:01",
                                                 "02:00:00:00:00:02", "02:00:00:00:02:05",
                                                 "02:00:00:00:00:03")
GW = {4: "192.0.2.10", 6: "2001:db8:0:1::10"}
PEER = {4: "198.51.100.20", 6: "2001:db8:99::20"}
LAN = {4: ("10.10.0.5", "10.20.0.9"), 6: ("2001:db8:10::5", "2001:db8:20::9")}
OUT_SPI, IN_SPI = 0x1000A001, 0x2000B001

# name: (proto enum, scapy crypt, scapy auth, encryption key bytes, integrity key bytes)
ALGOS = {
    "AES_GCM_128": ("AES-GCM", "NULL", 20, 0),
    "AES_GCM_256": ("AES-GCM", "NULL", 36, 0),
    "CHACHA20_POLY1305": ("CHACHA20-POLY1305", "NULL", 36, 0),
    "AES_CBC_128_HMAC_SHA256": ("AES-CBC", "SHA2-256-128", 16, 32),
    "AES_CBC_256_HMAC_SHA256": ("AES-CBC", "SHA2-256-128", 32, 32),
    "AES_CBC_128_HMAC_SHA1": ("AES-CBC", "HMAC-SHA1-96", 16, 20),
    "AES_CBC_256_HMAC_SHA1": ("AES-CBC", "HMAC-SHA1-96", 32, 20),
    "NULL_HMAC_SHA256": ("NULL", "SHA2-256-128", 0, 32),
    "NULL_HMAC_SHA1": ("NULL", "HMAC-SHA1-96", 0, 20),
}


def esc(b):
    return "".join(f"\\x{c:02x}" for c in b)


def keys(algo, salt):
    _, _, ek, ik = ALGOS[algo]
    return (bytes((salt + i) % 256 for i in range(ek)), bytes((salt * 7 + i) % 256 for i in range(ik)))


def config(algo, encap, outer, esn, public_mtu=0, protected_mtu=0):
    ek_out, ik_out = keys(algo, 1)
    ek_in, ik_in = keys(algo, 2)
    enc = {"plain": "plain {}", "udp": "udp {}", "tcp": "pseudo_tcp { local_port: 10000 peer_port: 5555 }"}[encap]
    conn = ""
    if encap == "tcp":
        conn = (f'connections {{ local_address: "{GW[outer]}" peer_address: "{PEER[outer]}" '
                f"local_port: 10000 peer_port: 5555 send_next: 1000 receive_next: 5000 esp_spis: {OUT_SPI} }}")
    sa = lambda spi, d, ek, ik: f"""
sas {{ spi: {spi} direction: {d} mode: MODE_TUNNEL tunnel_local: "{GW[outer]}" tunnel_peer: "{PEER[outer]}"
      algorithm: ESP_ALGORITHM_{algo} encryption_key: "{esc(ek)}" integrity_key: "{esc(ik)}"
      esn: {"true" if esn else "false"} encapsulation {{ {enc} }} }}"""
    return f"""
eal {{ file_prefix: "{unique('tcpsec-esp')}" no_huge: true no_pci: true memory_mb: 512
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "net_pcap0,rx_pcap=public-in.pcap,tx_pcap=public-out.pcap"
        role: PORT_ROLE_PUBLIC addresses: "192.0.2.10/24" addresses: "2001:db8:0:1::10/64" mac: "{GW_MAC}"
        mtu: {public_mtu} }}
ports {{ name: "protected" vdev: "net_pcap1,rx_pcap=protected-in.pcap,tx_pcap=protected-out.pcap"
        role: PORT_ROLE_PROTECTED addresses: "10.10.0.1/16" addresses: "2001:db8:10::1/64" mac: "{PROT_MAC}"
        mtu: {protected_mtu} }}
ports {{ name: "local" vdev: "net_pcap2,rx_pcap=local-in.pcap,tx_pcap=local-out.pcap"
        role: PORT_ROLE_LOCAL addresses: "169.254.77.1/30" mac: "{LOCAL_MAC}" }}
routes {{ prefix: "0.0.0.0/0" next_hop: "192.0.2.1" port: "public" }}
routes {{ prefix: "::/0" next_hop: "2001:db8:0:1::1" port: "public" }}
neighbors {{ address: "192.0.2.1" mac: "{NH_MAC}" port: "public" }}
neighbors {{ address: "2001:db8:0:1::1" mac: "{NH_MAC}" port: "public" }}
neighbors {{ address: "10.10.0.5" mac: "{HOST_MAC}" port: "protected" }}
neighbors {{ address: "2001:db8:10::5" mac: "{HOST_MAC}" port: "protected" }}
pseudo_tcp {{ {conn} }}
{sa(OUT_SPI, "DIRECTION_OUTBOUND", ek_out, ik_out)}
{sa(IN_SPI, "DIRECTION_INBOUND", ek_in, ik_in)}
policies {{ priority: 10 direction: DIRECTION_OUTBOUND action: POLICY_ACTION_PROTECT sa_spi: {OUT_SPI}
           match {{ local_prefixes: "10.10.0.0/16" remote_prefixes: "10.20.0.0/16" }} }}
policies {{ priority: 11 direction: DIRECTION_OUTBOUND action: POLICY_ACTION_PROTECT sa_spi: {OUT_SPI}
           match {{ local_prefixes: "2001:db8:10::/48" remote_prefixes: "2001:db8:20::/48" }} }}
workers {{ count: 1 }}
"""


def scapy_sa(algo, salt, spi, outer, esn):
    crypt, auth, _, _ = ALGOS[algo]
    ek, ik = keys(algo, salt)
    hdr = IP(src=GW[outer], dst=PEER[outer]) if outer == 4 else IPv6(src=GW[outer], dst=PEER[outer])
    if salt == 2:  # inbound: the peer's view, tunnel from the peer to us
        hdr = IP(src=PEER[outer], dst=GW[outer]) if outer == 4 else IPv6(src=PEER[outer], dst=GW[outer])
    kw = {"esn_en": True, "esn": 0} if esn else {}
    return SecurityAssociation(ESP, spi=spi, crypt_algo=crypt, crypt_key=ek, auth_algo=auth,
                               auth_key=ik if ik else None, tunnel_header=hdr, **kw)


def inner_packets(inner, reverse=False, ttl=64):
    src, dst = LAN[inner][::-1] if reverse else LAN[inner]
    hop = {"ttl": ttl} if inner == 4 else {"hlim": ttl}
    L3 = IP if inner == 4 else IPv6
    return [L3(src=src, dst=dst, **hop) / UDP(sport=1000 + i, dport=53) / Raw(bytes([i]) * (20 + 97 * i))
            for i in range(4)]


def forwarded(packets):
    """The packets as a router forwards them: TTL / hop limit one less."""
    out = []
    for p in packets:
        q = p.__class__(bytes(p))
        if IP in q:
            q.ttl -= 1
            del q.chksum
        else:
            q.hlim -= 1
        out.append(q.__class__(bytes(q)))
    return out


def strip_outer(frame, encap):
    """The ESP packet (as scapy's L3) inside an output frame."""
    p = Ether(bytes(frame))
    l3 = p[IP] if IP in p else p[IPv6]
    if encap == "plain":
        return l3
    if encap == "udp":
        assert l3[UDP].dport == 4500 and l3[UDP].sport == 4500
        esp = bytes(l3[UDP].payload)
    else:
        tcp = l3[TCP]
        data = bytes(tcp.payload)
        assert data[-16:-4] == b"\x00" * 8 + b"\x21\x45\x6c\x69" and data[-3] == 50
        esp = data[:-16]
    hdr = l3.copy()
    hdr.remove_payload()
    if IP in p:
        hdr.proto, hdr.len, hdr.chksum = 50, None, None
    else:
        hdr.nh, hdr.plen = 50, None
    return hdr.__class__(bytes(hdr / Raw(esp)))


def wrap_outer(esp_l3, encap, outer, seq):
    """Puts scapy's ESP packet on the wire the way the peer would send it."""
    esp = bytes(esp_l3.payload)
    L3 = IP if outer == 4 else IPv6
    base = L3(src=PEER[outer], dst=GW[outer])
    if encap == "plain":
        l3 = esp_l3
    elif encap == "udp":
        l3 = base / UDP(sport=4500, dport=4500) / Raw(esp)
    else:
        trailer = b"\x00" * 8 + b"\x21\x45\x6c\x69\x10\x32\x01\x00"
        l3 = base / TCP(sport=5555, dport=10000, seq=seq, ack=1000, flags="A", window=65535) / Raw(esp + trailer)
        seq += len(esp) + 16
    return Ether(src=NH_MAC, dst=GW_MAC) / l3, seq


def hmac_esn_fix(algo, key, esp_l3, seq_hi=0):
    """scapy 2.5 leaves the ESN high bits out of ESP's HMAC (it applies them
    to AH only); RFC 4303 2.2.1 puts them in. Recompute the ICV as the RFC
    says and return the packet with it (AEADs are unaffected)."""
    crypt, auth, _, _ = ALGOS[algo]
    if auth == "NULL":
        return esp_l3
    digest, n = (hashlib.sha256, 16) if auth == "SHA2-256-128" else (hashlib.sha1, 12)
    esp = bytes(esp_l3.payload)
    icv = hmac.new(key, esp[:-n] + struct.pack("!L", seq_hi), digest).digest()[:n]
    hdr = esp_l3.copy()
    hdr.remove_payload()
    return hdr.__class__(bytes(hdr / Raw(esp[:-n] + icv)))


CASES = ([(a, "plain", 4, 4, False) for a in ALGOS]
         + [("AES_GCM_128", e, 4, 4, False) for e in ("udp", "tcp")]
         + [("AES_GCM_128", "plain", o, i, False) for o, i in ((4, 6), (6, 4), (6, 6))]
         + [("AES_GCM_256", "tcp", 6, 6, False), ("AES_CBC_128_HMAC_SHA256", "plain", 4, 4, True),
            ("AES_GCM_128", "udp", 4, 4, True)])


@pytest.mark.parametrize("algo,encap,outer,inner,esn", CASES,
                         ids=[f"{a}-{e}-o{o}i{i}{'-esn' if n else ''}" for a, e, o, i, n in CASES])
def test_esp_interop_with_scapy(tmp_path, algo, encap, outer, inner, esn):
    out_sa = scapy_sa(algo, 1, OUT_SPI, outer, esn)
    in_sa = scapy_sa(algo, 2, IN_SPI, outer, esn)
    plain = inner_packets(inner)
    # Protected side: plain traffic to be encrypted.
    wrpcap(str(tmp_path / "protected-in.pcap"),
           [Ether(src=HOST_MAC, dst=PROT_MAC) / p for p in plain])
    # Public side: the peer's ESP, then a replay of the first and a forgery.
    frames, seq = [], 5000
    encrypted = [in_sa.encrypt(p) for p in inner_packets(inner, reverse=True)]
    if esn:
        encrypted = [hmac_esn_fix(algo, keys(algo, 2)[1], e) for e in encrypted]
    for e in encrypted:
        f, seq = wrap_outer(e, encap, outer, seq)
        frames.append(f)
    replay, seq = wrap_outer(encrypted[0], encap, outer, seq)
    # The forgery has a sequence number of its own (5): one already accepted
    # may be refused as a replay before its ICV is even checked.
    fresh = in_sa.encrypt(inner_packets(inner, reverse=True)[0])
    if esn:
        fresh = hmac_esn_fix(algo, keys(algo, 2)[1], fresh)
    forged = bytearray(bytes(fresh))
    forged[-1] ^= 0x01
    forgery, seq = wrap_outer(fresh.__class__(bytes(forged)), encap, outer, seq)
    wrpcap(str(tmp_path / "public-in.pcap"), frames + [replay, forgery])
    wrpcap(str(tmp_path / "local-in.pcap"), [])

    counters = run_pcap(config(algo, encap, outer, esn), str(tmp_path), duration=1.0)
    c, d = counters["counters"], {k: v for k, v in counters["drops"].items() if v}

    # Everything we encrypted decrypts with scapy into the original packet.
    out = rdpcap(str(tmp_path / "public-out.pcap"))
    assert len(out) == len(plain), (c, d)
    for frame, original in zip(out, forwarded(plain)):
        esp_l3 = strip_outer(frame, encap)
        assert esp_l3[ESP].spi == OUT_SPI
        if esn and ALGOS[algo][1] != "NULL":
            # Check the RFC's ICV ourselves (see hmac_esn_fix), then decrypt.
            assert bytes(hmac_esn_fix(algo, keys(algo, 1)[1], esp_l3)) == bytes(esp_l3)
            got = out_sa.decrypt(esp_l3, verify=False)
        else:
            got = out_sa.decrypt(esp_l3)
        assert bytes(got) == bytes(original)
    # Everything scapy encrypted comes out in clear on the protected side.
    prot = rdpcap(str(tmp_path / "protected-out.pcap"))
    want = [bytes(p) for p in forwarded(inner_packets(inner, reverse=True))]
    assert [bytes(Ether(bytes(f)).payload) for f in prot] == want, (c, d)
    assert all(Ether(bytes(p)).dst == HOST_MAC for p in prot)
    assert c["esp_encrypted"] == 4 and c["esp_decrypted"] == 4
    assert d.get("esp_replay", 0) == 1, d
    assert d.get("esp_bad_icv", 0) == 1, d
    assert sum(d.values()) == 2, d


def test_gcm_and_engine_sas_in_the_same_bursts(tmp_path):
    """AES-GCM SAs are sealed on the spot, the others go through the crypto
    engine's op pass: bursts that mix both must encrypt every packet with its
    own SA. IPv4 traffic takes an AES-GCM-128 SA, IPv6 an AES-CBC-128/HMAC-SHA256
    one; the first burst (32 frames) is all CBC, so the second, mixed one
    reuses batch slots whose ops the first burst filled."""
    cbc_spi = OUT_SPI + 1
    ek, ik = keys("AES_CBC_128_HMAC_SHA256", 3)
    v6_policy = 'sa_spi: %d\n           match { local_prefixes: "2001:db8:10::/48"'
    cfg = config("AES_GCM_128", "plain", 4, False).replace(v6_policy % OUT_SPI, v6_policy % cbc_spi)
    assert f"sa_spi: {cbc_spi}" in cfg
    cfg += f"""
sas {{ spi: {cbc_spi} direction: DIRECTION_OUTBOUND mode: MODE_TUNNEL tunnel_local: "{GW[4]}"
      tunnel_peer: "{PEER[4]}" algorithm: ESP_ALGORITHM_AES_CBC_128_HMAC_SHA256
      encryption_key: "{esc(ek)}" integrity_key: "{esc(ik)}" encapsulation {{ plain {{}} }} }}
"""
    v4 = [IP(src=LAN[4][0], dst=LAN[4][1]) / UDP(sport=2000 + i, dport=53) / Raw(bytes([i]) * (10 + 37 * i))
          for i in range(16)]
    v6 = [IPv6(src=LAN[6][0], dst=LAN[6][1]) / UDP(sport=3000 + i, dport=53) / Raw(bytes([i]) * (5 + 29 * i))
          for i in range(48)]
    # Burst 1: 32 CBC. Burst 2: GCM and CBC alternating, in the buffers burst
    # 1 freed (a stale op of burst 1 left in a GCM slot would re-encrypt one
    # of them).
    plain = v6[:32] + [p for pair in zip(v4, v6[32:]) for p in pair]
    wrpcap(str(tmp_path / "protected-in.pcap"), [Ether(src=HOST_MAC, dst=PROT_MAC) / p for p in plain])
    wrpcap(str(tmp_path / "public-in.pcap"), [])
    wrpcap(str(tmp_path / "local-in.pcap"), [])
    counters = run_pcap(cfg, str(tmp_path), duration=1.0)

    gcm = scapy_sa("AES_GCM_128", 1, OUT_SPI, 4, False)
    cbc = SecurityAssociation(ESP, spi=cbc_spi, crypt_algo="AES-CBC", crypt_key=ek, auth_algo="SHA2-256-128",
                              auth_key=ik, tunnel_header=IP(src=GW[4], dst=PEER[4]))
    out = rdpcap(str(tmp_path / "public-out.pcap"))
    assert len(out) == len(plain), counters
    # Each SA's packets in order (a burst's IPv4 packets are classified, and
    # so leave, before its IPv6 ones).
    got = {OUT_SPI: [], cbc_spi: []}
    for frame in out:
        esp_l3 = strip_outer(frame, "plain")
        spi = esp_l3[ESP].spi
        assert spi in got, f"SPI {spi:#x}: a packet was overwritten after it was sealed"
        got[spi].append(bytes((gcm if spi == OUT_SPI else cbc).decrypt(esp_l3)))
    assert got[OUT_SPI] == [bytes(p) for p in forwarded(v4)], counters
    assert got[cbc_spi] == [bytes(p) for p in forwarded(v6)], counters
    assert counters["counters"]["esp_encrypted"] == len(plain)


def test_policy_discard_and_bypass(tmp_path):
    cfg = config("AES_GCM_128", "plain", 4, False).replace(
        "workers {", """policies { priority: 1 direction: DIRECTION_OUTBOUND action: POLICY_ACTION_BYPASS
           match { local_prefixes: "10.10.0.0/16" remote_prefixes: "10.30.0.0/16" } }
workers {""")
    pkts = [Ether(src=HOST_MAC, dst=PROT_MAC) / IP(src="10.10.0.5", dst="10.30.0.1") / ICMP(),
            Ether(src=HOST_MAC, dst=PROT_MAC) / IP(src="10.10.0.5", dst="10.40.0.1") / ICMP()]
    wrpcap(str(tmp_path / "protected-in.pcap"), pkts)
    wrpcap(str(tmp_path / "public-in.pcap"), [])
    wrpcap(str(tmp_path / "local-in.pcap"), [])
    counters = run_pcap(cfg, str(tmp_path), duration=1.0)
    out = rdpcap(str(tmp_path / "public-out.pcap"))
    assert len(out) == 1 and out[0][IP].dst == "10.30.0.1"  # bypassed in clear
    assert counters["counters"]["spd_bypass"] == 1
    assert counters["drops"]["spd_discard"] == 1  # no policy: the default is DISCARD


def test_ttl_one_is_not_forwarded(tmp_path):
    pkts = [Ether(src=HOST_MAC, dst=PROT_MAC) / IP(src=LAN[4][0], dst=LAN[4][1], ttl=1) / ICMP(),
            Ether(src=HOST_MAC, dst=PROT_MAC) / IP(src=LAN[4][0], dst=LAN[4][1], ttl=2) / ICMP()]
    wrpcap(str(tmp_path / "protected-in.pcap"), pkts)
    wrpcap(str(tmp_path / "public-in.pcap"), [])
    wrpcap(str(tmp_path / "local-in.pcap"), [])
    counters = run_pcap(config("AES_GCM_128", "plain", 4, False), str(tmp_path), duration=1.0)
    assert counters["drops"]["ttl_exceeded"] == 1
    assert counters["counters"]["esp_encrypted"] == 1


def run_protected_plain_gcm(tmp_path, packets):
    """The protected host sends `packets` through tunnel 4 (AES-GCM-128,
    plain ESP, MTU 1500): (ESP frames out, frames back to the host, counters)."""
    wrpcap(str(tmp_path / "protected-in.pcap"), [Ether(src=HOST_MAC, dst=PROT_MAC) / p for p in packets])
    wrpcap(str(tmp_path / "public-in.pcap"), [])
    wrpcap(str(tmp_path / "local-in.pcap"), [])
    counters = run_pcap(config("AES_GCM_128", "plain", 4, False), str(tmp_path), duration=1.0)
    return (rdpcap(str(tmp_path / "public-out.pcap")), rdpcap(str(tmp_path / "protected-out.pcap")),
            counters)


def test_protected_fast_and_generic_frames_in_one_burst(tmp_path):
    """A protected burst mixes the frames the two-pass fast path takes
    (Ethernet + 20-byte IPv4 header, whole) with those it leaves to the full
    parse: IP options, a fragment, Ethernet padding, a bad header checksum,
    a total length beyond the frame. The good ones all leave encrypted, in
    order, TTL one less and otherwise unchanged; the bad ones are counted."""
    src, dst = LAN[4]
    plain = IP(src=src, dst=dst) / UDP(sport=1000, dport=2000) / Raw(b"a" * 40)
    options = IP(src=src, dst=dst, options=b"\x94\x04\x00\x00") / UDP(sport=1001, dport=2000)
    fragment = IP(src=src, dst=dst, flags="MF", id=77) / UDP(sport=1002, dport=2000) / Raw(b"f" * 16)
    short = IP(src=src, dst=dst) / ICMP()  # 28 bytes: the frame is padded to 60
    bad_sum = IP(bytes(IP(src=src, dst=dst, chksum=0x1234) / UDP(sport=1003, dport=2000)))
    too_long = IP(bytes(IP(src=src, dst=dst, len=200) / UDP(sport=1004, dport=2000)))
    good = [plain, options, fragment, short]
    frames = [plain, bad_sum, options, fragment, too_long, short, plain]
    out, _, counters = run_protected_plain_gcm(tmp_path, frames)
    sa = scapy_sa("AES_GCM_128", 1, OUT_SPI, 4, False)
    got = [bytes(sa.decrypt(strip_outer(f, "plain"))) for f in out]
    assert got == [bytes(p) for p in forwarded(good + [plain])], counters
    assert counters["counters"]["esp_encrypted"] == 5
    assert counters["drops"]["ip_bad_checksum"] == 1
    assert counters["drops"]["ip_bad_total_length"] == 1


def test_protected_ipv6_fast_and_generic_frames_in_one_burst(tmp_path):
    """IPv6 in a protected burst: TCP and UDP without extension headers take
    the fast pass, a hop-by-hop header, a fragment header and ICMPv6 the
    generic parse. The good ones all leave encrypted, in order, hop limit one
    less and otherwise unchanged; a hop limit of 1 and a payload length
    beyond the frame are counted."""
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
    src, dst = LAN[6]
    udp = IPv6(src=src, dst=dst) / UDP(sport=1000, dport=2000) / Raw(b"u" * 40)
    tcp = IPv6(src=src, dst=dst) / TCP(sport=1001, dport=2000, flags="A") / Raw(b"t" * 7)
    hbh = IPv6(src=src, dst=dst) / IPv6ExtHdrHopByHop() / UDP(sport=1002, dport=2000)
    frag = IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(id=5, m=1) / UDP(sport=1003, dport=2000) / Raw(b"f" * 8)
    echo = IPv6(src=src, dst=dst) / ICMPv6EchoRequest(id=1, seq=1)
    short = IPv6(src=src, dst=dst) / UDP(sport=1004, dport=2000)  # 48 bytes: the frame is padded to 60
    expiring = IPv6(src=src, dst=dst, hlim=1) / UDP(sport=1005, dport=2000)
    too_long = IPv6(bytes(IPv6(src=src, dst=dst, plen=200) / UDP(sport=1006, dport=2000)))
    good = [udp, tcp, hbh, frag, echo, short, udp]
    frames = [udp, tcp, expiring, hbh, too_long, frag, echo, short, udp]
    out, _, counters = run_protected_plain_gcm(tmp_path, frames)
    sa = scapy_sa("AES_GCM_128", 1, OUT_SPI, 4, False)
    got = [bytes(sa.decrypt(strip_outer(f, "plain"))) for f in out]
    assert got == [bytes(p) for p in forwarded(good)], counters
    assert counters["counters"]["esp_encrypted"] == len(good)
    assert counters["drops"]["ttl_exceeded"] == 1
    assert counters["drops"]["ip_bad_total_length"] == 1


def test_pmtu_boundary_is_exact(tmp_path):
    """The largest inner packet that fits is sent, one byte more is refused:
    AES-GCM tunnel over IPv4 adds 20 + 8 + 8 + 2 + 16 bytes plus padding to 4,
    so 1446 bytes make a 1500-byte ESP packet and 1447 would make 1504."""
    fits = IP(src=LAN[4][0], dst=LAN[4][1], flags="DF") / UDP(sport=7, dport=7) / Raw(b"f" * 1418)
    over = IP(src=LAN[4][0], dst=LAN[4][1], flags="DF") / UDP(sport=7, dport=7) / Raw(b"o" * 1419)
    assert len(fits) == 1446 and len(over) == 1447
    out, icmp, counters = run_protected_plain_gcm(tmp_path, [fits, over])
    assert [len(bytes(f)) - 14 for f in out] == [1500]
    sa = scapy_sa("AES_GCM_128", 1, OUT_SPI, 4, False)
    inner = IP(bytes(sa.decrypt(strip_outer(out[0], "plain"))))
    assert len(inner) == 1446 and inner.ttl == 63 and bytes(inner[UDP]) == bytes(fits[UDP])
    assert len(icmp) == 1 and icmp[0][ICMP].type == 3 and icmp[0][ICMP].code == 4
    assert counters["counters"]["pmtu_icmp_sent"] == 1


def test_pmtu_inner_fragmentation_and_too_big(tmp_path):
    """A protected packet that no longer fits the public MTU once ESP is
    added: without DF it is fragmented before encryption (each fragment its
    own ESP packet, reassembled by the far host); with DF the source gets an
    ICMP "fragmentation needed" carrying the MTU that fits."""
    sa = scapy_sa("AES_GCM_128", 1, OUT_SPI, 4, False)
    big = IP(src=LAN[4][0], dst=LAN[4][1], flags=0, id=0x4444) / UDP(sport=7, dport=7) / Raw(b"z" * 1452)
    big_df = IP(src=LAN[4][0], dst=LAN[4][1], flags="DF") / UDP(sport=7, dport=7) / Raw(b"z" * 1452)
    out, icmp, counters = run_protected_plain_gcm(tmp_path, [big, big_df])
    assert len(out) == 2 and all(len(bytes(f)) - 14 <= 1500 for f in out)
    frags = [IP(bytes(sa.decrypt(strip_outer(f, "plain")))) for f in out]
    assert frags[0].flags == "MF" and frags[1].frag > 0
    assert b"".join(bytes(f.payload) for f in frags) == bytes(big[UDP])
    assert len(icmp) == 1 and icmp[0][ICMP].type == 3 and icmp[0][ICMP].code == 4
    # What fits: 1500 minus outer IPv4 (20), ESP header (8), IV (8), trailer
    # (2 + padding) and ICV (16), rounded down for the 4-byte alignment.
    assert 1440 <= icmp[0][ICMP].nexthopmtu <= 1446
    assert counters["counters"]["pmtu_fragmented"] == 1
    assert counters["counters"]["pmtu_icmp_sent"] == 1


JUMBO_SIZES = (1600, 4000, 8900)


@pytest.mark.parametrize("encap", ["plain", "tcp"])
def test_jumbo_frames_through_the_tunnel(tmp_path, encap):
    """Ports with a 9000-byte MTU: packets of 1600 to 8900 bytes (frames that
    do not fit a default 2 KB mbuf, so net_pcap would hand them over chained)
    are encrypted whole, one ESP packet each that scapy decrypts, and scapy's
    jumbo ESP comes out on the protected side as the original packet."""
    out_sa = scapy_sa("AES_GCM_128", 1, OUT_SPI, 4, False)
    in_sa = scapy_sa("AES_GCM_128", 2, IN_SPI, 4, False)
    src, dst = LAN[4]
    plain = [IP(src=src, dst=dst, flags="DF") / UDP(sport=1000 + n, dport=53) / Raw(bytes([n % 251]) * (n - 28))
             for n in JUMBO_SIZES]
    back = [IP(src=dst, dst=src, flags="DF") / UDP(sport=53, dport=1000 + n) / Raw(bytes([n % 241]) * (n - 28))
            for n in JUMBO_SIZES]
    wrpcap(str(tmp_path / "protected-in.pcap"), [Ether(src=HOST_MAC, dst=PROT_MAC) / p for p in plain])
    frames, seq = [], 5000
    for p in back:
        f, seq = wrap_outer(in_sa.encrypt(p), encap, 4, seq)
        frames.append(f)
    wrpcap(str(tmp_path / "public-in.pcap"), frames)
    wrpcap(str(tmp_path / "local-in.pcap"), [])
    counters = run_pcap(config("AES_GCM_128", encap, 4, False, 9000, 9000), str(tmp_path), duration=1.0)
    c, d = counters["counters"], {k: v for k, v in counters["drops"].items() if v}
    assert not d, d
    out = rdpcap(str(tmp_path / "public-out.pcap"))
    # Pseudo-TCP acknowledges what it received (here before the data leaves):
    # the bare ACKs carry no ESP.
    acks = [f for f in out if TCP in f and not bytes(f[TCP].payload)]
    assert all(f[TCP].ack == seq for f in acks[-1:]), [f[TCP].ack for f in acks]
    out = [f for f in out if f not in acks]
    assert len(out) == len(plain), (c, d)
    got = [bytes(out_sa.decrypt(strip_outer(f, encap))) for f in out]
    assert got == [bytes(p) for p in forwarded(plain)]
    assert max(len(bytes(f)) - 14 for f in out) <= 9000
    prot = rdpcap(str(tmp_path / "protected-out.pcap"))
    assert [bytes(Ether(bytes(f)).payload) for f in prot] == [bytes(p) for p in forwarded(back)]
    assert c["esp_encrypted"] == len(plain) and c["esp_decrypted"] == len(back)


def test_jumbo_packet_fragmented_for_a_smaller_public_mtu(tmp_path):
    """Protected MTU 9000, public MTU 576: an 8000-byte packet without DF is
    fragmented before encryption into more than a dozen ESP packets, each
    within 576 bytes, that reassemble into the original; with DF the source
    is told the size that fits."""
    sa = scapy_sa("AES_GCM_128", 1, OUT_SPI, 4, False)
    src, dst = LAN[4]
    big = IP(src=src, dst=dst, flags=0, id=0x5151) / UDP(sport=9, dport=9) / Raw(bytes(range(256)) * 31)
    big_df = IP(src=src, dst=dst, flags="DF") / UDP(sport=9, dport=9) / Raw(b"d" * 7000)
    wrpcap(str(tmp_path / "protected-in.pcap"), [Ether(src=HOST_MAC, dst=PROT_MAC) / p for p in (big, big_df)])
    wrpcap(str(tmp_path / "public-in.pcap"), [])
    wrpcap(str(tmp_path / "local-in.pcap"), [])
    # 576 is below IPv6's minimum: this public port is IPv4 only.
    cfg = "\n".join(line for line in config("AES_GCM_128", "plain", 4, False, 576, 9000).splitlines()
                     if "::/0" not in line and '"2001:db8:0:1::1"' not in line)
    cfg = cfg.replace(' addresses: "2001:db8:0:1::10/64"', "")
    counters = run_pcap(cfg, str(tmp_path), duration=1.0)
    out = rdpcap(str(tmp_path / "public-out.pcap"))
    assert len(out) >= 15 and all(len(bytes(f)) - 14 <= 576 for f in out), len(out)
    frags = [IP(bytes(sa.decrypt(strip_outer(f, "plain")))) for f in out]
    assert all(f.id == 0x5151 for f in frags)
    frags.sort(key=lambda f: f.frag)
    assert b"".join(bytes(f.payload) for f in frags) == bytes(big[UDP])
    icmp = rdpcap(str(tmp_path / "protected-out.pcap"))
    assert len(icmp) == 1 and icmp[0][ICMP].type == 3 and icmp[0][ICMP].code == 4
    assert 500 <= icmp[0][ICMP].nexthopmtu <= 522
    assert counters["counters"]["pmtu_fragmented"] == 1


def test_jumbo_buffers_that_do_not_fit_are_a_clear_error(tmp_path):
    """Buffers are sized for the largest port MTU: in a 128 MB budget the
    ~37 MB of buffers for MTU 1500 fit (whatever fails after them), the ~160
    MB that MTU 9000 needs do not, and the dataplane then refuses to start,
    saying what it asked for and which setting to raise."""
    for name in ("protected-in.pcap", "public-in.pcap", "local-in.pcap"):
        wrpcap(str(tmp_path / name), [])
    results = {}
    for mtu in (1500, 9000):
        cfg = config("AES_GCM_128", "plain", 4, False, mtu, mtu).replace("memory_mb: 512", "memory_mb: 128")
        (tmp_path / "dp.textproto").write_text(cfg)
        results[mtu] = subprocess.run([DATAPLANE, "--config", "dp.textproto", "--duration", "0.2"],
                                      cwd=tmp_path, text=True, capture_output=True, timeout=60)
    assert "mbuf pool" not in results[1500].stderr, results[1500].stderr
    bad = results[9000]
    assert bad.returncode == 1
    assert "mbuf pool of 16383 buffers" in bad.stderr and "largest port MTU 9000" in bad.stderr, bad.stderr
    assert "eal.memory_mb" in bad.stderr
    # buffers.mbufs sizes the pool: fewer buffers make MTU 9000 fit in the
    # same 128 MB, more make MTU 1500 not fit.
    for mtu, mbufs, fits in ((9000, 4095, True), (1500, 200000, False)):
        cfg = config("AES_GCM_128", "plain", 4, False, mtu, mtu).replace("memory_mb: 512", "memory_mb: 128")
        (tmp_path / "dp.textproto").write_text(cfg + f"buffers {{ mbufs: {mbufs} }}\n")
        r = subprocess.run([DATAPLANE, "--config", "dp.textproto", "--duration", "0.2"],
                           cwd=tmp_path, text=True, capture_output=True, timeout=60)
        if fits:
            assert r.returncode == 0 and "mbuf pool" not in r.stderr, r.stderr
        else:
            assert r.returncode == 1 and f"mbuf pool of {mbufs} buffers (buffers.mbufs)" in r.stderr, r.stderr
