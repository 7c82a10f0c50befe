# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
CARGO ?= cargo
BERTH := $(CURDIR)/target/release/berth
RUNC = $(shell command -v runc)

.PHONY: build deps demo test lint unit example integration engines engines-runc cgroup-v2 cgroup-systemd conformance-runc conformance-berth \
	bench profile hot-symbols conformance soak fuzz clean

build:
	CARGO=$(CARGO) scripts/build-berth.sh

deps:
	scripts/install-deps.sh

demo: deps build
	BERTH=$(BERTH) scripts/demo.sh

# The whole suite: style; unit tests (forked children that mount, unshare, filter and cgroup
# for real); the cgroup tests again inside a small cgroup v2 VM, and the systemd cgroup
# driver's in the same VM booting systemd (against runc too); berth driven through its
# command line from inside real containers, ending with a leak check; podman, containerd and
# dockerd driving berth, and the same suites on runc; and the conformance
# suite against runc (proving the suite) and berth. Failures listed in
# oci-conformance/KNOWN-FAILURES.md are expected, anything else fails the run.
test: deps build lint unit example cgroup-v2 cgroup-systemd integration engines engines-runc conformance-runc conformance-berth fuzz

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

unit:
	$(CARGO) test --workspace --exclude integration-tests
	# Typed setup errors must cross the exec'd init's execve too (process/reexec.rs).
	BERTH_TEST_FORCE_INIT_EXEC=1 $(CARGO) test -p berth-container --test setup_errors
	# A host loader from the exec'd init too (a function executor always takes that path).
	BERTH_TEST_FORCE_INIT_EXEC=1 $(CARGO) test -p berth-container --test executor

# The library's embedder example (a tokio program: in-memory config, stdout through a pipe,
# exit awaited on the pidfd), run on a busybox rootfs and its output checked.
example:
	CARGO=$(CARGO) scripts/example.sh

cgroup-v2:
	scripts/v2-tests.sh

cgroup-systemd:
	scripts/systemd-tests.sh

integration: build
	BERTH_BIN=$(BERTH) $(CARGO) test -p integration-tests
	# Again through the exec'd init a multithreaded embedder gets (process/reexec.rs), forced.
	BERTH_TEST_FORCE_INIT_EXEC=1 BERTH_BIN=$(BERTH) $(CARGO) test -p integration-tests \
	  --test lifecycle --test exec --test process --test namespaces --test hooks \
	  --test terminal --test security_exe --test seccomp --test unhappy_paths \
	  --test fault_injection --test rootless --test sd_notify --test socket_activation \
	  --test idmapped_mounts --test zz_leaks

# podman, containerd and dockerd driving berth; engines-runc runs the same suites on runc,
# which proves they test the engines rather than berth's quirks.
engines: build
	BERTH_BIN=$(BERTH) $(CARGO) test -p integration-tests --features engines --test 'engine_*'

engines-runc: build
	ENGINE_RUNTIME=$(RUNC) BERTH_BIN=$(BERTH) $(CARGO) test -p integration-tests --features engines \
		--test 'engine_*'

conformance-runc:
	$(CARGO) run -q -p oci-conformance -- --runtime $(RUNC) --expect-failures oci-conformance/KNOWN-FAILURES.md

conformance-berth: build
	$(CARGO) run -q -p oci-conformance -- --runtime $(BERTH) --expect-failures oci-conformance/KNOWN-FAILURES.md

# N lifecycles of each kind (foreground run; run -d/kill/delete; create/start/exec/kill/delete;
# a create SIGKILLed at a random step; a torn state.json), with leak snapshots before and
# after; prints `N passed, N failed`. Minutes long, so not part of `make test`.
SOAK_N ?= 100
# Every cargo-fuzz target for FUZZ_SECONDS (20) from its seed corpus (fuzz/corpus): a panic on
# any input from outside berth fails the run. Installs cargo-fuzz from crates.io if missing.
fuzz:
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),20) scripts/fuzz.sh

soak: build
	N=$(SOAK_N) BERTH=$(BERTH) scripts/soak.sh

# Side by side with runc and crun; `make bench BENCH_ARGS=--quick` for a smoke run. bench/run.sh
# builds berth itself and measures runc and crun even if that build fails.
bench: deps
	bench/run.sh $(BENCH_ARGS)

# Counts, not times: processes, syscalls, files opened and state JSON I/O per command
# (strace), instructions (valgrind, if installed). docs/performance.md quotes it.
profile: build
	bench/profile.sh $(BERTH)

# Regenerates scripts/hot-symbols.txt, the link order of the functions berth's commands run
# (needs valgrind); commit the result. See scripts/hot-symbols.sh.
hot-symbols:
	scripts/hot-symbols.sh

conformance: deps build
	oci-conformance/side-by-side.sh

clean:
	$(CARGO) clean
