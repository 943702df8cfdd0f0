#!/usr/bin/python3
"""Writes the byte arrays of the scapy-built test vectors as fuzzer seed
files (one file per array).

    tests/fuzz/seeds_from_vectors.py OUT_DIR [ctcp|net]

ctcp (default): tests/dataplane/ctcp/vectors/ctcp_vectors.h, IP packets and
pseudo-TCP segments, for ip_parse_fuzz and ctcp_decap_fuzz.
net: tests/dataplane/net/vectors/net_vectors.h, for net_parse_fuzz, which
takes what follows the Ethernet header (an ARP payload or an IP packet):
Ethernet frames among the vectors are written without their 14-byte header.
"""

import re
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
HEADERS = {
    "ctcp": TESTS / "dataplane/ctcp/vectors/ctcp_vectors.h",
    "net": TESTS / "dataplane/net/vectors/net_vectors.h",
}
ARRAY = re.compile(r"inline constexpr uint8_t (k_?\w+)\[(\d+)\] = \{(.*?)\};", re.S)
ETH_HEADER_LEN = 14


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in HEADERS):
        sys.exit(__doc__)
    kind = sys.argv[2] if len(sys.argv) == 3 else "ctcp"
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for name, length, body in ARRAY.findall(HEADERS[kind].read_text()):
        if name.endswith("_spi"):
            continue
        data = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", body))
        assert len(data) == int(length), name
        if kind == "net" and data[0] >> 4 not in (4, 6):
            data = data[ETH_HEADER_LEN:]  # an Ethernet frame: keep its payload
        (out / name).write_bytes(data)
        n += 1
    print(f"{n} {kind} seeds in {out}")


if __name__ == "__main__":
    main()
