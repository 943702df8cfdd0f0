"""Topology of the Dataplane API tests: one tcpsec-dataplane driven over
gRPC by the independent Python client (dataplane_grpc.py), with scapy on
every wire and no kernel stack answering anything:

    [peer ns] wan ==veth== pub   [gw ns: tcpsec-dataplane]   prot ==veth== eth0 [host ns]
     scapy: the remote gateway     192.0.2.10 (PUBLIC)         10.10.0.1 (PROTECTED)
     198.51.100.20 behind the      169.254.1.1 (LOCAL)         scapy: 10.10.0.5
     next hop 192.0.2.1                  loc ==veth== eth0 [lhost ns] (the LOCAL port's host)

The peer's and the host's kernels have no addresses (static neighbors in the
config point at their MACs), so every frame on the wires is one the test or
the dataplane sent.
"""

import os
import socket
import struct
import tempfile
import time

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from dataplane_grpc import DataplaneClient
from tcpsec_e2e import Dataplane, Netns, unique, veth

GW = "192.0.2.10"
NEXT_HOP = "192.0.2.1"
PEER = "198.51.100.20"
LOCAL_GW, LOCAL_HOST = "169.254.1.1", "169.254.1.2"
HOST, REMOTE_HOST = "10.10.0.5", "10.20.0.9"
PEER_MAC = "02:00:00:00:0b:02"   # wan: the next hop / the peer
HOST_MAC = "02:00:00:00:0a:05"   # host's eth0
LHOST_MAC = "02:00:00:00:0c:02"  # lhost's eth0
OUT_SPI, IN_SPI = 0x1000A001, 0x2000B001
OUT_KEY = bytes(range(1, 21))    # AES-GCM-128: 16 key bytes + 4 salt
IN_KEY = bytes(range(41, 61))


def esc(b):
    return "".join(f"\\x{c:02x}" for c in b)


def config(prefix, sock, ipsec=True, extra="", listeners="[10000]", max_sas=0):
    return f"""
eal {{ file_prefix: "{prefix}" no_huge: true no_pci: true memory_mb: 512
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "net_af_packet0,iface=pub" role: PORT_ROLE_PUBLIC addresses: "{GW}/24" }}
ports {{ name: "protected" vdev: "net_af_packet1,iface=prot" role: PORT_ROLE_PROTECTED
        addresses: "10.10.0.1/24" }}
ports {{ name: "local" vdev: "net_af_packet2,iface=loc" role: PORT_ROLE_LOCAL
        addresses: "{LOCAL_GW}/30" }}
routes {{ prefix: "0.0.0.0/0" next_hop: "{NEXT_HOP}" port: "public" }}
neighbors {{ address: "{NEXT_HOP}" mac: "{PEER_MAC}" port: "public" }}
neighbors {{ address: "{HOST}" mac: "{HOST_MAC}" port: "protected" }}
neighbors {{ address: "{LOCAL_HOST}" mac: "{LHOST_MAC}" port: "local" }}
pseudo_tcp {{ listeners {{ address: "{GW}" ports: {listeners} }}
             handshake_timeout_ms: 600 syn_retransmit_ms: 200 }}
workers {{ count: 1 idle_sleep_us: 200 }}
rpc {{ unix_socket: "{sock}" }}
{f"ipsec {{ enabled: true max_sas: {max_sas} }}" if ipsec else ""}
{extra}
"""


def sa_text(spi, direction, key, encap="plain {}", extra=""):
    return (f'spi: {spi} direction: {direction} mode: MODE_TUNNEL tunnel_local: "{GW}" '
            f'tunnel_peer: "{PEER}" algorithm: ESP_ALGORITHM_AES_GCM_128 encryption_key: "{esc(key)}" '
            f"encapsulation {{ {encap} }} {extra}")


# The tunnel 10.10.0.0/24 <-> 10.20.0.0/24 as an ApplyRequest in text format.
TUNNEL = f"""
add_sas {{ name: "out" {sa_text(OUT_SPI, "DIRECTION_OUTBOUND", OUT_KEY)} }}
add_sas {{ name: "in" {sa_text(IN_SPI, "DIRECTION_INBOUND", IN_KEY)} }}
set_policies {{ name: "protect-out" priority: 10 direction: DIRECTION_OUTBOUND
               action: POLICY_ACTION_PROTECT sa_spi: {OUT_SPI}
               match {{ local_prefixes: "10.10.0.0/24" remote_prefixes: "10.20.0.0/24" }} }}
set_policies {{ name: "protect-in" priority: 10 direction: DIRECTION_INBOUND
               action: POLICY_ACTION_PROTECT sa_spi: {IN_SPI}
               match {{ local_prefixes: "10.10.0.0/24" remote_prefixes: "10.20.0.0/24" }} }}
"""


def peer_sa(spi=IN_SPI, key=IN_KEY):
    """scapy's view of an SA: encrypts as the peer (IN) or decrypts what we sent (OUT)."""
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key, auth_algo="NULL",
                               tunnel_header=IP(src=PEER, dst=GW))


def inner(i, reverse=False, size=40):
    src, dst = (REMOTE_HOST, HOST) if reverse else (HOST, REMOTE_HOST)
    return IP(src=src, dst=dst, ttl=64, id=i) / UDP(sport=1000 + i, dport=7) / Raw(bytes([i % 256]) * size)


def esp_of(frame):
    """(ESP bytes, 'plain' | 'udp', ip) of an outbound ESP frame, or None."""
    p = Ether(frame)
    if IP not in p or p[IP].src != GW:
        return None
    ip = p[IP]
    if ip.proto == 50:
        return bytes(ip.payload), "plain", ip
    if ip.proto == 17 and UDP in ip and ip[UDP].dport == 4500:
        data = bytes(ip[UDP].payload)
        if len(data) >= 8 and data[:4] != b"\x00\x00\x00\x00":
            return data, "udp", ip
    return None


def esp_seq(esp):
    return struct.unpack(">II", esp[:8])


def decrypt_out(esp, key=OUT_KEY, spi=OUT_SPI):
    """The inner packet scapy decrypts from our outbound ESP bytes."""
    l3 = IP(src=GW, dst=PEER, proto=50) / Raw(esp)
    return peer_sa(spi, key).decrypt(IP(bytes(l3)))


class Api:
    """The namespaces, the dataplane and a gRPC client; a context manager."""

    def __init__(self, ipsec=True, extra="", listeners="[10000]", name="dp", max_sas=0):
        tag = unique("")
        self.tag = tag
        self.workdir = tempfile.mkdtemp(prefix="tcpsec-api-")
        self.sock = os.path.join(self.workdir, f"{name}.sock")
        self.gw = Netns(f"tcpsec-agw{tag}")
        self.peer = Netns(f"tcpsec-apeer{tag}")
        self.host = Netns(f"tcpsec-ahost{tag}")
        self.lhost = Netns(f"tcpsec-alhost{tag}")
        veth("wan", self.peer, "pub", self.gw, mac_a=PEER_MAC)
        veth("eth0", self.host, "prot", self.gw, mac_a=HOST_MAC)
        veth("eth0", self.lhost, "loc", self.gw, mac_a=LHOST_MAC)
        for ns, ifs in ((self.gw, ("pub", "prot", "loc")), (self.peer, ("wan",)), (self.host, ("eth0",)),
                        (self.lhost, ("eth0",))):
            for i in ifs:
                ns.run(f"sysctl -qw net.ipv6.conf.{i}.disable_ipv6=1")
                ns.run(f"ethtool -K {i} tx off tso off gso off gro off", check=False)
        self.gw_mac = self.gw.run("cat /sys/class/net/pub/address").stdout.strip()
        self.prot_mac = self.gw.run("cat /sys/class/net/prot/address").stdout.strip()
        self.loc_mac = self.gw.run("cat /sys/class/net/loc/address").stdout.strip()
        self.prefix = f"tcpsec-api{tag}"
        self.dp = Dataplane(config(self.prefix, self.sock, ipsec, extra, listeners, max_sas), self.workdir,
                            netns=self.gw, name=name)
        self.wan = self.peer.raw_socket("wan")
        self.eth0 = self.host.raw_socket("eth0")
        self.leth0 = self.lhost.raw_socket("eth0")
        self.client = None

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def start(self):
        self.dp.start()
        self.client = DataplaneClient(self.sock)
        return self

    def stop(self):
        if self.client:
            self.client.close()
            self.client = None
        return self.dp.stop()

    def restart(self):
        """Stops the dataplane and starts a fresh one with the same configuration."""
        self.stop()
        self.drain()
        return self.start()

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            for s in (self.wan, self.eth0, self.leth0):
                s.close()
            for ns in (self.gw, self.peer, self.host, self.lhost):
                ns.delete()
        return False

    # ---- wires ----
    def drain(self):
        for s in (self.wan, self.eth0, self.leth0):
            s.settimeout(0)
            try:
                while True:
                    s.recv(65535)
            except (BlockingIOError, socket.timeout):
                pass
            s.settimeout(0.2)

    def from_peer(self, l3):
        """Sends an IP packet (scapy) from the peer side onto the public wire."""
        self.wan.send(bytes(Ether(src=PEER_MAC, dst=self.gw_mac) / l3))

    def from_host(self, l3):
        self.eth0.send(bytes(Ether(src=HOST_MAC, dst=self.prot_mac) / l3))

    def from_lhost(self, l3):
        self.leth0.send(bytes(Ether(src=LHOST_MAC, dst=self.loc_mac) / l3))

    @staticmethod
    def collect(sock, match, count, timeout=3.0):
        """Up to `count` received frames for which match(frame) is true."""
        out = []
        deadline = time.time() + timeout
        while len(out) < count and time.time() < deadline:
            try:
                frame, addr = sock.recvfrom(65535)
            except (socket.timeout, BlockingIOError):
                continue
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            if match(frame):
                out.append(frame)
        return out

    def esp_on_wire(self, count, timeout=3.0):
        """[(ESP bytes, encap, ip)] of our outbound ESP frames."""
        return [esp_of(f) for f in self.collect(self.wan, lambda f: esp_of(f) is not None, count, timeout)]

    def at_host(self, count, timeout=3.0, src=REMOTE_HOST):
        """IP packets (scapy) arriving at the protected host from `src`."""
        frames = self.collect(self.eth0, lambda f: IP in Ether(f) and Ether(f)[IP].src == src, count, timeout)
        return [Ether(f)[IP] for f in frames]

    def tcp_from_gw(self, count, match=lambda t: True, timeout=3.0):
        """TCP segments (scapy IP) we sent on the public wire."""
        def m(f):
            p = Ether(f)
            return IP in p and p[IP].src == GW and TCP in p and match(p[TCP])
        return [Ether(f)[IP] for f in self.collect(self.wan, m, count, timeout)]

    def counters(self):
        return self.client.counter_values()

    def wait_counter(self, name, at_least, timeout=3.0, drop=False):
        deadline = time.time() + timeout
        while True:
            c, d = self.counters()
            v = (d if drop else c)[name]
            if v >= at_least or time.time() > deadline:
                return v
            time.sleep(0.05)


def tcp_seg(sport, dport, seq, ack, flags, payload=b""):
    return IP(src=PEER, dst=GW) / TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags,
                                      window=65535) / Raw(payload)


def ctcp_trailer(proto, ip_id=0):
    """The 16-byte pseudo-TCP trailer (proto: 17 IKE in UDP, 50 ESP)."""
    return b"\x00" * 4 + struct.pack(">H", ip_id) + b"\x00\x00\x21\x45\x6c\x69" + bytes([0x10, proto, 1, 0])


def ike(spi_i, spi_r=0, size=64):
    """An IKEv2 IKE_SA_INIT-shaped message (header and a nonce payload)."""
    nonce = b"\x5a" * (size - 32)
    return (struct.pack(">QQBBBBII", spi_i, spi_r, 40, 0x20, 34, 0x08, 0, size)
            + struct.pack(">BBH", 0, 0, 4 + len(nonce)) + nonce)
