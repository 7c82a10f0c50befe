#!/bin/sh
# Starts N containers detached, lists them, SIGKILLs them all, deletes them all, as an engine
# would (kill, then delete the stopped container); timed as a whole by hyperfine.
# Appends "run_ns list_ns kill_ns delete_ns" to PHASES so the report can split the total.
# Usage: many.sh PHASES N BUNDLE IDPREFIX RUNTIME [RUNTIME-ARGS...]   (e.g. runc --root R)
# Stdio goes to /dev/null: a detached container inherits it and would hold a pipe open.
set -u
phases=$1 n=$2 bundle=$3 prefix=$4; shift 4
fail=0
# Says what failed first, on stderr, without stopping: the rest still gets cleaned up.
failed() { [ "$fail" = 1 ] || echo "many.sh: $* failed" >&2; fail=1; }
t0=$(date +%s%N)
i=1
while [ "$i" -le "$n" ]; do
  "$@" run -d --bundle "$bundle" "$prefix-$i" </dev/null >/dev/null 2>&1 || failed "run -d $prefix-$i"
  i=$((i + 1))
done
t1=$(date +%s%N)
"$@" list </dev/null >/dev/null 2>&1 || failed list
t2=$(date +%s%N)
i=1
while [ "$i" -le "$n" ]; do
  "$@" kill "$prefix-$i" KILL </dev/null >/dev/null 2>&1 || failed "kill $prefix-$i"
  i=$((i + 1))
done
t3=$(date +%s%N)
i=1
while [ "$i" -le "$n" ]; do
  # -f: the container may not be reaped yet; on a stopped one it only deletes.
  "$@" delete -f "$prefix-$i" </dev/null >/dev/null 2>&1 || failed "delete -f $prefix-$i"
  i=$((i + 1))
done
t4=$(date +%s%N)
[ "$fail" = 0 ] && echo "$((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t4 - t3))" >>"$phases"
exit "$fail"
