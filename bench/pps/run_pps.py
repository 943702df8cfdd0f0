#!/usr/bin/python3
"""End-to-end packets-per-second harness for tcpsec-dataplane.

Runs the real binary with one busy-polling worker on virtual ports: the input
port is a net_pcap device replaying a generated pcap forever
(infinite_rx=1), the other port is a net_null device that frees whatever it
is given (no-rx=1). Throughput is what the output port transmitted divided by
the time the worker ran (`elapsed_s` in --counters-json, start-up excluded);
cycles per packet is tsc_hz * elapsed_s / packets (one core).

Cases (each at inner sizes 64, 512, 1400 bytes and IMIX 7:4:1 of 64/576/1400;
the size is the inner IP packet, i.e. the IKE/ESP packet as the host sends it,
raised to the smallest valid packet where 64 is too small: IPv6 + UDP + IKE
header is 76 bytes):

  forward          workers.plain_forward: frames are forwarded unchanged,
                   the plain I/O cost of this same harness (input: the plain
                   IPv4 ESP frames of the ctcp-encap-esp case)
  ctcp-decap-esp   public -> local: pseudo-TCP data segments carrying ESP on
                   static connections (pseudo_tcp.connections), decapsulated
                   and punted to the LOCAL port
  ctcp-encap-esp   local -> public: plain ESP from the host with an SPI of a
                   static connection, encapsulated to the PUBLIC port
  ctcp-decap-ike / ctcp-encap-ike   the same for IKE (UDP 500)
  ...-v6           the same over IPv6

The pcap PMD copies every packet from its replay ring into a fresh mbuf: that
cost is in every number, which is why the forward baseline is measured by the
same harness and the ratio column divides by it.

Run with /usr/bin/python3 (scapy); no root needed. See bench/README.md.
"""

import argparse
import json
import multiprocessing
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time

try:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    SCAPY_ERROR = None
except ImportError as e:  # runs can still reuse pcaps generated elsewhere (--workdir)
    SCAPY_ERROR = e

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Topology (addresses as in config/dataplane-pcap.textproto).
PUBLIC_MAC = "02:00:00:00:00:01"
LOCAL_MAC = "02:00:00:00:00:03"
ROUTER_MAC = "02:00:00:00:01:01"  # the public next hop
HOST_MAC = "02:00:00:00:03:02"  # the IKE daemon's host behind LOCAL
FAMILIES = {
    "v4": {
        "ours": "192.0.2.10",
        "prefix": "192.0.2.10/24",
        "router": "192.0.2.1",
        "default": "0.0.0.0/0",
        "peer": lambda i: f"203.0.113.{1 + i}",
    },
    "v6": {
        "ours": "2001:db8:0:1::10",
        "prefix": "2001:db8:0:1::10/64",
        "router": "2001:db8:0:1::1",
        "default": "::/0",
        "peer": lambda i: f"2001:db8:ffff::{1 + i:x}",
    },
}
LOCAL_PORT = 443
CONNECTIONS = 16  # static connections the packets are spread over
SPIS_PER_CONNECTION = 4
TRAILER_MAGIC = bytes([0x21, 0x45, 0x6C, 0x69])
SIZES = ["64", "512", "1400", "imix"]
IMIX_CYCLE = [64, 576, 64, 64, 576, 64, 1400, 64, 576, 64, 576, 64]  # 7:4:1
assert sorted(IMIX_CYCLE) == sorted([64] * 7 + [576] * 4 + [1400])


def case_names():
    names = ["forward"]
    for fam in ("v4", "v6"):
        sfx = "" if fam == "v4" else "-v6"
        for proto in ("esp", "ike"):
            names += [f"ctcp-decap-{proto}{sfx}", f"ctcp-encap-{proto}{sfx}"]
    return names


def parse_case(name):
    """'ctcp-decap-esp-v6' -> ('decap', 'esp', 'v6'); 'forward' -> ('forward', 'esp', 'v4')."""
    if name == "forward":
        return "forward", "esp", "v4"
    parts = name.split("-")
    return parts[1], parts[2], parts[3] if len(parts) > 3 else "v4"


def esp_spi(conn, k):
    return 0x10000000 + conn * 16 + k


def ike_spi(conn):
    return 0x1122334455660000 + conn


def send_start(conn):
    return 0x40000000 + conn * 0x01000000  # our send_next on connection `conn`


def receive_start(conn):
    return 0x80000000 + conn * 0x01000000  # the peer's sequence we expect


def trailer(proto, ipv4_id):
    return (bytes(4) + struct.pack("!H", ipv4_id) + bytes(2) + TRAILER_MAGIC +
            bytes([0x10, proto, 0x01, 0x00]))


def ip_header(fam, src, dst, ident, proto):
    if fam == "v4":
        return IP(src=src, dst=dst, id=ident, flags="DF", ttl=64, proto=proto)
    return IPv6(src=src, dst=dst, hlim=64, nh=proto)


PATTERN = bytes(range(256)) * 8


def payload_bytes(length, seed):
    """Distinct-enough filler: a window into a 0..255 ramp, shifted per packet."""
    off = seed % 256
    return PATTERN[off:off + length]


def ip_overhead(fam):
    return 20 if fam == "v4" else 40


def esp_l4(fam, size, conn, n):
    """A bare ESP packet (SPI, sequence, opaque data) filling an inner IP packet of `size`."""
    data = payload_bytes(max(size - ip_overhead(fam) - 8, 16), n * 7 + conn)
    return struct.pack("!II", esp_spi(conn, n % SPIS_PER_CONNECTION), n + 1) + data


def ike_message(fam, size, conn, n):
    """An IKEv2 INFORMATIONAL with an Encrypted payload, both SPIs set."""
    body = payload_bytes(max(size - ip_overhead(fam) - 8 - 28, 0), n * 3 + conn)
    return struct.pack("!QQBBBBII", ike_spi(conn), 0xA0B0C0D000000000 + conn, 46, 0x20, 37, 0x08,
                       n & 0xFFFFFFFF, 28 + len(body)) + body


def size_of(size_name, n):
    if size_name == "imix":
        return IMIX_CYCLE[n % len(IMIX_CYCLE)]
    return int(size_name)


def make_frames(direction, proto, fam, size_name, count):
    """The input frames of a case and the mean inner IP packet size.

    encap/forward: the IKE or ESP packet as the local host sends it.
    decap: what the peer sends, one pseudo-TCP data segment per packet on the
    static connection (wire-formats.md 1): TCP header, the inner L4 bytes (IKE:
    UDP header with checksum zero), 16-byte trailer. Sequence numbers run on
    from receive_next per connection.

    scapy fills in every length and checksum. One scapy packet per connection
    is kept and only its varying fields are set before each build (building
    fresh layer objects for every packet is several times slower).
    """
    f = FAMILIES[fam]
    frames = []
    inner_total = 0
    seq = {c: receive_start(c) for c in range(CONNECTIONS)}
    templates = {}
    for j in range(count):
        conn = j % CONNECTIONS
        n = j // CONNECTIONS
        size = size_of(size_name, j)
        ident = (n * 13 + conn) & 0xFFFF
        pkt = templates.get(conn)
        if pkt is None:
            ours, peer = f["ours"], f["peer"](conn)
            if direction in ("encap", "forward"):
                l3 = ip_header(fam, ours, peer, 0, 50 if proto == "esp" else 17)
                if proto == "ike":
                    l3 = l3 / UDP(sport=500, dport=500)
                pkt = Ether(dst=LOCAL_MAC, src=HOST_MAC) / l3 / Raw(b"")
            else:
                tcp = TCP(sport=10000 + conn, dport=LOCAL_PORT, ack=send_start(conn), flags="A",
                          window=65535)
                pkt = Ether(dst=PUBLIC_MAC, src=ROUTER_MAC) / ip_header(fam, peer, ours, 0,
                                                                         6) / tcp / Raw(b"")
            layer = pkt
            while layer:  # no random fields: skip scapy's per-build copy of each layer
                layer.explicit = 1
                layer = layer.payload
            templates[conn] = pkt
        if fam == "v4":
            pkt[IP].id = ident
        if direction in ("encap", "forward"):
            pkt[Raw].load = (esp_l4(fam, size, conn, n)
                             if proto == "esp" else ike_message(fam, size, conn, n))
            frame = bytes(pkt)
            inner_total += len(frame) - 14
            frames.append(frame)
            continue
        if proto == "esp":
            l4, iproto, tid = esp_l4(fam, size, conn, n), 50, 0
        else:
            ike = ike_message(fam, size, conn, n)
            l4 = struct.pack("!HHHH", 500, 500, 8 + len(ike), 0) + ike
            iproto, tid = 17, ident if fam == "v4" else 0
        inner_total += ip_overhead(fam) + len(l4)
        payload = l4 + trailer(iproto, tid)
        pkt[TCP].seq = seq[conn]
        pkt[Raw].load = payload
        seq[conn] = (seq[conn] + len(payload)) & 0xFFFFFFFF
        frames.append(bytes(pkt))
    return frames, inner_total / count


def write_pcap(path, frames):
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            out.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(fr), len(fr)))
            out.write(fr)


def make_config(direction, fam, pcap, prefix, burst, lcores=None):
    """Config text: port 0 is the pcap input, port 1 the net_null output."""
    f = FAMILIES[fam]
    pcap_dev = f"net_pcap0,rx_pcap={pcap},infinite_rx=1"
    null_dev = "net_null0,no-rx=1"
    public_in = direction == "decap"
    ports = [("public", pcap_dev if public_in else null_dev, "PORT_ROLE_PUBLIC", PUBLIC_MAC,
              [FAMILIES["v4"]["prefix"], FAMILIES["v6"]["prefix"]]),
             ("local", null_dev if public_in else pcap_dev, "PORT_ROLE_LOCAL", LOCAL_MAC,
              ["169.254.77.1/30"])]
    if not public_in:
        ports.reverse()  # the input port first: DPDK port 0
    lines = [
        f'description: "bench/pps/run_pps.py {direction} {fam}"',
        "eal {",
        f'  file_prefix: "{prefix}"',
        "  no_huge: true",
        "  no_pci: true",
        "  memory_mb: 1024",
        '  args: "--no-shconf"',
        '  args: "--log-level=lib.eal:error"',
    ]
    if lcores:
        lines += ['  args: "-l"', f'  args: "{lcores}"']
    lines += ["}"]
    for name, dev, role, mac, addrs in ports:
        lines += ["ports {", f'  name: "{name}"', f'  vdev: "{dev}"', f"  role: {role}"]
        lines += [f'  addresses: "{a}"' for a in addrs]
        lines += [f'  mac: "{mac}"', "}"]
    for fm in FAMILIES.values():
        lines += ["routes {", f'  prefix: "{fm["default"]}"', f'  next_hop: "{fm["router"]}"',
                  '  port: "public"', "}"]
        lines += ["neighbors {", f'  address: "{fm["router"]}"', f'  mac: "{ROUTER_MAC}"',
                  '  port: "public"', "}"]
    lines += ["neighbors {", '  address: "169.254.77.2"', f'  mac: "{HOST_MAC}"',
              '  port: "local"', "}"]
    lines += ["pseudo_tcp {", "  listeners {", f'    address: "{f["ours"]}"',
              f"    ports: [{LOCAL_PORT}]", "  }"]
    if direction != "forward":
        for c in range(CONNECTIONS):
            lines += ["  connections {", f'    local_address: "{f["ours"]}"',
                      f'    peer_address: "{f["peer"](c)}"', f"    local_port: {LOCAL_PORT}",
                      f"    peer_port: {10000 + c}", f"    send_next: {send_start(c)}",
                      f"    receive_next: {receive_start(c)}",
                      f"    ike_initiator_spis: {ike_spi(c)}"]
            lines += [f"    esp_spis: {esp_spi(c, k)}" for k in range(SPIS_PER_CONNECTION)]
            lines += ["  }"]
    lines += ["}"]
    lines += ["workers {", "  count: 1", "  idle_sleep_us: 0", f"  burst_size: {burst}"]
    if direction == "forward":
        lines += ["  plain_forward: true"]
    lines += ["}"]
    return "\n".join(lines) + "\n"


# What must have moved: counter name per direction and protocol.
EXPECTED_COUNTER = {
    ("decap", "esp"): "ctcp_decap_esp",
    ("decap", "ike"): "ctcp_decap_ike",
    ("encap", "esp"): "ctcp_encap_esp",
    ("encap", "ike"): "ctcp_encap_ike",
}


class HarnessError(Exception):
    pass


def pcap_path(workdir, case, size_name, packets):
    return os.path.join(workdir, f"{case}-{size_name}-{packets}.pcap")


def prepare_case(job):
    """Writes the input pcap of (case, size) unless the workdir has it already;
    returns its mean inner packet size (kept next to it in a .json)."""
    workdir, case, size_name, packets = job
    pcap = pcap_path(workdir, case, size_name, packets)
    meta = pcap + ".json"
    if os.path.exists(pcap) and os.path.exists(meta):
        with open(meta) as fh:
            return json.load(fh)["mean_inner_bytes"]
    if SCAPY_ERROR:
        raise HarnessError(f"scapy is needed to generate {pcap}: {SCAPY_ERROR}")
    direction, proto, fam = parse_case(case)
    frames, mean_size = make_frames(direction, proto, fam, size_name, packets)
    write_pcap(pcap, frames)
    with open(meta, "w") as fh:
        json.dump({"mean_inner_bytes": mean_size}, fh)
    return mean_size


def run_case(args, workdir, case, size_name, mean_size, run_id):
    direction, proto, fam = parse_case(case)
    tag = f"{case}-{size_name}"
    pcap = pcap_path(workdir, case, size_name, args.packets)
    cfg = os.path.join(workdir, f"{tag}.textproto")
    counters_path = os.path.join(workdir, f"{tag}.json")
    with open(cfg, "w") as fh:
        fh.write(make_config(direction, fam, pcap, f"tcpsec-pps-{os.getpid()}-{run_id}",
                             args.burst, args.lcores))
    cmd = [args.dataplane, "--config", cfg, "--duration", str(args.duration), "--counters-json",
           counters_path]
    res = subprocess.run(cmd, cwd=workdir, text=True, capture_output=True,
                         timeout=args.duration + 120)
    if res.returncode != 0:
        raise HarnessError(f"{tag}: dataplane exited {res.returncode}:\n"
                           f"  {shlex.join(cmd)}\n{res.stdout}{res.stderr}")
    with open(counters_path) as fh:
        js = json.load(fh)
    in_port = "public" if direction == "decap" else "local"
    out_port = "local" if direction == "decap" else "public"
    rx = js["ports"][in_port]["rx"]
    tx = js["ports"][out_port]["tx"]
    elapsed = js.get("elapsed_s")
    tsc_hz = js.get("tsc_hz")
    if elapsed is None or tsc_hz is None:
        raise HarnessError(f"{tag}: {counters_path} has no elapsed_s/tsc_hz (old binary?)")
    drops = sorted(((v, k) for k, v in js["drops"].items() if v), reverse=True)
    problems = []
    if rx == 0:
        problems.append("the input port received nothing")
    elif tx < 0.99 * rx:
        problems.append(f"only {tx} of {rx} received packets ({100.0 * tx / rx:.2f}%) left by "
                        f"the {out_port} port (need >= 99%)")
    want = EXPECTED_COUNTER.get((direction, proto))
    if want and js["counters"].get(want, 0) < 0.99 * rx:
        problems.append(f"counter {want} = {js['counters'].get(want, 0)} for {rx} received")
    if problems:
        top = ", ".join(f"{k}={v}" for v, k in drops[:5]) or "none"
        raise HarnessError(f"{tag}: the expected path did not take the packets: "
                           f"{'; '.join(problems)}; top drops: {top}\n  command: "
                           f"{shlex.join(cmd)}\n  counters: {counters_path}")
    print(f"  {tag}: {tx / elapsed / 1e6:.3f} Mpps")
    sys.stdout.flush()
    return {
        "case": case,
        "size": size_name,
        "mean_inner_bytes": mean_size,
        "rx": rx,
        "tx": tx,
        "elapsed_s": elapsed,
        "tsc_hz": tsc_hz,
        "mpps": tx / elapsed / 1e6,
        "cycles_per_packet": tsc_hz * elapsed / tx,
        "drops": {k: v for v, k in drops},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataplane", default=os.environ.get(
        "TCPSEC_DATAPLANE", os.path.join(REPO, "build-bench/dataplane/tcpsec-dataplane")),
                    help="tcpsec-dataplane binary (default: $TCPSEC_DATAPLANE or "
                    "build-bench/dataplane/tcpsec-dataplane)")
    ap.add_argument("--duration", type=float, default=None,
                    help="seconds per run (default 5, --quick 0.3)")
    ap.add_argument("--packets", type=int, default=None,
                    help="distinct packets in each input pcap (default 4032, --quick 480)")
    ap.add_argument("--burst", type=int, default=32, help="workers.burst_size (default 32)")
    ap.add_argument("--lcores", help="EAL -l list, main lcore first, e.g. 2,3 (default: the "
                    "binary's, 0-1)")
    ap.add_argument("--cases", default=",".join(case_names()),
                    help="comma-separated cases (default: all)")
    ap.add_argument("--sizes", default=",".join(SIZES), help="comma-separated sizes (default: "
                    "64,512,1400,imix)")
    ap.add_argument("--quick", action="store_true",
                    help="short runs: checks every case moves packets (smoke test)")
    ap.add_argument("--json", help="also write the results there as JSON")
    ap.add_argument("--workdir", help="keep pcaps, configs and counters there; pcaps already "
                    "there are reused")
    ap.add_argument("--generate-only", action="store_true",
                    help="write the pcaps into --workdir and stop (for a machine without scapy)")
    args = ap.parse_args()
    if args.duration is None:
        args.duration = 0.3 if args.quick else 5.0
    if args.packets is None:
        args.packets = 480 if args.quick else 4032
    cases = [c for c in args.cases.split(",") if c]
    sizes = [s for s in args.sizes.split(",") if s]
    for c in cases:
        if c not in case_names():
            ap.error(f"unknown case {c!r}; known: {', '.join(case_names())}")
    for s in sizes:
        if s != "imix" and not s.isdigit():
            ap.error(f"bad size {s!r}")
    if args.generate_only and not args.workdir:
        ap.error("--generate-only needs --workdir")
    if not args.generate_only and not os.access(args.dataplane, os.X_OK):
        ap.error(f"no dataplane binary at {args.dataplane} (build it, or pass --dataplane)")

    print("command: " + shlex.join([sys.executable] + sys.argv))
    print(f"dataplane: {args.dataplane}")
    print(f"{args.duration} s per run, {args.packets} distinct packets per pcap, burst "
          f"{args.burst}, 1 worker (busy poll), input net_pcap infinite_rx, output net_null")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work on these "
          f"cores is in the figures)")
    sys.stdout.flush()

    workdir = args.workdir or tempfile.mkdtemp(prefix="tcpsec-pps-")
    os.makedirs(workdir, exist_ok=True)
    results = []
    failures = []
    started = time.time()
    try:
        # Every pcap first (scapy is slow; in parallel), so runs never compete with it.
        jobs = [(workdir, case, size, args.packets) for size in sizes for case in cases]
        try:
            with multiprocessing.Pool(min(len(jobs), os.cpu_count() or 1)) as pool:
                mean_sizes = pool.map(prepare_case, jobs)
        except HarnessError as e:
            failures.append(str(e))
            print(f"FAIL {e}", file=sys.stderr)
            return 1
        print(f"{len(jobs)} pcaps ready in {time.time() - started:.0f} s")
        sys.stdout.flush()
        if args.generate_only:
            return 0
        for run_id, ((_, case, size, _), mean_size) in enumerate(zip(jobs, mean_sizes)):
            try:
                results.append(run_case(args, workdir, case, size, mean_size, run_id))
            except HarnessError as e:
                failures.append(str(e))
                print(f"FAIL {e}", file=sys.stderr)
                sys.stderr.flush()
    finally:
        if failures and not args.workdir:
            print(f"kept {workdir} (configs, pcaps, counters) for the failures", file=sys.stderr)
        elif not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    base = {r["size"]: r["mpps"] for r in results if r["case"] == "forward"}
    print()
    print(f"{'case':<20} {'size':>5} {'inner B':>8} {'Mpps':>8} {'cycles/pkt':>11} "
          f"{'x forward':>10}")
    for r in results:
        ratio = f"{r['mpps'] / base[r['size']]:.3f}" if r["size"] in base else "-"
        print(f"{r['case']:<20} {r['size']:>5} {r['mean_inner_bytes']:>8.1f} {r['mpps']:>8.3f} "
              f"{r['cycles_per_packet']:>11.1f} {ratio:>10}")
    if results:
        print(f"\ntsc_hz {results[0]['tsc_hz']}; Mpps = packets sent on the output port / "
              f"worker run time; cycles/pkt = tsc_hz * run time / packets (one core); "
              f"x forward = Mpps / forward Mpps at that size. Every number includes the "
              f"net_pcap replay copy. Total {time.time() - started:.0f} s, load average "
              f"{os.getloadavg()[0]:.2f}.")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"command": [sys.executable] + sys.argv, "results": results,
                       "failures": failures}, fh, indent=2)
    if failures:
        print(f"\n{len(failures)} run(s) FAILED (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
