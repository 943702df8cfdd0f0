"""Site-to-site topology: two tcpsec-dataplanes with manually keyed SAs.

    [hostA ns] eth0 ==veth== prot [dpA ns] pub ==veth== pub [dpB ns] prot ==veth== eth0 [hostB ns]
     10.10.0.5/24               10.10.0.1  192.0.2.10   192.0.2.20  10.20.0.1              10.20.0.9/24

The hosts are real kernels (ping, TCP); the ESP between the dataplanes is
plain ESP, UDP-encapsulated (RFC 3948) or pseudo-TCP.
"""

import tempfile

from tcpsec_e2e import Dataplane, Netns, unique, veth

A_HOST, B_HOST = "10.10.0.5", "10.20.0.9"
A_PUB, B_PUB = "192.0.2.10", "192.0.2.20"
SPI_AB, SPI_BA = 0x1000A001, 0x2000B001
KEY_AB = bytes(range(1, 21))   # AES-GCM-128: 16 key + 4 salt
KEY_BA = bytes(range(41, 61))


def esc(b):
    return "".join(f"\\x{c:02x}" for c in b)


def _config(prefix, me, peer, lan, remote_lan, out_spi, in_spi, out_key, in_key, encap, tcp, workers,
            mtu=0):
    q = f",qpairs={workers}" if workers > 1 else ""
    if mtu:
        # af_packet's ring frames must hold a whole jumbo frame; the PMD
        # takes frames as contiguous, so the block is a whole number of
        # frames (and of 4 KB pages): 4 x 9216.
        q += ",framesz=9216,blocksz=36864"
    enc = {"plain": "plain {}", "udp": "udp {}",
           "tcp": "pseudo_tcp { peer_port: 10000 }" if tcp == "client" else "pseudo_tcp { peer_port: 0 }"}[encap]
    if encap == "tcp" and tcp == "server":
        enc = "pseudo_tcp {}"
    pt = ""
    if encap == "tcp":
        pt = (f'peers {{ address: "{peer}" remote_port: 10000 }}' if tcp == "client"
              else f'listeners {{ address: "{me}" ports: [10000] }}')
    return f"""
eal {{ file_prefix: "{prefix}" no_huge: true no_pci: true memory_mb: 512
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "net_af_packet0,iface=pub{q}" rx_queues: {workers} role: PORT_ROLE_PUBLIC
        addresses: "{me}/24" mtu: {mtu} }}
ports {{ name: "protected" vdev: "net_af_packet1,iface=prot{q}" rx_queues: {workers}
        role: PORT_ROLE_PROTECTED addresses: "{lan}.1/24" mtu: {mtu} }}
pseudo_tcp {{ {pt} }}
sas {{ spi: {out_spi} direction: DIRECTION_OUTBOUND mode: MODE_TUNNEL tunnel_local: "{me}"
      tunnel_peer: "{peer}" algorithm: ESP_ALGORITHM_AES_GCM_128 encryption_key: "{esc(out_key)}"
      encapsulation {{ {enc} }} }}
sas {{ spi: {in_spi} direction: DIRECTION_INBOUND mode: MODE_TUNNEL tunnel_local: "{me}"
      tunnel_peer: "{peer}" algorithm: ESP_ALGORITHM_AES_GCM_128 encryption_key: "{esc(in_key)}"
      replay_window: 1024 encapsulation {{ {enc} }}
      selector {{ local_prefixes: "{lan}.0/24" remote_prefixes: "{remote_lan}.0/24" }} }}
policies {{ priority: 10 direction: DIRECTION_OUTBOUND action: POLICY_ACTION_PROTECT sa_spi: {out_spi}
           match {{ local_prefixes: "{lan}.0/24" remote_prefixes: "{remote_lan}.0/24" }} }}
workers {{ count: {workers} idle_sleep_us: 20 }}
"""


class SiteToSite:
    def __init__(self, encap, workers=1, mtu=0):
        tag = unique("")
        self.workdir = tempfile.mkdtemp(prefix="tcpsec-s2s-")
        self.ns = {n: Netns(f"tcpsec-{n}{tag}") for n in ("hostA", "dpA", "dpB", "hostB")}
        ns = self.ns
        veth("eth0", ns["hostA"], "prot", ns["dpA"])
        veth("pub", ns["dpA"], "pub", ns["dpB"])
        veth("prot", ns["dpB"], "eth0", ns["hostB"])
        for n, ifs in (("dpA", ("pub", "prot")), ("dpB", ("pub", "prot")), ("hostA", ("eth0",)),
                       ("hostB", ("eth0",))):
            for i in ifs:
                ns[n].run(f"ethtool -K {i} tx off tso off gso off gro off", check=False)
                ns[n].run(f"sysctl -qw net.ipv6.conf.{i}.disable_ipv6=1")
                if mtu:
                    ns[n].run(f"ip link set {i} mtu {mtu}")
        ns["hostA"].run(f"ip addr add {A_HOST}/24 dev eth0")
        ns["hostA"].run("ip route add default via 10.10.0.1")
        ns["hostB"].run(f"ip addr add {B_HOST}/24 dev eth0")
        ns["hostB"].run("ip route add default via 10.20.0.1")
        self.a = Dataplane(_config(f"tcpsec-a{tag}", A_PUB, B_PUB, "10.10.0", "10.20.0", SPI_AB, SPI_BA,
                                   KEY_AB, KEY_BA, encap, "client", workers, mtu), self.workdir, netns=ns["dpA"], name="a")
        self.b = Dataplane(_config(f"tcpsec-b{tag}", B_PUB, A_PUB, "10.20.0", "10.10.0", SPI_BA, SPI_AB,
                                   KEY_BA, KEY_AB, encap, "server", workers, mtu), self.workdir, netns=ns["dpB"], name="b")

    def __enter__(self):
        # A failed start must not leak namespaces: __exit__ is not called then.
        try:
            self.b.start()
            self.a.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            for dp in (self.a, self.b):
                dp.stop()
        finally:
            for n in self.ns.values():
                n.delete()
        return False
