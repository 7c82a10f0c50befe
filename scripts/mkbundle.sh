#!/bin/sh
# Makes an OCI bundle at $1 whose rootfs is Debian's busybox-static with its applet links.
# The config is `runc spec`'s own output (integration-tests/fixtures/runc-1.1.5-spec.json, the
# one source of every test bundle's config) with the edits below; callers edit config.json as
# they need. Usage: mkbundle.sh DIR [ARGS...] (ARGS default to the fixture's `sh`).
set -eu
die() { echo "mkbundle: $*" >&2; exit 1; }
dir=$1; shift
fixture="$(dirname "$0")/../integration-tests/fixtures/runc-1.1.5-spec.json"
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || die "$bb missing (apt-get install busybox-static)"
[ -r "$fixture" ] || die "$fixture missing"
args=""
for a in "$@"; do
  case $a in *[[:cntrl:]]*) die "argument with a control character: not supported" ;; esac
  args="$args\"$(printf '%s' "$a" | sed 's/\\/\\\\/g; s/"/\\"/g')\","
done
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" \
  "$dir/rootfs/tmp" "$dir/rootfs/etc" "$dir/rootfs/root"
cp "$bb" "$dir/rootfs/bin/busybox"
for a in $("$bb" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/rootfs/etc/passwd"
echo 'root:x:0:' > "$dir/rootfs/etc/group"
# Line edits of the fixture as runc printed it (one field a line), so no JSON tool is needed.
edits=0
while IFS= read -r line || [ -n "$line" ]; do
  case $line in
    # Callers (demo, bench, profiling) read the container's stdio; there is no console socket.
    *'"terminal": true,') line=${line%true,}false, edits=$((edits + 1)) ;;
    # The process is the command line's, if one is given.
    *'"sh"') [ -z "$args" ] || line=${line%\"sh\"}${args%,}; edits=$((edits + 1)) ;;
    # What `berth spec` writes and the demo prints; a berth container calling itself runc misleads.
    *'"hostname": "runc",') line=${line%runc\",}berth\", edits=$((edits + 1)) ;;
  esac
  printf '%s\n' "$line"
done < "$fixture" > "$dir/config.json"
[ "$edits" -eq 3 ] || die "$fixture: expected 3 lines to edit, found $edits"
