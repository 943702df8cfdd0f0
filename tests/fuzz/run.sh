#!/usr/bin/env bash
# Smoke run of every libFuzzer target: configures build-fuzz/ with clang if
# it is missing, builds the fuzzers, runs each for SECONDS (default 15) from
# a seed corpus (the scapy test vectors; config/ for config_fuzz) in a
# temporary directory, and prints one line per fuzzer. Exits non-zero if a
# fuzzer crashed, hung or failed to build; crash inputs are kept under
# build-fuzz/fuzz-artifacts/<fuzzer>/ and their paths printed.
#
#   tests/fuzz/run.sh [SECONDS]
#   TCPSEC_FUZZ_BUILD_DIR=dir   build directory (default build-fuzz)
#   TCPSEC_FUZZ_JOBS=n          fuzzers run at once (default: CPU count)
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-15}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi
build=${TCPSEC_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${TCPSEC_FUZZ_JOBS:-$(nproc)}
fuzzers=(ip_parse_fuzz ctcp_decap_fuzz net_parse_fuzz config_fuzz ike_message_fuzz)
start=$(date +%s)

# Configure (fuzz targets only: no tests, benchmarks or runtime) and build.
if [ ! -f "$build/build.ninja" ]; then
  echo "fuzz: configuring $build with clang"
  CXX=${FUZZ_CXX:-clang++} meson setup "$build" -Dfuzz=true -Dtests=disabled \
    -Dbench=disabled -Druntime=false >"$build.setup.log" 2>&1 || {
    cat "$build.setup.log" >&2
    echo "fuzz: FAILED to configure $build" >&2
    exit 1
  }
  rm -f "$build.setup.log"
elif ! ninja -C "$build" -t query fuzz >/dev/null 2>&1; then
  echo "fuzz: reconfiguring $build with -Dfuzz=true"
  meson configure "$build" -Dfuzz=true >/dev/null
fi
if ! ninja -C "$build" fuzz >"$build/fuzz-build.log" 2>&1; then
  tail -n 40 "$build/fuzz-build.log" >&2
  echo "fuzz: FAILED to build (log: $build/fuzz-build.log)" >&2
  exit 1
fi
# Built where the ESP engine is in the tree (see meson.build).
[ -x "$build/tests/fuzz/esp_inbound_fuzz" ] && fuzzers+=(esp_inbound_fuzz)
# Built where tcpsec-ike is (gRPC code generation, see meson.build).
[ -x "$build/tests/fuzz/ike_daemon_fuzz" ] && fuzzers+=(ike_daemon_fuzz)
echo "fuzz: built ${#fuzzers[@]} fuzzers in $(($(date +%s) - start)) s; running each for $seconds s"

# Seeds, corpora and logs in a temporary directory; crash inputs outside it.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tcpsec-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tests/fuzz/seeds_from_vectors.py "$tmp/seeds-ctcp" ctcp >/dev/null
tests/fuzz/seeds_from_vectors.py "$tmp/seeds-net" net >/dev/null
mkdir -p "$tmp/seeds-config"
find config -maxdepth 1 -type f -exec cp {} "$tmp/seeds-config/" \;  # not config/certs/
mkdir -p "$tmp/seeds-ike"
cp tests/controlplane/message/vectors/seeds/*.bin "$tmp/seeds-ike/"
# ike_daemon_fuzz: byte 0 picks the mode (ike_daemon_fuzz.cc): the message
# vectors as datagrams (0: UDP, 2: mid-exchange), the inner chains as
# authentic IKE_AUTH requests with message ID 1 (3: 0x23 = IKE_AUTH, flags 2)
# and, once the SA is up, as INFORMATIONAL (0x25) and CREATE_CHILD_SA (0x24)
# requests with message ID 2 (4: flags 2).
mkdir -p "$tmp/seeds-ike-daemon"
for f in tests/controlplane/message/vectors/seeds/*.bin; do
  for m in 0 2; do
    { printf "\\x0$m"; cat "$f"; } >"$tmp/seeds-ike-daemon/$m-$(basename "$f")"
  done
  case $f in
    *Inner.bin)
      { printf '\x03\x23\x02'; cat "$f"; } >"$tmp/seeds-ike-daemon/3-$(basename "$f")"
      { printf '\x04\x25\x02'; cat "$f"; } >"$tmp/seeds-ike-daemon/4i-$(basename "$f")"
      { printf '\x04\x24\x02'; cat "$f"; } >"$tmp/seeds-ike-daemon/4c-$(basename "$f")"
      ;;
  esac
done
artifacts=$(realpath -m "$build")/fuzz-artifacts

seeds_of() {
  case $1 in
    ip_parse_fuzz) echo "$tmp/seeds-ctcp $tmp/seeds-net" ;;
    ctcp_decap_fuzz) echo "$tmp/seeds-ctcp" ;;
    net_parse_fuzz) echo "$tmp/seeds-net" ;;
    config_fuzz) echo "$tmp/seeds-config" ;;
    ike_message_fuzz) echo "$tmp/seeds-ike" ;;
    ike_daemon_fuzz) echo "$tmp/seeds-ike-daemon" ;;
    *) ;;  # esp_inbound_fuzz: byte 0 picks the SA, no vectors fit; from scratch
  esac
}

run_one() {
  local name=$1
  mkdir -p "$tmp/corpus-$name" "$artifacts/$name"
  local rc=0
  # shellcheck disable=SC2046  # seed directories are word-split on purpose
  timeout -k 5 $((seconds + 60)) "$build/tests/fuzz/$name" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name/" "$tmp/corpus-$name" $(seeds_of "$name") \
    >"$tmp/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$tmp/$name.rc"
}

for name in "${fuzzers[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$name" &
done
wait

final_stat() { sed -n "s/^stat::$1: *//p" "$tmp/$2.log" | tail -n 1; }

failed=0
for name in "${fuzzers[@]}"; do
  rc=$(cat "$tmp/$name.rc")
  runs=$(final_stat number_of_executed_units "$name")
  rate=$(final_stat average_exec_per_sec "$name")
  rss=$(final_stat peak_rss_mb "$name")
  corpus=$(find "$tmp/corpus-$name" -type f | wc -l)
  if [ "$rc" = 0 ]; then
    printf '%-16s OK     %9s runs %7s exec/s  corpus %4s  %4s MB RSS\n' \
      "$name" "${runs:-?}" "${rate:-?}" "$corpus" "${rss:-?}"
  else
    failed=1
    what=FAILED
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && what=HUNG
    grep -q 'Test unit written to' "$tmp/$name.log" && what=CRASH
    printf '%-16s %-6s %9s runs %7s exec/s  (exit %s)\n' \
      "$name" "$what" "${runs:-?}" "${rate:-?}" "$rc"
    # The report (error, stack, summary; not ASan's shadow map) and where
    # the input was kept.
    awk '/ERROR: |deadly signal|runtime error|Timeout after|out-of-memory/ { on = 1 }
         /^Shadow bytes around/ { on = 0 }
         /^SUMMARY: / { print; next }
         on && n < 60 { print; n++ }' "$tmp/$name.log" | sed "s/^/  $name: /"
    sed -n "s/.*Test unit written to \(.*\)/  $name: crash artifact: \1/p" "$tmp/$name.log"
    cp "$tmp/$name.log" "$artifacts/$name/last-run.log"
    echo "  $name: log: $artifacts/$name/last-run.log;" \
      "replay: $build/tests/fuzz/$name <artifact>"
  fi
done
echo "fuzz: $([ $failed = 0 ] && echo passed || echo FAILED) in $(($(date +%s) - start)) s"
exit $failed
