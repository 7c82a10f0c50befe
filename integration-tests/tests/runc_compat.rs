//! Issue 13: where berth behaved differently from runc 1.1: the hangs (paused containers,
//! seccomp notify), the runtime's own syscalls under a profile, exit codes (the smaller
//! commands are in runc_compat_cmds.rs). Each test runs against runc too (BERTH_BIN=/usr/sbin/runc) and
//! checks runc's behaviour and berth's; where runc itself is wrong it says so and is skipped.

use integration_tests::compat::{container_pids, sleeping, RUNTIME_FAILURE};
use integration_tests::notify_agent::{self, Answer};
use integration_tests::{assert_contains, host, skip_for_runc, TestEnv};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn paused(env: &TestEnv) -> String {
    let (id, _) = sleeping(env);
    env.rt.run_cmd(&["pause", &id]).assert_ok("pause");
    env.wait_status(&id, "paused");
    id
}

// ---- item 1: paused containers -------------------------------------------------------------

#[test]
fn exec_into_a_paused_container_is_refused_with_255() {
    let env = TestEnv::new("exec_paused_refused");
    let id = paused(&env);
    let out = env.rt.run_cmd(&["exec", &id, "true"]);
    assert_eq!(out.code(), Some(RUNTIME_FAILURE), "{out:#?}");
    assert_contains(
        &out.stderr,
        "cannot exec in a paused container (use --ignore-paused to override)",
    );
    // Nothing is wedged: the container still answers and resumes.
    env.wait_status(&id, "paused");
    env.rt.run_cmd(&["resume", &id]).assert_ok("resume");
    env.wait_status(&id, "running");
}

/// `exec --ignore-paused` waits in the frozen cgroup until `resume`, without holding up
/// `state` or `resume` meanwhile; then the process runs.
#[test]
fn exec_ignore_paused_waits_for_resume_without_blocking_other_commands() {
    let env = TestEnv::new("exec_ignore_paused");
    let id = paused(&env);
    let exec = env
        .rt
        .spawn(&["exec", "--ignore-paused", &id, "echo", "ran after resume"]);
    // Each of these would time out (and fail the test) if exec held the container's lock.
    for _ in 0..3 {
        assert_eq!(env.rt.state(&id).expect("state")["status"], "paused");
    }
    env.rt.run_cmd(&["resume", &id]).assert_ok("resume");
    let out = exec.wait();
    out.assert_ok("exec --ignore-paused");
    assert_eq!(out.stdout.trim(), "ran after resume");
}

#[test]
fn delete_force_is_not_blocked_by_an_exec_waiting_in_a_paused_container() {
    let env = TestEnv::new("delete_while_exec_paused");
    let (id, b) = sleeping(&env);
    env.rt.run_cmd(&["pause", &id]).assert_ok("pause");
    env.wait_status(&id, "paused");
    let exec = env
        .rt
        .spawn(&["exec", "--ignore-paused", &id, "sleep", "1000"]);
    env.rt
        .run_cmd(&["delete", "--force", &id])
        .assert_ok("delete --force");
    // The exec ends too: refused, or (had it got in before delete killed everything) killed.
    // Which one is a race, as with runc.
    let out = exec.wait();
    assert!(!out.success(), "{out:#?}");
    assert!(env.rt.state(&id).is_none());
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

/// SIGKILL reaches a paused container at once (the runtime thaws it), as with runc.
#[test]
fn kill_sigkill_stops_a_paused_container() {
    let env = TestEnv::new("kill_paused");
    let id = paused(&env);
    env.rt
        .run_cmd(&["kill", &id, "KILL"])
        .assert_ok("kill KILL");
    env.wait_status(&id, "stopped");
}

/// A cgroup frozen before the container is made (`linux.cgroupsPath` names it): the first
/// process would freeze at once and create would never finish.
struct FrozenCgroup {
    dir: PathBuf,
    v2: bool,
}

impl FrozenCgroup {
    fn new(name: &str) -> Self {
        let v2 = integration_tests::cgroup::is_pure_v2();
        let base = if v2 {
            "/sys/fs/cgroup"
        } else {
            "/sys/fs/cgroup/freezer"
        };
        let dir = Path::new(base).join(name);
        std::fs::create_dir_all(&dir).expect("making the cgroup");
        let (file, value) = if v2 {
            ("cgroup.freeze", "1")
        } else {
            ("freezer.state", "FROZEN")
        };
        std::fs::write(dir.join(file), value).expect("freezing the cgroup");
        Self { dir, v2 }
    }
}

impl Drop for FrozenCgroup {
    fn drop(&mut self) {
        let (file, value) = if self.v2 {
            ("cgroup.freeze", "0")
        } else {
            ("freezer.state", "THAWED")
        };
        let _ = std::fs::write(self.dir.join(file), value);
        let name = self.dir.file_name().unwrap().to_string_lossy().into_owned();
        for d in host::cgroups_matching(&|n| n == name) {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[test]
fn create_into_a_frozen_cgroup_is_refused() {
    let env = TestEnv::new("create_frozen_cgroup");
    let id = env.id();
    let cg = FrozenCgroup::new(&id);
    let mut b = env.bundle(&["true"]);
    b.linux()["cgroupsPath"] = json!(format!("/{id}"));
    b.save();
    for cmd in ["create", "run"] {
        let out = env.rt.run_cmd(&[cmd, "--bundle", b.path_str(), &id]);
        out.assert_fails_naming(&["container's cgroup unexpectedly frozen"]);
        assert!(env.rt.state(&id).is_none(), "{cmd} left {id} behind");
        assert!(
            !env.rt.root.join(&id).exists(),
            "{cmd} left its state dir behind"
        );
    }
    // Only the frozen cgroup this test made is there: the runtime made none of its own.
    let cgroups = host::cgroups_matching(&|n| n.contains(id.as_str()));
    assert_eq!(
        cgroups,
        std::slice::from_ref(&cg.dir),
        "cgroups left behind"
    );
    drop(cg);
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

/// A created container whose cgroup was frozen by hand is paused, as runc reports it: `start`
/// refuses at once (the init could never answer) instead of waiting with the container's
/// lock held; `resume` makes it created again, and it starts.
#[test]
fn start_of_a_container_whose_cgroup_was_frozen_is_refused() {
    let env = TestEnv::new("start_frozen");
    let id = env.create(&env.bundle(&["true"]));
    let pid = env.rt.state(&id).expect("state")["pid"].as_i64().unwrap();
    let (file, frozen) = if integration_tests::cgroup::is_pure_v2() {
        let f = integration_tests::cgroup::file(pid, "", "", "cgroup.freeze");
        (f, "1")
    } else {
        let f = integration_tests::cgroup::file(pid, "freezer", "freezer.state", "");
        (f, "FROZEN")
    };
    std::fs::write(&file, frozen).expect("freezing the container's cgroup");
    env.wait_status(&id, "paused");
    let out = env.rt.run_cmd(&["start", &id]);
    out.assert_fails_naming(&["paused"]);
    env.rt.run_cmd(&["resume", &id]).assert_ok("resume");
    env.wait_status(&id, "created");
    env.rt
        .run_cmd(&["start", &id])
        .assert_ok("start once resumed");
}

// ---- item 2: seccomp notify on the runtime's own last syscalls ------------------------------

/// A profile notifying syscalls the init itself makes once the filter is in (with and
/// without noNewPrivileges, which moves the filter before or after the identity change).
fn notify_profile(sock: &Path, names: &[&str]) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}]
    })
}

const INIT_SYSCALLS: &[&str] = &[
    "openat",
    "close",
    "execve",
    "read",
    "fcntl",
    "getcwd",
    "rt_sigaction",
    "rt_sigprocmask",
    "mmap",
    "munmap",
    "brk",
    "setresuid",
    "setgroups",
    "capset",
    "prctl",
];

#[test]
fn notify_on_the_inits_own_syscalls_reaches_the_agent_first() {
    for nnp in [true, false] {
        let env = TestEnv::new(&format!("notify_init_nnp_{nnp}"));
        let sock = env.dir.join("agent.sock");
        let agent = notify_agent::start(&sock, |_| Answer::Continue);
        let mut b = env.bundle(&["echo", "hello from under the filter"]);
        b.process()["noNewPrivileges"] = json!(nnp);
        b.linux()["seccomp"] = notify_profile(&sock, INIT_SYSCALLS);
        let out = env.run(&b);
        assert_eq!(agent.error(), None);
        out.assert_ok(&format!("run (noNewPrivileges {nnp})"));
        assert_eq!(out.stdout.trim(), "hello from under the filter");
        assert!(
            !agent.notifications().is_empty(),
            "nothing was notified (noNewPrivileges {nnp})"
        );
        assert_eq!(agent.state()["fds"], json!(["seccompFd"]));
    }
}

/// No agent at listenerPath: a clear error, nothing left behind, no hang.
#[test]
fn notify_without_an_agent_fails_clearly() {
    for nnp in [true, false] {
        let env = TestEnv::new(&format!("notify_no_agent_{nnp}"));
        let sock = env.dir.join("nobody.sock");
        let mut b = env.bundle(&["true"]);
        b.process()["noNewPrivileges"] = json!(nnp);
        b.linux()["seccomp"] = notify_profile(&sock, &["openat", "execve", "getcwd"]);
        b.save();
        let id = env.id();
        let out = env.rt.run_cmd(&["run", "--bundle", b.path_str(), &id]);
        out.assert_fails_naming(&["failed to connect with seccomp agent"]);
        host::assert_nothing_left(&env.rt.root, &id, &b.dir);
    }
}

/// Notifying write would deadlock the listener's hand-over (runc's and berth's): refused.
#[test]
fn notify_on_write_is_refused() {
    let env = TestEnv::new("notify_write");
    let sock = env.dir.join("agent.sock");
    let mut b = env.bundle(&["true"]);
    b.linux()["seccomp"] = notify_profile(&sock, &["write"]);
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["run", "--bundle", b.path_str(), &id]);
    out.assert_fails_naming(&["SCMP_ACT_NOTIFY cannot be used for the write syscall"]);
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

/// `exec` with the container's notify profile: the exec'd process's listener reaches the
/// agent before it makes a notified syscall.
#[test]
fn exec_under_a_notify_profile_reaches_the_agent_first() {
    let env = TestEnv::new("notify_exec");
    let sock = env.dir.join("agent.sock");
    let agent = notify_agent::start(&sock, |_| Answer::Continue);
    let mut b = env.bundle(&["sleep", "1000"]);
    b.linux()["seccomp"] = notify_profile(&sock, &["getcwd", "rt_sigaction", "execve"]);
    b.save();
    let id = env.id();
    env.rt
        .run_cmd(&["run", "--detach", "--bundle", b.path_str(), &id])
        .assert_ok("run --detach");
    assert_eq!(agent.state()["state"]["id"], id);
    // This agent takes one connection (the init's): a second one at listenerPath takes the
    // exec'd process's.
    let exec_sock = env.dir.join("exec-agent.sock");
    drop(agent);
    let exec_agent = notify_agent::start(&exec_sock, |_| Answer::Continue);
    std::fs::rename(&exec_sock, &sock).expect("moving the agent to listenerPath");
    let out = env.rt.run_cmd(&["exec", &id, "echo", "exec'd"]);
    assert_eq!(exec_agent.error(), None);
    out.assert_ok("exec");
    assert_eq!(out.stdout.trim(), "exec'd");
    assert!(exec_agent.state()["pid"].as_i64().is_some_and(|p| p > 0));
    // No agent any more: exec fails clearly and leaves no process behind.
    drop(exec_agent);
    let _ = std::fs::remove_file(&sock);
    let out = env.rt.run_cmd(&["exec", &id, "echo", "never"]);
    assert_eq!(out.code(), Some(RUNTIME_FAILURE), "{out:#?}");
    out.assert_fails_naming(&["failed to connect with seccomp agent"]);
    let init = env.rt.state(&id).expect("state")["pid"].as_i64().unwrap();
    assert_eq!(container_pids(&env, &id), [init]);
}

// ---- item 10: exit codes ---------------------------------------------------------------------

/// `exec`'s own failures exit 255, the process's own status passes through unchanged.
#[test]
fn exec_failures_exit_255_and_the_process_status_passes_through() {
    let env = TestEnv::new("exec_exit_codes");
    let (id, _) = sleeping(&env);
    let pid_dir = env.dir.join("no-such-dir");
    let pid_file = pid_dir.join("pid");
    let cases: [&[&str]; 5] = [
        &["exec", "no-such-container", "true"],
        &["exec", &id, "/no/such/binary"],
        &["exec", &id, "no-such-program-in-path"],
        &["exec", "--cwd", "/no/such/dir", &id, "true"],
        &[
            "exec",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
            "sleep",
            "1000",
        ],
    ];
    for args in cases {
        let out = env.rt.run_cmd(args);
        assert_eq!(out.code(), Some(RUNTIME_FAILURE), "{out:#?}");
    }
    // The process whose pid could not be written was not left running.
    let init = env.rt.state(&id).expect("state")["pid"].as_i64().unwrap();
    assert_eq!(container_pids(&env, &id), [init]);
    for code in [0, 1, 3, 254, 255] {
        let out = env
            .rt
            .run_cmd(&["exec", &id, "sh", "-c", &format!("exit {code}")]);
        assert_eq!(out.code(), Some(code), "{out:#?}");
    }
}

/// Every other command fails with 1, as runc's do.
#[test]
fn other_commands_fail_with_1() {
    let env = TestEnv::new("exit_codes");
    let gone = "no-such-container";
    let cases: [&[&str]; 10] = [
        &["state", gone],
        &["start", gone],
        &["kill", gone],
        &["delete", gone],
        &["pause", gone],
        &["resume", gone],
        &["ps", gone],
        &["update", "--pids-limit", "10", gone],
        &["events", "--stats", gone],
        &["create", "--bundle", "/no/such/bundle", gone],
    ];
    for args in cases {
        let out = env.rt.run_cmd(args);
        assert_eq!(out.code(), Some(1), "{out:#?}");
    }
}

// ---- item 7: a profile denying what the runtime itself calls late ---------------------------

/// berth does its own work (cwd and its check, signal dispositions, fds) before the filter
/// goes in, so denying those syscalls stops only the program. runc 1.1 calls some of them
/// after loading the filter and fails (crun does not).
#[test]
fn a_profile_denying_the_runtimes_own_syscalls_does_not_stop_start() {
    if skip_for_runc(
        "runc 1.1 calls getcwd, chdir, openat, close, newfstatat after loading the filter",
    ) {
        return;
    }
    let denied = [
        "getcwd",
        "chdir",
        "fchdir",
        "rt_sigaction",
        "rt_sigprocmask",
        "close_range",
        "fcntl",
        "openat",
        "close",
        "newfstatat",
        "statx",
    ];
    for nnp in [true, false] {
        let env = TestEnv::new(&format!("deny_late_syscalls_{nnp}"));
        let mut b = env.bundle(&["echo", "ran"]);
        b.process()["noNewPrivileges"] = json!(nnp);
        b.linux()["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
        let out = env.run(&b);
        out.assert_ok(&format!("run (noNewPrivileges {nnp})"));
        assert_eq!(out.stdout.trim(), "ran");
        // exec gets the same filter and the same treatment.
        let (id, _) = {
            let mut b = env.bundle(&["sleep", "1000"]);
            b.process()["noNewPrivileges"] = json!(nnp);
            b.linux()["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
            });
            b.save();
            let id = env.id();
            env.rt
                .run_cmd(&["run", "--detach", "--bundle", b.path_str(), &id])
                .assert_ok("run --detach");
            (id, b)
        };
        let out = env.rt.run_cmd(&["exec", &id, "echo", "exec'd"]);
        out.assert_ok("exec");
        assert_eq!(out.stdout.trim(), "exec'd");
    }
}

/// Commands refused for the container's status fail with 1 (exec with 255), as runc's do.
#[test]
fn commands_refused_for_the_status_fail_with_1() {
    let env = TestEnv::new("status_exit_codes");
    let (id, _) = sleeping(&env);
    for args in [&["delete", &id][..], &["start", &id], &["resume", &id]] {
        let out = env.rt.run_cmd(args);
        assert_eq!(out.code(), Some(1), "{out:#?}");
    }
    env.rt.run_cmd(&["kill", &id, "KILL"]).assert_ok("kill");
    env.wait_status(&id, "stopped");
    let cases: [&[&str]; 7] = [
        &["pause", &id],
        &["resume", &id],
        &["start", &id],
        &["update", "--pids-limit", "10", &id],
        &["events", "--stats", &id],
        &["kill", &id],
        &["kill", &id, "NO-SUCH-SIGNAL"],
    ];
    for args in cases {
        let out = env.rt.run_cmd(args);
        assert_eq!(out.code(), Some(1), "{out:#?}");
    }
    let out = env.rt.run_cmd(&["exec", &id, "true"]);
    assert_eq!(out.code(), Some(RUNTIME_FAILURE), "{out:#?}");
    env.rt
        .run_cmd(&["delete", &id])
        .assert_ok("delete of a stopped container");
}

/// Without a pid namespace of its own, a container's exec'd processes outlive its init;
/// `delete` of the stopped container kills them (as runc does) instead of failing on a busy
/// cgroup.
#[test]
fn delete_of_a_stopped_container_kills_what_exec_left_behind() {
    let env = TestEnv::new("delete_leftovers");
    let mut b = env.bundle(&["sleep", "1000"]);
    b.remove_namespace("pid");
    b.save();
    let id = env.id();
    env.rt
        .run_cmd(&["run", "--detach", "--bundle", b.path_str(), &id])
        .assert_ok("run --detach");
    let pid_file = env.dir.join("leftover.pid");
    env.rt
        .run_cmd(&[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
            "sleep",
            "1000",
        ])
        .assert_ok("exec --detach");
    let leftover: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.rt.run_cmd(&["kill", &id, "KILL"]).assert_ok("kill");
    env.wait_status(&id, "stopped");
    assert!(running(leftover), "the exec'd process died with the init");
    env.rt.run_cmd(&["delete", &id]).assert_ok("delete");
    assert!(!running(leftover), "delete left the exec'd process running");
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

/// Alive and not a zombie (an orphan's zombie waits for the host's init to reap it).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| !r.starts_with('Z')))
        .unwrap_or(false)
}
