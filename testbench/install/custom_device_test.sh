#!/bin/bash
# The installed package as a user meets it: stage `cmake --install` of the
# build, build examples/custom_device out of the tree against the staged
# package, and run it: its device (device.kind=eager-net) moves every frame
# and the monitor names its deliberate difference (P10.ignored_suppression);
# an unknown kind exits 2 naming the registered ones; the staged virtiosim
# answers --help and the staged Python package imports and finds it.
#   custom_device_test.sh BUILD_DIR SOURCE_DIR WORK_DIR PYTHON
set -euo pipefail
build=$1 src=$2 work=$3 python=$4
rm -rf "$work"
mkdir -p "$work"
stage=$work/stage

fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$stage" > "$work/install.log" 2>&1
site=$(echo "$stage"/lib/python3*/dist-packages)
[ -f "$site/virtiosim/__init__.py" ] || fail "no Python package under $stage/lib/python3*/dist-packages"
grep -q "note: $site is not on" "$work/install.log" || fail "install did not say the staged site dir is off python's path"

launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src/examples/custom_device" -B "$work/example" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_PREFIX_PATH="$stage" "${launcher[@]}" > "$work/configure.log"
cmake --build "$work/example" > "$work/build.log" || { cat "$work/build.log"; fail "the example did not build"; }
custom=$work/example/custom_virtiosim

# The deliberate difference, named: --strict fails on any finding.
set +e
"$custom" run --set device.kind=eager-net --packets 3000 --strict --quiet --report "$work/eager.json"
code=$?
set -e
[ "$code" = 1 ] || fail "eager-net --strict exited $code, expected 1"
"$python" - "$work/eager.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["config"]["device.kind"] == "eager-net", r["config"]["device.kind"]
rules = r["monitor"]["by_rule"]
assert "P10.ignored_suppression" in rules, rules
assert r["packets"]["tx"] == 3000 and r["packets"]["rx"] == 3000, r["packets"]
# The run itself passed: --strict is what fails it, on the monitor's finding.
assert len(r["errors"]) == 1 and r["errors"][0].startswith("strict:"), r["errors"]
assert "P10.ignored_suppression" in r["errors"][0], r["errors"]
PY

# The same program with the built-in device: clean.
"$custom" run --packets 3000 --strict --quiet --report "$work/vhost.json" || fail "vhost-net --strict failed"

set +e
"$custom" run --set device.kind=no-such-device 2> "$work/unknown.err"
code=$?
set -e
[ "$code" = 2 ] || fail "an unknown device.kind exited $code, expected 2"
grep -q "vhost-net|eager-net" "$work/unknown.err" || fail "the error does not list the kinds: $(cat "$work/unknown.err")"

"$stage/bin/virtiosim" --help > /dev/null || fail "staged virtiosim --help"
# The installed completion registers itself for virtiosim and completes a command.
completion=$stage/share/bash-completion/completions/virtiosim
[ -s "$completion" ] || fail "no bash completion installed at $completion"
bash -c "source '$completion' && complete -p virtiosim" > /dev/null || fail "the installed completion registers nothing"
PYTHONPATH=$site "$python" -P - "$stage" <<'PY'
import os, sys
import virtiosim
stage = sys.argv[1]
assert virtiosim.__file__.startswith(stage), virtiosim.__file__
assert virtiosim.simulator() == os.path.join(stage, "bin", "virtiosim"), virtiosim.simulator()
assert virtiosim.ring is not None
PY
echo "custom device: built against $stage, P10.ignored_suppression named, unknown kind refused"
