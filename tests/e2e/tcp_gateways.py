"""Two tcpsec gateways (tcpsec-dataplane + tcpsec-ike each), the client's
behind a stateful NAT middlebox that may drop all UDP: the topology of
tests/e2e/test_ike_tcp.py and of the README's main job (deploy/demo.py).

  [chost] eth0==prot [cgw: dataplane+ike] pub==lan [mb: nftables] wan==pub [ggw: dataplane+ike] prot==eth0 [ghost]
  10.1.0.5    10.1.0.1    10.0.0.2 initiator   10.0.0.1  198.51.100.1  198.51.100.2 responder  10.2.0.1    10.2.0.5
                                               masquerade, ct invalid drop,  TCP listener :10000
                                               UDP dropped (drop_udp)

The client's connection protects 10.1.0.0/24 <-> 10.2.0.0/24 and initiates
(auto_start) with the given encapsulation; the gateway answers any peer
(remote_address %any: the client arrives NATed as 198.51.100.1). Both
dataplanes run on af_packet with IPsec enabled and no SA: tcpsec-ike
installs everything. The middlebox's forward chain counts every verdict
(nft_counters()), and tcpdump may record its outside interface (capture).
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from ike_topology import IkeDaemon
from tcpsec_e2e import Dataplane, Netns, unique, veth

CHOST, CGW_PROT, CGW_PUB, MB_LAN = "10.1.0.5", "10.1.0.1", "10.0.0.2", "10.0.0.1"
MB_WAN, GGW_PUB, GGW_PROT, GHOST = "198.51.100.1", "198.51.100.2", "10.2.0.1", "10.2.0.5"
CLIENT_NET, GATEWAY_NET = "10.1.0.0/24", "10.2.0.0/24"
TCP_PORT = 10000
PSK = "tcpsec two-gateway psk 0123456789"
CLIENT_ID, GATEWAY_ID = "fqdn:client.tcpsec.test", "fqdn:gw.tcpsec.test"

# Every rule counts; the comments name the counters (nft_counters()).
NFT_RULES = """
table inet tcpsec_mb {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    ct state invalid counter drop comment "invalid"
    {udp_drop}
    meta l4proto udp counter accept comment "udp_passed"
    meta l4proto tcp counter accept comment "tcp_passed"
    counter comment "other_passed"
  }}
}}
table ip tcpsec_nat {{
  chain postrouting {{
    type nat hook postrouting priority 100;
    oifname "wan" masquerade
  }}
}}
"""
UDP_DROP = 'meta l4proto udp counter drop comment "udp_dropped"'


def tcpsecctl_binary():
    path = os.environ.get("TCPSEC_TCPSECCTL")
    if path:
        return path
    return os.path.join(os.path.dirname(os.environ["TCPSEC_DATAPLANE"]), "..", "cli", "tcpsecctl")


def dataplane_config(prefix, sock, public, protected, routes=""):
    return f"""
eal {{ file_prefix: "{prefix}" no_huge: true no_pci: true memory_mb: 512
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "net_af_packet0,iface=pub" role: PORT_ROLE_PUBLIC addresses: "{public}" }}
ports {{ name: "protected" vdev: "net_af_packet1,iface=prot" role: PORT_ROLE_PROTECTED
        addresses: "{protected}" }}
{routes}
ipsec {{ enabled: true }}
rpc {{ unix_socket: "{sock}" }}
workers {{ count: 1 idle_sleep_us: 50 }}
"""


def ike_config(dp_sock, ike_sock, name, local, remote, local_id, remote_id, local_ts, remote_ts,
               initiator, transport="", listeners=""):
    return f"""
dataplane_socket: "{dp_sock}"
unix_socket: "{ike_sock}"
connections {{
  name: "{name}"
  local_address: "{local}"
  remote_address: "{remote}"
  local_id: "{local_id}"
  remote_id: "{remote_id}"
  local_auth: AUTH_KIND_PSK
  remote_auth: AUTH_KIND_PSK
  ike_proposals: "aes128-sha256-ecp256"
  esp_proposals: "aes128gcm16"
  local_ts: "{local_ts}"
  remote_ts: "{remote_ts}"
  auto_start: {"true" if initiator else "false"}
  {transport}
}}
secrets {{ ids: "{remote_id}" secret: "{PSK}" }}
{listeners}
timers {{ retransmit_ms: 500 retransmit_tries: 4 }}
"""


class Side:
    """One tcpsec gateway: its namespace, dataplane, tcpsec-ike and sockets."""

    def __init__(self, name, workdir, ns):
        self.name = name
        self.workdir = os.path.join(workdir, name)
        os.makedirs(self.workdir)
        self.ns = ns
        self.dp_sock = os.path.join(self.workdir, "dp.sock")
        self.ike_sock = os.path.join(self.workdir, "ike.sock")
        self.dp = None
        self.ike = None

    def ctl(self, *args, ike=False):
        """tcpsecctl against this side's dataplane (or, ike=True, tcpsec-ike)."""
        sock = ["--ike-socket", self.ike_sock] if ike else ["--socket", self.dp_sock]
        r = subprocess.run([tcpsecctl_binary(), *sock, *args], text=True, capture_output=True,
                           timeout=30)
        return r.stdout + r.stderr

    def counters(self):
        """Live counters of the running dataplane (name -> value)."""
        out = json.loads(self.ctl("counters", "--json", "--all"))
        return {c["name"]: int(c.get("value", 0)) for c in out.get("counters", [])}


class TwoGateways:
    """encapsulation: the client's IkeEncapsulation (AUTO, TCP or ENCAPSULATION_UDP);
    drop_udp: the middlebox drops every UDP packet; capture: tcpdump on the
    middlebox's outside interface (self.pcap)."""

    def __init__(self, encapsulation="IKE_ENCAPSULATION_AUTO", drop_udp=True, capture=False):
        self.encapsulation = encapsulation
        self.drop_udp = drop_udp
        self.capture = capture
        self.tag = unique("")
        self.workdir = tempfile.mkdtemp(prefix="tcpsec-2gw-")
        self.pcap = os.path.join(self.workdir, "wan.pcap")
        self.ns = {}
        self.client = self.gateway = None
        self.tcpdump = None
        self.nft = None

    # ---- bring-up ----------------------------------------------------------------

    def __enter__(self):
        try:
            self._network()
            self._dataplanes()
            if self.capture:
                self._start_capture()
            self._daemons()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _network(self):
        self.ns = {n: Netns(f"tcpsec-{n}{self.tag}") for n in ("chost", "cgw", "mb", "ggw", "ghost")}
        ns = self.ns
        for n in ns.values():
            n.run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        veth("eth0", ns["chost"], "prot", ns["cgw"])
        veth("pub", ns["cgw"], "lan", ns["mb"])
        veth("wan", ns["mb"], "pub", ns["ggw"])
        veth("prot", ns["ggw"], "eth0", ns["ghost"])
        for n, ifs in (("chost", ("eth0",)), ("cgw", ("prot", "pub")), ("mb", ("lan", "wan")),
                       ("ggw", ("pub", "prot")), ("ghost", ("eth0",))):
            for i in ifs:
                ns[n].run(f"ethtool -K {i} tx off tso off gso off gro off", check=False)
        for n, addr, gw in (("chost", CHOST, CGW_PROT), ("ghost", GHOST, GGW_PROT)):
            ns[n].run(f"ip addr add {addr}/24 dev eth0")
            ns[n].run(f"ip route add default via {gw}")
        mb = ns["mb"]
        mb.run(f"ip addr add {MB_LAN}/24 dev lan")
        mb.run(f"ip addr add {MB_WAN}/24 dev wan")
        mb.run("sysctl -qw net.ipv4.ip_forward=1")
        mb.run("sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=0", check=False)
        rules = os.path.join(self.workdir, "mb.nft")
        with open(rules, "w") as f:
            f.write(NFT_RULES.format(udp_drop=UDP_DROP if self.drop_udp else ""))
        mb.run(f"nft -f {rules}")

    def _dataplanes(self):
        self.client = Side("client", self.workdir, self.ns["cgw"])
        self.gateway = Side("gateway", self.workdir, self.ns["ggw"])
        self.client.dp = Dataplane(dataplane_config(
            f"tcpsec-2c{self.tag}", self.client.dp_sock, f"{CGW_PUB}/24", f"{CGW_PROT}/24",
            routes=f'routes {{ prefix: "0.0.0.0/0" next_hop: "{MB_LAN}" port: "public" }}'),
            self.client.workdir, netns=self.ns["cgw"], name="dataplane")
        self.gateway.dp = Dataplane(dataplane_config(
            f"tcpsec-2g{self.tag}", self.gateway.dp_sock, f"{GGW_PUB}/24", f"{GGW_PROT}/24"),
            self.gateway.workdir, netns=self.ns["ggw"], name="dataplane")
        self.gateway.dp.start()
        self.client.dp.start()

    def _daemons(self):
        self.gateway.ike = IkeDaemon(ike_config(
            self.gateway.dp_sock, self.gateway.ike_sock, "clients", GGW_PUB, "%any", GATEWAY_ID,
            CLIENT_ID, GATEWAY_NET, CLIENT_NET, initiator=False,
            listeners=f'tcp_listeners {{ address: "{GGW_PUB}" ports: [{TCP_PORT}] }}'),
            self.gateway.workdir)
        self.gateway.ike.start()
        self.client.ike = IkeDaemon(ike_config(
            self.client.dp_sock, self.client.ike_sock, "gateway", CGW_PUB, GGW_PUB, CLIENT_ID,
            GATEWAY_ID, CLIENT_NET, GATEWAY_NET, initiator=True,
            transport=f"transport {{ encapsulation: {self.encapsulation} remote_tcp_port: {TCP_PORT} }}"),
            self.client.workdir)
        self.client.ike.start()

    def _start_capture(self):
        log = open(os.path.join(self.workdir, "tcpdump.log"), "w")
        self.tcpdump = self.ns["mb"].popen(["tcpdump", "-n", "-U", "-i", "wan", "-w", self.pcap],
                                           stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 5
        while time.time() < deadline:
            with open(log.name) as f:
                if "listening on" in f.read():
                    return
            time.sleep(0.05)
        raise RuntimeError("tcpdump did not start")

    def stop_capture(self):
        """Stops tcpdump; self.pcap is then complete."""
        if self.tcpdump and self.tcpdump.poll() is None:
            self.tcpdump.send_signal(signal.SIGINT)
            try:
                self.tcpdump.wait(5)
            except subprocess.TimeoutExpired:
                self.tcpdump.kill()
                self.tcpdump.wait()

    # ---- what the tests and the demo look at --------------------------------------

    def wait_up(self, timeout=20.0):
        """True once both tcpsec-ikes report their Child SA up."""
        deadline = time.time() + timeout
        for side in (self.client, self.gateway):
            if not side.ike.wait_for("child_up", max(0.1, deadline - time.time())):
                return False
        return True

    def events(self, side):
        """tcpsec-ike's event lines, in order: [(kind, message)]."""
        out = []
        for line in side.ike.output().splitlines():
            if line.startswith("tcpsec-ike: event "):
                rest = line[len("tcpsec-ike: event "):].split(" ", 1)[1]
                kind, _, message = rest.partition(": ")
                out.append((kind, message))
        return out

    def ping(self, count=5, size=56):
        return self.ns["chost"].run(f"ping -n -c {count} -i 0.2 -W 2 -s {size} {GHOST}", check=False).stdout

    def transfer(self, size=4 << 20, port=5001, timeout=60.0):
        """Sends `size` random bytes over TCP from the client's host to the
        gateway's host; returns (sha256 sent, sha256 received, seconds)."""
        data = os.urandom(size)
        received = hashlib.sha256()
        with self.ns["ghost"].entered():
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((GHOST, port))
        server.listen(1)
        server.settimeout(timeout)
        done = threading.Event()

        def serve():
            try:
                conn, _ = server.accept()
                conn.settimeout(timeout)
                with conn:
                    while True:
                        chunk = conn.recv(1 << 16)
                        if not chunk:
                            break
                        received.update(chunk)
            except OSError:
                pass
            finally:
                done.set()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        start = time.time()
        try:
            with self.ns["chost"].entered():
                client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.settimeout(timeout)
            with client:
                client.connect((GHOST, port))
                client.sendall(data)
                client.shutdown(socket.SHUT_WR)
                done.wait(timeout)
        finally:
            server.close()
        return hashlib.sha256(data).hexdigest(), received.hexdigest(), time.time() - start

    def nft_counters(self):
        """Packets counted by each commented rule of the middlebox."""
        return self.ns["mb"].nft_counters("inet tcpsec_mb")

    def diagnostics(self):
        out = ""
        for side in (self.client, self.gateway):
            if side is None:
                continue
            if side.ike:
                out += f"\n--- {side.name} tcpsec-ike ---\n" + side.ike.output()[-4000:]
            if side.dp and side.dp.proc:
                out += f"\n--- {side.name} dataplane ---\n" + side.dp.output()[-2000:]
        return out

    # ---- tear-down ----------------------------------------------------------------

    def stop(self):
        """Stops everything; the middlebox's counters land in self.nft and the
        dataplanes' final counters in side.dp.counters."""
        if self.ns.get("mb") and self.nft is None:
            try:
                self.nft = self.nft_counters()
            except Exception:  # noqa: BLE001 - a half-built topology
                self.nft = {}
        self.stop_capture()
        for side in (self.client, self.gateway):
            if side and side.ike:
                side.ike.stop()
        for side in (self.client, self.gateway):
            if side and side.dp:
                side.dp.stop()

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            for n in self.ns.values():
                n.delete()
            if not os.environ.get("TCPSEC_KEEP"):
                shutil.rmtree(self.workdir, ignore_errors=True)
        return False
