"""Remote-access topology across a hostile network: a client gateway behind
a stateful NAT middlebox that drops all UDP, and a central gateway.

  [chost] host==loc [cgw: tcpsec-dataplane] pub==lan [mb: nftables] wan==pub [ggw: tcpsec-dataplane] loc==host [ghost]
   IKE/ESP "daemon"     client, initiator     10.0.0.0/24   NAT, ct invalid drop,   198.51.100.0/24   listener :10000    IKE/ESP "daemon"
                                                            UDP dropped

The middlebox is real Linux conntrack: `ct state invalid drop` judges our
pseudo-TCP the way firewalls do, and masquerade rewrites it as a NAT does.
Both "daemons" are raw sockets until the IKE control plane drives them.
"""

import tempfile

from tcpsec_e2e import Dataplane, Netns, sh, unique, veth

CLIENT_PUB, MB_LAN = "10.0.0.2", "10.0.0.1"
MB_WAN, GW_PUB = "198.51.100.1", "198.51.100.2"
CHOST_MAC, GHOST_MAC, MB_LAN_MAC = "02:00:00:00:c0:01", "02:00:00:00:c0:02", "02:00:00:00:c0:03"

NFT_RULES = """
table inet tcpsec_mb {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ct state invalid counter drop comment "invalid"
    meta l4proto udp counter drop comment "udp"
    counter comment "forwarded"
  }
}
table ip tcpsec_nat {
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "wan" masquerade
  }
}
"""


def _config(prefix, public, local, pseudo_tcp, routes="", rpc=""):
    return f"""
eal {{ file_prefix: "{prefix}" no_huge: true no_pci: true memory_mb: 512
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "net_af_packet0,iface=pub" role: PORT_ROLE_PUBLIC addresses: "{public}" }}
ports {{ name: "local" vdev: "net_af_packet1,iface=loc" role: PORT_ROLE_LOCAL addresses: "{local}" }}
{routes}
{rpc}
pseudo_tcp {{ {pseudo_tcp} }}
workers {{ count: 1 idle_sleep_us: 100 }}
"""


class Middlebox:
    def __init__(self):
        tag = unique("")
        self.workdir = tempfile.mkdtemp(prefix="tcpsec-mb-")
        self.ns = {n: Netns(f"tcpsec-{n}{tag}") for n in ("chost", "cgw", "mb", "ggw", "ghost")}
        ns = self.ns
        veth("host", ns["chost"], "loc", ns["cgw"], mac_a=CHOST_MAC)
        veth("pub", ns["cgw"], "lan", ns["mb"], mac_b=MB_LAN_MAC)
        veth("wan", ns["mb"], "pub", ns["ggw"])
        veth("loc", ns["ggw"], "host", ns["ghost"], mac_b=GHOST_MAC)
        for n, ifs in (("cgw", ("pub", "loc")), ("ggw", ("pub", "loc")), ("chost", ("host",)),
                       ("ghost", ("host",))):
            for i in ifs:
                ns[n].run(f"sysctl -qw net.ipv6.conf.{i}.disable_ipv6=1")
        for n, ifs in (("cgw", ("pub", "loc")), ("ggw", ("pub", "loc")), ("mb", ("lan", "wan")),
                       ("chost", ("host",)), ("ghost", ("host",))):
            for i in ifs:
                ns[n].run(f"ethtool -K {i} tx off tso off gso off gro off", check=False)
        mb = ns["mb"]
        mb.run(f"ip addr add {MB_LAN}/24 dev lan")
        mb.run(f"ip addr add {MB_WAN}/24 dev wan")
        mb.run("sysctl -qw net.ipv4.ip_forward=1")
        mb.run("sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=0", check=False)
        with open(f"{self.workdir}/mb.nft", "w") as f:
            f.write(NFT_RULES)
        mb.run(f"nft -f {self.workdir}/mb.nft")
        self.cgw_loc_mac = ns["cgw"].run("cat /sys/class/net/loc/address").stdout.strip()
        self.ggw_loc_mac = ns["ggw"].run("cat /sys/class/net/loc/address").stdout.strip()
        self.client = Dataplane(_config(
            f"tcpsec-c{tag}", f"{CLIENT_PUB}/24", "169.254.1.1/30",
            f'peers {{ address: "{GW_PUB}" remote_port: 10000 }}',
            routes=f'routes {{ prefix: "0.0.0.0/0" next_hop: "{MB_LAN}" port: "public" }}'),
            self.workdir, netns=ns["cgw"], name="client")
        self.gateway = Dataplane(_config(
            f"tcpsec-g{tag}", f"{GW_PUB}/24", "169.254.2.1/30",
            'listeners { address: "0.0.0.0" ports: [443, 4500, 10000] }',
            rpc=f'rpc {{ unix_socket: "{self.workdir}/gateway.sock" }}'),
            self.workdir, netns=ns["ggw"], name="gateway")

    def __enter__(self):
        # A failed start must not leak namespaces: __exit__ is not called then.
        try:
            self.gateway.start()
            self.client.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def send_plain_udp_ike(self):
        """What a UDP-only client would do: IKE straight over UDP 500 from the
        client's public address. The middlebox drops it."""
        from scapy.layers.inet import IP, UDP
        from scapy.layers.l2 import Ether
        s = self.ns["cgw"].raw_socket("pub")
        mac = self.ns["cgw"].run("cat /sys/class/net/pub/address").stdout.strip()
        s.send(bytes(Ether(src=mac, dst=MB_LAN_MAC) / IP(src=CLIENT_PUB, dst=GW_PUB)
                     / UDP(sport=500, dport=500) / (b"\x00" * 36)))
        s.close()

    def nft_counters(self):
        """Packets counted by each commented rule of the middlebox."""
        return self.ns["mb"].nft_counters("inet tcpsec_mb")

    def __exit__(self, *exc):
        try:
            self.nft = self.nft_counters()
            for dp in (self.client, self.gateway):
                dp.stop()
        finally:
            for ns in self.ns.values():
                ns.delete()
        return False
