//! Issue 3 item 4: pause, resume, ps, update and events through runc's command line.

use integration_tests::{
    assert_contains, cgroup, poll, skip_for_runc, Bundle, TestEnv, STATE_TIMEOUT,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A bundle whose container appends a line to /data/ticks every 0.1 s; /data is a host dir.
fn ticking(env: &TestEnv) -> (Bundle, PathBuf) {
    let data = env.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "while :; do echo x >> /data/ticks; sleep 0.1; done",
    ]);
    b.add_mount(json!({"destination": "/data", "type": "bind",
        "source": data.to_str().unwrap(), "options": ["rbind", "rw"]}));
    (b, data.join("ticks"))
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

fn start(env: &TestEnv, b: &Bundle) -> (String, Value) {
    let id = env.create(b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    let state = env.wait_status(&id, "running");
    (id, state)
}

/// Waits until the file grows past `than` lines (the container is making progress).
fn grows(ticks: &Path, than: usize) {
    poll(STATE_TIMEOUT, "the container to write ticks", || {
        (lines(ticks) > than).then_some(())
    });
}

#[test]
fn pause_stops_progress_and_resume_restarts_it() {
    let env = TestEnv::new("pause_stops_progress");
    let (b, ticks) = ticking(&env);
    let (id, _) = start(&env, &b);
    grows(&ticks, 0);

    env.rt.run_cmd(&["pause", &id]).assert_ok("pause");
    assert_eq!(env.rt.state(&id).unwrap()["status"], "paused");
    let frozen_at = lines(&ticks);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines(&ticks), frozen_at, "a paused container wrote ticks");

    env.rt.run_cmd(&["resume", &id]).assert_ok("resume");
    assert_eq!(env.rt.state(&id).unwrap()["status"], "running");
    grows(&ticks, frozen_at);
}

#[test]
fn pause_and_resume_refuse_the_wrong_status() {
    let env = TestEnv::new("pause_resume_wrong_status");
    let b = env.bundle(&["sleep", "1000"]);
    let (id, _) = start(&env, &b);
    env.rt
        .run_cmd(&["resume", &id])
        .assert_fails_naming(&["not paused"]);
    env.rt.run_cmd(&["kill", &id, "KILL"]).assert_ok("kill");
    env.wait_status(&id, "stopped");
    env.rt
        .run_cmd(&["pause", &id])
        .assert_fails_naming(&["not running"]);
}

#[test]
fn ps_lists_the_container_processes() {
    let env = TestEnv::new("ps_lists_processes");
    let b = env.bundle(&["sleep", "1000"]);
    let (id, state) = start(&env, &b);
    let init = state["pid"].as_i64().unwrap();

    let out = env.rt.run_cmd(&["ps", "--format", "json", &id]);
    out.assert_ok("ps --format json");
    let pids: Vec<i64> = serde_json::from_str(&out.stdout).expect("ps json is an array of pids");
    assert_eq!(pids, [init], "{}", out.stdout);

    let out = env.rt.run_cmd(&["ps", &id, "-o", "pid,comm"]);
    out.assert_ok("ps -o pid,comm");
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert_contains(rows[0], "PID");
    assert_eq!(
        rows[1].split_whitespace().collect::<Vec<_>>(),
        [init.to_string().as_str(), "sleep"],
        "{}",
        out.stdout
    );
}

#[test]
fn update_flags_change_the_running_limits() {
    let env = TestEnv::new("update_flags");
    let b = env.bundle(&["sleep", "1000"]);
    let (id, state) = start(&env, &b);
    let init = state["pid"].as_i64().unwrap();
    env.rt
        .run_cmd(&["update", "--pids-limit", "7", "--memory", "64m", &id])
        .assert_ok("update");
    assert_eq!(
        cgroup::read(&cgroup::file(init, "pids", "pids.max", "pids.max")),
        "7"
    );
    assert_eq!(
        cgroup::read(&cgroup::file(
            init,
            "memory",
            "memory.limit_in_bytes",
            "memory.max"
        )),
        (64u64 << 20).to_string()
    );
}

#[test]
fn update_resources_file_changes_the_running_limits() {
    let env = TestEnv::new("update_resources_file");
    let b = env.bundle(&["sleep", "1000"]);
    let (id, state) = start(&env, &b);
    let init = state["pid"].as_i64().unwrap();
    let file = env.dir.join("resources.json");
    std::fs::write(&file, r#"{"pids": {"limit": 9}, "cpu": {"shares": 512}}"#).unwrap();
    env.rt
        .run_cmd(&["update", "--resources", file.to_str().unwrap(), &id])
        .assert_ok("update --resources");
    assert_eq!(
        cgroup::read(&cgroup::file(init, "pids", "pids.max", "pids.max")),
        "9"
    );
    // On v2, shares 512 become weight 59 by runc's current curve (2 -> 1, 1024 -> 100).
    let (file, want) = if cgroup::is_pure_v2() {
        ("cpu.weight", "59")
    } else {
        ("cpu.shares", "512")
    };
    assert_eq!(cgroup::read(&cgroup::file(init, "cpu", file, file)), want);
}

#[test]
fn update_rejects_a_bad_size() {
    let env = TestEnv::new("update_bad_size");
    let b = env.bundle(&["sleep", "1000"]);
    let (id, _) = start(&env, &b);
    env.rt
        .run_cmd(&["update", "--memory", "lots", &id])
        .assert_fails_naming(&["memory", "lots"]);
}

#[test]
fn update_resources_file_with_a_bad_field_names_it_and_changes_nothing() {
    let env = TestEnv::new("update_bad_field");
    let b = env.bundle(&["sleep", "1000"]);
    let (id, state) = start(&env, &b);
    let init = state["pid"].as_i64().unwrap();
    let pids_max = cgroup::file(init, "pids", "pids.max", "pids.max");
    let before = cgroup::read(&pids_max);
    let file = env.dir.join("resources.json");
    std::fs::write(&file, r#"{"pids": {"limit": "many"}}"#).unwrap();
    env.rt
        .run_cmd(&["update", "--resources", file.to_str().unwrap(), &id])
        .assert_fails_naming(&["pids.limit"]);
    assert_eq!(cgroup::read(&pids_max), before);
}

#[test]
fn events_stats_prints_one_stats_event() {
    let env = TestEnv::new("events_stats");
    let b = env.bundle(&["sleep", "1000"]);
    let (id, _) = start(&env, &b);
    let out = env.rt.run_cmd(&["events", "--stats", &id]);
    out.assert_ok("events --stats");
    let event: Value = serde_json::from_str(out.stdout.trim()).expect("one JSON event");
    assert_eq!(event["type"], "stats", "{event}");
    assert_eq!(event["id"], id.as_str(), "{event}");
    let usage = event["data"]["memory"]["usage"]["usage"].as_u64();
    assert!(usage.is_some_and(|u| u > 0), "{event}");
}

#[test]
fn events_stream_ends_when_the_container_stops() {
    if skip_for_runc("runc 1.1's events keeps running after the container has stopped") {
        return;
    }
    let env = TestEnv::new("events_stream");
    let b = env.bundle(&["sleep", "1000"]);
    let (id, _) = start(&env, &b);
    let stream = env.rt.spawn(&["events", "--interval", "100ms", &id]);
    std::thread::sleep(Duration::from_millis(500));
    env.rt.run_cmd(&["kill", &id, "KILL"]).assert_ok("kill");
    env.wait_status(&id, "stopped");
    let out = stream.wait();
    let stats: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line one JSON event"))
        .filter(|e: &Value| e["type"] == "stats")
        .collect();
    assert!(!stats.is_empty(), "{out:#?}");
}

#[test]
fn zero_weights_shares_and_quotas_are_unset_as_docker_sends_them() {
    // What dockerd 20.10 writes into every container's config, and sends to `update`: zeros
    // for what was not asked for, which runc reads as unset.
    let env = TestEnv::new("docker_zeros");
    let mut b = env.bundle(&["sleep", "1000"]);
    b.linux()["resources"]["blockIO"] = json!({"weight": 0});
    b.linux()["resources"]["cpu"] = json!({"shares": 0});
    let (id, state) = start(&env, &b);
    let init = state["pid"].as_i64().unwrap();
    let file = env.dir.join("resources.json");
    let update = json!({
        "blockIO": {"weight": 0},
        "cpu": {"shares": 0, "period": 0, "quota": 0, "cpus": "", "mems": ""},
        "pids": {"limit": 9},
    });
    std::fs::write(&file, update.to_string()).unwrap();
    env.rt
        .run_cmd(&["update", "--resources", file.to_str().unwrap(), &id])
        .assert_ok("update --resources");
    assert_eq!(
        cgroup::read(&cgroup::file(init, "pids", "pids.max", "pids.max")),
        "9"
    );
}

#[test]
fn update_refuses_the_intel_rdt_flags_by_name() {
    if skip_for_runc("runc implements --l3-cache-schema and --mem-bw-schema through resctrl") {
        return;
    }
    let env = TestEnv::new("update_rdt_flags");
    let b = env.bundle(&["sleep", "1000"]);
    let (id, _) = start(&env, &b);
    for flag in ["--l3-cache-schema", "--mem-bw-schema"] {
        env.rt
            .run_cmd(&["update", flag, "L3:0=f", &id])
            .assert_fails_naming(&[flag]);
    }
}

#[test]
fn update_sets_the_realtime_budget_where_the_host_has_one() {
    let env = TestEnv::new("update_rt");
    let b = env.bundle(&["sleep", "1000"]);
    let (id, state) = start(&env, &b);
    let init = state["pid"].as_i64().unwrap();
    let out = env.rt.run_cmd(&[
        "update",
        "--cpu-rt-period",
        "1000000",
        "--cpu-rt-runtime",
        "10000",
        &id,
    ]);
    if cgroup::is_pure_v2() {
        // No realtime group scheduling on cgroup v2: refused, never dropped.
        out.assert_fails_naming(&["realtime"]);
        return;
    }
    out.assert_ok("update --cpu-rt-*");
    let file = |f: &str| cgroup::read(&cgroup::file(init, "cpu", f, f));
    assert_eq!(file("cpu.rt_period_us"), "1000000");
    assert_eq!(file("cpu.rt_runtime_us"), "10000");
}
