//! Issue 4, `linux.seccomp`, checked from inside the container: what busybox sees when a
//! syscall is allowed, denied with an errno, logged, or kills it, and that the filter is in
//! place with and without `noNewPrivileges`.

use integration_tests::notify_agent::{self, Answer};
use integration_tests::{assert_contains, Bundle, Out, TestEnv};
use nix::libc;
use serde_json::{json, Value};

/// The Docker-sized profile the seccomp module is tested with (x86_64, x86 and x32, with
/// argument conditions on personality, socket and clone).
const DEFAULT_LIKE: &str =
    include_str!("../../libcontainer/src/seccomp/testdata/default-like.json");

/// SIGSYS: how the kernel kills on SCMP_ACT_KILL_PROCESS.
const SIGSYS: i32 = 31;

/// A profile allowing everything but `rules` (native architecture only).
fn allow_all_but(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
}

/// A busybox bundle running `script` with a writable tmpfs at /tmp (the rootfs is read-only,
/// and a mkdir there would fail with EROFS whatever the filter says).
fn sh_bundle(env: &TestEnv, script: &str) -> Bundle {
    let mut b = env.bundle(&["sh", "-c", script]);
    b.add_mount(
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777"]}),
    );
    b
}

/// The value of `field` in /proc/self/status lines printed by the container.
fn status_field<'a>(out: &'a str, field: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing from:\n{out}"))
        .trim()
}

const MKDIR_SCRIPT: &str =
    "mkdir /tmp/x && echo made; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status";

#[test]
fn busybox_runs_under_the_default_profile() {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the profile names x86_64, x86 and x32");
        return;
    }
    let env = TestEnv::new("seccomp_default_profile");
    let mut b = sh_bundle(
        &env,
        "echo ok; ls /; mkdir /tmp/x && echo made; linux32 uname -m; \
         grep '^Seccomp:' /proc/self/status",
    );
    b.linux()["seccomp"] = serde_json::from_str(DEFAULT_LIKE).expect("default-like.json");
    let out = env.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"ok"), "{out}");
    for entry in ["bin", "proc", "tmp"] {
        assert!(lines.contains(&entry), "ls / lacks {entry}:\n{out}");
    }
    assert!(lines.contains(&"made"), "{out}");
    // personality(PER_LINUX32) is one of the values the profile's argument filter allows.
    assert!(lines.contains(&"i686"), "{out}");
    assert_eq!(status_field(&out, "Seccomp"), "2", "{out}");
}

#[test]
fn denied_mkdir_fails_with_eperm() {
    let env = TestEnv::new("seccomp_denied_mkdir");
    // The same script without a filter: the mkdir itself can succeed.
    assert_contains(&env.run_ok(&sh_bundle(&env, MKDIR_SCRIPT)), "made");

    let mut b = sh_bundle(&env, MKDIR_SCRIPT);
    b.linux()["seccomp"] = allow_all_but(json!([
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
    ]));
    let out = env.run(&b);
    out.assert_ok("run");
    assert!(!out.stdout.contains("made"), "{out:#?}");
    assert_contains(&out.stderr, "Operation not permitted");
    assert_eq!(status_field(&out.stdout, "Seccomp"), "2", "{out:#?}");
}

#[test]
fn denied_mkdir_returns_the_configured_errno() {
    let env = TestEnv::new("seccomp_errno_ret");
    // ENOSYS: its message ("Function not implemented") is one no plain mkdir failure gives.
    let enosys = nix::errno::Errno::ENOSYS as i32;
    let mut b = sh_bundle(&env, MKDIR_SCRIPT);
    b.linux()["seccomp"] = allow_all_but(json!([
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": enosys}
    ]));
    let out = env.run(&b);
    out.assert_ok("run");
    assert!(!out.stdout.contains("made"), "{out:#?}");
    assert_contains(&out.stderr, "Function not implemented");
}

#[test]
fn kill_process_kills_with_sigsys() {
    let env = TestEnv::new("seccomp_kill_process");
    // mkdir, not uname: busybox sh itself calls uname at startup (for $HOSTNAME).
    let profile = allow_all_but(json!([
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}
    ]));

    // Seen from inside: the shell reports its child (a subshell, as busybox runs some
    // applets in-process) killed by SIGSYS, and carries on.
    let mut b = sh_bundle(&env, "(mkdir /tmp/x); echo \"status=$?\"");
    b.linux()["seccomp"] = profile.clone();
    let out = env.run_ok(&b);
    assert_eq!(out.trim(), format!("status={}", 128 + SIGSYS), "{out}");

    // The container's own process killed: `run` exits as a shell would report it (without
    // the filter this mkdir fails on the read-only rootfs and exits 1).
    let mut b = env.bundle(&["mkdir", "/x"]);
    b.linux()["seccomp"] = profile;
    let out = env.run(&b);
    assert_eq!(out.code(), Some(128 + SIGSYS), "{out:#?}");
}

#[test]
fn argument_filter_denies_one_value_only() {
    let env = TestEnv::new("seccomp_arg_filter");
    // kill(pid, SIGKILL) is denied, any other signal allowed. The target is a child (a
    // signal from pid 1 to itself would be ignored, filter or not); it exits only through
    // the SIGTERM, so `wait` tells which signal reached it.
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "sleep 60 & kill -0 $! && echo probe=0; kill -9 $!; echo kill9=$?; \
         kill -15 $!; wait $!; echo wait=$?",
    ]);
    b.linux()["seccomp"] = allow_all_but(json!([{
        "names": ["kill"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]
    }]));
    let out = env.run(&b);
    out.assert_ok("run");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines, ["probe=0", "kill9=1", "wait=143"], "{out:#?}");
    assert_contains(&out.stderr, "Operation not permitted");
}

#[test]
fn log_action_allows_the_call() {
    let env = TestEnv::new("seccomp_log");
    // mkdir is logged (and must work); rmdir is denied, showing the filter is in force.
    let mut b = sh_bundle(
        &env,
        &format!("{MKDIR_SCRIPT}; rmdir /tmp/x || echo rmdir-denied"),
    );
    b.linux()["seccomp"] = allow_all_but(json!([
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"},
        {"names": ["rmdir", "unlinkat"], "action": "SCMP_ACT_ERRNO"}
    ]));
    let out = env.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"made"), "{out}");
    assert!(lines.contains(&"rmdir-denied"), "{out}");
    assert_eq!(status_field(&out, "Seccomp"), "2", "{out}");
}

#[test]
fn filter_with_and_without_no_new_privileges() {
    let env = TestEnv::new("seccomp_nnp");
    // Without noNewPrivileges the kernel wants CAP_SYS_ADMIN to load a filter, which neither
    // the container's capabilities nor (for uid 1000) its user grant: the runtime must load
    // it before giving them up.
    for (nnp, uid) in [(true, 0), (false, 0), (true, 1000), (false, 1000)] {
        let mut b = sh_bundle(&env, MKDIR_SCRIPT);
        b.process()["noNewPrivileges"] = json!(nnp);
        b.process()["user"] = json!({"uid": uid, "gid": uid});
        b.linux()["seccomp"] = allow_all_but(json!([
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
        ]));
        let out = env.run(&b);
        let case = format!("noNewPrivileges {nnp}, uid {uid}: {out:#?}");
        assert!(out.success(), "{case}");
        assert!(!out.stdout.contains("made"), "{case}");
        assert_contains(&out.stderr, "Operation not permitted");
        assert_eq!(status_field(&out.stdout, "Seccomp"), "2", "{case}");
        let want = if nnp { "1" } else { "0" };
        assert_eq!(status_field(&out.stdout, "NoNewPrivs"), want, "{case}");
    }
}

/// Runs `bundle` with `berth --debug --log <file> run` and returns the result and the log.
fn run_with_debug_log(env: &TestEnv, bundle: &Bundle) -> (Out, String) {
    bundle.save();
    let id = env.id();
    let log = env.dir.join(format!("{id}.log"));
    let args = ["run", "--bundle", bundle.path_str(), &id];
    let mut cmd = env.rt.command();
    cmd.arg("--debug").arg("--log").arg(&log).args(args);
    let out = env
        .rt
        .spawn_with(cmd.stdin(std::process::Stdio::null()), &args)
        .wait();
    (out, std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn unknown_syscall_names_are_skipped_with_a_debug_log() {
    let env = TestEnv::new("seccomp_unknown_name");
    let mut b = sh_bundle(&env, MKDIR_SCRIPT);
    b.linux()["seccomp"] = allow_all_but(json!([
        {"names": ["mkdir", "berth_no_such_syscall", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
    ]));
    let (out, log) = run_with_debug_log(&env, &b);
    out.assert_ok("run");
    // the known names of the same entry are still denied
    assert!(!out.stdout.contains("made"), "{out:#?}");
    assert_contains(&out.stderr, "Operation not permitted");
    assert_contains(&log, "berth_no_such_syscall");
}

#[test]
fn unknown_action_or_operator_is_an_error_naming_the_entry() {
    let env = TestEnv::new("seccomp_unknown_action");
    let bad_action = allow_all_but(json!([
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["mkdir"], "action": "SCMP_ACT_BERTH_NONE"}
    ]));
    let bad_op = allow_all_but(json!([{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_BERTH_NONE"}]}]));
    for (profile, path) in [
        (bad_action, "linux.seccomp.syscalls[1].action"),
        (bad_op, "linux.seccomp.syscalls[0].args[0].op"),
    ] {
        let mut b = env.bundle(&["true"]);
        b.linux()["seccomp"] = profile;
        b.save();
        let id = env.id();
        let out = env.rt.run_cmd(&["run", "--bundle", b.path_str(), &id]);
        out.assert_fails_naming(&["BERTH_NONE"]);
        assert!(env.rt.state(&id).is_none(), "{id} left behind");
        if !integration_tests::is_runc() {
            assert_contains(&out.stderr, path);
        }
    }
}

#[test]
fn notified_mkdir_is_answered_by_the_agent() {
    let env = TestEnv::new("seccomp_notify");
    let sock = env.dir.join("agent.sock");
    // One refused with a chosen errno, one faked as done, the rest run for real.
    let agent = notify_agent::start(&sock, |n| {
        let path = if i64::from(n.nr) == libc::SYS_mkdir {
            0
        } else {
            1
        };
        match n.read_str(path).as_deref() {
            Some("/tmp/refused") => Answer::Errno(libc::EDQUOT),
            Some("/tmp/faked") => Answer::Value(0),
            _ => Answer::Continue,
        }
    });
    let mut b = sh_bundle(
        &env,
        "mkdir /tmp/refused || echo refused; mkdir /tmp/faked && echo faked; \
         test -d /tmp/faked || echo faked-absent; mkdir /tmp/real && test -d /tmp/real && echo real",
    );
    b.linux()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "berth-it metadata",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["run", "--bundle", b.path_str(), &id]);
    assert_eq!(agent.error(), None);
    out.assert_ok("run");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        ["refused", "faked", "faked-absent", "real"],
        "{out:#?}"
    );
    assert_contains(&out.stderr, "Disk quota exceeded");
    assert_eq!(
        agent.notifications().len(),
        3,
        "{:?}",
        agent.notifications()
    );

    // runtime-spec "seccomp state"
    let st = agent.state();
    assert_eq!(st["fds"], json!(["seccompFd"]), "{st}");
    assert_eq!(st["metadata"], "berth-it metadata", "{st}");
    assert!(
        st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "{st}"
    );
    assert!(st["pid"].as_i64().is_some_and(|p| p > 0), "{st}");
    let state = &st["state"];
    assert_eq!(state["id"], id, "{st}");
    assert_eq!(state["pid"], st["pid"], "{st}");
    assert_eq!(state["bundle"], b.path_str(), "{st}");
    assert!(
        state["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "{st}"
    );
    let status = state["status"].as_str().unwrap_or_default();
    assert!(["creating", "created", "running"].contains(&status), "{st}");
}
