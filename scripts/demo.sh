#!/bin/sh
# `make demo`: a busybox container that shows its own view of the world.
set -eu
berth=${BERTH:-target/release/berth}
tmp=$(mktemp -d /tmp/berth-demo.XXXXXX)
root="$tmp/state"
trap '"$berth" --root "$root" delete --force demo >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
scripts/mkbundle.sh "$tmp/bundle" sh -c 'echo "hostname: $(hostname)"; echo "my pid:   $$"; echo "mounts:"; cat /proc/self/mounts'
echo "\$ berth run demo   (bundle: $tmp/bundle)"
"$berth" --root "$root" run --bundle "$tmp/bundle" demo
