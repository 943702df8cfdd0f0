#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every tcpsec test: unit tests,
# end-to-end tests of the real binaries in network namespaces (needs root),
# and a short libFuzzer smoke run of every parser.
#
#   ./deploy/test.sh            everything
#   TCPSEC_FUZZ_SECONDS=0 ...   skip the fuzz smoke run
#   TCPSEC_SANITIZE=0 ...       skip the unit tests under ASan + UBSan
#   TCPSEC_SANITIZE=full ...    run the end-to-end tests under them too
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh
bash deploy/build.sh build

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=$?

# The unit tests again, built with AddressSanitizer and UndefinedBehavior-
# Sanitizer (build-sanitize/): memory errors and undefined behaviour that a
# test passes over fail it here. The e2e tests run the sanitized binaries
# too with TCPSEC_SANITIZE=full (~6 min more).
sanitize=${TCPSEC_SANITIZE:-unit}
logs=(build/meson-logs/testlog.json)
if [ "$sanitize" != 0 ]; then
  if [ ! -f build-sanitize/build.ninja ]; then
    meson setup build-sanitize -Druntime=true -Dbench=disabled -Dbuildtype=debug \
      -Db_sanitize=address,undefined -Db_lundef=false
  fi
  ninja -C build-sanitize
  suites=(--no-suite e2e --no-suite bench)
  if [ "$sanitize" = full ]; then suites=(--no-suite bench); fi
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-sanitize --print-errorlogs --num-processes 2 "${suites[@]}" || status=$?
  logs+=(build-sanitize/meson-logs/testlog.json)
fi

fuzz_seconds=${TCPSEC_FUZZ_SECONDS:-15}
fuzz_pass=0
fuzz_fail=0
if [ "$fuzz_seconds" != 0 ]; then
  if [ -f tests/fuzz/run.sh ]; then
    if bash tests/fuzz/run.sh "$fuzz_seconds"; then fuzz_pass=1; else fuzz_fail=1; status=1; fi
  fi
fi

# One closing line a person (and CI) reads: meson's own counts (plain and
# sanitized builds) plus the fuzz run.
/usr/bin/python3 - "$fuzz_pass" "$fuzz_fail" "${logs[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
for log in sys.argv[3:]:
    with open(log) as f:
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
