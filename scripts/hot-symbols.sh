#!/bin/bash
# Writes scripts/hot-symbols.txt: the functions berth executes in run, create, start, state,
# list, exec, kill and delete (its own process and, up to their execve, the processes it starts
# in the container), as callgrind saw them. scripts/build-berth.sh hands the list to the
# linker, which lays those functions out together at the start of .text.
#
# Why: the kernel maps the 64 KiB around every page fault of a file mapping (fault-around), so
# a `run` that touches ~600 KiB of functions spread over a 2.9 MB .text had almost all of it
# resident: 3.8 MiB peak RSS against crun's 3.2. Grouped, it is ~2.4 MiB.
#
# The list is by name, and the names carry hashes: it is read from the very binary
# scripts/build-berth.sh links (its unstripped copy), so every name is one the next link finds.
# A function new or renamed since is simply not grouped: RSS drifts up, nothing breaks.
#
# Why a sealed copy: create, run and exec re-exec from a sealed view of their executable
# (CVE-2019-5736) unless it is one already, and valgrind cannot follow that execveat. So
# valgrind runs a sealed memfd copy, /proc/self/fd/N, as berth's own fallback makes it: berth's
# check finds the seals (valgrind answers the client's opens of /proc/self/exe with that file)
# and does not re-exec. valgrind finds no symbols behind "/memfd:berth (deleted)", so
# callgrind names functions by address; they are mapped back to names with nm of the same file
# (the load base is found from the addresses themselves, and checked).
#
# Usage (as root, with valgrind and python3): scripts/hot-symbols.sh, then
# scripts/build-berth.sh links with the new list (runtime-bin/build.rs makes cargo relink).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

# The profile, run by the part below inside the private mount namespace: $1 the sealed berth,
# $2 the temp dir.
profile() {
  berth=/proc/self/fd/$1 tmp=$2 root=$2/root id=hot$$ execve=$3
  trap 'for c in "$id" "$id-run"; do "$berth" --root "$root" delete -f "$c" >/dev/null 2>&1 || true; done' EXIT
  vg() {
    local name=$1; shift
    # --dump-before execve's address: a process berth starts in the container runs berth's
    # code until its execve, which would lose that part; it writes into $tmp/out, bound into
    # the container at the same path.
    if ! valgrind --tool=callgrind --demangle=no --trace-children=no --dump-before="$execve" \
      --dump-instr=yes \
      --callgrind-out-file="$tmp/out/cg.$name.%p" "$berth" --root "$root" "$@" \
      >/dev/null 2>"$tmp/log.$name"; then
      grep -v -e '^--' -e '^==' "$tmp/log.$name" | tail -5 >&2
      echo "hot-symbols: berth $name failed under valgrind (log above)" >&2
      exit 1
    fi
  }
  vg run run -b "$tmp/true" "$id-run"
  vg create create -b "$tmp/sleep" "$id"
  vg state state "$id"
  vg list list
  vg start start "$id"
  vg exec exec "$id" /bin/true
  vg kill kill "$id" KILL
  for _ in $(seq 100); do
    "$berth" --root "$root" state "$id" 2>/dev/null | grep -q '"stopped"' && break
    sleep 0.05
  done
  vg delete delete "$id"
}
if [ "${1:-}" = --profile ]; then
  profile "$2" "$3" "$4"
  exit
fi

[ "$(id -u)" = 0 ] || { echo "hot-symbols: run as root" >&2; exit 1; }
for tool in valgrind python3 unshare nm; do
  command -v "$tool" >/dev/null || { echo "hot-symbols: needs $tool (apt-get install valgrind)" >&2; exit 1; }
done
start=$(date +%s)
# The binary the next build-berth.sh links differs from this one only in its layout: the
# names do not depend on RUSTFLAGS or on the order file.
CARGO_QUIET=${CARGO_QUIET--q} scripts/build-berth.sh
host=$(rustc -vV | sed -n 's/^host: //p')
built=$(${CARGO:-cargo} metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
berth=$built/$host/release/berth

tmp=$(mktemp -d /tmp/berth-hot.XXXXXX)
cleanup() {
  for c in $("$berth" --root "$tmp/root" list -q 2>/dev/null); do
    "$berth" --root "$tmp/root" delete -f "$c" >/dev/null 2>&1 || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
scripts/mkbundle.sh "$tmp/true" /bin/true >/dev/null
scripts/mkbundle.sh "$tmp/sleep" sleep 1000 >/dev/null
# valgrind lowers the client's hard RLIMIT_NOFILE for its own fds, so raising it fails there.
# $tmp/out is bound in at the same path, for the profiles of the processes in the container.
mkdir "$tmp/out"
for b in true sleep; do
  python3 -c 'import json,sys; p,out=sys.argv[1:]; c=json.load(open(p)); c["process"].pop("rlimits",None)
c["mounts"].append({"destination":out,"type":"bind","source":out,"options":["rbind","rw"]}); json.dump(c,open(p,"w"))' \
    "$tmp/$b/config.json" "$tmp/out"
done
nm -S --defined-only "$berth" >"$tmp/nm"
# valgrind loads a PIE at 0x108000 (checked below, from the addresses it reports).
execve=$(printf '0x%016x' $((0x108000 + 0x$(awk '$4 == "execve" {print $1}' "$tmp/nm"))))
# In berth's own way: copy into a memfd, seal it (no write, grow, shrink, no new seals), keep
# it open across the exec, and run the profile with it.
seal='
import fcntl, os, shutil, sys
src, cmd = sys.argv[1], sys.argv[2:]
fd = os.memfd_create("berth", os.MFD_ALLOW_SEALING)
with open(src, "rb") as f, os.fdopen(os.dup(fd), "wb") as m:
    shutil.copyfileobj(f, m, 1 << 20)
fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
            fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
os.execvp(cmd[0], cmd[:2] + [str(fd)] + cmd[2:])
'
python3 -c "$seal" "$berth" "$repo/scripts/hot-symbols.sh" --profile "$tmp" "$execve"

# Without symbols, callgrind's "functions" are the code reached by a call, named by address,
# and a function entered by a jump (a tail call) counts as its caller's: so every executed
# instruction is dumped (--dump-instr; cost lines carry its address, absolute or relative to
# the one before) and mapped to the function holding it. The load base is the offset most
# called addresses share with a function's start.
map='
import bisect, collections, re, sys
syms = sorted((int(a, 16), int(n, 16), name) for a, n, t, name in
              (l.split() for l in open(sys.argv[1]) if len(l.split()) == 4)
              if t in "tTwW")
entries, addrs = set(), set()
for f in sys.argv[2:]:
    cur = 0
    for l in open(f, errors="replace"):
        m = re.match(r"(0x[0-9a-f]+|[-+]\d+|\*) ", l)
        if m:
            pos = m.group(1)
            cur = int(pos, 16) if pos[0] == "0" else cur if pos == "*" else cur + int(pos)
            addrs.add(cur)
        elif l.startswith("calls="):
            addrs.add(int(l.split()[1], 16))
        else:
            m = re.match(r"c?fn=\(\d+\) (0x[0-9a-f]+)", l)
            if m:
                entries.add(int(m.group(1), 16))
bylow = collections.defaultdict(list)
for s, _, _ in syms:
    bylow[s & 0xfff].append(s)
votes = collections.Counter(a - s for a in entries for s in bylow[a & 0xfff] if a >= s)
base, n = votes.most_common(1)[0] if votes else (0, 0)
if base != 0x108000 or n < len(entries) // 2:
    sys.exit("hot-symbols: load base %#x (%d of %d calls agree), not 0x108000" % (base, n, len(entries)))
starts = [s for s, _, _ in syms]
hot, lost = set(), 0
for a in addrs:
    i = bisect.bisect_right(starts, a - base) - 1
    if i >= 0 and a - base < starts[i] + max(syms[i][1], 1):
        hot.add(syms[i][2])
    else:
        lost += 1
# What valgrind cannot run but every real run does: glibc string functions in their AVX-512
# forms (valgrind offers the program an AVX2 CPU, so its ifuncs pick those), the set-up of
# the vDSO by glibc (valgrind gives none), clone3 and the new mount API (valgrind answers ENOSYS, berth
# falls back), and the re-exec from the read-only mount (is_sealed reads the link,
# restore_comm sets the name).
families = {m.group(1) for n in hot for m in [re.match(r"(__[a-z0-9]+)_(avx|sse|erms)", n)] if m}
real_only = re.compile(r"^(__)?clone3$|12libcontainer3sys5mount|3std3sys2fs9read_link|"
                       r"3std3sys2fs4unix8readlink|3nix3sys5prctl8set_name|"
                       r"^(_dl_new_object|_dl_lookup_symbol_x|do_lookup_x|_dl_setup_hash|"
                       r"check_match|_dl_add_to_namespace_list|_dl_vdso_[a-z0-9_]+)$")
for _, _, name in syms:
    m = re.match(r"(__[a-z0-9]+)_(evex|avx512)", name)
    if (m and m.group(1) in families) or real_only.search(name):
        hot.add(name)
print("\n".join(sorted(hot)))
print("hot-symbols: %d instructions, %d in no function" % (len(addrs), lost), file=sys.stderr)
'
python3 -c "$map" "$tmp/nm" "$tmp"/out/cg.* >scripts/hot-symbols.txt
echo "hot-symbols: $(wc -l <scripts/hot-symbols.txt) functions written to scripts/hot-symbols.txt" \
  "in $(($(date +%s) - start)) s; now run scripts/build-berth.sh" >&2
