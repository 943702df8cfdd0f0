"""strongSwan (charon + swanctl) as an IKEv2/IPsec peer inside a network namespace.

Each Charon gets a private temp dir with its own strongswan.conf, swanctl.conf,
x509/x509ca/private dirs, log file and a private /run (charon's pid file path,
/var/run/charon.pid, is compiled in, so every charon runs in its own mount
namespace with that dir bind-mounted on /run). The vici socket lives in that
dir and swanctl talks to it with --uri unix://...

ESP is done in userspace by kernel-libipsec through a TUN device (ipsec0 in the
charon's namespace); charon installs routes to the remote traffic selectors via
ipsec0 in routing table 220 (src = a local address inside the local TS, so the
namespace needs one, e.g. on lo). strongSwan 5.9.8's libipsec supports ONLY
UDP-encapsulated ESP, so charon fakes a NAT (a bogus NAT_DETECTION_SOURCE_IP,
as initiator and as responder; both then list nat-remote=yes, neither
nat-local, so no NAT keepalives are sent), moves IKE to port 4500 after
IKE_SA_INIT, and ESP always travels in UDP 4500, whatever `encap` says. libipsec also refuses transport mode ("IPsec SA:
unsupported mode") and ESN ("IPsec SA: ESN not supported"): the CHILD_SA then
fails with NO_PROPOSAL_CHOSEN.

SA state comes from `swanctl --list-sas --raw` (vici's message, one line),
parsed by parse_raw() into dicts of strings (see Charon.list_sas()).
charon and tcpdump get PR_SET_PDEATHSIG, so a killed test process takes them
along (its namespaces and temp dirs do stay behind after a SIGKILL).

    ca = pki.CA(tmp)
    a_conn = connection("site", local_addrs="10.0.0.1", remote_addrs="10.0.0.2",
                        local_id="a.test", remote_id="b.test", psk="secret",
                        proposals="aes128-sha256-ecp256", esp_proposals="aes128gcm16",
                        local_ts="10.1.0.0/24", remote_ts="10.2.0.0/24")
    with Charon(ns_a, [a_conn], name="a") as a, Charon(ns_b, [b_conn], name="b") as b:
        a.initiate("net")                 # child name; blocks until done
        sas = a.list_sas()                # {"site": {"state": "ESTABLISHED", ..., "child-sas": {...}}}
        a.rekey(child="net"); a.rekey(ike="site")
        a.terminate(ike="site"); b.wait_no_sas()
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

CHARON = "/usr/lib/ipsec/charon"
SWANCTL = "/usr/sbin/swanctl"

# A minimal, explicit plugin list: nothing from /etc/strongswan.d is loaded.
# kdf is required for IKE key derivation in 5.9.x; kernel-libipsec must come
# before kernel-netlink so that it provides the IPsec (SA/policy) backend while
# kernel-netlink provides addresses and routes.
CHARON_PLUGINS = ("random nonce drbg openssl aes sha1 sha2 hmac gcm gmp kdf curve25519 pem pkcs1 "
                  "pkcs8 x509 pubkey constraints attr kernel-libipsec kernel-netlink "
                  "socket-default vici")
SWANCTL_PLUGINS = "random nonce openssl pem pkcs1 pkcs8 x509 pubkey"

DEFAULT_LOG_LEVELS = {"default": 1, "ike": 2, "cfg": 2, "knl": 2, "net": 1, "enc": 1}


def _die_with_parent():
    """preexec_fn: SIGTERM this child when the test process dies, so a
    killed pytest leaves no charon/tcpdump behind (survives exec)."""
    import ctypes
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG


def _available_plugins():
    d = "/usr/lib/ipsec/plugins"
    try:
        return {f[len("libstrongswan-"):-3] for f in os.listdir(d) if f.endswith(".so")}
    except OSError:
        return set()


def charon_plugins():
    """CHARON_PLUGINS restricted to the plugins installed here (e.g. the
    separate curve25519 plugin may be absent: openssl then provides x25519)."""
    have = _available_plugins()
    return " ".join(p for p in CHARON_PLUGINS.split() if not have or p in have)


# --------------------------------------------------------------------------
# swanctl.conf generation
# --------------------------------------------------------------------------

def _value(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def render(tree, indent=0):
    """Renders nested dicts in strongswan.conf/swanctl.conf syntax. String
    values starting with '"' are written verbatim (quoted secrets)."""
    pad = "    " * indent
    out = []
    for key, val in tree.items():
        if val is None:
            continue
        if isinstance(val, dict):
            out.append(f"{pad}{key} {{")
            out.append(render(val, indent + 1))
            out.append(f"{pad}}}")
        else:
            out.append(f"{pad}{key} = {_value(val)}")
    return "\n".join(x for x in out if x != "")


def _quote(secret):
    return '"' + secret.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Conn:
    """One swanctl connection: its section, secrets and files to install."""

    def __init__(self, name, child, section, secrets, files):
        self.name = name          # IKE connection name (swanctl --ike NAME)
        self.child = child        # first child's name (swanctl --child NAME)
        self.section = section    # dict rendered under connections { NAME { } }
        self.secrets = secrets    # dict rendered under secrets { }
        self.files = files        # [(subdir, source path)], copied under swanctl/


def connection(name, *, local_addrs="%any", remote_addrs="%any", local_id=None, remote_id=None,
               auth="psk", psk=None, cert=None, cacerts=(), remote_auth=None,
               proposals="default", esp_proposals="default", local_ts=None, remote_ts=None,
               mode="tunnel", encap=None, dpd_delay=None, dpd_action=None,
               rekey_time=None, reauth_time=None, over_time=None,
               child_rekey_time=None, child_life_time=None,
               vips=None, pools=None, child="net", start_action=None, close_action=None,
               send_cert=None, send_certreq=None, mobike=None, version=2,
               local_port=None, remote_port=None, conn_extra=None, child_extra=None,
               extra_children=None):
    """Builds a Conn from keyword arguments.

    auth: "psk" (needs psk=) or "pubkey" (needs cert=, a pki.Cert; cacerts= the
    CA PEM paths to trust). remote_auth defaults to auth. IDs: strings as
    swanctl writes them ("gw.test" FQDN, "a@test" email, "10.0.0.1" IP, a DN);
    with pubkey the IDs must match a SAN (or the DN) of the certificate.
    proposals / esp_proposals: strongSwan strings, e.g. "aes128-sha256-ecp256",
    "aes256gcm16-prf-sha384-ecp384", "aes128-sha256-modp2048",
    "aes128gcm16-prf-sha256-x25519"; esp_proposals "aes128gcm16", "aes128-sha256".
    local_ts/remote_ts: "10.1.0.0/24" or a list; "dynamic" = the (virtual) IP.
    encap: True forces UDP encapsulation (charon fakes a NAT). vips: client
    side, e.g. "0.0.0.0" to request an IPv4 address; pools: server side, the
    names of Charon(pools=...) entries. *_time in seconds (0 disables) or
    strongSwan strings ("1h"). conn_extra / child_extra: more raw keys.
    """
    remote_auth = remote_auth or auth
    # strongSwan spells PRFs "prfsha384"; accept "prf-sha384" too.
    proposals = re.sub(r"\bprf-", "prf", proposals) if proposals else proposals
    files = []
    local = {"auth": auth, "id": local_id}
    if auth == "pubkey":
        assert cert is not None, "auth=pubkey needs cert="
        local["certs"] = os.path.basename(cert.cert_pem)
        files += [("x509", cert.cert_pem), ("private", cert.key_pem)]
    for ca in cacerts:
        files.append(("x509ca", ca))
    remote = {"auth": remote_auth, "id": remote_id}

    child_sec = {"local_ts": local_ts, "remote_ts": remote_ts, "esp_proposals": esp_proposals,
                 "mode": mode, "rekey_time": child_rekey_time, "life_time": child_life_time,
                 "start_action": start_action, "dpd_action": dpd_action,
                 "close_action": close_action}
    child_sec.update(child_extra or {})
    section = {"version": version, "local_addrs": local_addrs, "remote_addrs": remote_addrs,
               "local_port": local_port, "remote_port": remote_port,
               "proposals": proposals, "encap": encap, "dpd_delay": dpd_delay,
               "rekey_time": rekey_time, "reauth_time": reauth_time, "over_time": over_time,
               "vips": vips, "pools": pools, "mobike": mobike,
               "send_cert": send_cert, "send_certreq": send_certreq}
    section.update(conn_extra or {})
    section["local"] = local
    section["remote"] = remote
    section["children"] = {child: child_sec}
    # More children of the same IKE SA: {name: {"local_ts": ..., ...}}.
    section["children"].update(extra_children or {})

    secrets = {}
    if "psk" in (auth, remote_auth):
        assert psk is not None, "auth=psk needs psk="
        ids = {}
        for i, ident in enumerate(x for x in (local_id, remote_id) if x):
            ids[f"id-{i + 1}"] = ident
        secrets[f"ike-{name}"] = dict(ids, secret=_quote(psk))
    if auth == "pubkey":
        secrets[f"private-{name}"] = {"file": os.path.basename(cert.key_pem)}
    return Conn(name, child, section, secrets, files)


def pool(name, addrs, **attrs):
    """A pools { } entry for remote access: addrs "10.3.0.0/24" or a range,
    attrs e.g. dns="10.3.0.53"."""
    return name, dict(addrs=addrs, **attrs)


# --------------------------------------------------------------------------
# swanctl --raw output parsing
# --------------------------------------------------------------------------

# vici keys and section names are lower case ("local-id", "child-sas",
# "net-1"), DN attributes inside values are not ("C=XX, O=tcpsec test").
_VALUE_END = re.compile(r"\s+[a-z0-9][a-z0-9_.-]*(?:=|\s*\{)|\s*\}")
_TOKEN = re.compile(r"\s*(?:(\})|(\])|([^\s={\[\]}]+)\s*(\{|\[|=))")


def parse_raw(text):
    """Parses `swanctl --raw` output (one vici message per line, as
    `name {key=value sub {..} list [a b]}`) into a list of dicts.

    Values run to the next ` key=` / ` key {` with a lower-case key, or a
    closing brace, so values with spaces (DNs like "C=XX, O=x, CN=y") survive.
    Lists (`key=[a b]`) become Python lists. All scalars stay strings.
    IKE_SA / connection names must be lower case for this to be exact."""
    messages = []
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"^(.*?)\s*\{(.*)\}$", line)
        if not m:
            continue
        body = m.group(2)
        pos, stack = 0, [{}]
        while pos < len(body):
            t = _TOKEN.match(body, pos)
            if not t:
                break
            close_sec, close_list, key, kind = t.groups()
            pos = t.end()
            if close_sec or close_list:
                stack.pop()
                continue
            if kind == "{":
                new = {}
                stack[-1][key] = new
                stack.append(new)
            elif kind == "[":
                end = body.index("]", pos)
                stack[-1][key] = body[pos:end].split()
                pos = end + 1
            elif body.startswith("[", pos):
                # key=[a b]: swanctl writes lists this way.
                end = body.index("]", pos)
                stack[-1][key] = body[pos + 1:end].split()
                pos = end + 1
            else:
                # Value: up to the next " key=" / " key {" / " key [" / "}".
                n = _VALUE_END.search(body, pos)
                end = n.start() if n else len(body)
                stack[-1][key] = body[pos:end]
                pos = end
        messages.append(stack[0])
    return messages


# --------------------------------------------------------------------------
# The daemon
# --------------------------------------------------------------------------

class CharonError(RuntimeError):
    pass


class Charon:
    """charon in `netns` (a tcpsec_e2e.Netns or a namespace name) with the
    given Conns. Context manager: starts, loads the config, and on exit stops
    charon and removes its temp dir (printing the log tail if the block
    raised, so pytest shows it)."""

    def __init__(self, netns, conns=(), pools=(), name="charon", log_levels=None,
                 options=None, workdir=None, keep_workdir=False):
        self.ns = netns if isinstance(netns, str) else netns.name
        self.conns = list(conns)
        self.pools = dict(pools)
        self.name = name
        self.log_levels = dict(DEFAULT_LOG_LEVELS, **(log_levels or {}))
        self.options = options or {}
        self.keep_workdir = keep_workdir
        self._workdir = workdir
        self.dir = None           # the temp dir, made by start()
        self.proc = None
        self._stdout = None

    def _make_dir(self):
        # Made on start, not in __init__, so a Charon that is never entered
        # leaves nothing behind.
        if self.dir:
            return
        if self._workdir:
            os.makedirs(self._workdir, exist_ok=True)
        self.dir = self._workdir or tempfile.mkdtemp(prefix=f"tcpsec-ss-{self.name}-")
        self.run_dir = os.path.join(self.dir, "run")
        self.swanctl_dir = os.path.join(self.dir, "swanctl")
        self.conf_path = os.path.join(self.dir, "strongswan.conf")
        self.log_path = os.path.join(self.dir, "charon.log")
        self.stdout_path = os.path.join(self.dir, "charon.stdout")
        self.vici = os.path.join(self.run_dir, "charon.vici")
        self.uri = "unix://" + self.vici

    # ---- configuration ---------------------------------------------------

    def strongswan_conf(self):
        levels = {k: v for k, v in self.log_levels.items()}
        charon = {
            "load": charon_plugins(),
            "install_routes": True,
            "install_virtual_ip": True,
            "retransmit_tries": 3,
            "retransmit_timeout": 1.0,
            "retransmit_base": 1.4,
            "plugins": {
                "vici": {"socket": self.uri},
                "kernel-libipsec": {"allow_peer_ts": False},
            },
            "filelog": {
                "charonlog": dict({"path": self.log_path, "time_format": "%H:%M:%S",
                                   "ike_name": True, "append": False, "flush_line": True},
                                  **levels),
            },
            # No syslog loggers: everything goes to the file above.
            "syslog": {},
        }
        for key, val in self.options.items():   # e.g. {"plugins": {...}} merged shallowly
            if isinstance(val, dict) and isinstance(charon.get(key), dict):
                charon[key] = dict(charon[key], **val)
            else:
                charon[key] = val
        return render({"charon": charon, "swanctl": {"load": SWANCTL_PLUGINS}}) + "\n"

    def swanctl_conf(self):
        conns = {c.name: c.section for c in self.conns}
        secrets = {}
        for c in self.conns:
            secrets.update(c.secrets)
        tree = {"connections": conns, "secrets": secrets}
        if self.pools:
            tree["pools"] = self.pools
        return render(tree) + "\n"

    def write_config(self):
        self._make_dir()
        os.makedirs(self.run_dir, exist_ok=True)
        for sub in ("x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey",
                    "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12", "conf.d"):
            os.makedirs(os.path.join(self.swanctl_dir, sub), exist_ok=True)
        for c in self.conns:
            for sub, src in c.files:
                shutil.copy(src, os.path.join(self.swanctl_dir, sub, os.path.basename(src)))
        with open(self.conf_path, "w") as f:
            f.write(self.strongswan_conf())
        with open(os.path.join(self.swanctl_dir, "swanctl.conf"), "w") as f:
            f.write(self.swanctl_conf())

    def env(self):
        return dict(os.environ, STRONGSWAN_CONF=self.conf_path, SWANCTL_DIR=self.swanctl_dir)

    # ---- lifecycle -------------------------------------------------------

    def start(self, timeout=15.0):
        self.write_config()
        self._stdout = open(self.stdout_path, "w")
        # ip netns exec already unshares the mount namespace (and makes / a
        # slave), so the bind mount over /run stays private to this charon.
        script = f'mount --bind "{self.run_dir}" /run && exec {CHARON}'
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "sh", "-c", script],
                                     stdout=self._stdout, stderr=subprocess.STDOUT,
                                     env=self.env(), cwd=self.dir,
                                     preexec_fn=_die_with_parent)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise CharonError(f"charon {self.name} exited {self.proc.returncode}:\n"
                                  + self.log_tail())
            if os.path.exists(self.vici):
                res = self.swanctl("--stats", check=False, timeout=5)
                if res.returncode == 0:
                    return self
            time.sleep(0.1)
        raise CharonError(f"charon {self.name}: vici did not answer\n" + self.log_tail())

    def load(self):
        """swanctl --load-all (conns, secrets, certs, keys, pools)."""
        return self.swanctl("--load-all", "--noprompt", "--file",
                            os.path.join(self.swanctl_dir, "swanctl.conf"))

    def reload(self, conns=None, pools=None):
        """Rewrites the config (optionally with new conns/pools) and reloads it."""
        if conns is not None:
            self.conns = list(conns)
        if pools is not None:
            self.pools = dict(pools)
        self.write_config()
        return self.load()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._stdout:
            self._stdout.close()
            self._stdout = None

    def cleanup(self):
        self.stop()
        if self.dir and not self.keep_workdir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            self.start()
            self.load()
        except BaseException:
            try:
                print(f"---- charon {self.name} log ----\n{self.log_tail()}")
            finally:
                self.cleanup()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is not None:
                print(f"---- charon {self.name} ({self.ns}) log tail ----\n"
                      f"{self.log_tail(120)}")
        finally:
            self.cleanup()
        return False

    # ---- swanctl ---------------------------------------------------------

    def swanctl(self, *args, check=True, timeout=30):
        cmd = [SWANCTL, *args, "--uri", self.uri]
        try:
            res = subprocess.run(cmd, env=self.env(), text=True, capture_output=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise CharonError(f"{' '.join(cmd)} timed out\n{self.log_tail()}") from e
        if check and res.returncode != 0:
            raise CharonError(f"{' '.join(cmd)} -> {res.returncode}\n{res.stdout}{res.stderr}\n"
                              f"---- log ----\n{self.log_tail()}")
        return res

    def initiate(self, child=None, ike=None, timeout=15, check=True):
        """swanctl --initiate (blocks until established or failed). Returns the
        CompletedProcess; raises CharonError on failure if check."""
        args = ["--initiate", "--timeout", str(timeout)]
        if child:
            args += ["--child", child]
        if ike:
            args += ["--ike", ike]
        return self.swanctl(*args, check=check, timeout=timeout + 10)

    def terminate(self, ike=None, child=None, timeout=10, force=False, check=True):
        args = ["--terminate", "--timeout", str(timeout)]
        if ike:
            args += ["--ike", ike]
        if child:
            args += ["--child", child]
        if force:
            args += ["--force"]
        return self.swanctl(*args, check=check, timeout=timeout + 10)

    def rekey(self, child=None, ike=None, reauth=False, wait=True, timeout=15):
        """Starts a rekey of the named CHILD_SA or IKE_SA; with wait, returns
        once list_sas() shows a different SPI pair installed/established (the
        old SA gone), and returns (old, new) SPI tuples."""
        before = self._spis(child=child, ike=ike)
        args = ["--rekey"]
        if child:
            args += ["--child", child]
        if ike:
            args += ["--ike", ike]
        if reauth:
            args += ["--reauth"]
        self.swanctl(*args)
        if not wait:
            return before, None
        deadline = time.time() + timeout
        while time.time() < deadline:
            now = self._spis(child=child, ike=ike)
            if now and before and len(now) == 1 and now[0] != before[0]:
                return before[0], now[0]
            time.sleep(0.1)
        raise CharonError(f"rekey of {child or ike} did not complete: before {before}, "
                          f"now {self._spis(child=child, ike=ike)}\n{self.log_tail()}")

    def _spis(self, child=None, ike=None):
        out = []
        for ike_name, sa in self.list_sas().items():
            if child:
                for c in sa.get("child-sas", {}).values():
                    if c.get("name") == child and c.get("state") == "INSTALLED":
                        out.append((c.get("spi-in"), c.get("spi-out")))
            elif ike_name == ike and sa.get("state") == "ESTABLISHED":
                out.append((sa.get("initiator-spi"), sa.get("responder-spi")))
        return out

    def list_sas(self, ike=None):
        """swanctl --list-sas --raw parsed: {ike_name: ike_sa_dict}. Each dict
        holds vici's keys as strings ("state", "initiator-spi", "local-host",
        "encr-alg", "dh-group", ...) and "child-sas": {"<name>-<id>": child
        dict with "name", "state", "spi-in", "spi-out", "protocol",
        "encap", "mode", "local-ts": [...], "remote-ts": [...], "bytes-in", ...}.
        If several IKE_SAs share a name (e.g. during reauth), the last wins;
        use list_sa_list() to get them all."""
        return {name: sa for name, sa in self.list_sa_list(ike)}

    def list_sa_list(self, ike=None):
        args = ["--list-sas", "--raw"]
        if ike:
            args += ["--ike", ike]
        res = self.swanctl(*args)
        out = []
        for msg in parse_raw(res.stdout):
            for name, sa in msg.items():
                if isinstance(sa, dict):
                    out.append((name, sa))
        return out

    def wait_established(self, timeout=15.0, ike=None, child=None):
        """Waits until an IKE_SA (named ike, or any) is ESTABLISHED and, if
        child is given, that CHILD_SA is INSTALLED. Returns list_sas()."""
        deadline = time.time() + timeout
        while True:
            sas = self.list_sas()
            for name, sa in sas.items():
                if ike and name != ike or sa.get("state") != "ESTABLISHED":
                    continue
                if child is None or any(c.get("name") == child and c.get("state") == "INSTALLED"
                                        for c in sa.get("child-sas", {}).values()):
                    return sas
            if time.time() > deadline:
                raise CharonError(f"{self.name}: not established after {timeout}s: {sas}\n"
                                  + self.log_tail())
            time.sleep(0.1)

    def wait_no_sas(self, timeout=10.0):
        """Waits until this charon has no IKE_SA at all; returns True/False."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.list_sas():
                return True
            time.sleep(0.1)
        return False

    # ---- logs ------------------------------------------------------------

    def log(self):
        text = ""
        if not self.dir:
            return text
        for p in (self.log_path, self.stdout_path):
            try:
                with open(p, errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def log_tail(self, lines=60):
        return "\n".join(self.log().splitlines()[-lines:])


# --------------------------------------------------------------------------
# Wire capture
# --------------------------------------------------------------------------

class Capture:
    """tcpdump on `iface` in `netns`, writing a pcap; context manager.
    After exit, .packets() gives scapy packets and .summary() counts."""

    def __init__(self, netns, iface, path, bpf=""):
        self.ns = netns if isinstance(netns, str) else netns.name
        self.iface = iface
        self.path = path
        self.bpf = bpf
        self.proc = None
        self.err_path = path + ".stderr"

    def __enter__(self):
        self._err = open(self.err_path, "w")
        cmd = ["ip", "netns", "exec", self.ns, "tcpdump", "-i", self.iface, "-n", "-U", "--immediate-mode",
               "-Z", "root", "-s", "0", "-w", self.path] + (self.bpf.split() if self.bpf else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._err,
                                     preexec_fn=_die_with_parent)
        deadline = time.time() + 10
        while time.time() < deadline:
            with open(self.err_path) as f:
                if "listening on" in f.read():
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        with open(self.err_path) as f:
            raise RuntimeError("tcpdump did not start: " + f.read())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            time.sleep(0.2)   # let the last packets reach the file
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_err", None):
            self._err.close()
            self._err = None

    def __exit__(self, *exc):
        self.stop()
        return False

    def packets(self):
        import scapy.layers.inet6  # noqa: F401 (registers the link types
        import scapy.layers.l2  # noqa: F401   rdpcap needs: Ethernet here)
        from scapy.utils import rdpcap
        if not os.path.exists(self.path) or os.path.getsize(self.path) < 24:
            return []
        return list(rdpcap(self.path))

    def summary(self):
        return classify(self.packets())


def classify(packets):
    """Counts IPv4/IPv6 packets by kind: esp (IP proto 50), udp_esp (UDP 4500,
    non-ESP marker absent), ike (UDP 500 or UDP 4500 with the zero marker),
    icmp (plain ICMP/ICMPv6 echo), other."""
    from scapy.layers.inet import IP, UDP, ICMP
    from scapy.layers.inet6 import IPv6
    counts = {"esp": 0, "udp_esp": 0, "ike": 0, "icmp": 0, "other": 0, "nat_keepalive": 0}
    for p in packets:
        ip = p.getlayer(IP) or p.getlayer(IPv6)
        if ip is None:
            continue
        proto = ip.proto if ip.haslayer(IP) else ip.nh
        if proto == 50:
            counts["esp"] += 1
        elif p.haslayer(UDP) and 4500 in (p[UDP].sport, p[UDP].dport):
            data = bytes(p[UDP].payload)
            if data == b"\xff":
                counts["nat_keepalive"] += 1
            elif data[:4] == b"\0\0\0\0":
                counts["ike"] += 1
            else:
                counts["udp_esp"] += 1
        elif p.haslayer(UDP) and 500 in (p[UDP].sport, p[UDP].dport):
            counts["ike"] += 1
        elif p.haslayer(ICMP) or proto == 58:
            counts["icmp"] += 1
        else:
            counts["other"] += 1
    return counts
