# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
CARGO ?= cargo
BERTH := target/release/berth

.PHONY: build deps demo test lint unit integration conformance-runc bench conformance clean

build:
	$(CARGO) build --release --workspace

deps:
	scripts/install-deps.sh

demo: deps build
	BERTH=$(BERTH) scripts/demo.sh

# The whole suite: style, unit tests, berth driven through its command line from inside real
# containers (ending with a leak check), and the conformance suite against runc and berth.
test: deps build lint unit integration conformance-runc

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --release --workspace --exclude integration-tests

integration: build
	BERTH_BIN=$(CURDIR)/$(BERTH) $(CARGO) test --release -p integration-tests

bench: deps build
	bench/run.sh

conformance: deps build
	oci-conformance/side-by-side.sh

clean:
	$(CARGO) clean
