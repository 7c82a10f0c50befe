#!/bin/sh
# The cgroup tests on a real cgroup v2 host, in one boot of the VM of v2vm.sh: libcontainer's
# cgroup v2 tests (#[ignore]d on hybrid hosts) and the host-independent ones, then the
# integration tests of the cgroup commands, limits, device rules and rootless containers (a
# delegated subtree) against the release
# berth. As root. Extra arguments go to the libcontainer test binary.
set -eu
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
executables() {
	grep -o '"executable":"[^"]*"' | cut -d'"' -f4
}
bin=$($CARGO test -p berth-container --no-run --message-format=json 2>/dev/null |
	executables | grep '/libcontainer-' | tail -1)
[ -x "$bin" ] || { echo "v2-tests: no libcontainer test binary built" >&2; exit 1; }
CARGO_QUIET=-q scripts/build-berth.sh
its=$($CARGO test -p integration-tests --test cgroup_cmds --test cgroup_limits --test devices \
	--test rootless --no-run --message-format=json 2>/dev/null | executables)
[ "$(echo "$its" | wc -w)" = 4 ] || { echo "v2-tests: integration tests not built" >&2; exit 1; }
# The v2-only tests, and those that hold on any host; the rest assume this hybrid host.
# shellcheck disable=SC2016 # expanded by the guest's sh
exec scripts/v2vm.sh sh -c '
	bin=$1 its=$2; shift 2
	"$bin" "$@" || exit
	for t in $its; do
		echo "v2-tests: $t"
		BERTH_BIN=$PWD/target/release/berth "$t" --test-threads=2 || exit
	done' v2-tests "$bin" "$its" --include-ignored --test-threads=2 \
	cgroups::tests::v2host cgroups::tests::v2:: cgroups::hierarchy cgroups::bpf \
	places_the_pid_on_every_hierarchy keeps_a_pre_existing containers_sharing pause "$@"
