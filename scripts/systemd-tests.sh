#!/bin/sh
# The systemd cgroup driver's tests (integration-tests/tests/systemd_cgroup.rs, the #[ignore]d
# ones included) on a real systemd host: one boot of the cgroup v2 VM with Debian's systemd as
# PID 1 (V2VM_SYSTEMD=1 scripts/v2vm.sh), against the release berth and then against runc,
# which proves the tests. As root. Extra arguments go to the test binary (a filter).
set -eu
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
RUNC=${RUNC:-$(command -v runc)}
CARGO_QUIET=-q scripts/build-berth.sh
t=$($CARGO test -p integration-tests --test systemd_cgroup --no-run --message-format=json \
	2>/dev/null | grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
[ -x "$t" ] || { echo "systemd-tests: test binary not built" >&2; exit 1; }
# shellcheck disable=SC2016 # expanded by the guest's sh
V2VM_SYSTEMD=1 exec scripts/v2vm.sh sh -c '
	t=$1 runc=$2; shift 2
	echo "systemd-tests: $(systemctl --version | head -1), berth"
	BERTH_BIN=$PWD/target/release/berth "$t" --include-ignored --test-threads=1 "$@" || exit
	echo "systemd-tests: the same against $runc"
	BERTH_BIN=$runc "$t" --include-ignored --test-threads=1 "$@"' \
	systemd-tests "$t" "$RUNC" "$@"
