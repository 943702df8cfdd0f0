"""Harness for end-to-end tests of the real tcpsec-dataplane binary.

Hosts are network namespaces joined by veth pairs; the dataplane runs in its
own namespace on net_af_packet ports (or on net_pcap files). Test code talks
to the wire through raw AF_PACKET sockets opened inside a namespace, and uses
scapy only to build and parse bytes, so no scapy state depends on namespaces.
"""

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

DATAPLANE = os.environ.get("TCPSEC_DATAPLANE", "")
CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def sh(cmd, check=True, **kw):
    """Runs a shell command; returns CompletedProcess with text output."""
    return subprocess.run(cmd, shell=True, check=check, text=True, capture_output=True, **kw)


class Netns:
    """A network namespace that deletes itself."""

    def __init__(self, name):
        self.name = name
        sh(f"ip netns del {name}", check=False)
        sh(f"ip netns add {name}")
        self.run("ip link set lo up")

    def run(self, cmd, check=True, **kw):
        return sh(f"ip netns exec {self.name} {cmd}", check=check, **kw)

    def popen(self, cmd, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name] + cmd, **kw)

    @contextlib.contextmanager
    def entered(self):
        """Switches this thread into the namespace (sockets made here stay there)."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/var/run/netns/{self.name}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            yield
        finally:
            _libc.setns(own, CLONE_NEWNET)
            os.close(own)
            os.close(target)

    def raw_socket(self, ifname):
        with self.entered():
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            s.bind((ifname, 0))
        s.settimeout(0.2)
        return s

    def nft_counters(self, table):
        """Packets counted by each commented rule of nftables table `table` here."""
        out = self.run(f"nft -j list table {table}").stdout
        counts = {}
        for item in json.loads(out)["nftables"]:
            rule = item.get("rule")
            if not rule:
                continue
            for e in rule["expr"]:
                if "counter" in e:
                    counts[rule.get("comment", "?")] = e["counter"]["packets"]
        return counts

    def delete(self):
        sh(f"ip netns del {self.name}", check=False)


def veth(a, ns_a, b, ns_b, mac_a=None, mac_b=None):
    """Creates the veth pair a<->b with a in ns_a and b in ns_b, both up."""
    sh(f"ip link add {a} netns {ns_a.name} type veth peer name {b} netns {ns_b.name}")
    for name, ns, mac in ((a, ns_a, mac_a), (b, ns_b, mac_b)):
        if mac:
            ns.run(f"ip link set {name} address {mac}")
        # Quiet links: no IPv6 autoconfiguration chatter on test wires.
        ns.run(f"sysctl -qw net.ipv6.conf.{name}.accept_ra=0", check=False)
        ns.run(f"ip link set {name} up")


def recv_matching(sock, match, timeout=3.0):
    """Returns the first frame for which match(bytes) is true, or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            frame, addr = sock.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        if match(frame):
            return frame
    return None


class Dataplane:
    """The real tcpsec-dataplane binary with a generated configuration."""

    def __init__(self, config_text, workdir, netns=None, name="dp"):
        assert DATAPLANE, "TCPSEC_DATAPLANE must name the binary"
        self.workdir = workdir
        self.config_path = os.path.join(workdir, f"{name}.textproto")
        self.counters_path = os.path.join(workdir, f"{name}-counters.json")
        self.log_path = os.path.join(workdir, f"{name}.log")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.netns = netns
        self.proc = None
        self.counters = None

    def start(self, timeout=15.0):
        cmd = [DATAPLANE, "--config", self.config_path, "--counters-json", self.counters_path]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns.name] + cmd
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dataplane exited {self.proc.returncode}:\n{self.output()}")
            if "running" in self.output():
                return self
            time.sleep(0.05)
        raise RuntimeError("dataplane did not start:\n" + self.output())

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        """Stops the dataplane; returns its final counters (None if it never ran)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if not os.path.exists(self.counters_path):
            return None  # it failed before reporting; its log says why
        with open(self.counters_path) as f:
            self.counters = json.load(f)
        return self.counters

    def counter(self, name):
        return self.counters["counters"].get(name, 0)

    def drop(self, name):
        return self.counters["drops"].get(name, 0)


def run_pcap(config_text, workdir, duration=1.0):
    """Runs the dataplane on pcap ports for `duration` seconds; returns counters."""
    cfg = os.path.join(workdir, "dp.textproto")
    counters = os.path.join(workdir, "counters.json")
    with open(cfg, "w") as f:
        f.write(config_text)
    res = subprocess.run([DATAPLANE, "--config", cfg, "--duration", str(duration),
                          "--counters-json", counters], cwd=workdir, text=True,
                         capture_output=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    with open(counters) as f:
        return json.load(f)


def unique(prefix):
    """A short unique name (interface names are limited to 15 characters)."""
    return f"{prefix}{os.getpid() % 100000}"
