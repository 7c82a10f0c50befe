//! Issue 2 item 5, hooks: each kind runs at its point of the lifecycle with the state on
//! stdin; failures abort or only warn as the spec says; `timeout` is enforced.

use integration_tests::{host, is_runc, skip_for_runc, Bundle, TestEnv};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// A host hook that saves its stdin to `<dir>/<name>.json` and appends `name` to `<dir>/order`.
fn recording_hook(dir: &Path, name: &str) -> Value {
    let d = dir.display();
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {d}/{name}.json; echo {name} >> {d}/order")]})
}

fn read_state(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

#[test]
fn every_hook_runs_in_order_with_the_state() {
    let env = TestEnv::new("every_hook_runs_in_order");
    let rec = env.dir.join("hooks");
    std::fs::create_dir(&rec).unwrap();
    let mut b = env.bundle(&["sleep", "1000"]);
    b.set_writable();
    b.config["hooks"] = json!({
        "prestart": [recording_hook(&rec, "prestart")],
        "createRuntime": [recording_hook(&rec, "createRuntime")],
        "createContainer": [recording_hook(&rec, "createContainer")],
        // Runs inside the container: the path and the file are the container's.
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /startContainer.json"]}],
        "poststart": [recording_hook(&rec, "poststart")],
        "poststop": [recording_hook(&rec, "poststop")],
    });
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "running");
    env.rt.run_cmd(&["kill", &id, "KILL"]).assert_ok("kill");
    env.wait_status(&id, "stopped");
    env.rt.run_cmd(&["delete", &id]).assert_ok("delete");

    let order = std::fs::read_to_string(rec.join("order")).unwrap();
    let order: Vec<&str> = order.lines().collect();
    let pos = |n: &str| {
        order
            .iter()
            .position(|o| *o == n)
            .unwrap_or_else(|| panic!("{n} did not run: {order:?}"))
    };
    for early in ["prestart", "createRuntime", "createContainer"] {
        assert!(pos(early) < pos("poststart"), "{order:?}");
    }
    assert!(pos("createRuntime") < pos("createContainer"), "{order:?}");
    assert!(pos("poststart") < pos("poststop"), "{order:?}");
    for name in [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ] {
        let state = read_state(&rec.join(format!("{name}.json")));
        assert_eq!(state["id"], id.as_str(), "{name}: {state}");
        assert!(
            state["pid"].as_i64().unwrap_or(0) > 0 || name == "poststop",
            "{name}: {state}"
        );
    }
    let state = read_state(&b.rootfs().join("startContainer.json"));
    assert_eq!(state["id"], id.as_str(), "startContainer: {state}");
}

fn failing_hook() -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", "echo hook-said-no >&2; exit 3"]})
}

fn bundle_with_hook(env: &TestEnv, kind: &str, hook: Value) -> Bundle {
    let mut b = env.bundle(&["sleep", "1000"]);
    b.config["hooks"] = json!({ kind: [hook] });
    b.save();
    b
}

#[test]
fn failing_create_hooks_abort_and_leave_nothing() {
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let env = TestEnv::new(&format!("failing_{kind}_hook"));
        let b = bundle_with_hook(&env, kind, failing_hook());
        let id = env.id();
        let out = env.rt.run_cmd(&["create", "-b", b.path_str(), &id]);
        out.assert_fails_naming(&["hook"]);
        host::assert_nothing_left(&env.rt.root, &id, &b.dir);
    }
}

#[test]
fn hook_timeout_is_enforced() {
    let env = TestEnv::new("hook_timeout");
    // sleep itself, not under sh: runc waits for a killed hook's grandchildren to close its
    // pipes, which would turn this into a test of that.
    let hook = json!({"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1});
    let b = bundle_with_hook(&env, "createRuntime", hook);
    let id = env.id();
    let started = Instant::now();
    let out = env.rt.run_cmd(&["create", "-b", b.path_str(), &id]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the 1s timeout was not enforced"
    );
    out.assert_fails_naming(&["timeout", "timed out"]);
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

#[test]
fn failing_poststart_hook_only_warns() {
    if skip_for_runc("runc 1.1 fails start and kills the container when a poststart hook fails") {
        return;
    }
    let env = TestEnv::new("failing_poststart_warns");
    let b = bundle_with_hook(&env, "poststart", failing_hook());
    let id = env.create(&b);
    env.rt
        .run_cmd(&["start", &id])
        .assert_ok("start despite a failing poststart hook");
    assert_eq!(env.rt.state(&id).unwrap()["status"], "running");
}

#[test]
fn failing_poststop_hook_only_warns() {
    let env = TestEnv::new("failing_poststop_warns");
    let b = bundle_with_hook(&env, "poststop", failing_hook());
    let id = env.create(&b);
    env.rt.run_cmd(&["kill", &id, "KILL"]).assert_ok("kill");
    env.wait_status(&id, "stopped");
    let out = env.rt.run_cmd(&["delete", &id]);
    out.assert_ok("delete despite a failing poststop hook");
    if !is_runc() {
        // The warning says which hook failed; runc 1.1 says nothing.
        assert!(out.stderr.contains("poststop"), "{out:#?}");
    }
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

#[test]
fn failing_start_container_hook_fails_start() {
    let env = TestEnv::new("failing_start_container_hook");
    let b = bundle_with_hook(&env, "startContainer", failing_hook());
    let id = env.create(&b);
    let out = env.rt.run_cmd(&["start", &id]);
    if is_runc() {
        // runc 1.1's start returns before the hook runs; the init then fails on its own.
        eprintln!("runc deviates: start succeeded; checking only that the program never runs");
    } else {
        out.assert_fails_naming(&["startContainer"]);
    }
    // The user's program (sleep) never runs: the container ends up stopped.
    env.wait_status(&id, "stopped");
}
