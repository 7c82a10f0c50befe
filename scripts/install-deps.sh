#!/bin/sh
# Installs the Debian packages berth's demo, tests and benchmarks use, only if one is missing,
# so a warm machine pays nothing. Runs as root (apt-get).
set -eu
need=""
for pair in busybox:busybox-static runc:runc crun:crun hyperfine:hyperfine strace:strace \
    podman:podman ctr:containerd dockerd:docker.io qemu-system-x86_64:qemu-system-x86 \
    busctl:systemd dbus-daemon:dbus newuidmap:uidmap; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need="$need $pkg"
done
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q dynamic && need="$need busybox-static"
if [ -n "$need" ]; then
  echo "installing:$need" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $need >/dev/null
fi
