//! Helpers the runc-compatibility tests share (tests/runc_compat*.rs).

use crate::{Bundle, TestEnv};
use serde_json::Value;

/// runc's exit status for its own failures (`exec`), distinct from any status the
/// container's process exits with.
pub const RUNTIME_FAILURE: i32 = 255;

/// A detached container running `sleep 1000`; returns its id and bundle.
pub fn sleeping(env: &TestEnv) -> (String, Bundle) {
    let b = env.bundle(&["sleep", "1000"]);
    b.save();
    let id = env.id();
    env.rt
        .run_cmd(&["run", "--detach", "--bundle", b.path_str(), &id])
        .assert_ok("run --detach");
    env.wait_status(&id, "running");
    (id, b)
}

/// The pids of the container's processes (`ps --format json`; runc prints `null` for none).
pub fn container_pids(env: &TestEnv, id: &str) -> Vec<i64> {
    let out = env.rt.run_cmd(&["ps", "--format", "json", id]);
    out.assert_ok("ps --format json");
    let v: Value = serde_json::from_str(out.stdout.trim()).expect("ps JSON");
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}
