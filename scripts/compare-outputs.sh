#!/usr/bin/env bash
# Compare two output sets of scripts/outputs.sh across a key rename:
#
#   scripts/compare-outputs.sh OLD_OUT NEW_OUT NEW_BUILD
#
# The old set's parameter keys are renamed as NEW_BUILD's `virtiosim params
# --renamed` says (old keys stay accepted; reports echo the new ones), then
# the two sets are compared (exit status non-zero on a difference).
set -euo pipefail
old=$1 new=$2 build=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$old/." "$tmp/"
while read -r from to; do
  [[ -z $from ]] && continue
  # Keys stand in quotes in the reports and the parameter table.
  sed -i "s/\"${from//./\\.}\"/\"$to\"/g" "$tmp"/*.json
done < <("$build/sim/virtiosim" params --renamed)
# Report keys renamed with them (README, "Renamed keys").
sed -i 's/"doorbells_\(lost\|corrupted\|delayed\)"/"kicks_\1"/g' "$tmp"/*.json
# Reports, VCDs, summaries and the barrier table byte for byte; the
# parameter table by key, unit, default and accepted values (its one-line
# reasons are documentation and may be reworded).
diff -r --exclude=params.txt --exclude=params.json "$tmp" "$new"
python3 - "$tmp/params.json" "$new/params.json" <<'PY'
import json, sys
strip = lambda f: [{k: v for k, v in p.items() if k != "why"} for p in json.load(open(f))]
old, new = strip(sys.argv[1]), strip(sys.argv[2])
if old != new:
    for a, b in zip(old, new):
        if a != b: print("params:", a, "->", b)
    sys.exit("params differ" if len(old) == len(new) else f"params: {len(old)} keys -> {len(new)}")
PY
