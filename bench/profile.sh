#!/bin/bash
# make profile: what one berth command costs in processes, syscalls, files and state I/O,
# counted (not timed) with strace, plus instructions under valgrind when it is installed.
# Usage: bench/profile.sh [BERTH_BINARY]   (default target/release/berth; run as root)
# The figures are what docs/performance.md quotes; they do not depend on machine load.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
berth=$(realpath "${1:-$repo/target/release/berth}")  # absolute: the rows run from the bundles
[ "$(id -u)" = 0 ] || { echo "profile: run as root" >&2; exit 1; }
command -v strace >/dev/null || { echo "profile: needs strace (apt-get install strace)" >&2; exit 1; }
[ -x "$berth" ] || { echo "profile: $berth missing (make build)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/berth-profile.XXXXXX)
root=$tmp/root
id=prof$$
cleanup() {
  "$berth" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
  "$berth" --root "$root" delete -f "$id-run" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
"$repo/scripts/mkbundle.sh" "$tmp/true" /bin/true >/dev/null
"$repo/scripts/mkbundle.sh" "$tmp/sleep" sleep 1000 >/dev/null

# One row from an `strace -f` log of every syscall: processes made, syscalls, files opened
# (successful open/openat/openat2), and reads/writes of the state dir's JSON files.
row() {
  local name=$1 log=$2
  awk -v name="$name" '
    / (clone|clone3|fork|vfork)\(/ && !/= -1/ && !/resumed/ && !/unfinished/ { procs++ }
    / (clone|clone3|fork|vfork)\(.*unfinished/ { procs++ }
    /^[0-9]+ +[a-z_0-9]+\(/ || /^[a-z_0-9]+\(/ { calls++ }
    /open(at|at2)?\(/ && !/= -1/ { files++ }
    /(state|config)\.json"/ && /O_RDONLY/ && !/= -1/ { jr++ }
    /\.(state|config)\.json\.tmp"/ && /O_WRONLY/ { jw++ }
    END { printf "| %-8s | %9d | %8d | %12d | %10d | %11d |\n", name, procs, calls, files, jr, jw }
  ' "$log"
}

trace() { strace -f -qq -o "$tmp/$1.trace" "${@:2}" >/dev/null 2>&1 || true; }
# create's init waits for start: following it would wait too. berth's own process only.
trace_parent() { strace -qq -o "$tmp/$1.trace" "${@:2}" >/dev/null 2>&1 || true; }

echo "## berth $("$berth" --version | awk '{print $3}'): syscalls per command ($(basename "$berth"), $(uname -r))"
echo
echo "| command  | processes | syscalls | files opened | JSON reads | JSON writes |"
echo "|----------|-----------|----------|--------------|------------|-------------|"
(cd "$tmp/true" && trace run "$berth" --root "$root" run "$id-run")
row run "$tmp/run.trace"
(cd "$tmp/sleep" && trace_parent create "$berth" --root "$root" create "$id")
row create "$tmp/create.trace"
trace state "$berth" --root "$root" state "$id"
row state "$tmp/state.trace"
trace list "$berth" --root "$root" list
row list "$tmp/list.trace"
trace start "$berth" --root "$root" start "$id"
row start "$tmp/start.trace"
trace exec "$berth" --root "$root" exec "$id" /bin/true
row exec "$tmp/exec.trace"
"$berth" --root "$root" kill "$id" KILL
for _ in $(seq 100); do
  [ "$("$berth" --root "$root" state "$id" | grep -c '"stopped"')" = 1 ] && break
  sleep 0.05
done
trace delete "$berth" --root "$root" delete "$id"
row delete "$tmp/delete.trace"
echo
echo "processes: clone/clone3/fork calls by berth and its children (the container's own included;"
echo "create: berth's own process only, its children are not followed)."
echo "JSON reads/writes: opens of state.json/config.json in the state dir (writes via .tmp + rename)."

echo
echo "## Syscalls of \`run\` by kind (strace -c -f, top 15)"
echo
echo '```'
(cd "$tmp/true" && strace -f -c -o "$tmp/run.count" "$berth" --root "$root" run "$id-run" >/dev/null 2>&1 || true)
head -n 17 "$tmp/run.count" | tail -n +1
tail -n 1 "$tmp/run.count"
echo '```'

echo
echo "## Memory"
echo
size=$(stat -c %s "$berth")
echo "- binary: $size bytes"
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1; }
if [ -x /usr/bin/time ]; then
  echo "- peak RSS, \`--version\`: $(rss "$berth" --version) KiB; \`run\` of /bin/true: $(cd "$tmp/true" && rss "$berth" --root "$root" run "$id-run") KiB"
fi
(cd "$tmp/sleep" && "$berth" --root "$root" run -d "$id" >/dev/null)
pid=$("$berth" --root "$root" state "$id" | awk -F'[:,]' '/"pid"/ {gsub(/ /, "", $2); print $2}')
echo "- a waiting init is the container's process, not berth's: /proc/$pid/status VmRSS of the"
echo "  running sleep: $(awk '/VmRSS/ {print $2, $3}' "/proc/$pid/status")"
"$berth" --root "$root" delete -f "$id" >/dev/null

if command -v valgrind >/dev/null; then
  echo
  echo "## Instructions (valgrind --tool=callgrind, berth's own process only)"
  echo
  (cd "$tmp/sleep" && "$berth" --root "$root" create "$id" >/dev/null)
  for cmd in "--version" "state $id" "list"; do
    # shellcheck disable=SC2086
    n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$berth" --root "$root" $cmd 2>&1 >/dev/null \
      | awk '/Collected/ {print $NF}')
    echo "- \`$cmd\`: ${n:-?} instructions"
  done
fi
