//! Issue 14 item 1, proved step by step: berth is stopped at each named step of create, run,
//! start, exec and delete (`BERTH_TEST_PAUSE_AT=<step>`: it SIGSTOPs itself there), killed
//! there with SIGKILL, SIGINT or SIGTERM, and then `delete --force` must leave nothing: no
//! state dir, cgroup, mount or process. Before that, a container whose `create` died must
//! still be visible (`list`, `state` say `stopped`, never "does not exist"), and its init
//! must not wait for a `start` that will never come.
//!
//! berth only: the pause points are berth's (libcontainer/src/pause_point.rs).

use integration_tests::runtime::Running;
use integration_tests::{host, poll, skip_for_runc, Bundle, TestEnv, STATE_TIMEOUT};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const CREATE_STEPS: [&str; 5] = [
    "create:recorded",
    "create:cgroup",
    "create:init",
    "create:ready",
    "create:saved",
];
const SIGNALS: [Signal; 3] = [Signal::SIGKILL, Signal::SIGINT, Signal::SIGTERM];

/// Starts berth with `args`, paused at `step`.
fn spawn_paused(env: &TestEnv, step: &str, args: &[&str]) -> Running {
    let mut cmd = env.rt.command();
    cmd.args(args)
        .env("BERTH_TEST_PAUSE_AT", step)
        .stdin(Stdio::null());
    // The signals sent here must act as from a terminal: a test run started in the background
    // by a non-interactive shell has SIGINT ignored, and exec passes that on to berth.
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            for sig in [libc::SIGINT, libc::SIGTERM] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        })
    };
    let running = env.rt.spawn_with(&mut cmd, args);
    wait_stopped(&running, step, args);
    running
}

/// Waits (without reaping) until `running` stopped itself; panics if it exited instead.
fn wait_stopped(running: &Running, step: &str, args: &[&str]) {
    let deadline = Instant::now() + STATE_TIMEOUT;
    loop {
        // SAFETY: waitid fills `info`; WNOWAIT leaves the child's state for std to collect.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WSTOPPED | libc::WEXITED | libc::WNOWAIT | libc::WNOHANG;
        let r = unsafe { libc::waitid(libc::P_PID, running.pid(), &mut info, flags) };
        assert_eq!(r, 0, "waitid: {}", std::io::Error::last_os_error());
        // SAFETY: si_pid/si_code are valid for a SIGCHLD-style siginfo from waitid.
        let (pid, code) = unsafe { (info.si_pid(), info.si_code) };
        if pid != 0 {
            assert_eq!(
                code,
                libc::CLD_STOPPED,
                "berth {args:?} exited without reaching the pause point {step}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "berth {args:?} never reached {step}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills the paused berth with `sig` (delivered as it continues) and waits for it to exit.
fn kill_paused(running: Running, sig: Signal) {
    let pid = Pid::from_raw(running.pid() as i32);
    kill(pid, sig).expect("signalling berth");
    kill(pid, Signal::SIGCONT).expect("continuing berth");
    let out = running.wait();
    assert!(
        !out.success(),
        "berth survived {sig} at its pause point: {out:#?}"
    );
}

/// After a `create`/`run` died: the container is listed and its state readable (stopped:
/// its init died with its creator), and no process of it is left waiting for `start`.
fn assert_visible_and_no_orphan(env: &TestEnv, id: &str, bundle: &Bundle) {
    if env.rt.root.join(id).exists() {
        // The parent-death signal is delivered asynchronously (and down a chain: creator,
        // first child, init), so the init may still hold the start listener for a moment.
        poll(
            STATE_TIMEOUT,
            "the container to be listed as stopped",
            || {
                let list = env.rt.run_cmd(&["list"]);
                list.assert_ok("list");
                let row = list.stdout.lines().find(|l| l.starts_with(id));
                row.is_some_and(|r| r.contains("stopped")).then_some(())
            },
        );
        let state = env
            .rt
            .state(id)
            .expect("state of a container whose create died");
        assert_eq!(state["status"], "stopped", "{state}");
    }
    let rootfs = bundle.rootfs();
    poll(STATE_TIMEOUT, "the init to die with its creator", || {
        host::processes_mentioning(&rootfs.to_string_lossy())
            .is_empty()
            .then_some(())
    });
}

fn assert_force_delete_cleans(env: &TestEnv, id: &str, bundle: &Bundle) {
    env.rt
        .run_cmd(&["delete", "--force", id])
        .assert_ok("delete --force");
    host::assert_nothing_left(&env.rt.root, id, &bundle.dir);
}

fn create_killed_at_every_step(command: &[&str], signals: &[Signal]) {
    let env = TestEnv::new(&format!("killed-{}", command.join("-")));
    let b = env.bundle(&["sleep", "1000"]);
    b.save();
    for step in CREATE_STEPS {
        for &sig in signals {
            let id = env.id();
            let mut args = command.to_vec();
            args.extend(["--bundle", b.path_str(), &id]);
            let running = spawn_paused(&env, step, &args);
            // Paused with the lock held: listed (without waiting for the lock) as what it is.
            let want = match step {
                "create:saved" => "created",
                _ => "creating",
            };
            let list = env.rt.run_cmd(&["list"]);
            let row = list.stdout.lines().find(|l| l.starts_with(id.as_str()));
            assert!(
                row.is_some_and(|r| r.contains(want)),
                "at {step}: {list:#?}"
            );
            kill_paused(running, sig);
            assert_visible_and_no_orphan(&env, &id, &b);
            assert_force_delete_cleans(&env, &id, &b);
        }
    }
}

#[test]
fn create_killed_at_every_step_leaves_nothing_after_delete_force() {
    if skip_for_runc("berth's pause points") {
        return;
    }
    create_killed_at_every_step(&["create"], &SIGNALS);
}

#[test]
fn run_killed_at_every_step_leaves_nothing_after_delete_force() {
    if skip_for_runc("berth's pause points") {
        return;
    }
    create_killed_at_every_step(&["run"], &SIGNALS);
}

#[test]
fn run_detached_killed_at_every_step_leaves_nothing_after_delete_force() {
    if skip_for_runc("berth's pause points") {
        return;
    }
    create_killed_at_every_step(&["run", "--detach"], &[Signal::SIGKILL]);
}

/// `run` (and `start`) killed after the container was recorded: the init legitimately lives
/// on, waiting for `start`; `delete --force` still removes everything.
#[test]
fn run_and_start_killed_before_release_leave_a_created_container() {
    if skip_for_runc("berth's pause points") {
        return;
    }
    let env = TestEnv::new("killed-start");
    let b = env.bundle(&["sleep", "1000"]);
    b.save();
    for &sig in &SIGNALS {
        let id = env.id();
        let running = spawn_paused(&env, "start:locked", &["run", "-b", b.path_str(), &id]);
        kill_paused(running, sig);
        env.wait_status(&id, "created");
        assert_force_delete_cleans(&env, &id, &b);

        let id = env.create(&b);
        let running = spawn_paused(&env, "start:locked", &["start", &id]);
        kill_paused(running, sig);
        env.wait_status(&id, "created");
        assert_force_delete_cleans(&env, &id, &b);
    }
}

fn running_container(env: &TestEnv, b: &Bundle) -> String {
    let id = env.create(b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "running");
    id
}

#[test]
fn exec_killed_in_the_cgroup_step_leaves_nothing_after_delete_force() {
    if skip_for_runc("berth's pause points") {
        return;
    }
    let env = TestEnv::new("killed-exec");
    let b = env.bundle(&["sleep", "1000"]);
    for &sig in &SIGNALS {
        let id = running_container(&env, &b);
        let running = spawn_paused(&env, "exec:cgroup", &["exec", &id, "sleep", "999"]);
        kill_paused(running, sig);
        // The exec's child, already in the container's cgroup, sees the channel close.
        let state = env.wait_status(&id, "running");
        let pids = env.rt.run_cmd(&["ps", "-f", "json", &id]);
        pids.assert_ok("ps");
        let pids: Vec<i64> = serde_json::from_str(&pids.stdout).expect("ps json");
        assert_eq!(pids, [state["pid"].as_i64().unwrap()], "exec's child left");
        assert_force_delete_cleans(&env, &id, &b);
    }
}

#[test]
fn delete_killed_part_way_is_finished_by_the_next_delete_force() {
    if skip_for_runc("berth's pause points") {
        return;
    }
    let env = TestEnv::new("killed-delete");
    let b = env.bundle(&["sleep", "1000"]);
    for step in ["delete:killed", "delete:cgroups"] {
        for &sig in &SIGNALS {
            let id = running_container(&env, &b);
            let running = spawn_paused(&env, step, &["delete", "--force", &id]);
            kill_paused(running, sig);
            assert_force_delete_cleans(&env, &id, &b);
        }
    }
}

/// The pause points are inert without the variable: a normal run never stops.
#[test]
fn an_unknown_step_name_pauses_nothing() {
    if skip_for_runc("berth's pause points") {
        return;
    }
    let env = TestEnv::new("pause-inert");
    let b = env.bundle(&["true"]);
    b.save();
    let id = env.id();
    let mut cmd = env.rt.command();
    cmd.args(["run", "-b", b.path_str(), &id])
        .env("BERTH_TEST_PAUSE_AT", "no-such-step")
        .stdin(Stdio::null());
    env.rt
        .spawn_with(&mut cmd, &["run"])
        .wait()
        .assert_ok("run with an unknown pause step");
    assert!(!Path::new(&env.rt.root.join(&id)).exists());
}
