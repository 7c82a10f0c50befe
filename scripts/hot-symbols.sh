#!/bin/bash
# Writes scripts/hot-symbols.txt: the functions berth's own process executes in run, create,
# start, state, list, exec, kill and delete, as callgrind saw them. scripts/build-berth.sh
# hands the list to the linker, which lays those functions out together at the start of .text.
#
# Why: the kernel maps the 64 KiB around every page fault of a file mapping (fault-around), so
# a `run` that touches ~600 KiB of functions spread over a 2.9 MB .text had almost all of it
# resident: 3.8 MiB peak RSS against crun's 3.2. Grouped, it is ~2.4 MiB.
#
# The names are mangled and carry hashes. A function that is new or renamed since the list was
# made is simply not grouped (lld is told not to warn): RSS drifts up slowly, nothing breaks.
# Rerun this (as root, with valgrind installed) when `make bench`'s peak RSS row drifts.
# Usage: scripts/hot-symbols.sh   (builds an unstripped release berth of its own)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "hot-symbols: run as root" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "hot-symbols: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
host=$(rustc -vV | sed -n 's/^host: //p')
target=$repo/target/hot-symbols
# The release profile as build-berth.sh uses it (the profile is part of every symbol's hash).
CARGO_TARGET_DIR=$target RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build -q --release --bin berth --target "$host"
berth=$target/$host/release/berth

tmp=$(mktemp -d /tmp/berth-hot.XXXXXX)
root=$tmp/root
id=hot$$
cleanup() {
  for c in "$id" "$id-run"; do "$berth" --root "$root" delete -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
scripts/mkbundle.sh "$tmp/true" /bin/true >/dev/null
scripts/mkbundle.sh "$tmp/sleep" sleep 1000 >/dev/null
# valgrind lowers the client's hard RLIMIT_NOFILE for its own fds, so raising it fails there.
for b in true sleep; do
  python3 -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["process"].pop("rlimits",None); json.dump(c,open(p,"w"))' \
    "$tmp/$b/config.json"
done
vg() {
  local name=$1; shift
  valgrind --tool=callgrind --demangle=no --trace-children=no \
    --callgrind-out-file="$tmp/cg.$name" "$berth" --root "$root" "$@" >/dev/null 2>&1 \
    || echo "hot-symbols: $name failed under valgrind; its functions are left out" >&2
}
vg run run -b "$tmp/true" "$id-run"
vg create create -b "$tmp/sleep" "$id"
vg state state "$id"
vg list list
vg start start "$id"
vg exec exec "$id" /bin/true
vg kill kill "$id" KILL
for _ in $(seq 100); do
  "$berth" --root "$root" state "$id" 2>/dev/null | grep -q '"stopped"' && break
  sleep 0.05
done
vg delete delete "$id"

# callgrind names a function once per file, on its first fn= or cfn= line.
grep -hE '^c?fn=' "$tmp"/cg.* | sed -E 's/^c?fn=\([0-9]+\) ?//' | grep -v '^$' | sort -u >"$tmp/seen"
nm --defined-only "$berth" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u >"$tmp/defined"
comm -12 "$tmp/seen" "$tmp/defined" >scripts/hot-symbols.txt
echo "hot-symbols: $(wc -l <scripts/hot-symbols.txt) functions written to scripts/hot-symbols.txt" >&2
