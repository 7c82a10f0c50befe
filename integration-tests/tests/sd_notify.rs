//! NOTIFY_SOCKET (sd_notify), with the test playing systemd: it binds the host's datagram
//! socket, runs the runtime with NOTIFY_SOCKET naming it, and a static helper in the container
//! sends READY=1 to the container's own socket. `run` (detached or not) and `start` return
//! only once READY=1 was relayed, with MAINPID as runc sets it.

use integration_tests::runtime::Running;
use integration_tests::sd::{install_fixture, main_pids, share_dir, HostNotify};
use integration_tests::{host, poll, skip_for_runc, Bundle, TestEnv, STATE_TIMEOUT};
use std::process::Stdio;

/// The container waits for /shared/go (so the test sees the runtime still waiting), writes
/// its environment and mounts to /shared, sends `message`, then sleeps as pid 1.
fn gated_bundle(env: &TestEnv, message: &str) -> (Bundle, std::path::PathBuf) {
    let script = format!(
        "env > /shared/env; cat /proc/self/mountinfo > /shared/mounts; \
         while [ ! -e /shared/go ]; do usleep 10000; done; \
         sdfx notify '{message}' || exit 9; exec sleep 1000"
    );
    let mut bundle = env.bundle(&["sh", "-c", &script]);
    let shared = share_dir(&mut bundle);
    install_fixture(&bundle);
    bundle.save();
    (bundle, shared)
}

fn spawn_with_notify(env: &TestEnv, value: &str, args: &[&str]) -> Running {
    let mut cmd = env.rt.command();
    cmd.env("NOTIFY_SOCKET", value)
        .args(args)
        .stdin(Stdio::null());
    env.rt.spawn_with(&mut cmd, args)
}

/// The test playing systemd: a test environment and the host's notify socket, which every
/// command it spawns names in NOTIFY_SOCKET.
struct Systemd {
    /// Declared first, so dropped first: its socket lives in the environment's directory.
    host: HostNotify,
    env: TestEnv,
}

impl Systemd {
    fn new(name: &str) -> Self {
        let env = TestEnv::new(name);
        Systemd {
            host: HostNotify::bind(&env),
            env,
        }
    }

    fn new_abstract(name: &str) -> Self {
        let env = TestEnv::new(name);
        Systemd {
            host: HostNotify::bind_abstract(&env),
            env,
        }
    }

    fn spawn(&self, args: &[&str]) -> Running {
        spawn_with_notify(&self.env, &self.host.value, args)
    }

    /// `run` of `bundle` as `id`, detached or not.
    fn run(&self, detach: bool, bundle: &Bundle, id: &str) -> Running {
        let mut args = vec!["run", "--bundle", bundle.path_str(), id];
        if detach {
            args.insert(1, "-d");
        }
        self.spawn(&args)
    }

    /// `create` of `bundle` as `id`, which must succeed and relay nothing (the init has not
    /// started).
    fn create(&self, bundle: &Bundle, id: &str) {
        self.spawn(&["create", "--bundle", bundle.path_str(), id])
            .wait()
            .assert_ok("create");
        assert!(self.host.queued_lines().is_empty(), "create relayed");
    }

    /// Asserts nothing reached the host's socket.
    fn assert_nothing_relayed(&self) {
        let lines = self.host.queued_lines();
        assert!(lines.is_empty(), "relayed without READY: {lines:?}");
    }
}

/// Waits until a `gated_bundle` container wrote its mounts: it runs, and waits for /shared/go.
fn wait_until_running(shared: &std::path::Path) {
    poll(STATE_TIMEOUT, "the container to start", || {
        shared.join("mounts").exists().then_some(())
    });
}

/// Whether `sig` is in the `field` mask (`SigCgt:`, `SigBlk:`) of process `pid`'s status.
fn signal_in_mask(pid: impl std::fmt::Display, field: &str, sig: i32) -> Option<()> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mask = status.lines().find_map(|l| l.strip_prefix(field))?;
    let mask = u64::from_str_radix(mask.trim(), 16).ok()?;
    (mask & (1 << (sig - 1)) != 0).then_some(())
}

/// Lets the container notify once the runtime is seen waiting, then checks the runtime returns
/// with READY=1 and MAINPID already at the host: it relayed before it returned.
fn release_and_check(sd: &Systemd, running: Running, shared: &std::path::Path, id: &str) {
    wait_until_running(shared);
    assert!(sd.host.queued_lines().is_empty(), "relayed before READY=1");
    std::fs::write(shared.join("go"), "").unwrap();
    running.wait().assert_ok("the notifying command");
    let lines = sd.host.queued_lines();
    assert!(
        lines.iter().any(|l| l == "READY=1"),
        "no READY=1 at the host when the runtime returned: {lines:?}"
    );
    let pid = sd.env.wait_status(id, "running")["pid"].to_string();
    assert_eq!(main_pids(&lines), [pid], "MAINPID: {lines:?}");
}

#[test]
fn run_detached_returns_after_ready_with_the_inits_pid_as_mainpid() {
    let sd = Systemd::new("sd-run-d");
    // A fake MAINPID of the container's is never passed on.
    let (bundle, shared) = gated_bundle(&sd.env, "READY=1\nMAINPID=1");
    let id = sd.env.id();
    release_and_check(&sd, sd.run(true, &bundle, &id), &shared, &id);
    // The container sees its own socket, read-only, at runc's path.
    let env_text = std::fs::read_to_string(shared.join("env")).unwrap();
    assert!(
        env_text
            .lines()
            .any(|l| l == "NOTIFY_SOCKET=/run/notify/notify.sock"),
        "{env_text}"
    );
    let mounts = std::fs::read_to_string(shared.join("mounts")).unwrap();
    let m = integration_tests::mount_at(&mounts, "/run/notify").expect("/run/notify mounted");
    assert!(
        m.has("ro") && m.has("nosuid") && m.has("noexec") && m.has("nodev"),
        "{m:?}"
    );
}

#[test]
fn start_returns_after_ready() {
    let sd = Systemd::new("sd-start");
    let (bundle, shared) = gated_bundle(&sd.env, "READY=1");
    let id = sd.env.id();
    sd.create(&bundle, &id);
    release_and_check(&sd, sd.spawn(&["start", &id]), &shared, &id);
}

#[test]
fn an_abstract_notify_socket_is_relayed_to() {
    let sd = Systemd::new_abstract("sd-abstract");
    let (bundle, shared) = gated_bundle(&sd.env, "READY=1");
    let id = sd.env.id();
    release_and_check(&sd, sd.run(true, &bundle, &id), &shared, &id);
}

/// In the foreground the runtime itself is what the service manager watches (runc sends its
/// own pid), and it exits with the container.
#[test]
fn foreground_run_reports_its_own_pid_and_the_containers_exit() {
    let sd = Systemd::new("sd-run-fg");
    let mut bundle = sd
        .env
        .bundle(&["sh", "-c", "sdfx notify READY=1 || exit 9; exit 7"]);
    install_fixture(&bundle);
    bundle.process()["env"]
        .as_array_mut()
        .unwrap()
        .push("NOTIFY_SOCKET=/elsewhere".into());
    bundle.save();
    let running = sd.run(false, &bundle, &sd.env.id());
    let runtime_pid = running.pid().to_string();
    let out = running.wait();
    assert_eq!(out.code(), Some(7), "{out:#?}");
    let lines = sd.host.queued_lines();
    assert!(lines.iter().any(|l| l == "READY=1"), "{lines:?}");
    assert_eq!(main_pids(&lines), [runtime_pid], "{lines:?}");
}

/// runc polls /proc/<init> and, when the init is its own unreaped child (run, -d or not),
/// never sees it go: it hangs. berth watches a pidfd.
#[test]
fn an_init_that_exits_before_ready_ends_the_wait() {
    let sd = Systemd::new("sd-exit-early");
    if skip_for_runc("runc's run waits forever for READY=1 from an init that exited") {
        return;
    }
    let bundle = sd.env.bundle(&["sh", "-c", "exit 5"]);
    bundle.save();
    for detach in [false, true] {
        let id = sd.env.id();
        let out = sd.run(detach, &bundle, &id).wait();
        assert_eq!(out.code(), Some(if detach { 0 } else { 5 }), "{out:#?}");
        sd.env.rt.run_cmd(&["delete", "--force", &id]);
    }
    let id = sd.env.id();
    sd.create(&bundle, &id);
    sd.spawn(&["start", &id])
        .wait()
        .assert_ok("start of an init that exits before READY=1");
    sd.assert_nothing_relayed();
}

/// A hostile container: a flood of other lines, an oversized datagram, fds passed with
/// SCM_RIGHTS, its own MAINPID, fd-store and watchdog lines. Only READY=1 (with its STATUS)
/// and the runtime's MAINPID reach the host.
#[test]
fn only_ready_and_the_runtimes_mainpid_reach_the_host() {
    let sd = Systemd::new("sd-hostile");
    let bundle = sd
        .env
        .bundle(&["sh", "-c", "sdfx hostile || exit 9; exec sleep 1000"]);
    install_fixture(&bundle);
    bundle.save();
    let id = sd.env.id();
    sd.run(true, &bundle, &id).wait().assert_ok("run -d");
    let lines = sd.host.queued_lines();
    let pid = sd.env.wait_status(&id, "running")["pid"].to_string();
    assert_eq!(main_pids(&lines), [pid], "{lines:?}");
    let unexpected: Vec<&String> = lines
        .iter()
        .filter(|l| {
            !(l.starts_with("READY=1") || l.starts_with("MAINPID=") || l.starts_with("STATUS="))
        })
        .collect();
    assert!(unexpected.is_empty(), "passed on: {unexpected:?}");
    if !skip_for_runc("runc reads the first 4096 bytes of an oversized datagram as READY=1") {
        assert!(lines.iter().any(|l| l == "STATUS=hostile"), "{lines:?}");
    }
}

#[test]
fn an_unusable_notify_socket_is_refused_and_nothing_is_left() {
    let env = TestEnv::new("sd-bad");
    if skip_for_runc("runc only reaches NOTIFY_SOCKET after starting the container") {
        return;
    }
    let file = env.dir.join("not-a-socket");
    std::fs::write(&file, "").unwrap();
    let unbound = env.dir.join("gone.sock");
    drop(std::os::unix::net::UnixDatagram::bind(&unbound).unwrap());
    let stream = env.dir.join("stream.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&stream).unwrap();
    let long = format!("/{}", "x".repeat(120));
    let values = [
        "relative/notify.sock".to_string(),
        long,
        file.to_string_lossy().into_owned(),
        env.dir.join("missing.sock").to_string_lossy().into_owned(),
        unbound.to_string_lossy().into_owned(),
        stream.to_string_lossy().into_owned(),
        "@".to_string(),
    ];
    let bundle = env.bundle(&["true"]);
    bundle.save();
    for value in &values {
        for cmd in ["create", "run"] {
            let id = env.id();
            let out =
                spawn_with_notify(&env, value, &[cmd, "--bundle", bundle.path_str(), &id]).wait();
            out.assert_fails_naming(&["NOTIFY_SOCKET"]);
            host::assert_nothing_left(&env.rt.root, &id, &bundle.dir);
        }
    }
}

/// runc fails too (its bind of the missing notify directory), without naming NOTIFY_SOCKET.
#[test]
fn start_with_notify_socket_of_a_container_created_without_is_refused() {
    let sd = Systemd::new("sd-start-only");
    let bundle = sd.env.bundle(&["true"]);
    let id = sd.env.create(&bundle);
    let out = sd.spawn(&["start", &id]).wait();
    assert!(!out.success(), "{out:#?}");
    if !skip_for_runc("runc's error names its bind, not NOTIFY_SOCKET") {
        out.assert_fails_naming(&["NOTIFY_SOCKET"]);
    }
    sd.env.wait_status(&id, "created");
}

/// A foreground `run` waiting for READY=1 forwards the signals it gets to the container (runc
/// queues them until READY=1, which this container never sends: runc waits forever).
#[test]
fn foreground_run_forwards_signals_while_it_waits_for_ready() {
    let sd = Systemd::new("sd-run-fg-signal");
    if skip_for_runc("runc forwards signals only once READY=1 came") {
        return;
    }
    let bundle = sd.env.bundle(&[
        "sh",
        "-c",
        "trap 'exit 42' TERM; while true; do usleep 10000; done",
    ]);
    bundle.save();
    let id = sd.env.id();
    let running = sd.run(false, &bundle, &id);
    let pid = running.pid();
    // The container's shell must have set its trap first: a SIGTERM forwarded before that
    // reaches a pid 1 without a handler, which ignores it, and the run never ends.
    poll(
        STATE_TIMEOUT,
        "the container's shell to catch SIGTERM",
        || {
            let state = sd.env.rt.state(&id)?;
            let init = state.get("pid")?.as_i64().filter(|p| *p > 0)?;
            signal_in_mask(init, "SigCgt:", libc::SIGTERM)
        },
    );
    // The runtime blocks SIGTERM once it waits for READY=1 (it reads it from a signalfd).
    poll(
        STATE_TIMEOUT,
        "the runtime to wait with SIGTERM blocked",
        || signal_in_mask(pid, "SigBlk:", libc::SIGTERM),
    );
    // SAFETY: kill(2) of the runtime process this test spawned.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
    let out = running.wait();
    assert_eq!(out.code(), Some(42), "{out:#?}");
    sd.assert_nothing_relayed();
}

/// `start` waits for READY=1 without the container's lock: `delete --force` of a container
/// that never gets ready is not kept waiting, and ends the wait.
#[test]
fn delete_is_not_blocked_by_a_start_waiting_for_ready() {
    let sd = Systemd::new("sd-delete-while-waiting");
    let (bundle, shared) = gated_bundle(&sd.env, "READY=1");
    let id = sd.env.id();
    sd.create(&bundle, &id);
    let start = sd.spawn(&["start", &id]);
    wait_until_running(&shared);
    sd.env
        .rt
        .run_cmd(&["delete", "--force", &id])
        .assert_ok("delete --force while start waits");
    start.wait().assert_ok("start, once the init is gone");
    sd.assert_nothing_relayed();
    host::assert_nothing_left(&sd.env.rt.root, &id, &bundle.dir);
}

/// With a user namespace the container's root (100000 on the host) cannot traverse the 0700
/// state root: berth hands its init a detached copy of the notify directory alone. READY=1
/// is relayed, the container sees only the socket there, read-only, and the state root
/// stays the runtime's.
#[test]
fn ready_is_relayed_from_a_container_with_a_user_namespace() {
    use std::os::unix::fs::PermissionsExt;
    let sd = Systemd::new("sd-userns");
    let env = &sd.env;
    let (mut bundle, shared) = gated_bundle(env, "READY=1");
    bundle.add_namespace("user", None);
    let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    bundle.linux()["uidMappings"] = map.clone();
    bundle.linux()["gidMappings"] = map;
    // The rootfs is root's, so the container's root can make no mount point in it: /shared
    // is made here, /run is a tmpfs of the container's own (as engines mount it).
    bundle.add_mount(serde_json::json!({
        "destination": "/run",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=755"],
    }));
    bundle.save();
    for dir in ["shared", "run"] {
        std::fs::create_dir(bundle.rootfs().join(dir)).expect("a mount point in the rootfs");
    }
    let open = std::fs::Permissions::from_mode(0o777);
    std::fs::set_permissions(&shared, open).expect("chmod the shared dir");
    let id = env.id();
    let running = sd.run(true, &bundle, &id);
    release_and_check(&sd, running, &shared, &id);
    let mounts = std::fs::read_to_string(shared.join("mounts")).unwrap();
    let m = integration_tests::mount_at(&mounts, "/run/notify").expect("/run/notify mounted");
    assert!(
        m.has("ro") && m.has("nosuid") && m.has("noexec") && m.has("nodev"),
        "{m:?}"
    );
    let ls = env.rt.run_cmd(&["exec", &id, "ls", "-A", "/run/notify"]);
    ls.assert_ok("exec ls");
    assert_eq!(ls.stdout.trim(), "notify.sock", "{ls:#?}");
    let uid_map = env.rt.run_cmd(&["exec", &id, "cat", "/proc/self/uid_map"]);
    assert_eq!(
        uid_map.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"],
        "not in its user namespace: {uid_map:#?}"
    );
    let mode = std::fs::metadata(&env.rt.root)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "the state root was opened up");
}
