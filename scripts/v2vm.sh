#!/bin/sh
# Runs one command on a real cgroup v2 host and exits with its status: our machines are
# hybrid, so the cgroup v2 tests run in a throwaway qemu VM booting Debian's stock kernel.
#
#   scripts/v2vm.sh COMMAND [ARGS...]        (as root; output of COMMAND on stdout)
#
# The VM sees the host's / read-only (9p) under a tmpfs overlay, so host binaries, libraries
# and the test binaries under target/ run unchanged; cgroup2 is mounted on /sys/fs/cgroup with
# every controller enabled at the root. /dev/kvm here cannot run a stock kernel, hence TCG.
# Output comes back over a virtio-serial port into a file, the status through a shared dir.
#
# V2VM_SYSTEMD=1 boots the same root with Debian's systemd as PID 1 (and dbus, both from the
# host's own packages, installed here if missing) instead of the busybox init: systemd boots
# v2vm.target only (scripts/sdvm/), which starts dbus and then runs COMMAND as a service. Any
# test or script runs there the same way, e.g. from a checkout:
#
#   V2VM_SYSTEMD=1 scripts/v2vm.sh sh -c 'systemctl --version && BERTH_BIN=$PWD/target/release/berth target/debug/deps/mytest-HASH --ignored'
#
# COMMAND runs as root from the caller's directory, in v2vm-run.service (system.slice), with
# none of the caller's environment (set variables inside `sh -c`) and no network; the host's
# binaries are there (runc, podman, systemd-run: `systemd-run --wait -p Type=notify ...` runs
# a command as a service with NOTIFY_SOCKET set). scripts/systemd-tests.sh is an example.
#
# The VM is killed after V2VM_TIMEOUT seconds (default 1500): status 124.
set -eu

WORK=${V2VM_DIR:-$(cd "$(dirname "$0")/.." && pwd)/target/v2vm}
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
virtio_console 9pnet 9pnet_virtio netfs fscache 9p overlay"

die() { echo "v2vm: $*" >&2; exit 125; }
[ $# -gt 0 ] || die "usage: $0 COMMAND [ARGS...]"
[ "$(id -u)" = 0 ] || die "must run as root"

SYSTEMD=${V2VM_SYSTEMD:-}
SDVM="$(cd "$(dirname "$0")" && pwd)/sdvm"

need_packages() {
	pkgs=""
	command -v qemu-system-x86_64 >/dev/null || pkgs="$pkgs qemu-system-x86"
	[ -x /bin/busybox ] || pkgs="$pkgs busybox-static"
	if [ -n "$SYSTEMD" ]; then
		[ -x /lib/systemd/systemd ] && command -v busctl >/dev/null || pkgs="$pkgs systemd"
		command -v dbus-daemon >/dev/null || pkgs="$pkgs dbus"
	fi
	[ -n "$pkgs" ] || return 0
	apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
}

# The kernel and its modules from the current linux-image-amd64, unpacked, never installed.
kernel() {
	[ -f "$WORK/vmlinux" ] && return
	mkdir -p "$WORK/pkg"
	image=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-.*\)/\1/p' | head -1)
	[ -n "$image" ] || die "cannot find the package behind linux-image-amd64"
	(cd "$WORK" && apt-get download "$image" >/dev/null 2>&1) || die "apt-get download $image failed"
	dpkg-deb -x "$WORK"/"$image"_*.deb "$WORK/pkg"
	# Booting the uncompressed ELF (PVH entry) skips a slow emulated decompression.
	vmlinuz=$(ls "$WORK"/pkg/boot/vmlinuz-*)
	offset=$(LC_ALL=C grep -abo "$(printf '\3757zXZ\000')" "$vmlinuz" | head -1 | cut -d: -f1)
	[ -n "$offset" ] || die "no xz payload in $vmlinuz"
	tail -c +"$((offset + 1))" "$vmlinuz" | xz -dc >"$WORK/vmlinux.tmp" 2>/dev/null || true
	[ "$(head -c 4 "$WORK/vmlinux.tmp" | tail -c 3)" = ELF ] || die "vmlinux extraction failed"
	mv "$WORK/vmlinux.tmp" "$WORK/vmlinux"
}

initramfs() {
	# Made again when the init or the systemd VM's units change.
	if [ -f "$WORK/initrd.gz" ] && [ -z "$(find "$(dirname "$0")/v2vm-init" "$SDVM" \
		-newer "$WORK/initrd.gz" 2>/dev/null)" ]; then
		return
	fi
	root="$WORK/initrd"
	rm -rf "$root" && mkdir -p "$root/bin" "$root/mod" "$root/proc" "$root/sys" "$root/dev" \
		"$root/host" "$root/rw" "$root/new" "$root/share"
	cp /bin/busybox "$root/bin/busybox"
	for m in $MODULES; do
		find "$WORK"/pkg/lib/modules/*/kernel -name "$m.ko" -exec cp {} "$root/mod/" \;
		[ -f "$root/mod/$m.ko" ] || die "module $m not in the kernel package"
	done
	cp "$(dirname "$0")/v2vm-init" "$root/init"
	cp -r "$SDVM" "$root/sdvm"
	chmod 755 "$root/init"
	(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$WORK/initrd.gz"
}

need_packages
kernel
initramfs

share=$(mktemp -d "$WORK/run.XXXXXX")
trap 'rm -rf "$share"' EXIT
# The command, quoted for the guest's sh, run from the caller's directory.
{
	printf 'cd %s\n' "'$(pwd)'"
	printf 'exec'
	for arg in "$@"; do
		printf " '%s'" "$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")"
	done
	printf '\n'
} >"$share/cmd"
: >"$share/output"

append="console=ttyS0 quiet loglevel=3 panic=-1"
if [ -n "$SYSTEMD" ]; then
	# apparmor=0: as on our hosts, so podman asks for no profile (berth has no AppArmor).
	append="$append v2vm.systemd=1 systemd.unit=v2vm.target systemd.show_status=0 \
systemd.unified_cgroup_hierarchy=1 apparmor=0"
fi
rc=0
timeout -k 10 "${V2VM_TIMEOUT:-1500}" \
qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 1024 -nographic -no-reboot -net none \
	-kernel "$WORK/vmlinux" -initrd "$WORK/initrd.gz" \
	-append "$append" \
	-fsdev local,id=host,path=/,security_model=passthrough,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=host,mount_tag=host \
	-fsdev local,id=share,path="$share",security_model=passthrough \
	-device virtio-9p-pci,fsdev=share,mount_tag=share \
	-device virtio-serial-pci -chardev file,id=out,path="$share/output" \
	-device virtserialport,chardev=out,name=out \
	>"$share/console" 2>&1 </dev/null || rc=$?

cat "$share/output"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "v2vm: the VM did not finish within ${V2VM_TIMEOUT:-1500} s; its console:" >&2
	tail -50 "$share/console" >&2
	exit 124
fi
if [ ! -f "$share/status" ]; then
	echo "v2vm: the VM ended without a status; its console:" >&2
	cat "$share/console" >&2
	exit 125
fi
exit "$(cat "$share/status")"
