#!/bin/sh
# Starts N containers detached, lists them, deletes them all; timed as a whole by hyperfine.
# Appends "start_ns list_ns delete_ns" to PHASES so the report can split the total.
# Usage: many.sh PHASES N BUNDLE IDPREFIX RUNTIME [RUNTIME-ARGS...]   (e.g. runc --root R)
# Stdio goes to /dev/null: a detached container inherits it and would hold a pipe open.
set -u
phases=$1 n=$2 bundle=$3 prefix=$4; shift 4
fail=0
t0=$(date +%s%N)
i=1
while [ "$i" -le "$n" ]; do
  "$@" run -d --bundle "$bundle" "$prefix-$i" </dev/null >/dev/null 2>&1 || fail=1
  i=$((i + 1))
done
t1=$(date +%s%N)
"$@" list >/dev/null 2>&1 || fail=1
t2=$(date +%s%N)
i=1
while [ "$i" -le "$n" ]; do
  "$@" delete -f "$prefix-$i" </dev/null >/dev/null 2>&1 || fail=1
  i=$((i + 1))
done
t3=$(date +%s%N)
[ "$fail" = 0 ] && echo "$((t1 - t0)) $((t2 - t1)) $((t3 - t2))" >>"$phases"
exit "$fail"
