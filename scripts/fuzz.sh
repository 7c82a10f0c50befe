#!/bin/sh
# A short, bounded fuzz run of every cargo-fuzz target (issue 14), so that an input from outside
# berth that makes it panic fails `make test`. Each target starts from its seed corpus in
# fuzz/corpus/<target> (real configs, state files, update JSON, channel packets) and runs
# FUZZ_SECONDS (20) on the nightly toolchain; what it learns goes to a temp dir, not the repo.
# A crash leaves its input under fuzz/artifacts/<target>/ and fails the run.
set -eu
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECONDS:-20}
rustup toolchain list | grep -q '^nightly' || {
  echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)" >&2; exit 1; }
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
cargo +nightly fuzz build -O
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
for t in $(cargo +nightly fuzz list); do
  mkdir -p "$work/$t" "corpus/$t"
  if cargo +nightly fuzz run -O "$t" "$work/$t" "corpus/$t" -- \
      -max_total_time="$secs" -print_final_stats=0 >"$work/$t.log" 2>&1; then
    echo "fuzz $t: ok ($(grep -c . "$work/$t.log" || true) log lines)"
    passed=$((passed + 1))
  else
    echo "fuzz $t: FAILED" >&2
    tail -40 "$work/$t.log" >&2
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
