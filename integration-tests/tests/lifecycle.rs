//! Issue 2 item 6: the lifecycle through runc's command line.

use integration_tests::{assert_contains, host, poll, skip_for_runc, TestEnv, STATE_TIMEOUT};
use serde_json::Value;

fn pid_of(state: &Value) -> i32 {
    state["pid"].as_i64().expect("state has a pid") as i32
}

#[test]
fn create_start_kill_delete() {
    let env = TestEnv::new("create_start_kill_delete");
    let b = env.bundle(&["sleep", "1000"]);
    let id = env.create(&b);
    let state = env.rt.state(&id).expect("state after create");
    assert_eq!(state["status"], "created", "{state}");
    let pid = pid_of(&state);
    assert!(pid > 0, "{state}");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(state["id"], id.as_str());

    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    let state = env.wait_status(&id, "running");
    assert_eq!(pid_of(&state), pid);

    env.rt.run_cmd(&["kill", &id, "KILL"]).assert_ok("kill");
    env.wait_status(&id, "stopped");
    env.rt.run_cmd(&["delete", &id]).assert_ok("delete");
    assert!(
        env.rt.state(&id).is_none(),
        "state of a deleted container succeeds"
    );
    assert!(
        !env.rt.root.join(&id).exists(),
        "state dir left after delete"
    );
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie_free(pid));
}

/// The init may be reaped by now or reused by an unrelated process; either way it must not
/// be the container's `sleep`.
fn is_zombie_free(pid: i32) -> bool {
    let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    !cmd.starts_with("sleep\0")
}

#[test]
fn state_reports_the_oci_fields() {
    let env = TestEnv::new("state_reports_the_oci_fields");
    let b = env.bundle(&["sleep", "1000"]);
    let id = env.create(&b);
    let state = env.rt.state(&id).unwrap();
    assert!(state["ociVersion"].is_string(), "{state}");
    let bundle = std::fs::canonicalize(&b.dir).unwrap();
    assert_eq!(state["bundle"], bundle.to_str().unwrap(), "{state}");
    assert!(
        state["annotations"].is_object() || state["annotations"].is_null(),
        "{state}"
    );
}

#[test]
fn pid_file_holds_the_init_pid() {
    let env = TestEnv::new("pid_file_holds_the_init_pid");
    let b = env.bundle(&["sleep", "1000"]);
    b.save();
    let id = env.id();
    let pid_file = env.dir.join("init.pid");
    let pf = pid_file.to_str().unwrap();
    env.rt
        .run_cmd(&["create", "--pid-file", pf, "-b", b.path_str(), &id])
        .assert_ok("create");
    let written = std::fs::read_to_string(&pid_file).expect("pid file written");
    let state = env.rt.state(&id).unwrap();
    assert_eq!(written.trim(), pid_of(&state).to_string());
}

fn kill_with(test: &str, signal: Option<&str>) {
    let env = TestEnv::new(test);
    // pid 1 ignores signals it has no handler for, so the init traps the default SIGTERM.
    let b = env.bundle(&[
        "sh",
        "-c",
        "trap 'exit 3' TERM; while :; do sleep 0.05; done",
    ]);
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "running");
    let mut args = vec!["kill", id.as_str()];
    args.extend(signal);
    env.rt.run_cmd(&args).assert_ok("kill");
    env.wait_status(&id, "stopped");
}

#[test]
fn kill_defaults_to_sigterm() {
    kill_with("kill_defaults_to_sigterm", None);
}

#[test]
fn kill_takes_signal_names_and_numbers() {
    for (n, sig) in ["KILL", "SIGKILL", "9", "TERM", "SIGTERM", "15"]
        .iter()
        .enumerate()
    {
        kill_with(&format!("kill_takes_signal_{n}"), Some(sig));
    }
}

#[test]
fn kill_all_signals_every_process() {
    let env = TestEnv::new("kill_all_signals_every_process");
    let b = env.bundle(&["sh", "-c", "sleep 1000 & sleep 1000"]);
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "running");
    env.rt
        .run_cmd(&["kill", "--all", &id, "KILL"])
        .assert_ok("kill --all");
    env.wait_status(&id, "stopped");
    let bundle = b.dir.to_string_lossy().into_owned();
    poll(STATE_TIMEOUT, "every container process to exit", || {
        host::processes_mentioning(&bundle).is_empty().then_some(())
    });
}

#[test]
fn run_exits_with_the_containers_status() {
    let env = TestEnv::new("run_exits_with_the_containers_status");
    let b = env.bundle(&["sh", "-c", "exit 7"]);
    let out = env.run(&b);
    assert_eq!(out.code(), Some(7), "{out:#?}");
    assert!(
        host::dir_entries(&env.rt.root).is_empty(),
        "run left a container behind"
    );
}

#[test]
fn run_of_a_killed_container_exits_128_plus_signal() {
    let env = TestEnv::new("run_killed_exits_128_plus_signal");
    let b = env.bundle(&["sleep", "1000"]);
    b.save();
    let id = env.id();
    let running = env.rt.spawn(&["run", "-b", b.path_str(), &id]);
    env.wait_status(&id, "running");
    env.rt.run_cmd(&["kill", &id, "KILL"]).assert_ok("kill");
    let out = running.wait();
    assert_eq!(out.code(), Some(128 + 9), "{out:#?}");
}

#[test]
fn run_keep_leaves_the_stopped_container() {
    let env = TestEnv::new("run_keep_leaves_the_stopped_container");
    let b = env.bundle(&["true"]);
    b.save();
    let id = env.id();
    env.rt
        .run_cmd(&["run", "--keep", "-b", b.path_str(), &id])
        .assert_ok("run --keep");
    let state = env.rt.state(&id).expect("kept container has a state");
    assert_eq!(state["status"], "stopped");
    env.rt.run_cmd(&["delete", &id]).assert_ok("delete");
}

#[test]
fn run_detach_returns_with_the_container_running() {
    let env = TestEnv::new("run_detach_returns_running");
    let b = env.bundle(&["sleep", "1000"]);
    b.save();
    let id = env.id();
    env.rt
        .run_cmd(&["run", "-d", "-b", b.path_str(), &id])
        .assert_ok("run -d");
    assert_eq!(env.rt.state(&id).unwrap()["status"], "running");
}

#[test]
fn delete_force_of_a_missing_container_succeeds() {
    let env = TestEnv::new("delete_force_missing");
    let id = env.id();
    env.rt
        .run_cmd(&["delete", "--force", &id])
        .assert_ok("delete --force");
    env.rt
        .run_cmd(&["delete", "-f", &id])
        .assert_ok("delete -f");
}

#[test]
fn delete_force_kills_a_running_container() {
    let env = TestEnv::new("delete_force_running");
    let b = env.bundle(&["sleep", "1000"]);
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "running");
    env.rt
        .run_cmd(&["delete", "-f", &id])
        .assert_ok("delete -f");
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

#[test]
fn list_shows_containers_in_every_format() {
    let env = TestEnv::new("list_every_format");
    // runc prints its empty (nil) list as JSON null; engines' parsers expect exactly that.
    let empty = env.rt.run_cmd(&["list", "--format", "json"]);
    empty.assert_ok("list of nothing");
    assert_eq!(empty.stdout.trim(), "null");
    let b1 = env.bundle(&["sleep", "1000"]);
    let a = env.create(&b1);
    let b2 = env.bundle(&["sleep", "1000"]);
    let b = env.create(&b2);
    let table = env.rt.run_cmd(&["list"]);
    table.assert_ok("list");
    let mut lines = table.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{}", table.stdout);
    assert!(
        rows.iter().any(|r| r[0] == a && r[2] == "created"),
        "{}",
        table.stdout
    );
    let quiet = env.rt.run_cmd(&["list", "-q"]);
    let mut ids: Vec<&str> = quiet.stdout.lines().collect();
    ids.sort();
    assert_eq!(ids, [a.as_str(), b.as_str()]);
    let json = env.rt.run_cmd(&["list", "--format", "json"]);
    let v: Value = serde_json::from_str(&json.stdout).expect("list json");
    let entries = v.as_array().expect("an array");
    assert_eq!(entries.len(), 2);
    for e in entries {
        assert_eq!(e["status"], "created", "{e}");
        // runc's list entry: what engines and scripts read.
        for key in [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
            "owner",
        ] {
            assert!(e.get(key).is_some(), "{key} missing: {e}");
        }
        assert!(e["pid"].as_i64().unwrap() > 0, "{e}");
        // runc names the owner of the state directory: the suite runs as root.
        assert_eq!(e["owner"], "root", "{e}");
    }
}

#[test]
fn single_dash_long_flags_work_like_runc() {
    let env = TestEnv::new("single_dash_long_flags");
    let mut cmd = std::process::Command::new(&env.rt.bin);
    cmd.arg("-root").arg(&env.rt.root).arg("list").arg("-quiet");
    let out = env
        .rt
        .spawn_with(&mut cmd, &["-root", "R", "list", "-quiet"])
        .wait();
    out.assert_ok("list with single-dash flags");
}

#[test]
fn json_log_carries_the_error_for_the_shim() {
    let env = TestEnv::new("json_log_for_the_shim");
    let log = env.dir.join("log.json");
    let id = env.id();
    let mut cmd = env.rt.command();
    cmd.arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "state", &id]);
    let out = env.rt.spawn_with(&mut cmd, &["state", &id]).wait();
    assert!(!out.success());
    let text = std::fs::read_to_string(&log).expect("log written");
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).expect("a JSON line");
    assert_eq!(last["level"], "error", "{last}");
    assert!(
        last["msg"].as_str().unwrap().contains("not exist"),
        "{last}"
    );
    assert!(last["time"].as_str().unwrap().ends_with('Z'), "{last}");
}

#[test]
fn version_flag() {
    let env = TestEnv::new("version_flag");
    let out = env.rt.run_cmd(&["--version"]);
    out.assert_ok("--version");
    assert_contains(&out.stdout, "version");
    env.rt.run_cmd(&["-v"]).assert_ok("-v");
}

#[test]
fn rootless_takes_runcs_three_values_only() {
    let env = TestEnv::new("rootless_values");
    // Rootless mode is supported (tests/rootless.rs), as --systemd-cgroup is
    // (tests/systemd_cgroup.rs): runc's three values, nothing else.
    for value in ["true", "false", "auto"] {
        env.rt
            .run_cmd(&["--rootless", value, "list"])
            .assert_ok(value);
    }
    if skip_for_runc("runc's error for a bad --rootless value names the value, not the flag") {
        return;
    }
    env.rt
        .run_cmd(&["--rootless", "yes", "list"])
        .assert_fails_naming(&["--rootless"]);
}
