"""tcpsec (dataplane + tcpsec-ike) opposite a strongSwan charon.

    [host ns] eth0 ==veth== prot [dp ns] pub ==veth== eth0 [ss ns]
     10.10.0.5/24           10.10.0.1   192.0.2.10    192.0.2.20, lo 10.20.0.1/24

tcpsec-dataplane runs on af_packet in the dp namespace with IPsec enabled
and no SA; tcpsec-ike drives it over its unix socket. charon (strongSwan
5.9, kernel-libipsec) protects 10.20.0.0/24; the host pings 10.20.0.1.
strongSwan's libipsec only does UDP-encapsulated ESP (it fakes a NAT), so
this also exercises NAT detection, the move to port 4500 and ESP in UDP.
"""

import os
import shutil
import subprocess
import tempfile
import time

import strongswan as ss
from tcpsec_e2e import Dataplane, Netns, unique, veth

HOST, DP_PROT, DP_PUB, SS_PUB, SS_LAN = "10.10.0.5", "10.10.0.1", "192.0.2.10", "192.0.2.20", "10.20.0.1"
HOST_NET, SS_NET = "10.10.0.0/24", "10.20.0.0/24"
PSK = "tcpsec interop psk 0123456789"
TCPSEC_ID, SS_ID = "tcpsec.test", "ss.test"


def ike_binary():
    path = os.environ.get("TCPSEC_IKE")
    if path:
        return path
    return os.path.join(os.path.dirname(os.environ["TCPSEC_DATAPLANE"]), "..", "controlplane",
                        "daemon", "tcpsec-ike")


def dataplane_config(prefix, sock):
    return f"""
eal {{ file_prefix: "{prefix}" no_huge: true no_pci: true memory_mb: 512
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "net_af_packet0,iface=pub" role: PORT_ROLE_PUBLIC addresses: "{DP_PUB}/24" }}
ports {{ name: "protected" vdev: "net_af_packet1,iface=prot" role: PORT_ROLE_PROTECTED
        addresses: "{DP_PROT}/24" }}
ipsec {{ enabled: true }}
rpc {{ unix_socket: "{sock}" }}
workers {{ count: 1 idle_sleep_us: 50 }}
"""


def ike_config(dp_sock, ike_sock, initiator, psk=PSK, esp="aes128gcm16", ike="aes128-sha256-ecp256",
               extra="", remote_ts=SS_NET, timers="retransmit_ms: 500 retransmit_tries: 3"):
    return f"""
dataplane_socket: "{dp_sock}"
unix_socket: "{ike_sock}"
connections {{
  name: "site"
  local_address: "{DP_PUB}"
  remote_address: "{SS_PUB}"
  local_id: "fqdn:{TCPSEC_ID}"
  remote_id: "fqdn:{SS_ID}"
  local_auth: AUTH_KIND_PSK
  remote_auth: AUTH_KIND_PSK
  ike_proposals: "{ike}"
  esp_proposals: "{esp}"
  local_ts: "{HOST_NET}"
  {f'remote_ts: "{remote_ts}"' if remote_ts else ""}
  auto_start: {"true" if initiator else "false"}
  {extra}
}}
secrets {{ ids: "fqdn:{SS_ID}" secret: "{psk}" }}
timers {{ {timers} }}
"""


def gateway_pb():
    """tcpsec.v1 modules for the Gateway service (generated with protoc)."""
    import functools  # noqa: F401  (cached below)
    global _GATEWAY_PB
    if _GATEWAY_PB is None:
        import importlib
        import sys
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        out = tempfile.mkdtemp(prefix="tcpsec-gw-pb2-")
        protos = [os.path.join(root, "proto", "tcpsec", "v1", f) for f in ("ipsec.proto", "gateway.proto")]
        subprocess.run(["protoc", f"--python_out={out}", "-I", os.path.join(root, "proto"), *protos],
                       check=True, capture_output=True, text=True)
        sys.path.insert(0, out)
        _GATEWAY_PB = importlib.import_module("tcpsec.v1.gateway_pb2")
    return _GATEWAY_PB


_GATEWAY_PB = None


def gateway_call(sock, method, request, reply_type):
    """One unary call of the Gateway service (independent Python client)."""
    import grpc
    with grpc.insecure_channel("unix:" + sock) as ch:
        call = ch.unary_unary("/tcpsec.v1.Gateway/" + method,
                              request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=getattr(gateway_pb(), reply_type).FromString)
        return call(request, timeout=10)


class IkeDaemon:
    """tcpsec-ike as a process; its stderr carries the event lines."""

    def __init__(self, config_text, workdir):
        self.path = os.path.join(workdir, "ike.textproto")
        with open(self.path, "w") as f:
            f.write(config_text)
        self.log_path = os.path.join(workdir, "ike.log")
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([ike_binary(), "--config", self.path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if "running" in self.output():
                return
            if self.proc.poll() is not None:
                raise RuntimeError("tcpsec-ike exited: " + self.output())
            time.sleep(0.1)
        raise RuntimeError("tcpsec-ike did not start: " + self.output())

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for(self, text, timeout=15.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.output():
                return True
            time.sleep(0.1)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc:
            self.log.close()


class IkeInterop:
    def __init__(self):
        tag = unique("")
        self.tmp = tempfile.mkdtemp(prefix="tcpsec-ike-")
        self.dp_sock = os.path.join(self.tmp, "dp.sock")
        self.ike_sock = os.path.join(self.tmp, "ike.sock")
        self.ns = {}
        self.tag = tag
        self.dp = None
        self.ike = None

    def __enter__(self):
        try:
            self.ns = {n: Netns(f"tcpsec-{n}{self.tag}") for n in ("host", "dp", "ss")}
            ns = self.ns
            for n in ns.values():
                n.run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
            veth("eth0", ns["host"], "prot", ns["dp"])
            veth("pub", ns["dp"], "eth0", ns["ss"])
            for n, ifs in (("dp", ("pub", "prot")), ("host", ("eth0",)), ("ss", ("eth0",))):
                for i in ifs:
                    ns[n].run(f"ethtool -K {i} tx off tso off gso off gro off", check=False)
            ns["host"].run(f"ip addr add {HOST}/24 dev eth0")
            ns["host"].run(f"ip route add default via {DP_PROT}")
            ns["ss"].run(f"ip addr add {SS_PUB}/24 dev eth0")
            ns["ss"].run(f"ip addr add {SS_LAN}/24 dev lo")
            self.dp = Dataplane(dataplane_config(f"tcpsec-ike{self.tag}", self.dp_sock), self.tmp,
                                netns=ns["dp"], name="dp")
            self.dp.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def start_ike(self, config_text):
        self.ike = IkeDaemon(config_text, self.tmp)
        self.ike.start()
        return self.ike

    def charon(self, initiator, psk=PSK, esp="aes128gcm16", ike="aes128-sha256-ecp256",
               charon_options=None, **kw):
        kw.setdefault("local_ts", SS_NET)
        kw.setdefault("remote_ts", HOST_NET)
        conn = ss.connection("site", local_addrs=SS_PUB, remote_addrs=DP_PUB, local_id=SS_ID,
                             remote_id=TCPSEC_ID, psk=psk, proposals=ike, esp_proposals=esp,
                             rekey_time=0, child_rekey_time=0, **kw)
        return ss.Charon(self.ns["ss"], [conn], name="ss", options=charon_options)

    def rekey(self, ike=False):
        pb = gateway_pb()
        return gateway_call(self.ike_sock, "Rekey", pb.RekeyRequest(connection="site", ike=ike),
                            "RekeyReply")

    def ike_sas(self):
        pb = gateway_pb()
        return gateway_call(self.ike_sock, "ListIkeSas", pb.ListIkeSasRequest(),
                            "ListIkeSasReply").ike_sas

    def ping_flow(self, count, interval=0.05):
        """A ping flow in the background; finish with finish_ping()."""
        return self.ns["host"].popen(["ping", "-n", "-q", "-c", str(count), "-i", str(interval),
                                      "-W", "1", SS_LAN], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

    def ping(self, count=5):
        r = self.ns["host"].run(f"ping -n -c {count} -i 0.2 -W 2 {SS_LAN}", check=False)
        return r.stdout

    def diagnostics(self):
        out = ""
        if self.ike:
            out += "\n--- tcpsec-ike ---\n" + self.ike.output()
        if self.dp:
            out += "\n--- dataplane ---\n" + self.dp.output()[-3000:]
            # Its live counters and drops by reason: where a lost packet went.
            ctl = os.environ.get("TCPSEC_TCPSECCTL", "")
            if ctl and self.dp.proc is not None and self.dp.proc.poll() is None:
                res = subprocess.run([ctl, "--socket", self.dp_sock, "counters"], text=True,
                                     capture_output=True, timeout=10)
                out += "\n--- dataplane counters ---\n" + res.stdout + res.stderr
        return out

    def stop(self):
        """Stops tcpsec-ike and the dataplane (whose final counters are then
        readable with self.dp.counter())."""
        if self.ike:
            self.ike.stop()
        if self.dp:
            self.dp.stop()

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            for n in self.ns.values():
                n.delete()
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False
