#!/usr/bin/python3
"""Regenerates the IKEv2 vectors in this directory from two real strongSwan
5.9.8 charons (tests/e2e/strongswan.py) in network namespaces. Needs root.

    sudo /usr/bin/python3 tests/e2e/data/strongswan/make_ikev2_vectors.py

Writes ikev2_psk_ecp256.pcap (IKE_SA_INIT + IKE_AUTH, 4 frames),
ikev2_psk_ecp256.json (messages as hex, keys from charon's level-4 `ike` log,
the decrypted SK payload contents) and ikev2_psk_ecp256.tshark.txt (tshark -V
with the keys in its ikev2_decryption_table). There is no save-keys plugin in
this strongSwan build, so the keys come from the log (charon --debug-ike 4).
Each run makes new keys, nonces and SPIs: rerun only to replace the set.
"""

import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))   # tests/e2e

import strongswan as ss                      # noqa: E402
import test_strongswan_peers as peers        # noqa: E402

NAME = "ikev2_psk_ecp256"
EXCHANGES = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL"}
PAYLOADS = {33: "SA", 34: "KE", 35: "IDi", 36: "IDr", 37: "CERT", 38: "CERTREQ", 39: "AUTH",
            40: "Nonce", 41: "Notify", 42: "Delete", 44: "TSi", 45: "TSr", 46: "SK"}


def log_dumps(text):
    """{name: [bytes, ...]} for every strongSwan %B dump ("name => N bytes @ ..."
    followed by offset-prefixed hex lines) in a charon log."""
    out = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.search(r"\] (?:<[^>]*> )?(.+?) => (\d+) bytes @ 0x", lines[i])
        i += 1
        if not m:
            continue
        name, size, data = m.group(1), int(m.group(2)), b""
        while i < len(lines) and len(data) < size:
            h = re.search(r"\]\s(?:<[^>]*> )?\s*\d+: ((?:[0-9A-F]{2} ?){1,16})", lines[i])
            if not h:
                break
            data += bytes.fromhex(h.group(1).replace(" ", ""))
            i += 1
        out.setdefault(name, []).append(data[:size].hex())
    return out


def payload_chain(first, body):
    """[(type, bytes)] of a plain payload chain."""
    out, nxt, pos = [], first, 0
    while nxt and pos + 4 <= len(body):
        length = int.from_bytes(body[pos + 2:pos + 4], "big")
        out.append((nxt, body[pos:pos + length]))
        nxt = body[pos]
        pos += length
    return out


def main():
    from scapy.layers.inet import UDP
    from scapy.utils import wrpcap

    with peers.Sites() as sites:
        ca, cb = peers.conns(mobike=False, proposals="aes128-sha256-ecp256",
                             esp_proposals="aes128-sha256")
        levels = {"ike": 4, "enc": 4, "cfg": 1, "knl": 1, "net": 1}
        with ss.Charon(sites.b, [cb], name="b", log_levels=levels) as B, \
                ss.Charon(sites.a, [ca], name="a", log_levels=levels) as A:
            with sites.capture("ike", bpf="udp port 500 or udp port 4500") as cap:
                A.initiate("net")
                B.wait_established(child="net")
                time.sleep(0.3)
            a_log = A.log()
            frames = []
            for p in cap.packets():
                data = bytes(p[UDP].payload)
                if p[UDP].dport == 4500 or p[UDP].sport == 4500:
                    if data[:4] != b"\0\0\0\0":
                        continue
                    data = data[4:]
                if len(data) >= 28 and data[18] in (34, 35):
                    frames.append((p, data))
            assert [d[18] for _, d in frames] == [34, 34, 35, 35], [d[18] for _, d in frames]
            wrpcap(os.path.join(HERE, NAME + ".pcap"), [p for p, _ in frames])

    dumps = log_dumps(a_log)
    keys = {k.lower().replace(" secret", ""): dumps[k][0] for k in
            ("Sk_d secret", "Sk_ai secret", "Sk_ar secret", "Sk_ei secret", "Sk_er secret",
             "Sk_pi secret", "Sk_pr secret")}
    init_req = frames[0][1]
    spi_i, spi_r = frames[1][1][:8].hex(), frames[1][1][8:16].hex()
    nonces = {}
    for (p, data), who in ((frames[0], "nonce_i"), (frames[1], "nonce_r")):
        for t, pl in payload_chain(data[16], data[28:]):
            if t == 40:
                nonces[who] = pl[4:].hex()
    plains = iter(dumps["plain"])   # initiator: its request, then the response
    messages = []
    for (p, data), init in zip(frames, (True, False, True, False)):
        m = {"exchange": EXCHANGES[data[18]], "initiator": init,
             "src": f"{p['IP'].src}:{p[UDP].sport}", "dst": f"{p['IP'].dst}:{p[UDP].dport}",
             "non_esp_marker": p[UDP].dport == 4500, "ike_hex": data.hex(),
             "payloads": [PAYLOADS.get(t, str(t)) for t, _ in payload_chain(data[16], data[28:])]}
        if data[18] == 35:
            plain = bytes.fromhex(next(plains))
            m["decrypted_hex"] = plain.hex()
            m["decrypted_payloads"] = [PAYLOADS.get(t, str(t))
                                       for t, _ in payload_chain(data[28], plain)]
        messages.append(m)
    vec = {
        "description": "strongSwan 5.9.8 <-> strongSwan 5.9.8, IKEv2 PSK, "
                       "IKE aes128-sha256-ecp256 (AES_CBC_128/HMAC_SHA2_256_128/"
                       "PRF_HMAC_SHA2_256/ECP_256), ESP aes128-sha256, NAT faked by charon "
                       "(libipsec needs UDP encapsulation) so IKE_AUTH runs on port 4500",
        "ike_proposal": "aes128-sha256-ecp256", "esp_proposal": "aes128-sha256",
        "psk": peers.PSK, "id_i": "a.tcpsec.test", "id_r": "b.tcpsec.test", "id_type": "FQDN",
        "ts_i": peers.A_NET, "ts_r": peers.B_NET,
        "spi_i": spi_i, "spi_r": spi_r, **nonces,
        "g_ir": dumps["shared Diffie Hellman secret"][0],
        "skeyseed": dumps["SKEYSEED"][0],
        "keys": keys,
        "auth_i": dumps["AUTH = prf(prf(secret, keypad), octets)"][0],
        "messages": messages,
    }
    assert init_req[:8].hex() == spi_i
    with open(os.path.join(HERE, NAME + ".json"), "w") as f:
        json.dump(vec, f, indent=1)
        f.write("\n")

    # Hex fields unquoted, enum fields quoted (the UAT file format).
    uat = ('uat:ikev2_decryption_table:{},{},{},{},"AES-CBC-128 [RFC3602]",'
           '{},{},"HMAC_SHA2_256_128 [RFC4868]"').format(
        spi_i, spi_r, keys["sk_ei"], keys["sk_er"], keys["sk_ai"], keys["sk_ar"])
    res = subprocess.run(["tshark", "-n", "-r", os.path.join(HERE, NAME + ".pcap"), "-o", uat,
                          "-V"], text=True, capture_output=True, check=True)
    with open(os.path.join(HERE, NAME + ".tshark.txt"), "w") as f:
        f.write(f"# tshark -n -r {NAME}.pcap -V -o '<ikev2_decryption_table with the keys "
                f"from {NAME}.json>'\n")
        f.write(res.stdout)
    for want in ("Payload: Identification - Initiator (35)", "ID_FQDN: a.tcpsec.test",
                 "Payload: Identification - Responder (36)", "ID_FQDN: b.tcpsec.test",
                 "Payload: Authentication (39)", "Payload: Traffic Selector - Initiator (44)",
                 "[correct]"):
        assert want in res.stdout, want
    # tshark checked the ICV of both IKE_AUTH messages with the keys.
    assert res.stdout.count("<HMAC_SHA2_256_128 [RFC4868]>[correct]") == 2
    print("wrote", NAME + ".{pcap,json,tshark.txt}; spi_i", spi_i)


if __name__ == "__main__":
    main()
