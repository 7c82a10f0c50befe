#!/bin/sh
# The cgroup tests on a real cgroup v2 host: builds libcontainer's test binary here, then runs
# its cgroup v2 tests (#[ignore]d on hybrid hosts) and the host-independent ones inside the VM
# of v2vm.sh. As root. Extra arguments go to the test binary.
set -eu
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
bin=$($CARGO test -p libcontainer --no-run --message-format=json 2>/dev/null |
	grep -o '"executable":"[^"]*libcontainer-[^"]*"' | tail -1 | cut -d'"' -f4)
[ -x "$bin" ] || { echo "v2-tests: no libcontainer test binary built" >&2; exit 1; }
# The v2-only tests, and those that hold on any host; the rest assume this hybrid host.
exec scripts/v2vm.sh "$bin" --include-ignored --test-threads=2 \
	cgroups::tests::v2host cgroups::tests::v2:: cgroups::hierarchy cgroups::bpf \
	places_the_pid_on_every_hierarchy keeps_a_pre_existing containers_sharing pause "$@"
