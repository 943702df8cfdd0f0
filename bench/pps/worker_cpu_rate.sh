#!/bin/bash
# Worker CPU-time rate of one tcpsec-dataplane run: packets sent / CPU time
# of the worker thread (perf stat -t on rte-worker-1), next to the wall-clock
# rate run_pps.py reports. On a shared, loaded machine the worker is often
# descheduled; the wall-clock rate then measures the load, the CPU-time rate
# much less so (cache and SMT interference from the load remain).
#
#   bench/pps/worker_cpu_rate.sh BINARY CONFIG [DURATION]
#
# CONFIG: a config run_pps.py wrote (--workdir DIR keeps them: DIR/esp-out-64.textproto, ...).
# Streamed inputs (esp-in*) need a DURATION short enough not to drain the
# file (0.2 s for the 600k-packet 64-byte pcap). Needs perf (task-clock only:
# works without hardware counters, e.g. in VMs). Compare binaries A/B
# interleaved, several rounds.
set -euo pipefail
BIN=$1 CFG=$2 DUR=${3:-1.5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$BIN" --config "$CFG" --duration "$DUR" --counters-json "$TMP/c.json" >"$TMP/log" 2>&1 &
PID=$!
TID=""
for _ in $(seq 1 1000); do
  for t in /proc/$PID/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = "rte-worker-1" ] && TID=$(basename "$t")
  done
  [ -n "$TID" ] && break
  sleep 0.01
done
[ -n "$TID" ] || { echo "no rte-worker-1 thread" >&2; wait $PID; exit 1; }
# The EAL worker thread exists (blocked) before the workers launch: the
# count covers the whole run.
perf stat -x, -t "$TID" -e task-clock -o "$TMP/st" 2>/dev/null &
SP=$!
wait $PID || { cat "$TMP/log" >&2; exit 1; }
kill -INT $SP 2>/dev/null || true
wait $SP 2>/dev/null || true
python3 - "$TMP/c.json" "$TMP/st" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
tx = max(p["tx"] for p in j["ports"].values())
ms = 0.0
for line in open(sys.argv[2]):
    f = line.strip().split(",")
    if len(f) > 2 and f[2].startswith("task-clock") and f[0]:
        ms = float(f[0])
el = j["elapsed_s"]
cpu = f"{tx / (ms / 1e3) / 1e6:.3f}" if ms else "n/a"
print(f"tx {tx} elapsed_s {el:.3f} wall_Mpps {tx / el / 1e6:.3f} "
      f"worker_cpu_ms {ms:.0f} cpu_Mpps {cpu}")
PY
