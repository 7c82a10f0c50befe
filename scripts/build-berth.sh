#!/bin/sh
# Builds the release berth as a static glibc binary and puts it at target/release/berth, where
# every test, the demo and the benchmark look for it.
#
# Why ask cargo where it builds: many developers set CARGO_TARGET_DIR (or build.target-dir)
# globally, and cargo then builds there; only the stripped result comes back to this workspace's
# target/release/berth, the one path every script and test knows.
#
# Why static: a dynamic berth spends about a third of a `state` call in the loader (some 10,000
# relocations against libc and friends), and libc's pages add over 1 MiB to peak RSS. berth
# uses nothing from glibc that needs NSS or dlopen (it reads /etc/passwd itself), so a static
# link costs nothing in behaviour. The flag goes through --target so that build scripts and
# proc-macros, which must stay dynamic, do not get it.
#
# Why the link order: the kernel maps the 64 KiB around every page fault in the binary, so the
# functions a command runs, if spread over the whole .text, make nearly all of it resident.
# scripts/hot-symbols.txt (made by scripts/hot-symbols.sh) lists them; the toolchain's own lld
# puts them together at the start of .text: peak RSS of `run` 3.8 -> 2.4 MiB. Without rust-lld
# in the toolchain berth is linked as before, only larger in memory.
set -eu
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
host=$(rustc -vV | sed -n 's/^host: //p')
flags="-C target-feature=+crt-static"
gcc_ld="$(rustc --print sysroot)/lib/rustlib/$host/bin/gcc-ld"
if [ -x "$gcc_ld/ld.lld" ] && [ -s scripts/hot-symbols.txt ]; then
  # The list itself, by a fixed path: a new list leaves RUSTFLAGS alone (which would rebuild
  # every crate); runtime-bin/build.rs watches the file, so cargo relinks berth only.
  order="$PWD/scripts/hot-symbols.txt"
  # A listed function that no longer exists is skipped; lld need not say so for each one.
  flags="$flags -C link-arg=-B$gcc_ld -C link-arg=-fuse-ld=lld"
  flags="$flags -C link-arg=-Wl,--symbol-ordering-file=$order"
  flags="$flags -C link-arg=-Wl,--no-warn-symbol-ordering"
else
  echo "build-berth: no rust-lld in the toolchain: linking without the hot-function order" >&2
fi
RUSTFLAGS="${RUSTFLAGS:-} $flags" \
  $CARGO build ${CARGO_QUIET:-} --release --bin berth --target "$host"
built=$($CARGO metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
if [ -z "$built" ]; then
  echo "build-berth: cargo metadata did not say where cargo builds" >&2
  exit 1
fi
mkdir -p target/release
# Replaced by rename, so a berth that is running (a test's container) is never written into.
strip -o target/release/berth.new "$built/$host/release/berth"
mv target/release/berth.new target/release/berth
