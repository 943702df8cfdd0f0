#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every tcpsec test: unit tests,
# end-to-end tests of the real binaries in network namespaces (needs root),
# and a short libFuzzer smoke run of every parser.
#
#   ./deploy/test.sh            everything
#   TCPSEC_FUZZ_SECONDS=0 ...   skip the fuzz smoke run
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh
bash deploy/build.sh build

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=$?

fuzz_seconds=${TCPSEC_FUZZ_SECONDS:-15}
fuzz_pass=0
fuzz_fail=0
if [ "$fuzz_seconds" != 0 ]; then
  if [ -f tests/fuzz/run.sh ]; then
    if bash tests/fuzz/run.sh "$fuzz_seconds"; then fuzz_pass=1; else fuzz_fail=1; status=1; fi
  fi
fi

# One closing line a person (and CI) reads: meson's own counts plus the fuzz run.
/usr/bin/python3 - "$fuzz_pass" "$fuzz_fail" <<'PY'
import json, sys
passed = failed = skipped = 0
with open("build/meson-logs/testlog.json") as f:
    for line in f:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
passed += int(sys.argv[1])
failed += int(sys.argv[2])
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
