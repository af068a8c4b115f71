#!/usr/bin/env bash
# The conformance catalogue (`virtiosim vhost-user check`) against a
# back-end this script starts on a Unix socket in a private temp dir:
#
# usage: conformance.sh CASE VIRTIOSIM_BINARY [OUT_DIR]
#   serve-sink   our serve --mode sink: every verdict accepted
#   serve-echo   our serve --mode echo: every verdict accepted
#   dpdk         DPDK testpmd's vhost back-end (net_vhost, macswap), checked
#                in echo mode: exactly the verdicts of dpdk-22.11.expect
#
# The JSON and JUnit reports land in OUT_DIR (default: the temp dir, kept
# only on failure).
set -uo pipefail
case_name=${1:?case}
virtiosim=${2:?virtiosim binary}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/virtiosim-conformance.XXXXXX)
out=${3:-$dir}
mkdir -p "$out"
. "$here/peer_processes.sh"
keep=0
cleanup() {
  stop_peers
  rm -rf "/var/run/dpdk/vchk$$"* 2>/dev/null
  [ "$keep" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  keep=1
  echo "FAIL ($case_name): $*" >&2
  for f in "$dir"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
  echo "reports kept in $out" >&2
  exit 1
}
wait_socket() { for _ in $(seq 200); do [ -S "$dir/sock" ] && return 0; sleep 0.05; done; fail "$1 did not listen"; }

check() {  # extra check arguments...
  taskset -c 1 "$virtiosim" vhost-user check --socket "$dir/sock" --quiet \
    --json "$out/$case_name.json" --junit "$out/$case_name.xml" "$@"
}

case "$case_name" in
  serve-sink | serve-echo)
    mode=${case_name#serve-}
    taskset -c 0 "$virtiosim" vhost-user serve --socket "$dir/sock" --mode "$mode" >"$dir/serve.out" 2>"$dir/serve.log" &
    serve_pid=$!
    pids+=("$serve_pid")
    wait_socket serve
    check --mode "$mode" || fail "check: some verdicts not accepted"
    kill -0 "$serve_pid" 2>/dev/null || fail "serve did not survive the catalogue"
    ;;
  dpdk)
    testpmd=$(command -v dpdk-testpmd || true)
    [ -n "$testpmd" ] || fail "dpdk-testpmd not found; install the test dependencies (scripts/install-deps.sh test)"
    # EAL flags that work without hugepages or PCI (SPEC_NOTES "Real peers");
    # --stats-period keeps testpmd running without a terminal.
    timeout -s INT 300 "$testpmd" --no-huge -m 512 --no-pci --file-prefix=vchk$$ --lcores 0@0,1@0 \
      --vdev "net_vhost0,iface=$dir/sock" -- --total-num-mbufs=32768 --stats-period 1 --auto-start \
      --forward-mode=macswap >"$dir/testpmd.log" 2>&1 &
    pids+=("$!")
    wait_socket testpmd
    check --mode echo --expect "$here/dpdk-22.11.expect" || fail "check: DPDK's verdicts differ from dpdk-22.11.expect"
    ;;
  *) echo "usage: $0 serve-sink|serve-echo|dpdk VIRTIOSIM_BINARY [OUT_DIR]" >&2; exit 2 ;;
esac
# The JUnit report parses and holds one test case per scenario.
/usr/bin/python3 - "$out/$case_name.xml" "$out/$case_name.json" <<'PY' || fail "JUnit report does not match the JSON"
import json, sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
scenarios = json.load(open(sys.argv[2]))["scenarios"]
assert suite.tag == "testsuite" and int(suite.get("tests")) == len(scenarios) == len(suite.findall("testcase"))
PY
echo "PASS ($case_name): $(grep -o '"PASS": [0-9]*\|"FAIL": [0-9]*\|"REJECT": [0-9]*\|"WEDGED": [0-9]*\|"SKIP": [0-9]*' "$out/$case_name.json" | tr '\n' ' ')"
