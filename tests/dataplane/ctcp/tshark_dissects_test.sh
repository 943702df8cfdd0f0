#!/bin/sh
# Cross-checks our pseudo-TCP framing against Wireshark's "tcpencap" dissector
# (Cisco / QuickSec IPsec over TCP): write_ctcp_pcap builds connections with
# build_control_segment and encapsulate, and tshark must decode every data
# segment as tcpencap, IKE inside it as ISAKMP with the right initiator SPI,
# ESP with the right SPI, trailer constants as in wire-formats.md section 1,
# valid IPv4 and TCP checksums, nothing malformed, no expert errors or
# warnings.
#
# One expert error is expected and required: Wireshark's UDP dissector calls
# a zero UDP checksum illegal when the outer packet is IPv6, and the wire
# format sends the inner UDP checksum as zero (Cisco expects it; the receiver
# recomputes it after decapsulation for IPv6). So exactly the IPv6 IKE frames
# carry "udp.checksum.zero" and nothing else may.
#
# The script then checks itself: with any trailer byte corrupted (TCP checksum
# still right) the same checks must fail.
#
#   tshark_dissects_test.sh PATH/TO/write_ctcp_pcap
set -eu

writer=${1:?usage: $0 PATH/TO/write_ctcp_pcap}
if ! command -v tshark >/dev/null 2>&1; then
  echo "FATAL: tshark not found in PATH; it is a declared test dependency" \
       "(deploy/install-deps.sh installs it)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_tshark() {
  # -n: no name resolution; checksum validation on; our two ports are tcpencap.
  tshark -n -r "$pcap" \
    -d tcp.port==10000,tcpencap -d tcp.port==443,tcpencap \
    -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
    -o tcp.analyze_sequence_numbers:TRUE "$@" 2>"$tmp/tshark.err"
}

fail() {
  echo "FAIL: $*" >&2
}

# check PCAP EXPECTED_TSV: 0 if tshark agrees with everything.
check() {
  pcap=$1
  expected=$2
  [ -s "$expected" ] || { fail "writer produced no data segments"; return 1; }

  # 1. Per data segment: what tcpencap, ISAKMP and ESP decode, against the
  #    writer's manifest (frame, IP version, proto, initiator SPI, SPI, trailer ID).
  run_tshark -Y 'tcp.len > 0' -T fields -E separator=/t \
    -e frame.number -e ip.version -e tcpencap.proto -e isakmp.ispi -e esp.spi \
    -e tcpencap.seq >"$tmp/actual.tsv" || { fail "tshark: $(cat "$tmp/tshark.err")"; return 1; }
  if ! diff -u "$expected" "$tmp/actual.tsv" >"$tmp/diff"; then
    fail "tshark's view of the data segments differs from what was written:"
    cat "$tmp/diff" >&2
    return 1
  fi

  # 2. Every frame: checksums good, trailer constants, ISAKMP header fields.
  run_tshark -T fields -E separator=/t \
    -e frame.number -e tcp.len -e tcp.checksum.status -e ip.version -e ip.checksum.status \
    -e tcpencap.zero -e tcpencap.magic -e tcpencap.magic2 -e tcpencap.proto \
    -e tcpencap.ikedirection -e tcpencap.espzero -e isakmp.version -e isakmp.exchangetype \
    >"$tmp/all.tsv" || { fail "tshark: $(cat "$tmp/tshark.err")"; return 1; }
  awk -F'\t' '
    function bad(why) { printf "frame %s: %s\n", $1, why; errors++ }
    { frames++ }
    $3 != 1 { bad("TCP checksum status " $3 " (1 = good)") }
    $4 == 4 && $5 != 1 { bad("IPv4 header checksum status " $5) }
    $2 == 0 { next }
    { data++ }
    $6 != "00000000" { bad("trailer bytes 0-3: " $6) }
    $7 != "21456c6910" { bad("trailer bytes 8-12: " $7) }
    $8 != "0100" { bad("trailer bytes 14-15: " $8) }
    $9 == "0x11" && ($10 != "0x0000" || $12 != "0x20" || $13 != 34) {
      bad("IKE: direction " $10 ", ISAKMP version " $12 ", exchange " $13) }
    $9 == "0x32" && $11 != "0x0000" { bad("ESP: trailer bytes 6-7 " $11) }
    $9 != "0x11" && $9 != "0x32" { bad("not tcpencap (proto \"" $9 "\")") }
    END {
      if (frames == 0 || data == 0) { print "no frames"; errors++ }
      exit errors > 0
    }' "$tmp/all.tsv" >"$tmp/bad" || { fail "per-frame checks:"; cat "$tmp/bad" >&2; return 1; }

  # 3. Nothing malformed.
  run_tshark -Y '_ws.malformed' -T fields -e frame.number >"$tmp/malformed" || return 1
  [ ! -s "$tmp/malformed" ] || { fail "malformed frames: $(tr '\n' ' ' <"$tmp/malformed")"; return 1; }

  # 4. udp.checksum.zero on exactly the IPv6 IKE frames.
  run_tshark -Y 'udp.checksum.zero' -T fields -e frame.number >"$tmp/zero.actual" || return 1
  awk -F'\t' '$2 == 6 && $3 == "0x11" { print $1 }' "$expected" >"$tmp/zero.expected"
  if ! diff "$tmp/zero.expected" "$tmp/zero.actual" >/dev/null; then
    fail "udp.checksum.zero expected on frames $(tr '\n' ' ' <"$tmp/zero.expected")," \
         "seen on $(tr '\n' ' ' <"$tmp/zero.actual")"
    return 1
  fi

  # 5. Expert summary: the only errors are those, and there are no warnings.
  run_tshark -q -z expert,warn >"$tmp/expert" || return 1
  awk -v want="$(wc -l <"$tmp/zero.expected")" '
    /^(Errors|Warns|Notes|Chats|Comments) \(/ { section = $1; next }
    /^ *Frequency/ || /^=+$/ || NF == 0 { next }
    section == "Errors" && $0 ~ /UDP +Illegal checksum value \(0\)$/ && $1 == want { ok = 1; next }
    section == "Errors" || section == "Warns" { print section ": " $0; errors++ }
    END { if (want > 0 && !ok) { print "missing the " want " expected udp.checksum.zero errors"; errors++ }
          exit errors > 0 }' "$tmp/expert" >"$tmp/bad" || {
    fail "tshark -z expert:"; cat "$tmp/bad" "$tmp/expert" >&2; return 1; }
  return 0
}

"$writer" "$tmp/ctcp.pcap" >"$tmp/expected.tsv"
check "$tmp/ctcp.pcap" "$tmp/expected.tsv"
echo "ok: tshark dissects $(wc -l <"$tmp/expected.tsv") pseudo-TCP data segments as written"

# Self-check: each corrupted trailer byte must make the checks fail.
for byte in 0 4 7 8 12 13 14 15; do
  "$writer" "$tmp/bad.pcap" --corrupt-trailer "$byte" >"$tmp/bad-expected.tsv"
  if check "$tmp/bad.pcap" "$tmp/bad-expected.tsv" 2>/dev/null; then
    echo "FAIL: corrupting trailer byte $byte went unnoticed" >&2
    exit 1
  fi
done
echo "ok: every corrupted trailer byte tried was caught"
