"""tcpsecctl, the operator's CLI, against a running dataplane: apply (the
shipped config/apply-site-sa.textproto, JSON, refused requests), sas,
policies, spis, dump (keys redacted unless --with-keys), diff, restore and
watch. Output content is checked, and what the commands install is checked
on the wire with scapy."""

import base64
import json
import os
import subprocess
import time

from google.protobuf import json_format
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation

from dataplane_api_topology import (GW, HOST, OUT_KEY, OUT_SPI, PEER, REMOTE_HOST, TUNNEL, Api, esp_seq,
                                    inner, sa_text)
from dataplane_grpc import ROOT, msg, pb

P = pb()
TCPSECCTL = os.environ.get("TCPSEC_TCPSECCTL", "")
EXAMPLE = os.path.join(ROOT, "config", "apply-site-sa.textproto")


def ctl(t, *args, check=True):
    assert TCPSECCTL, "TCPSEC_TCPSECCTL must name the tcpsecctl binary"
    res = subprocess.run([TCPSECCTL, "--socket", t.sock, *args], text=True, capture_output=True,
                         timeout=30)
    if check:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


def row(table, first):
    """The whitespace-split line of a table that starts with `first`."""
    for line in table.splitlines():
        cols = line.split()
        if cols and cols[0] == first:
            return cols
    raise AssertionError(f"no row {first!r} in:\n{table}")


def test_apply_example_then_sas_policies_spis_and_traffic(tmp_path):
    example = msg("ApplyRequest", open(EXAMPLE).read())
    out_sa, in_sa = example.add_sas
    with Api() as t:
        res = ctl(t, "apply", EXAMPLE)
        assert res.stdout.strip() == ("applied: SAs added 2, updated 0, deleted 0; policies set 2, "
                                      "deleted 0; connections added 0, deleted 0")
        # The example's tunnel carries traffic, as ESP in UDP 4500.
        peer_out = SecurityAssociation(ESP, spi=out_sa.spi, crypt_algo="AES-GCM",
                                       crypt_key=out_sa.encryption_key, auth_algo="NULL",
                                       tunnel_header=IP(src=GW, dst=PEER))
        peer_in = SecurityAssociation(ESP, spi=in_sa.spi, crypt_algo="AES-GCM", crypt_key=in_sa.encryption_key,
                                      auth_algo="NULL", tunnel_header=IP(src=PEER, dst=GW))
        for i in range(3):
            t.from_host(inner(i))
        got = t.esp_on_wire(3)
        assert [enc for _, enc, _ in got] == ["udp"] * 3
        for k, (esp, _, _) in enumerate(got):
            plain = peer_out.decrypt(IP(bytes(IP(src=GW, dst=PEER, proto=50) / esp)))
            assert plain[IP].src == HOST and bytes(plain[UDP].payload) == bytes([k]) * 40
        # (scapy 2.5's nat_t_header writes a wrong UDP length: wrap by hand.)
        esp = bytes(peer_in.encrypt(inner(7, reverse=True), seq_num=1).payload)
        t.from_peer(IP(src=PEER, dst=GW) / UDP(sport=4500, dport=4500) / esp)
        [back] = t.at_host(1)
        assert back[IP].src == REMOTE_HOST and bytes(back[UDP].payload) == bytes([7]) * 40

        # sas: one row per SA with the columns an operator needs.
        table = ctl(t, "sas").stdout
        assert table.splitlines()[0] == "2 SA(s), capacity 4096 per direction"
        header = table.splitlines()[1].split()
        assert header == ["SPI", "DIR", "NAME", "ALGORITHM", "ENCAP", "PEER", "WORKER", "PACKETS", "BYTES",
                          "SEQUENCE", "EXPIRED", "AGE_S"]
        r = row(table, "0x1000a001")
        assert r[1:6] == ["OUTBOUND", "site-b-out", "aes_gcm_256", "udp", PEER]
        assert (r[6], r[7], r[9], r[10]) == ("0", "3", "3", "-")
        assert int(r[8]) > 0 and 0 <= float(r[11]) < 60
        r = row(table, "0x2000b001")
        assert r[1:3] == ["INBOUND", "site-b-in"] and (r[7], r[9]) == ("1", "1")
        assert "\\x" not in table and "6d2c" not in table
        js = json.loads(ctl(t, "sas", "--json").stdout)
        by_spi = {s["spi"]: s for s in js["sas"]}
        assert by_spi[0x1000A001]["packets"] == "3" and by_spi[0x1000A001]["encapsulation"] == "udp"
        assert by_spi[0x2000B001]["direction"] == "DIRECTION_INBOUND"
        assert not any("key" in k for s in js["sas"] for k in s)

        # policies.
        table = ctl(t, "policies").stdout
        assert table.splitlines()[0] == "2 policies"
        assert row(table, "site-b-out")[1:] == ["OUTBOUND", "100", "protect", "0x1000a001", "10.10.0.0/24",
                                                "->", "10.20.0.0/24"]
        assert row(table, "site-b-in")[1:5] == ["INBOUND", "100", "protect", "0x2000b001"]
        js = json.loads(ctl(t, "policies", "--json").stdout)
        assert [p["name"] for p in js["policies"]] == ["site-b-in", "site-b-out"]

        # apply a JSON file (by its extension): a BYPASS policy for DNS.
        bypass = P.ApplyRequest()
        p = bypass.set_policies.add(name="dns-bypass", priority=5, direction=P.DIRECTION_OUTBOUND,
                                    action=P.POLICY_ACTION_BYPASS)
        p.match.protocol = 17
        p.match.remote_ports.min = p.match.remote_ports.max = 53
        jf = tmp_path / "bypass.json"
        jf.write_text(json_format.MessageToJson(bypass))
        res = ctl(t, "apply", str(jf))
        assert "policies set 1" in res.stdout and "SAs added 0" in res.stdout
        assert row(ctl(t, "policies").stdout, "dns-bypass")[1:5] == ["OUTBOUND", "5", "bypass", "-"]
        t.from_host(IP(src=HOST, dst=REMOTE_HOST) / UDP(sport=999, dport=53) / b"q")
        assert t.collect(t.wan, lambda f: b"q" == f[-1:] and UDP in IP(f[14:]) and
                         IP(f[14:])[UDP].dport == 53, 1, timeout=1.5) != []

        # Refused: the server's message, non-zero exit, nothing on stdout.
        res = ctl(t, "apply", EXAMPLE, check=False)
        assert res.returncode == 1 and res.stdout == ""
        assert "add_sas[0].spi" in res.stderr and "already installed" in res.stderr
        assert "(3)" in res.stderr  # INVALID_ARGUMENT
        bad = tmp_path / "bad.textproto"
        bad.write_text(f'add_sas {{ {sa_text(0x3000, "DIRECTION_INBOUND", OUT_KEY[:5])} }}\n')
        res = ctl(t, "apply", str(bad), check=False)
        assert res.returncode == 1 and "add_sas[0].encryption_key" in res.stderr
        broken = tmp_path / "broken.textproto"
        broken.write_text("add_sas {\n  spi: 0x3000\n  no_such_field: 1\n}\n")
        res = ctl(t, "apply", str(broken), check=False)
        assert res.returncode == 1 and f"{broken}:3:" in res.stderr and "no_such_field" in res.stderr
        res = ctl(t, "apply", str(tmp_path / "missing.textproto"), check=False)
        assert res.returncode == 1 and "cannot read" in res.stderr
        assert ctl(t, "apply", check=False).returncode == 2
        assert len(ctl(t, "sas", "--json").stdout) > 0 and len(json.loads(ctl(t, "sas", "--json").stdout)["sas"]) == 2

        # spis: free inbound SPIs, one per line.
        spis = [int(x, 16) for x in ctl(t, "spis", "5").stdout.split()]
        assert len(set(spis)) == 5 and all(s >= 256 and s not in (0x1000A001, 0x2000B001) for s in spis)
        assert all(line.startswith("0x") and len(line) == 10 for line in ctl(t, "spis").stdout.split())
        assert len(ctl(t, "spis").stdout.split()) == 1
        assert ctl(t, "spis", "65", check=False).returncode == 2

        # counters and connections still work.
        assert "esp_encrypted" in ctl(t, "counters").stdout
        assert ctl(t, "connections").stdout.startswith("0 connection(s), capacity ")


def test_dump_diff_restore_and_watch(tmp_path):
    with Api() as t:
        c = t.client
        c.apply(TUNNEL)
        for i in range(4):
            t.from_host(inner(i))
        assert [esp_seq(e)[1] for e, _, _ in t.esp_on_wire(4)] == [1, 2, 3, 4]

        # dump: text format, keys redacted, sequence state kept.
        text = ctl(t, "dump").stdout
        assert text.startswith("# DataplaneState") and "keys redacted" in text.splitlines()[0]
        assert text.count('encryption_key: "<redacted>"') == 2
        assert "\\001\\002" not in text and "\\x01" not in text
        redacted = msg("DataplaneState", text)
        assert {s.name: s.last_sequence for s in redacted.sas} == {"out": 4, "in": 0}
        with_keys = ctl(t, "dump", "--with-keys").stdout
        assert "CONTAINS KEYS" in with_keys.splitlines()[0]
        state = msg("DataplaneState", with_keys)
        assert {s.name: s.encryption_key for s in state.sas}["out"] == OUT_KEY
        assert state == c.dump()
        js = json.loads(ctl(t, "dump", "--json").stdout)  # bytes are base64 in JSON
        assert [s["encryption_key"] for s in js["sas"]] == [base64.b64encode(b"<redacted>").decode()] * 2

        # diff: the live state against itself, then against a changed copy.
        saved = tmp_path / "state.textproto"
        saved.write_text(with_keys)
        res = ctl(t, "diff", str(saved))
        assert res.stdout.strip() == "no differences (4 entries the same)", res.stdout
        changed = P.DataplaneState()
        changed.CopyFrom(state)
        for sa in changed.sas:
            if sa.name == "out":
                sa.encapsulation.udp.SetInParent()
                sa.encryption_key = bytes(20)
        del changed.policies[:]
        changed.policies.add(name="protect-out", priority=11, direction=P.DIRECTION_OUTBOUND,
                             action=P.POLICY_ACTION_PROTECT, sa_spi=OUT_SPI).match.local_prefixes.append(
                                 "10.10.0.0/24")
        changed.listeners.listeners[0].ports.append(443)
        changed_file = tmp_path / "changed.json"
        changed_file.write_text(json_format.MessageToJson(changed))
        out = ctl(t, "diff", str(changed_file)).stdout
        lines = out.splitlines()
        assert f"~ sa OUTBOUND 0x{OUT_SPI:08x} name=out peer={PEER}: encryption_key, encapsulation" in lines, out
        assert "~ policy protect-out: priority, match" in lines
        assert "- policy protect-in" in lines
        assert f"~ listeners: {GW}:[10000] -> {GW}:[10000,443]" in lines
        assert lines[-1] == "restore would add 0, change 3, delete 1; 1 the same"
        assert "\\000" not in out and "AAAA" not in out  # keys never shown

        # restore: what diff said, then diff finds nothing.
        res = ctl(t, "restore", str(changed_file))
        assert res.stdout.strip() == ("restored: SAs added 0, updated 2, deleted 0; policies set 1, "
                                      "deleted 1; connections added 0, deleted 0")
        assert ctl(t, "diff", str(changed_file)).stdout.startswith("no differences")
        assert c.sas_by_spi()[(OUT_SPI, P.DIRECTION_OUTBOUND)].encapsulation == "udp"
        assert [p.name for p in c.list_policies().policies] == ["protect-out"]
        # A redacted dump cannot be restored: refused whole, nothing changes.
        redacted_file = tmp_path / "redacted.textproto"
        redacted_file.write_text(text)
        res = ctl(t, "restore", str(redacted_file), check=False)
        assert res.returncode == 1 and "encryption_key" in res.stderr and res.stdout == ""
        assert [p.name for p in c.list_policies().policies] == ["protect-out"]

        # watch: events as they arrive, as text and as JSON lines.
        cmd = [TCPSECCTL, "--socket", t.sock, "watch", "--count", "2", "--timeout", "20"]
        watchers = [subprocess.Popen(cmd + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for extra in ([], ["--json"])]
        time.sleep(0.7)  # both subscribed
        c.apply(f"""add_sas {{ name: "short" {sa_text(0x5000, "DIRECTION_OUTBOUND", OUT_KEY,
                                                     extra="soft { packets: 1 } hard { packets: 2 }")} }}
                    set_policies {{ name: "short" priority: 1 direction: DIRECTION_OUTBOUND
                                   action: POLICY_ACTION_PROTECT sa_spi: 0x5000
                                   match {{ remote_prefixes: "10.20.0.9/32" }} }}""")
        for i in range(2):
            t.from_host(inner(i))
        outs = [w.communicate(timeout=20) for w in watchers]
        assert [w.returncode for w in watchers] == [0, 0], outs
        text_lines = outs[0][0].splitlines()
        assert len(text_lines) == 2, outs
        assert text_lines[0].split()[1:] == ["sa_soft_expired", "OUTBOUND", "spi=0x00005000", "limit=packets"]
        assert text_lines[1].split()[1:] == ["sa_hard_expired", "OUTBOUND", "spi=0x00005000", "limit=packets"]
        assert float(text_lines[0].split()[0]) > 0
        events = [json.loads(line) for line in outs[1][0].splitlines()]
        assert [e["type"] for e in events] == ["EVENT_TYPE_SA_SOFT_EXPIRED", "EVENT_TYPE_SA_HARD_EXPIRED"]
        assert all(e["sa"]["spi"] == 0x5000 and e["limit"] == "packets" for e in events)
