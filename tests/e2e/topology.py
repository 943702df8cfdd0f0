"""The af_packet test topology: a gateway namespace running the dataplane,
a peer namespace on its public wire and a host namespace on its LOCAL port.

    [peer ns] wan ==veth== pub [gw ns: tcpsec-dataplane] loc ==veth== host [host ns]
"""

import tempfile

from tcpsec_e2e import Dataplane, Netns, sh, unique, veth

GW4, GW6 = "192.0.2.1", "2001:db8:1::1"
PEER4, PEER6 = "192.0.2.2", "2001:db8:1::2"  # the peer namespace's kernel
SCAPY4, SCAPY6 = "192.0.2.3", "2001:db8:1::3"  # raw-socket peers (no kernel stack)
HOST_MAC = "02:00:00:00:0a:02"
WAN_MAC = "02:00:00:00:0b:02"


def config(prefix, extra_pseudo_tcp="", workers=1):
    qpairs = f",qpairs={workers}" if workers > 1 else ""
    return f"""
eal {{
  file_prefix: "{prefix}"
  no_huge: true
  no_pci: true
  memory_mb: 512
  args: "--no-shconf"
  args: "--log-level=*:error"
}}
ports {{
  name: "public"
  vdev: "net_af_packet0,iface=pub{qpairs}"
  rx_queues: {workers}
  role: PORT_ROLE_PUBLIC
  addresses: "{GW4}/24"
  addresses: "{GW6}/64"
}}
ports {{
  name: "local"
  vdev: "net_af_packet1,iface=loc{qpairs}"
  rx_queues: {workers}
  role: PORT_ROLE_LOCAL
  addresses: "169.254.1.1/30"
}}
pseudo_tcp {{
  listeners {{ address: "0.0.0.0" ports: [443, 10000] }}
  listeners {{ address: "::" ports: [443, 10000] }}
  peers {{ address: "{PEER4}" remote_port: 10000 }}
  peers {{ address: "{PEER6}" remote_port: 10000 }}
  {extra_pseudo_tcp}
}}
workers {{ count: {workers} idle_sleep_us: 100 }}
"""


class Topology:
    def __init__(self, extra_pseudo_tcp="", workers=1):
        tag = unique("")
        self.workdir = tempfile.mkdtemp(prefix="tcpsec-e2e-")
        self.gw = Netns(f"tcpsec-gw{tag}")
        self.peer = Netns(f"tcpsec-peer{tag}")
        self.host = Netns(f"tcpsec-host{tag}")
        veth("wan", self.peer, "pub", self.gw, mac_b=None, mac_a=WAN_MAC)
        veth("host", self.host, "loc", self.gw, mac_a=HOST_MAC)
        # The gateway's kernel must stay silent on the dataplane's wires.
        for ifname in ("pub", "loc"):
            self.gw.run(f"sysctl -qw net.ipv6.conf.{ifname}.disable_ipv6=1")
        self.host.run("sysctl -qw net.ipv6.conf.host.disable_ipv6=1")
        # Kernel offloads would hand af_packet partial checksums and super-frames.
        for ns, ifname in ((self.peer, "wan"), (self.gw, "pub"), (self.gw, "loc"), (self.host, "host")):
            ns.run(f"ethtool -K {ifname} tx off tso off gso off gro off", check=False)
        self.peer.run(f"ip addr add {PEER4}/24 dev wan")
        self.peer.run(f"ip addr add {PEER6}/64 dev wan nodad")
        self.gw_mac = self.gw.run("cat /sys/class/net/pub/address").stdout.strip()
        self.loc_mac = self.gw.run("cat /sys/class/net/loc/address").stdout.strip()
        self.dp = Dataplane(config(f"tcpsec-{tag}", extra_pseudo_tcp, workers), self.workdir, netns=self.gw)

    def __enter__(self):
        # A failed start must not leak namespaces: __exit__ is not called then.
        try:
            self.dp.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.dp.stop()
        finally:
            for ns in (self.gw, self.peer, self.host):
                ns.delete()
        return False
