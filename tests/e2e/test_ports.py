"""Port kinds and local plumbing: a net_tap port whose kernel side pings the
dataplane (ARP + ICMP echo, ND + ICMPv6 echo), and a net_null/net_ring
configuration that starts and stops cleanly with its final counters."""

import pytest

from tcpsec_e2e import Dataplane, Netns, unique


def tap_config(prefix):
    return f"""
eal {{ file_prefix: "{prefix}" no_huge: true no_pci: true memory_mb: 256
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "net_tap0,iface=tsectap0" role: PORT_ROLE_PUBLIC
        addresses: "192.0.2.1/24" addresses: "2001:db8:7::1/64" }}
workers {{ count: 1 idle_sleep_us: 100 }}
"""


def test_kernel_pings_the_dataplane_over_a_tap_port(tmp_path):
    ns = Netns(unique("tcpsec-tap"))
    dp = Dataplane(tap_config(unique("tcpsec-tap")), str(tmp_path), netns=ns)
    try:
        dp.start()
        ns.run("ip addr add 192.0.2.2/24 dev tsectap0")
        ns.run("ip -6 addr add 2001:db8:7::2/64 dev tsectap0 nodad")
        ns.run("ip link set tsectap0 up")
        v4 = ns.run("ping -c 3 -i 0.2 -W 2 192.0.2.1", check=False)
        v6 = ns.run("ping -6 -c 3 -i 0.2 -W 2 2001:db8:7::1", check=False)
    finally:
        dp.stop()
        ns.delete()
    assert " 0% packet loss" in v4.stdout, v4.stdout + v4.stderr + dp.output()
    assert " 0% packet loss" in v6.stdout, v6.stdout + v6.stderr + dp.output()
    assert dp.counter("arp_replies") >= 1
    assert dp.counter("nd_advertisements") >= 1
    assert dp.counter("echo_replies") >= 6


@pytest.mark.parametrize("vdev", ["net_null0", "net_ring0"])
def test_virtual_ports_start_and_stop_cleanly(tmp_path, vdev):
    cfg = f"""
eal {{ file_prefix: "{unique('tcpsec-v')}" no_huge: true no_pci: true memory_mb: 256
       args: "--no-shconf" args: "--log-level=*:error" }}
ports {{ name: "public" vdev: "{vdev}" role: PORT_ROLE_PUBLIC addresses: "192.0.2.1/24" }}
workers {{ count: 1 idle_sleep_us: 100 }}
"""
    dp = Dataplane(cfg, str(tmp_path))
    dp.start()
    counters = dp.stop()
    assert dp.proc.returncode == 0, dp.output()
    assert "final counters" in dp.output()
    assert "public" in counters["ports"]
