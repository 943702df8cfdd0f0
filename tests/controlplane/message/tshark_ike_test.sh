#!/bin/sh
# Cross-checks our IKEv2 encoding against Wireshark's isakmp dissector:
# write_ike_pcap serializes messages with controlplane/message into a pcap
# (UDP 500) and prints what each frame holds; tshark must decode the same
# SPIs, exchange type, payload types in order and nonce length, with
# nothing malformed and no expert errors or warnings.
#
# The script then checks itself: with one payload length corrupted in the
# pcap, the checks must fail.
#
#   tshark_ike_test.sh PATH/TO/write_ike_pcap
set -eu

writer=${1:?usage: $0 PATH/TO/write_ike_pcap}
if ! command -v tshark >/dev/null 2>&1; then
  echo "FATAL: tshark not found in PATH; it is a declared test dependency" \
       "(deploy/install-deps.sh installs it)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*" >&2
}

# check PCAP EXPECTED_TSV: 0 if tshark agrees with everything.
check() {
  pcap=$1
  expected=$2
  # 1. Per frame: SPIs, exchange type, payload types, nonce. tshark lists
  #    every payload type it decoded (aggregated with ","), proposals (2) and
  #    transforms (3) of an SA payload included.
  tshark -n -r "$pcap" -d udp.port==500,isakmp -T fields -E separator=/t -E aggregator=, \
    -e frame.number -e isakmp.ispi -e isakmp.rspi -e isakmp.exchangetype -e isakmp.typepayload \
    -e isakmp.nonce >"$tmp/raw.tsv" 2>"$tmp/tshark.err" || {
    fail "tshark: $(cat "$tmp/tshark.err")"; return 1; }
  # Nonce bytes -> their count; SPIs without tshark's formatting.
  awk -F'\t' 'BEGIN { OFS = "\t" }
    { gsub(/^0x/, "", $2); gsub(/^0x/, "", $3)
      n = ($6 == "") ? "-" : length($6) / 2
      print $1, $2, $3, $4, $5, n }' "$tmp/raw.tsv" >"$tmp/actual.tsv"
  if ! diff -u "$expected" "$tmp/actual.tsv" >"$tmp/diff"; then
    fail "tshark's view of the messages differs from what was written:"
    cat "$tmp/diff" >&2
    return 1
  fi
  # 2. Nothing malformed.
  tshark -n -r "$pcap" -d udp.port==500,isakmp -Y '_ws.malformed || _ws.expert.severity >= warning' \
    -T fields -e frame.number >"$tmp/bad" 2>/dev/null || return 1
  [ ! -s "$tmp/bad" ] || { fail "malformed or expert warnings in frames: $(tr '\n' ' ' <"$tmp/bad")"
    tshark -n -r "$pcap" -d udp.port==500,isakmp -q -z expert,warn >&2 2>/dev/null; return 1; }
  return 0
}

"$writer" "$tmp/ike.pcap" >"$tmp/expected.tsv"
[ -s "$tmp/expected.tsv" ] || { fail "writer produced no messages"; exit 1; }
check "$tmp/ike.pcap" "$tmp/expected.tsv"
# A human-readable record in the test log.
tshark -n -r "$tmp/ike.pcap" -d udp.port==500,isakmp 2>/dev/null | sed 's/^/  /'
echo "ok: tshark decodes $(wc -l <"$tmp/expected.tsv") IKEv2 messages as written"

# Self-check: the first payload's length in frame 1 (pcap header 24, record
# header 16, IPv4 20, UDP 8, IKE header 28: the generic header at 96, its
# length at 98-99) made 2 bytes longer must be noticed.
python3 - "$tmp/ike.pcap" "$tmp/bad.pcap" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
off = 24 + 16 + 20 + 8 + 28 + 2
length = int.from_bytes(data[off:off + 2], "big") + 2
data[off:off + 2] = length.to_bytes(2, "big")
open(sys.argv[2], "wb").write(data)
PY
if check "$tmp/bad.pcap" "$tmp/expected.tsv" 2>/dev/null; then
  echo "FAIL: a corrupted payload length went unnoticed" >&2
  exit 1
fi
echo "ok: a corrupted payload length was caught"
