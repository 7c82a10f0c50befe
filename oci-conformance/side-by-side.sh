#!/bin/sh
# Runs the conformance suite against berth (target/release/berth, when built), runc and crun
# (through crun-hybrid.sh) and prints one row per case with each runtime's result. A trailing
# `*` marks a failure listed in KNOWN-FAILURES.md. Exits 1 if any runtime has a failure not
# listed there. BERTH=PATH overrides where berth is. Extra arguments go to the runner (e.g. --filter hooks).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"
cargo build --release -q -p oci-conformance || exit 2
# Wherever cargo builds (CARGO_TARGET_DIR or build.target-dir may point outside the workspace).
built=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
runner="${built:-$top/target}/release/oci-conformance"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
names=""
for rt in "berth:${BERTH:-$top/target/release/berth}" "runc:/usr/bin/runc" "crun:$here/crun-hybrid.sh"; do
  name=${rt%%:*}; path=${rt#*:}
  if [ ! -x "$path" ]; then
    echo "$name: $path not built or installed; column left blank" >&2
    : > "$out/$name"
  else
    "$runner" --runtime "$path" --name "$name" --expect-failures "$here/KNOWN-FAILURES.md" "$@" \
      > "$out/$name" 2> "$out/$name.err" || status=1
    tail -n 1 "$out/$name" | sed "s/^/$name: /"
    grep '^unexpected failures' "$out/$name.err" | sed "s/^/$name: /"
  fi
  names="$names $name"
done
echo
# shellcheck disable=SC2086
awk -v names="$names" '
  BEGIN { n = split(names, rts, " ") }
  FNR == 1 { file = FILENAME; sub(".*/", "", file) }
  /^(PASS|FAIL|SKIP) / {
    name = $2; sub(":$", "", name)
    mark = $1; if ($0 ~ /\[expected: /) mark = mark "*"
    res[file, name] = mark
    if (!(name in seen)) { seen[name] = 1; order[++count] = name }
  }
  END {
    printf "%-40s", "case"; for (i = 1; i <= n; i++) printf " %-6s", rts[i]; printf "\n"
    for (c = 1; c <= count; c++) {
      printf "%-40s", order[c]
      for (i = 1; i <= n; i++) { r = res[rts[i], order[c]]; printf " %-6s", (r == "" ? "-" : r) }
      printf "\n"
    }
  }' $(for n in $names; do echo "$out/$n"; done)
exit $status
