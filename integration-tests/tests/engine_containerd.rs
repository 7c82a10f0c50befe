//! containerd 1.6 driving the runtime under test (issue 5 item 3): each test starts its own
//! containerd under a temp dir and drives it with `ctr --runc-binary`, the way the
//! io.containerd.runc.v2 shim drives runc. `ENGINE_RUNTIME=/usr/sbin/runc` runs the same suite on
//! runc, which proves it tests containerd's contract rather than berth's quirks.
//!
//! Not covered, because ctr 1.6 cannot ask for it: `update` of a running task (ctr has no
//! `task update`; only the gRPC API has it). ctr has no pids flag either: the pids limit comes
//! from an OCI spec file (`ctr run --config`), which is how a ctr user sets one.

mod containerd;

use containerd::{Ctr, ENV_PATH};
use serde_json::json;
use std::time::Duration;

/// The container's counter: incremented every 0.1 s into a file of the rootfs.
const COUNTER: &str = "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done";

#[test]
fn run_rm_passes_exit_code_and_output() {
    let ctr = Ctr::start("run-rm");
    let id = ctr.id("rm");
    let out = ctr.ctr_code(
        &ctr.run_args(&["--rm"], &id, &["sh", "-c", "echo out-$((6*7)); exit 7"]),
        7,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains("out-42") {
        ctr.fail(&format!("the container's output is missing: {stdout:?}"));
    }
    let listed = ctr.ctr_ok(&["container", "ls", "--quiet"]);
    if listed.lines().any(|l| l == id) {
        ctr.fail(&format!("run --rm left the container: {listed}"));
    }
    assert_calls(&ctr, &id, &["create", "start", "delete"]);
    let deletes: Vec<bool> = ctr
        .calls()
        .iter()
        .filter(|c| c.command() == "delete")
        .map(|c| c.has("--force"))
        .collect();
    if deletes != [false, true] {
        ctr.fail(&format!(
            "expected delete then delete --force, got --force: {deletes:?}"
        ));
    }
}

#[test]
fn runtime_errors_reach_ctr_through_the_json_log() {
    let ctr = Ctr::start("errors");
    let id = ctr.id("bad");
    let out = ctr.ctr(&ctr.run_args(&["--rm"], &id, &["/nonexistent-binary"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success()
        || !stderr.contains("OCI runtime")
        || !stderr.contains("nonexistent-binary")
    {
        ctr.fail(&format!(
            "expected the runtime's error about the missing binary, got {}: {stderr}",
            out.status
        ));
    }

    let id = ctr.id("running");
    ctr.ctr_ok(&ctr.run_args(&["-d"], &id, &["sleep", "1000"]));
    ctr.wait_status(&id, "RUNNING");
    let out = ctr.ctr(&["task", "exec", "--exec-id", "bad", &id, "/nonexistent-exec"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() || !stderr.contains("OCI runtime exec failed") {
        ctr.fail(&format!(
            "expected an exec failure, got {}: {stderr}",
            out.status
        ));
    }
    // The shim read the runtime's last error line: it is what ctr printed.
    let log_path = ctr.bundle_dir(&id).join("log.json");
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut errors = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| ctr.fail(&format!("log line {line:?} is not JSON: {e}")));
        let (Some(level), Some(msg), Some(time)) = (
            entry["level"].as_str(),
            entry["msg"].as_str(),
            entry["time"].as_str(),
        ) else {
            ctr.fail(&format!(
                "log line {line:?} lacks level, msg or time strings"
            ));
        };
        if !is_rfc3339(time) {
            ctr.fail(&format!(
                "log line {line:?}: time is not RFC 3339 (Go's time.Time)"
            ));
        }
        if level == "error" {
            errors.push(msg.trim().to_owned());
        }
    }
    match errors.last() {
        Some(msg) if msg.contains("nonexistent-exec") && stderr.contains(msg.as_str()) => {}
        _ => ctr.fail(&format!(
            "ctr's error {stderr:?} is not the runtime's last error line in {}:\n{log}",
            log_path.display()
        )),
    }
}

#[test]
fn detached_task_exec_ps_pause_kill_delete() {
    let ctr = Ctr::start("detached");
    let id = ctr.id("det");
    ctr.ctr_ok(&ctr.run_args(&["-d"], &id, &["sh", "-c", COUNTER]));
    let init = ctr.wait_status(&id, "RUNNING");
    // Where the final check looks for the cgroups the runtime must remove.
    let cgroup = std::path::Path::new("/sys/fs/cgroup/pids")
        .join(&ctr.namespace)
        .join(&id);
    if !cgroup.exists() {
        ctr.fail(&format!(
            "the running task has no cgroup {}",
            cgroup.display()
        ));
    }

    let out = ctr.ctr_code(
        &[
            "task",
            "exec",
            "--exec-id",
            "code",
            &id,
            "sh",
            "-c",
            "echo in-$((2+3)); exit 3",
        ],
        3,
    );
    if !String::from_utf8_lossy(&out.stdout).contains("in-5") {
        ctr.fail(&format!("exec's output is missing: {out:?}"));
    }

    // A second process, for ps and kill --all to find.
    ctr.ctr_ok(&[
        "task",
        "exec",
        "-d",
        "--exec-id",
        "sleeper",
        &id,
        "sleep",
        "1000",
    ]);
    let sleeper = ctr.wait_for("the exec'd sleep in task ps", || {
        let pids = task_pids(&ctr, &id);
        pids.contains(&init).then_some(())?;
        pids.into_iter().find(|p| cmdline(*p) == "sleep 1000")
    });

    ctr.ctr_ok(&["task", "pause", &id]);
    ctr.wait_status(&id, "PAUSED");
    let frozen = counter(&ctr);
    // Not synchronisation: the window in which a running counter would advance ~5 times.
    std::thread::sleep(Duration::from_millis(500));
    if counter(&ctr) != frozen {
        ctr.fail("the counter advanced while the task was paused");
    }
    ctr.ctr_ok(&["task", "resume", &id]);
    ctr.wait_status(&id, "RUNNING");
    ctr.wait_for("the counter to advance after resume", || {
        (counter(&ctr) > frozen).then_some(())
    });

    // SIGTERM to all: the sleep dies; the shell, pid 1 of its namespace without a handler,
    // ignores it. Without --all only pid 1 would be signalled and the sleep would live.
    ctr.ctr_ok(&["task", "kill", "--all", &id]);
    ctr.wait_for("kill --all to end the exec'd sleep", || {
        (!task_pids(&ctr, &id).contains(&sleeper)).then_some(())
    });
    if ctr.task(&id).map(|(_, s)| s) != Some("RUNNING".into()) {
        ctr.fail("SIGTERM stopped pid 1, which has no handler for it");
    }
    ctr.ctr_ok(&["task", "kill", "--signal", "SIGKILL", &id]);
    ctr.wait_status(&id, "STOPPED");
    ctr.ctr_ok(&["task", "delete", &id]);
    if ctr.task(&id).is_some() {
        ctr.fail("task delete left the task");
    }
    ctr.ctr_ok(&["container", "rm", &id]);
    if ctr
        .ctr_ok(&["container", "ls", "--quiet"])
        .lines()
        .any(|l| l == id)
    {
        ctr.fail("container rm left the container");
    }
    assert_calls(
        &ctr,
        &id,
        &[
            "create", "start", "exec", "ps", "pause", "resume", "kill", "delete",
        ],
    );
    let calls = ctr.calls();
    let exec_with_process = calls
        .iter()
        .any(|c| c.command() == "exec" && c.value("--process").is_some());
    let kill_all = calls
        .iter()
        .any(|c| c.command() == "kill" && c.has("--all"));
    let ps_json = calls
        .iter()
        .any(|c| c.command() == "ps" && c.value("--format") == Some("json"));
    if !(exec_with_process && kill_all && ps_json) {
        ctr.fail("expected exec --process, kill --all and ps --format json among the calls");
    }
}

#[test]
fn memory_limit_is_visible_inside() {
    let ctr = Ctr::start("memory");
    let id = ctr.id("mem");
    let flags = [
        "--rm",
        "--memory-limit",
        "67108864",
        "--mount",
        "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro",
    ];
    let args = ctr.run_args(
        &flags,
        &id,
        &["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"],
    );
    let out = ctr.ctr_ok(&args);
    if out.trim() != "67108864" {
        ctr.fail(&format!("memory.limit_in_bytes inside is {out:?}"));
    }
    assert_calls(&ctr, &id, &["create", "start", "delete"]);
}

#[test]
fn pids_limit_from_a_spec_file_is_enforced_inside() {
    let ctr = Ctr::start("pids");
    let id = ctr.id("pids");
    // ctr's own default spec, with what `ctr run --config` does not add (with a spec file ctr
    // takes nothing but the id): the rootfs, the command, a cgroup mount and the limit.
    let mut spec: serde_json::Value = serde_json::from_str(&ctr.ctr_ok(&["oci", "spec"]))
        .unwrap_or_else(|e| ctr.fail(&format!("ctr oci spec printed no JSON: {e}")));
    let script = "cat /sys/fs/cgroup/pids/pids.max; i=0; \
                  while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); echo started $i; done";
    spec["root"]["path"] = json!(ctr.rootfs);
    spec["process"]["args"] = json!(["sh", "-c", script]);
    spec["process"]["env"] = json!([format!("PATH={ENV_PATH}")]);
    spec["linux"]["cgroupsPath"] = json!(format!("/{}/{id}", ctr.namespace));
    spec["linux"]["resources"]["pids"] = json!({"limit": 10});
    spec["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
    }));
    let path = ctr.dir.path.join("pids-spec.json");
    std::fs::write(&path, spec.to_string()).expect("writing the spec file");

    let mut args = vec!["run".to_owned(), "--rm".to_owned()];
    args.extend(ctr.runtime_flags());
    args.extend(["--config".into(), path.display().to_string(), id.clone()]);
    let out = ctr.ctr(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let started = stdout.lines().filter(|l| l.starts_with("started")).count();
    // 10 pids: the shell and at most 9 sleeps; the fork that exceeds it fails the script.
    if stdout.lines().next() != Some("10") || started > 9 || out.status.success() {
        ctr.check(&out, &args, false);
    }
    assert_calls(&ctr, &id, &["create", "start", "delete"]);
}

#[test]
fn terminal_sessions_run_and_exec() {
    let ctr = Ctr::start("tty");
    let session = "tty; echo hello-$((6*7)); exit 4\n";
    let expect = |what: &str, (code, text): (Option<i32>, String)| {
        if code != Some(4) || !text.contains("/dev/pts/") || !text.contains("hello-42") {
            ctr.fail(&format!(
                "{what}: exit {code:?}, the terminal showed:\n{text}"
            ));
        }
    };
    let id = ctr.id("run-t");
    let run = ctr.run_args(&["--rm", "-t"], &id, &["sh"]);
    expect("ctr run -t", ctr.in_terminal(&run, session));
    assert_calls(&ctr, &id, &["create", "start", "delete"]);

    let id = ctr.id("exec-t");
    ctr.ctr_ok(&ctr.run_args(&["-d"], &id, &["sleep", "1000"]));
    ctr.wait_status(&id, "RUNNING");
    let exec: Vec<String> = ["task", "exec", "-t", "--exec-id", "term", &id, "sh"]
        .map(String::from)
        .to_vec();
    expect("ctr task exec -t", ctr.in_terminal(&exec, session));
    ctr.ctr_ok(&["task", "kill", "--signal", "SIGKILL", &id]);
    ctr.wait_status(&id, "STOPPED");
    ctr.ctr_ok(&["task", "delete", &id]);
    assert_calls(&ctr, &id, &["exec"]);
    if !ctr
        .calls()
        .iter()
        .any(|c| c.command() == "exec" && c.has("--console-socket"))
    {
        ctr.fail("expected exec --console-socket among the calls");
    }
}

/// Once the shim is done with `id` (its last call is `delete --force`): every call it made
/// passed the flags it always passes (--root under the engine dir, --log to the bundle's
/// log.json, --log-format json) and exited 0, the commands `expected` were among them, and
/// the runtime left neither its state nor the container's cgroups.
fn assert_calls(ctr: &Ctr, id: &str, expected: &[&str]) {
    // The shim deletes the container, then (when it exits) force-deletes it again: the second,
    // of a container that is gone, must succeed too or containerd logs a failed cleanup.
    ctr.wait_for(&format!("the shim's delete --force {id}"), || {
        ctr.calls()
            .iter()
            .any(|c| {
                c.command() == "delete" && c.has("--force") && c.args.last() == Some(&id.to_owned())
            })
            .then_some(())
    });
    let calls = ctr.calls();
    let root = ctr.runtime_root().display().to_string();
    let log = ctr.bundle_dir(id).join("log.json").display().to_string();
    for c in calls
        .iter()
        .filter(|c| c.args.last().map(String::as_str) == Some(id))
    {
        let flags_ok = c.value("--root") == Some(root.as_str())
            && c.value("--log") == Some(log.as_str())
            && c.value("--log-format") == Some("json");
        if !flags_ok || c.code != 0 {
            ctr.fail(&format!("unexpected runtime call {c:?}"));
        }
    }
    for cmd in expected {
        if !calls.iter().any(|c| c.command() == *cmd) {
            ctr.fail(&format!("the shim never called {cmd}"));
        }
    }
    if ctr.runtime_root().join(id).exists() {
        ctr.fail("the runtime's state dir for the container is left");
    }
    // containerd names the cgroup /<namespace>/<id>; the runtime removes it on delete.
    let left: Vec<String> = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|c| c.path().join(&ctr.namespace).join(id))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !left.is_empty() {
        ctr.fail(&format!("the container's cgroups are left: {left:?}"));
    }
}

/// The pids `ctr task ps` lists.
fn task_pids(ctr: &Ctr, id: &str) -> Vec<u32> {
    ctr.ctr_ok(&["task", "ps", id])
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw)
        .trim_end_matches('\0')
        .replace('\0', " ")
}

/// The value the container's counter last wrote (0 before the first write).
fn counter(ctr: &Ctr) -> u64 {
    let text = std::fs::read_to_string(ctr.rootfs.join("tmp/count")).unwrap_or_default();
    text.trim().parse().unwrap_or(0)
}

/// What Go's time.Time accepts from JSON: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn is_rfc3339(t: &str) -> bool {
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let base = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !base {
        return false;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    let z = rest.as_bytes();
    rest == "Z"
        || (z.len() == 6
            && (z[0] == b'+' || z[0] == b'-')
            && z[1..3].iter().all(u8::is_ascii_digit)
            && z[3] == b':'
            && z[4..6].iter().all(u8::is_ascii_digit))
}
