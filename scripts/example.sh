#!/bin/sh
# `make example`: runs the embedder example (libcontainer/examples/tokio_run.rs) on a busybox
# rootfs and checks what it prints: the container's stdout, captured through a pipe, and its
# exit code, awaited on its pidfd. Needs root, like the rest of `make test`.
set -eu
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/mkbundle.sh "$work/bundle" >/dev/null
out=$(${CARGO:-cargo} run -q -p berth-container --example tokio_run -- "$work/bundle/rootfs" "$work/state")
expected='output: "hello from tokio-example\n"
exit code: 7'
if [ "$out" != "$expected" ]; then
  printf 'example: printed\n%s\nexpected\n%s\n' "$out" "$expected" >&2
  exit 1
fi
# The example deletes its container: nothing may be left in its state root.
if [ -n "$(ls -A "$work/state" 2>/dev/null)" ]; then
  echo "example: left behind: $(ls -A "$work/state")" >&2
  exit 1
fi
echo "example: ok"
