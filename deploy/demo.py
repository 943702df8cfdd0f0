#!/usr/bin/python3
"""The gateway's main job on its embedded default: a remote-access client
behind a NAT that drops all UDP reaches the central gateway over pseudo-TCP.

Five network namespaces (tests/e2e/tcp_gateways.py, shared with
tests/e2e/test_ike_tcp.py): the client's host, the client gateway
(tcpsec-dataplane + tcpsec-ike, initiator, encapsulation AUTO), a NAT
middlebox (nftables masquerade, conntrack `ct state invalid drop`, all UDP
dropped), the central gateway (tcpsec-dataplane + tcpsec-ike, responder with
a TCP listener on 10000) and the gateway's host. tcpsec-ike tries UDP, falls
back to pseudo-TCP, the tunnel comes up, ping and a TCP transfer cross it,
and the running gateway's dataplane shows its state through tcpsecctl.

  demo.py [MEGABYTES]   (the transfer's size, default 8)"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "..", "build")
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
os.environ.setdefault("TCPSEC_DATAPLANE", os.path.join(BUILD, "dataplane", "tcpsec-dataplane"))
os.environ.setdefault("TCPSEC_IKE", os.path.join(BUILD, "controlplane", "daemon", "tcpsec-ike"))
os.environ.setdefault("TCPSEC_TCPSECCTL", os.path.join(BUILD, "cli", "tcpsecctl"))

import tcpsec_e2e  # noqa: E402
tcpsec_e2e.DATAPLANE = os.environ["TCPSEC_DATAPLANE"]

from tcp_gateways import (CGW_PUB, CHOST, GGW_PUB, GHOST, MB_WAN, TCP_PORT,  # noqa: E402
                          TwoGateways)


def show_events(t, side, since=0):
    for kind, message in t.events(side)[since:]:
        print(f"  {side.name:8} {kind:16} {message}")


def main():
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    print("== tcpsec demo: remote-access client behind a UDP-dropping NAT ==")
    print(f"client host {CHOST} -> client gateway {CGW_PUB} -> NAT {MB_WAN} (drops UDP)"
          f" -> gateway {GGW_PUB} (TCP {TCP_PORT}) -> gateway host {GHOST}")
    checks = {}
    start = time.time()
    with TwoGateways("IKE_ENCAPSULATION_AUTO", drop_udp=True) as t:
        print("\n-- tcpsec-ike events (IKE over UDP first; the NAT drops it) --")
        up = t.wait_up(20)
        show_events(t, t.client)
        show_events(t, t.gateway)
        kinds = [k for k, _ in t.events(t.client)]
        checks["fell back to pseudo-TCP"] = "fallback_to_tcp" in kinds
        checks["tunnel up on both sides"] = up
        print(f"tunnel {'up' if up else 'NOT up'} {time.time() - start:.1f} s after start")
        if up:
            print("\n-- ping client host -> gateway host, through the tunnel --")
            out = t.ping(5)
            print("  " + "\n  ".join(line for line in out.splitlines()[-2:]))
            checks["ping"] = " 0% packet loss" in out
            sent, received, secs = t.transfer(megabytes << 20)
            checks["transfer intact"] = sent == received
            print(f"\n-- TCP transfer: {megabytes} MB in {secs:.2f} s"
                  f" ({megabytes * 8 / max(secs, 1e-3):.0f} Mbit/s),"
                  f" sha256 {'intact' if sent == received else 'DIFFERENT'} ({sent[:16]}...) --")
        print("\n-- live, from the running gateway: tcpsecctl ike-sas (tcpsec-ike) --")
        print(t.gateway.ctl("ike-sas", ike=True))
        for what in ("connections", "sas", "counters"):
            print(f"-- live, from the running gateway's dataplane: tcpsecctl {what} --")
            print(t.gateway.ctl(what))
        if not up:
            print(t.diagnostics())
    print("-- middlebox (nftables forward chain, packets) --")
    for k, v in t.nft.items():
        print(f"  {k:14} {v}")
    checks["no packet invalid at conntrack"] = t.nft.get("invalid", 1) == 0
    checks["no UDP crossed the NAT"] = t.nft.get("udp_passed", 1) == 0
    for side in (t.client, t.gateway):
        c = side.dp.counters or {"counters": {}, "drops": {}}
        print(f"\n-- {side.name} dataplane (final): pseudo-TCP and ESP --")
        for k, v in c["counters"].items():
            if v and (k.startswith("ctcp_") or k.startswith("esp_") or k.startswith("ike_")):
                print(f"  {k:28} {v}")
        for k, v in c["drops"].items():
            if v:
                print(f"  drop {k:23} {v}")
        checks[f"{side.name}: IKE and ESP in pseudo-TCP"] = all(
            c["counters"].get(k, 0) > 0 for k in ("ctcp_encap_ike", "ctcp_decap_ike",
                                                   "ctcp_encap_esp", "ctcp_decap_esp"))
    print()
    for what, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    ok = all(checks.values())
    print(f"\nresult: {'OK' if ok else 'FAILED'} ({time.time() - start:.1f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
