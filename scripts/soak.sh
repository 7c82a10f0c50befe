#!/bin/bash
# `make soak`: N lifecycles of each kind, with a leak snapshot of the host (mounts, cgroups,
# open files, processes, state dirs, temp files) before and after. Prints `N passed, N failed`
# and exits non-zero on a failed lifecycle or a leak. Not part of `make test` (minutes long).
#
# Kinds: a foreground run; run -d, kill, delete; create, start, exec, kill, delete; a create
# SIGKILLed at a random step (BERTH_TEST_PAUSE_AT) and removed by delete --force; a running
# container whose state.json is truncated, removed by delete --force.
#
#   N=200 BERTH=target/release/berth scripts/soak.sh
set -u
berth=${BERTH:-target/release/berth}
n=${N:-50}
case "$berth" in /*) ;; *) berth="$PWD/$berth" ;; esac
[ -x "$berth" ] || { echo "soak: $berth is missing (make build)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/berth-soak.XXXXXX)
root="$tmp/state"
prefix="soak$$"
steps="create:recorded create:cgroup create:init create:ready create:saved"
trap 'for d in "$root"/*; do [ -d "$d" ] && "$berth" --root "$root" delete --force "${d##*/}" >/dev/null 2>&1; done; rm -rf "$tmp"' EXIT

scripts/mkbundle.sh "$tmp/sleep" sleep 1000 >/dev/null
scripts/mkbundle.sh "$tmp/true" true >/dev/null

# What a leak would show: counts, so that other work on the machine only adds noise when it
# touches the same names.
snapshot() {
	printf 'mounts %s\n' "$(grep -c "$tmp" /proc/self/mountinfo)"
	printf 'cgroups %s\n' "$(find /sys/fs/cgroup -maxdepth 3 -type d -name "*$prefix*" 2>/dev/null | wc -l)"
	# Zombies are left out: a killed init waits for the host's pid 1 to reap it.
	printf 'processes %s\n' "$(for f in $(grep -l "$prefix" /proc/[0-9]*/cgroup 2>/dev/null); do
		awk '$3 != "Z"' "${f%/cgroup}/stat" 2>/dev/null; done | wc -l)"
	printf 'states %s\n' "$(find "$root" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
	printf 'fds %s\n' "$(ls /proc/$$/fd | wc -l)"
	printf 'files %s\n' "$(find "$tmp" -path "$tmp/sleep" -prune -o -path "$tmp/true" -prune -o -print | wc -l)"
}

b() { "$berth" --root "$root" "$@"; }
passed=0
failed=0
result() {
	if [ "$1" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $2" >&2; fi
}

# Waits (bounded) for `state` of $1 to say $2.
wait_status() {
	for _ in $(seq 1 500); do
		b state "$1" 2>/dev/null | grep -q "\"status\": \"$2\"" && return 0
		sleep 0.01
	done
	return 1
}

# No state dir, no cgroup (rmdir of a cgroup succeeds only once its processes are gone), no
# process in a cgroup of that name.
gone() {
	[ ! -e "$root/$1" ] && [ -z "$(find /sys/fs/cgroup -maxdepth 2 -type d -name "*$1" 2>/dev/null)" ] &&
		! grep -qs "berth-$1\$" /proc/[0-9]*/cgroup 2>/dev/null
}

# A create paused at $2 (it SIGSTOPs itself), then SIGKILLed.
killed_create() {
	BERTH_TEST_PAUSE_AT=$2 "$berth" --root "$root" create -b "$tmp/sleep" "$1" >/dev/null 2>&1 &
	local pid=$!
	for _ in $(seq 1 500); do
		[ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)" = T ] && break
		sleep 0.01
	done
	kill -KILL "$pid"; kill -CONT "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	b delete --force "$1"
}

mkdir -p "$root"
before=$(snapshot)
for i in $(seq 1 "$n"); do
	id="$prefix-run-$i"
	(cd "$tmp/true" && b run "$id" >/dev/null) && gone "$id"
	result $? "run $id"

	id="$prefix-detach-$i"
	(cd "$tmp/sleep" && b run -d "$id") && b kill "$id" KILL && wait_status "$id" stopped &&
		b delete "$id" && gone "$id"
	result $? "run -d/kill/delete $id"

	id="$prefix-exec-$i"
	b create -b "$tmp/sleep" "$id" && b start "$id" && [ "$(b exec "$id" echo hi)" = hi ] &&
		b kill "$id" KILL && wait_status "$id" stopped && b delete "$id" && gone "$id"
	result $? "create/start/exec/kill/delete $id"

	id="$prefix-killed-$i"
	set -- $steps
	shift $((RANDOM % 5))
	killed_create "$id" "$1" && gone "$id"
	result $? "create killed at $1, delete --force $id"

	id="$prefix-torn-$i"
	(cd "$tmp/sleep" && b run -d "$id") && head -c 40 "$root/$id/state.json" >"$root/$id/t" &&
		mv "$root/$id/t" "$root/$id/state.json" && b delete --force "$id" 2>/dev/null && gone "$id"
	result $? "torn state.json, delete --force $id"
done
after=$(snapshot)

if [ "$before" != "$after" ]; then
	echo "leaks:" >&2
	diff <(echo "$before") <(echo "$after") >&2
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
