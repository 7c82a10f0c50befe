//! Fault injection for tests: with `BERTH_TEST_PAUSE_AT=<step>` in its environment, berth stops
//! itself with SIGSTOP when it reaches the step of that name, so a test (its parent, watching
//! with `waitid(WSTOPPED)`) can kill it exactly there and check what a later
//! `delete --force` cleans up (integration-tests/tests/fault_injection.rs). Without the
//! variable, or with a name that is no step, every pause point is a no-op.
//!
//! Only berth's own process pauses: the points are on the parent's side of every protocol,
//! never in a cloned child.

/// The environment variable naming the step to stop at.
pub const ENV: &str = "BERTH_TEST_PAUSE_AT";

/// Every step berth can be stopped at, in the order a `run` meets them.
pub const STEPS: &[&str] = &[
    // create / run: the state dir holds config.json and a state.json without an init.
    "create:recorded",
    // the first child exists and is in its cgroups.
    "create:cgroup",
    // the container's init exists (its pid is known).
    "create:init",
    // the init reported Ready; state.json is not yet final.
    "create:ready",
    // state.json records the init; the init has not yet been told.
    "create:saved",
    // start: the container is locked, the init not yet released.
    "start:locked",
    // exec: the new process's first child is in the container's cgroups.
    "exec:cgroup",
    // delete: every process is gone, the cgroups and state dir not yet.
    "delete:killed",
    // delete: the cgroups are gone, the state dir not yet.
    "delete:cgroups",
];

/// Stops this process (SIGSTOP) if `BERTH_TEST_PAUSE_AT` names `step`.
pub(crate) fn pause_at(step: &str) {
    debug_assert!(STEPS.contains(&step), "undeclared pause point {step}");
    if std::env::var_os(ENV).is_some_and(|v| v == step) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
    }
}
