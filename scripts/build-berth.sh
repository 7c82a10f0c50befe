#!/bin/sh
# Builds the release berth as a static glibc binary and puts it at target/release/berth, where
# every test, the demo and the benchmark look for it.
#
# Why static: a dynamic berth spends about a third of a `state` call in the loader (some 10,000
# relocations against libc and friends), and libc's pages add over 1 MiB to peak RSS. berth
# uses nothing from glibc that needs NSS or dlopen (it reads /etc/passwd itself), so a static
# link costs nothing in behaviour. The flag goes through --target so that build scripts and
# proc-macros, which must stay dynamic, do not get it.
set -eu
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  $CARGO build ${CARGO_QUIET:-} --release --bin berth --target "$host"
mkdir -p target/release
# Replaced by rename, so a berth that is running (a test's container) is never written into.
cp "target/$host/release/berth" target/release/berth.new
mv target/release/berth.new target/release/berth
