#!/bin/sh
# crun 1.8 refuses hybrid cgroup hosts (v1 controllers plus a cgroup2 mount at
# /sys/fs/cgroup/unified). Each invocation runs crun in a private mount namespace with the
# cgroup2 mount hidden; the host keeps it. State survives between invocations because --root
# is an ordinary directory. Usage: crun-hybrid.sh [crun arguments...]
set -eu
CRUN=${CRUN:-crun}
exec unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$CRUN" "$@"
