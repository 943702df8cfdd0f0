#!/usr/bin/python3
"""Writes the byte arrays of tests/dataplane/ctcp/vectors/ctcp_vectors.h as
seed files for the IP / pseudo-TCP fuzzers (one file per array).

    tests/fuzz/seeds_from_vectors.py OUT_DIR
"""

import re
import sys
from pathlib import Path

HEADER = Path(__file__).resolve().parents[1] / "dataplane/ctcp/vectors/ctcp_vectors.h"
ARRAY = re.compile(r"inline constexpr uint8_t (k_\w+)\[(\d+)\] = \{(.*?)\};", re.S)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for name, length, body in ARRAY.findall(HEADER.read_text()):
        if name.endswith("_spi"):
            continue
        data = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", body))
        assert len(data) == int(length), name
        (out / name).write_bytes(data)
        n += 1
    print(f"{n} seeds in {out}")


if __name__ == "__main__":
    main()
