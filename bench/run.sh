#!/bin/bash
# make bench: berth, runc and crun side by side (see bench/README.md).
# Usage: bench/run.sh [--quick] [--no-install] [--no-build] [bench.py options...]
# Installs what it lacks from Debian, builds berth if it can (a failed build only turns
# berth's rows into n/a), then hands over to bench.py, which owns cleanup (also on Ctrl-C).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
install=1 build=1
args=()
for a in "$@"; do
  case $a in
    --no-install) install=0 ;;
    --no-build) build=0 ;;
    *) args+=("$a") ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }

if [ "$install" = 1 ]; then
  missing=()
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  command -v runc >/dev/null || missing+=(runc)
  command -v crun >/dev/null || missing+=(crun)
  [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 \
    && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=(busybox-static)
  [ -x /usr/bin/time ] || missing+=(time)
  command -v unshare >/dev/null || missing+=(util-linux)
  command -v python3 >/dev/null || missing+=(python3)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  fi
fi

if [ "$build" = 1 ]; then
  if command -v cargo >/dev/null; then
    echo "bench: scripts/build-berth.sh" >&2
    ("$repo/scripts/build-berth.sh" >&2) \
      || echo "bench: berth did not build; its rows will show n/a" >&2
  else
    echo "bench: no cargo; berth rows will show n/a unless target/release/berth exists" >&2
  fi
fi

exec python3 "$here/bench.py" "${args[@]}"
