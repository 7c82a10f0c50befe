//! Lifecycle: create, start, state, kill, delete, and what the runtime must refuse.

use super::{strs, Case};
use crate::bundle::{verdict, Bundle, Suite, CHECKER};
use crate::outcome::CaseResult;
use crate::runtime::Invocation;
use crate::{ensure, fail};
use serde_json::json;
use std::time::{Duration, Instant};

pub const CASES: &[Case] = &[
    Case::new("lifecycle_create_state", create_state),
    Case::new("lifecycle_start_running", start_running),
    Case::new("lifecycle_start_twice", start_twice),
    Case::new("lifecycle_duplicate_id", duplicate_id),
    Case::new("lifecycle_kill_signals", kill_signals),
    Case::new("lifecycle_kill_created", kill_created),
    Case::new("lifecycle_kill_invalid_signal", kill_invalid_signal),
    Case::new("lifecycle_state_unknown_id", state_unknown_id),
    Case::new("lifecycle_kill_stopped", kill_stopped),
    Case::new("lifecycle_delete_running", delete_running),
    Case::new("lifecycle_delete_created", delete_created),
    Case::new("lifecycle_delete_stopped", delete_stopped),
    Case::new("lifecycle_pid_file", pid_file),
    Case::new("lifecycle_unknown_properties", unknown_properties),
    Case::new("lifecycle_config_after_create", config_after_create),
    Case::new("lifecycle_default_spec", default_spec),
    Case::new("lifecycle_run_exit_code", run_exit_code),
    Case::new("lifecycle_missing_rootfs", missing_rootfs),
    Case::new("lifecycle_invalid_config", invalid_config),
];

/// Waits until the output a container writes (via `create`'s stdout) holds `line`.
fn wait_line(out: &Invocation, line: &str) -> CaseResult {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&out.out_path).unwrap_or_default();
        if text.lines().any(|l| l == line) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            fail!("container output lacks {line:?} after 10s: {text:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Creates and starts a container running the checker's signal reporter.
fn started<'s>(
    s: &'s Suite,
    name: &str,
) -> Result<(Bundle<'s>, Invocation), crate::outcome::Outcome> {
    let mut b = Bundle::new(s, name)?;
    b.config["process"]["args"] = strs(&[CHECKER, "--pause"]);
    let out = b.create()?.check()?;
    b.start()?.check()?;
    wait_line(&out, "ready")?;
    Ok((b, out))
}

fn create_state(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "state")?;
    b.checks(&["args"]);
    b.create()?.check()?;
    let st = b.state()?;
    ensure!(
        st["status"] == "created",
        "status {} after create",
        st["status"]
    );
    ensure!(st["id"] == b.id.as_str(), "id {} in state", st["id"]);
    ensure!(st["ociVersion"].is_string(), "no ociVersion in state: {st}");
    let bundle = b.dir();
    ensure!(
        st["bundle"] == bundle.to_string_lossy().as_ref(),
        "bundle {} in state, want {}",
        st["bundle"],
        bundle.display()
    );
    let pid = st["pid"].as_u64().unwrap_or(0);
    ensure!(
        pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {} in state is not a live process",
        st["pid"]
    );
    Ok(())
}

fn start_running(s: &Suite) -> CaseResult {
    let (b, _) = started(s, "running")?;
    let status = b.status()?;
    ensure!(status == "running", "status {status} after start");
    Ok(())
}

fn start_twice(s: &Suite) -> CaseResult {
    let (b, _) = started(s, "starttwice")?;
    ensure!(
        !b.start()?.ok(),
        "a second start of a running container succeeded"
    );
    let status = b.status()?;
    ensure!(
        status == "running",
        "status {status} after the refused start"
    );
    Ok(())
}

fn duplicate_id(s: &Suite) -> CaseResult {
    let (b, _) = started(s, "dupid")?;
    let dir = b.dir();
    let again = b.rt(&["create", "--bundle", &dir.to_string_lossy(), &b.id])?;
    ensure!(!again.ok(), "a second create with the same id succeeded");
    let status = b.status()?;
    ensure!(
        status == "running",
        "status {status} after the refused create"
    );
    Ok(())
}

/// Signals by bare name, SIG-prefixed name and number reach the process in order.
fn kill_signals(s: &Suite) -> CaseResult {
    let (b, out) = started(s, "kill")?;
    for (sig, num) in [("HUP", 1), ("SIGUSR1", 10), ("12", 12), ("TERM", 15)] {
        b.kill(sig)?.check()?;
        wait_line(&out, &format!("signal {num}"))?;
    }
    b.wait_stopped()
}

/// A created container can be signalled: SIGKILL stops it before its program ever runs.
fn kill_created(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "killcreated")?;
    b.checks(&["args"]);
    let out = b.create()?.check()?;
    b.kill("KILL")?.check()?;
    b.wait_stopped()?;
    let printed = std::fs::read_to_string(&out.out_path)?;
    ensure!(
        printed.is_empty(),
        "the process ran after its container was killed: {printed:?}"
    );
    Ok(())
}

fn kill_invalid_signal(s: &Suite) -> CaseResult {
    let (b, _) = started(s, "killinvalid")?;
    ensure!(
        !b.kill("SIGCONFORMANCE")?.ok(),
        "kill with an unknown signal name succeeded"
    );
    let status = b.status()?;
    ensure!(status == "running", "status {status} after a refused kill");
    Ok(())
}

fn state_unknown_id(s: &Suite) -> CaseResult {
    let b = Bundle::new(s, "unknownid")?;
    let out = b.rt(&["state", &b.id])?;
    ensure!(
        !out.ok(),
        "state of a container never created succeeded: {}",
        out.stdout.trim()
    );
    Ok(())
}

fn kill_stopped(s: &Suite) -> CaseResult {
    let (b, _) = started(s, "killstopped")?;
    b.kill("KILL")?.check()?;
    b.wait_stopped()?;
    ensure!(
        !b.kill("KILL")?.ok(),
        "kill of a stopped container succeeded"
    );
    let status = b.status()?;
    ensure!(
        status == "stopped",
        "status {status} after kill of a stopped container"
    );
    Ok(())
}

fn delete_running(s: &Suite) -> CaseResult {
    let (b, _) = started(s, "delrunning")?;
    ensure!(
        !b.delete(false)?.ok(),
        "delete of a running container succeeded"
    );
    let status = b.status()?;
    ensure!(
        status == "running",
        "status {status} after the refused delete"
    );
    b.delete(true)?.check()?;
    ensure!(
        !b.rt(&["state", &b.id])?.ok(),
        "state still answers after delete --force"
    );
    Ok(())
}

fn delete_created(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "delcreated")?;
    b.checks(&["args"]);
    b.create()?.check()?;
    ensure!(
        !b.delete(false)?.ok(),
        "delete of a created (not stopped) container succeeded"
    );
    let status = b.status()?;
    ensure!(
        status == "created",
        "status {status} after the refused delete"
    );
    Ok(())
}

/// Delete removes the container and its cgroup.
fn delete_stopped(s: &Suite) -> CaseResult {
    let (b, _) = started(s, "delstopped")?;
    let pid = b.state()?["pid"].as_u64().unwrap_or(0);
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    let mem = cgroup
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_owned()));
    b.kill("KILL")?.check()?;
    b.wait_stopped()?;
    b.delete(false)?.check()?;
    ensure!(
        !b.rt(&["state", &b.id])?.ok(),
        "state still answers after delete"
    );
    if let Some(p) = mem.filter(|p| p != "/") {
        let dir = format!("/sys/fs/cgroup/memory{p}");
        ensure!(
            !std::path::Path::new(&dir).exists(),
            "cgroup {dir} left after delete"
        );
    }
    Ok(())
}

fn pid_file(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "pidfile")?;
    b.checks(&["args"]);
    b.write()?;
    let pid_path = b.share().join("pid");
    let dir = b.dir();
    let args = [
        "create",
        "--bundle",
        &dir.to_string_lossy(),
        "--pid-file",
        &pid_path.to_string_lossy(),
        &b.id,
    ];
    b.rt(&args)?.check()?;
    let got = std::fs::read_to_string(&pid_path)?;
    let want = b.state()?["pid"].to_string();
    ensure!(
        got.trim() == want,
        "pid file holds {got:?}, state says {want}"
    );
    Ok(())
}

fn unknown_properties(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "unknownprops")?;
    b.checks(&["args", "hostname"]);
    b.config["org.example.conformance"] = json!({"nested": [1, 2]});
    b.config["process"]["org.example.unknown"] = json!(true);
    b.config["linux"]["org.example.unknown"] = json!("x");
    b.config["annotations"] = json!({"org.example.key": "value", "org.example.other": ""});
    let out = b.create()?.check()?;
    let st = b.state()?;
    ensure!(
        st["annotations"] == b.config["annotations"],
        "state annotations {}, config has {}",
        st["annotations"],
        b.config["annotations"]
    );
    b.start()?.check()?;
    b.wait_stopped()?;
    let out = Invocation {
        stdout: std::fs::read_to_string(&out.out_path)?,
        ..out
    };
    verdict(&["args", "hostname"], &out)
}

/// Changing config.json after create changes nothing: the checker still sees the old one.
fn config_after_create(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "afterchange")?;
    b.checks(&["args", "hostname", "env"]);
    let out = b.create()?.check()?;
    let mut changed = b.config.clone();
    changed["hostname"] = json!("changed-after-create");
    changed["process"]["args"] = strs(&[CHECKER, "no-such-check"]);
    changed["process"]["env"] = strs(&["CHANGED=1"]);
    std::fs::write(
        b.dir().join("config.json"),
        serde_json::to_string(&changed)?,
    )?;
    b.start()?.check()?;
    b.wait_stopped()?;
    let out = Invocation {
        stdout: std::fs::read_to_string(&out.out_path)?,
        ..out
    };
    verdict(&["args", "hostname", "env"], &out)
}

/// The runtime's own `spec` is a valid config that runs.
fn default_spec(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "spec")?;
    let dir = b.dir();
    std::fs::remove_file(dir.join("config.json")).ok();
    b.rt(&["spec", "--bundle", &dir.to_string_lossy()])?
        .check()?;
    let text = std::fs::read_to_string(dir.join("config.json"))?;
    b.config = serde_json::from_str(&text)?;
    ensure!(
        b.config["ociVersion"].is_string(),
        "spec output has no ociVersion"
    );
    ensure!(
        b.config["root"]["path"] == "rootfs",
        "spec root.path is {}",
        b.config["root"]["path"]
    );
    b.config["process"]["terminal"] = json!(false);
    let checks = [
        "caps",
        "nnp",
        "rlimits",
        "hostname",
        "namespaces",
        "mounts",
        "masked",
        "readonly",
        "root_ro",
        "default_devices",
    ];
    b.run_checks(&checks)
}

fn run_exit_code(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "exitcode")?;
    b.config["process"]["args"] = strs(&["/bin/sh", "-c", "exit 7"]);
    let out = b.run()?;
    ensure!(
        out.code == Some(7),
        "run exited {:?}, the process exited 7",
        out.code
    );
    Ok(())
}

fn missing_rootfs(s: &Suite) -> CaseResult {
    super::refused(s, "norootfs", |b| {
        b.config["root"]["path"] = json!("no-such-rootfs")
    })
}

fn invalid_config(s: &Suite) -> CaseResult {
    let b = Bundle::new(s, "badconfig")?;
    b.write()?;
    std::fs::write(
        b.dir().join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": ",
    )?;
    let dir = b.dir();
    let out = b.rt(&["create", "--bundle", &dir.to_string_lossy(), &b.id])?;
    ensure!(!out.ok(), "create accepted a truncated config.json");
    ensure!(
        !b.rt(&["state", &b.id])?.ok(),
        "a failed create left a container behind"
    );
    Ok(())
}
