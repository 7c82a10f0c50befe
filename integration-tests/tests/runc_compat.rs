//! Issue 13: where berth behaved differently from runc 1.1 (hangs first, then exit codes and
//! the smaller commands). Each test runs against runc too (BERTH_BIN=/usr/sbin/runc) and
//! checks runc's behaviour and berth's; where runc itself is wrong it says so and is skipped.

use integration_tests::notify_agent::{self, Answer};
use integration_tests::{assert_contains, host, is_runc, skip_for_runc, Bundle, TestEnv};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// runc's exit status for its own failures (`exec` and friends), distinct from any status
/// the container's process exits with.
const RUNTIME_FAILURE: i32 = 255;

/// A detached container running `sleep 1000`; returns its id.
fn sleeping(env: &TestEnv) -> (String, Bundle) {
    let b = env.bundle(&["sleep", "1000"]);
    b.save();
    let id = env.id();
    env.rt
        .run_cmd(&["run", "--detach", "--bundle", b.path_str(), &id])
        .assert_ok("run --detach");
    env.wait_status(&id, "running");
    (id, b)
}

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
    let id = paused(&env);
    let exec = env
        .rt
        .spawn(&["exec", "--ignore-paused", &id, "echo", "never"]);
    env.rt
        .run_cmd(&["delete", "--force", &id])
        .assert_ok("delete --force");
    let out = exec.wait();
    assert!(!out.success(), "exec into a deleted container: {out:#?}");
    assert!(!out.stdout.contains("never"), "{out:#?}");
    assert!(env.rt.state(&id).is_none());
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
    drop(cg);
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
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
}

// ---- item 10: exit codes ---------------------------------------------------------------------

/// The pids of the container's processes (`ps --format json`; runc prints `null` for none).
fn container_pids(env: &TestEnv, id: &str) -> Vec<i64> {
    let out = env.rt.run_cmd(&["ps", "--format", "json", id]);
    out.assert_ok("ps --format json");
    let v: Value = serde_json::from_str(out.stdout.trim()).expect("ps JSON");
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

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

// ---- item 12: the smaller commands ------------------------------------------------------------

/// Signal 0 checks the init can be signalled; `kill --all` on a stopped container is accepted;
/// plain kill of a stopped one is not.
#[test]
fn kill_signal_0_and_kill_all_of_a_stopped_container() {
    let env = TestEnv::new("kill_zero");
    let (id, _) = sleeping(&env);
    env.rt.run_cmd(&["kill", &id, "0"]).assert_ok("kill 0");
    env.wait_status(&id, "running");
    env.rt
        .run_cmd(&["kill", &id, "KILL"])
        .assert_ok("kill KILL");
    env.wait_status(&id, "stopped");
    env.rt
        .run_cmd(&["kill", "--all", &id, "KILL"])
        .assert_ok("kill --all of a stopped container");
    let out = env.rt.run_cmd(&["kill", &id, "0"]);
    out.assert_fails_naming(&["not running"]);
    let out = env.rt.run_cmd(&["kill", &id, "KILL"]);
    out.assert_fails_naming(&["not running"]);
}

/// `ps` of a stopped container: the header (or an empty JSON list; runc prints `null`), exit 0.
#[test]
fn ps_of_a_stopped_container_prints_the_header() {
    let env = TestEnv::new("ps_stopped");
    let (id, _) = sleeping(&env);
    env.rt.run_cmd(&["kill", &id, "KILL"]).assert_ok("kill");
    env.wait_status(&id, "stopped");
    let out = env.rt.run_cmd(&["ps", &id]);
    out.assert_ok("ps of a stopped container");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{out:#?}");
    assert!(lines[0].split_whitespace().any(|c| c == "PID"), "{out:#?}");
    let out = env.rt.run_cmd(&["ps", "--format", "json", &id]);
    out.assert_ok("ps --format json of a stopped container");
    assert!(
        ["[]", "null"].contains(&out.stdout.trim()),
        "{:?}",
        out.stdout
    );
}

/// A process.json without `user` runs as 0:0 (Go's zero value, which runc takes).
#[test]
fn exec_process_json_without_user_runs_as_root() {
    let env = TestEnv::new("exec_process_no_user");
    let (id, _) = sleeping(&env);
    let file = env.dir.join("process.json");
    std::fs::write(
        &file,
        json!({"args": ["/bin/sh", "-c", "id -u; id -g"], "cwd": "/"}).to_string(),
    )
    .unwrap();
    let out = env
        .rt
        .run_cmd(&["exec", "--process", file.to_str().unwrap(), &id]);
    out.assert_ok("exec -p without user");
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["0", "0"]);
}

/// `checkpoint` and `restore` exist with runc's flags and refuse clearly, changing nothing.
#[test]
fn checkpoint_and_restore_are_refused_clearly() {
    if skip_for_runc("runc checkpoints with CRIU; berth has no CRIU support") {
        return;
    }
    let env = TestEnv::new("checkpoint");
    let (id, b) = sleeping(&env);
    let images = env.dir.join("images");
    let images = images.to_str().unwrap();
    let out = env.rt.run_cmd(&[
        "checkpoint",
        "--image-path",
        images,
        "--leave-running",
        "--tcp-established",
        &id,
    ]);
    out.assert_fails_naming(&["checkpoint is not supported"]);
    env.wait_status(&id, "running");
    assert!(!Path::new(images).exists(), "checkpoint made {images}");
    let restored = env.id();
    let out = env.rt.run_cmd(&[
        "restore",
        "--image-path",
        images,
        "--bundle",
        b.path_str(),
        "--detach",
        &restored,
    ]);
    out.assert_fails_naming(&["restore is not supported"]);
    assert!(env.rt.state(&restored).is_none());
}

/// The startContainer hook runs as runc runs it: right before the program, under the same
/// user, capabilities, noNewPrivileges and seccomp filter.
#[test]
fn start_container_hook_runs_under_the_process_restrictions() {
    let env = TestEnv::new("start_hook_restrictions");
    const STATUS: &str =
        "grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' \
                          /proc/self/status";
    let mut b = env.bundle(&["sh", "-c", &format!("{STATUS}; echo ---; cat /tmp/hook")]);
    b.add_mount(
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777"]}),
    );
    // runc 1.1 gives a tmpfs the mode of the directory it covers, whatever mode= says.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(b.rootfs().join("tmp"), PermissionsExt::from_mode(0o1777)).unwrap();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    b.linux()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.config["hooks"] = json!({"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", format!("{STATUS} > /tmp/hook")]}
    ]});
    let out = env.run(&b);
    out.assert_ok("run");
    let (program, hook) = out.stdout.split_once("---\n").expect("both outputs");
    assert_contains(program, "Uid:\t1000");
    assert_contains(program, "NoNewPrivs:\t1");
    assert_contains(program, "Seccomp:\t2");
    assert_eq!(hook, program, "the hook ran under other restrictions");
}

/// runtime-spec requires `process` only at start: berth creates the container and `start`
/// fails naming the field. runc 1.1 refuses at create ("process property must not be
/// empty"); docs/compatibility.md records the difference.
#[test]
fn create_without_process_is_accepted_and_start_fails_clearly() {
    let env = TestEnv::new("create_no_process");
    let mut b = env.bundle(&["true"]);
    b.config.as_object_mut().unwrap().remove("process");
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["create", "--bundle", b.path_str(), &id]);
    if is_runc() {
        out.assert_fails_naming(&["process property must not be empty"]);
        host::assert_nothing_left(&env.rt.root, &id, &b.dir);
        return;
    }
    out.assert_ok("create without process");
    env.wait_status(&id, "created");
    let out = env.rt.run_cmd(&["start", &id]);
    out.assert_fails_naming(&["process: the config has none"]);
    env.wait_status(&id, "stopped");
    env.rt.run_cmd(&["delete", &id]).assert_ok("delete");
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

/// Sub-cgroups made for `exec --cgroup`, removed before the container is deleted (a runtime
/// only removes the cgroup it made, which must be empty by then).
struct SubCgroups(Vec<PathBuf>);

impl Drop for SubCgroups {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// The cgroup of each hierarchy line of /proc/self/cgroup printed by a process.
fn cgroup_lines(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            Some((ctrls.to_owned(), path.to_owned()))
        })
        .collect()
}

/// runc 1.1's `exec --cgroup`: PATH for every hierarchy, CONTROLLER:PATH for some (v1); the
/// sub-cgroup must exist and be under the container's.
#[test]
fn exec_cgroup_joins_an_existing_sub_cgroup() {
    let env = TestEnv::new("exec_sub_cgroup");
    let (id, _) = sleeping(&env);
    let init = env.rt.state(&id).expect("state")["pid"].as_i64().unwrap();
    let subs = SubCgroups(
        integration_tests::cgroup::dirs(init)
            .into_iter()
            .map(|(_, d)| d.join("sub"))
            .collect(),
    );
    for d in &subs.0 {
        std::fs::create_dir(d).expect("making a sub-cgroup");
        // A v1 cpuset cgroup takes no task until it has cpus and mems.
        for f in ["cpuset.cpus", "cpuset.mems"] {
            match std::fs::read_to_string(d.parent().unwrap().join(f)) {
                Ok(v) if !v.trim().is_empty() => {
                    std::fs::write(d.join(f), v.trim()).expect("filling the cpuset")
                }
                _ => {}
            }
        }
    }
    let out = env
        .rt
        .run_cmd(&["exec", "--cgroup", "sub", &id, "cat", "/proc/self/cgroup"]);
    out.assert_ok("exec --cgroup sub");
    for (ctrls, path) in cgroup_lines(&out.stdout) {
        assert!(path.ends_with("/sub"), "{ctrls}: {path}\n{}", out.stdout);
    }
    if !integration_tests::cgroup::is_pure_v2() {
        let out = env.rt.run_cmd(&[
            "exec",
            "--cgroup",
            "pids:/sub",
            &id,
            "cat",
            "/proc/self/cgroup",
        ]);
        out.assert_ok("exec --cgroup pids:/sub");
        for (ctrls, path) in cgroup_lines(&out.stdout) {
            let want_sub = ctrls.split(',').any(|c| c == "pids");
            assert_eq!(path.ends_with("/sub"), want_sub, "{ctrls}: {path}");
        }
    }
    for bad in ["nosuch", "../..", "sub/../../.."] {
        let out = env.rt.run_cmd(&["exec", "--cgroup", bad, &id, "true"]);
        assert_eq!(out.code(), Some(RUNTIME_FAILURE), "{out:#?}");
    }
    assert_eq!(container_pids(&env, &id), [init]);
    drop(subs);
}

// ---- item 13: output scripts read -------------------------------------------------------------

/// Asserts the keys appear in `text` in this order (scripts and diffs read runc's order).
#[track_caller]
fn assert_key_order(text: &str, keys: &[&str]) {
    let at: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\""))
                .unwrap_or_else(|| panic!("{k} missing from {text}"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "{keys:?} out of order in {text}"
    );
}

const STATE_ORDER: &[&str] = &[
    "ociVersion",
    "id",
    "pid",
    "status",
    "bundle",
    "rootfs",
    "created",
    "owner",
];

#[test]
fn state_list_and_events_print_keys_in_runcs_order() {
    let env = TestEnv::new("key_order");
    let (id, _) = sleeping(&env);
    let out = env.rt.run_cmd(&["state", &id]);
    out.assert_ok("state");
    assert_key_order(&out.stdout, STATE_ORDER);
    let out = env.rt.run_cmd(&["list", "--format", "json"]);
    out.assert_ok("list --format json");
    assert_key_order(&out.stdout, STATE_ORDER);
    let out = env.rt.run_cmd(&["events", "--stats", &id]);
    out.assert_ok("events --stats");
    assert!(
        out.stdout
            .starts_with(&format!("{{\"type\":\"stats\",\"id\":\"{id}\",\"data\":")),
        "{}",
        out.stdout
    );
}

#[test]
fn version_prints_version_commit_and_spec() {
    let env = TestEnv::new("version");
    let out = env.rt.run_cmd(&["--version"]);
    out.assert_ok("--version");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() >= 3, "{out:#?}");
    assert!(lines[0].contains(" version "), "{out:#?}");
    assert!(lines[1].starts_with("commit: "), "{out:#?}");
    assert!(lines[2].starts_with("spec: 1."), "{out:#?}");
}

/// Tools grep runc's help for `NAME:` and `USAGE:`; `help` of an unknown command says so.
#[test]
fn help_has_runcs_sections_and_unknown_commands_say_so() {
    let env = TestEnv::new("help");
    for args in [
        &["--help"][..],
        &["help"],
        &["help", "exec"],
        &["exec", "--help"],
    ] {
        let out = env.rt.run_cmd(args);
        out.assert_ok(&format!("{args:?}"));
        assert_contains(&out.stdout, "NAME:");
        assert_contains(&out.stdout, "USAGE:");
    }
    let out = env.rt.run_cmd(&["help", "exec"]);
    assert_contains(&out.stdout, "exec - ");
    for args in [&["help", "no-such-command"][..], &["no-such-command"]] {
        let out = env.rt.run_cmd(args);
        assert_eq!(out.code(), Some(3), "{out:#?}");
        assert_contains(&out.stderr, "No help topic for 'no-such-command'");
    }
}
