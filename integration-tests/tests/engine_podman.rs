//! podman 4.3 driving the runtime (issue 5 item 3): `run --rm`, a detached container's whole
//! life (exec, exec -it, top, pause, update, stop, rm), cgroup limits seen from inside, and an
//! interactive `run -it` session, each asserted through what the container itself reports.
//!
//! Every test has its own podman world under an `EngineDir`: storage (--root/--runroot), libpod's
//! tmp dir, file locks, events log and network config, all named by a containers.conf passed
//! in CONTAINERS_CONF, and its own cgroup parent. podman never passes `--root` to the runtime,
//! so the runtime's default state root (/run/berth, /run/runc) is used: the tests check the
//! container's state is gone from it after `rm`.
//!
//! $ENGINE_RUNTIME=/usr/sbin/runc runs the same suite on runc.

use integration_tests::engines::{
    busybox_rootfs_tar, engine_runtime, EngineDir, PodmanConf, PodmanWorld, PODMAN_DRIVER,
};
use integration_tests::runtime::Running;
use integration_tests::{assert_contains, poll, unique_name, Out, Runtime, STATE_TIMEOUT};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/busybox";

/// One podman world; dropping it removes every container, then the cgroups conmon leaves in
/// the cgroup parent, then (through `EngineDir`) the storage.
struct Podman {
    dir: EngineDir,
    /// Runs the podman commands: its `--root` is podman's storage root.
    cli: Runtime,
    conf: PathBuf,
    storage_conf: PathBuf,
    /// A cgroup of our own (under every v1 hierarchy) for conmon and the containers, instead
    /// of the shared /libpod_parent, so that the suite can remove what it made.
    cgroup_parent: String,
}

impl Podman {
    fn new(test: &str) -> Self {
        let dir = EngineDir::new(&format!("podman-{test}"));
        let p = &dir.path;
        let cgroup_parent = format!("berth-{}", unique_name("podman"));
        let PodmanConf { conf, storage_conf } = PodmanConf::write(p, "berth", false);
        let cli = Runtime::new("podman".into(), p.join("storage"), p.join("out"));
        let podman = Self {
            dir,
            cli,
            conf,
            storage_conf,
            cgroup_parent,
        };
        let tar = busybox_rootfs_tar(&podman.dir.path);
        podman.ok(&["import", tar.to_str().unwrap(), IMAGE]);
        podman
    }

    /// The podman command line, quoted for `script -c` (which passes on its environment).
    fn shell_line(&self, args: &[&str]) -> String {
        let cmd = self.command();
        std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|w| w.to_string_lossy().into_owned())
            .chain(args.iter().map(|s| s.to_string()))
            .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[track_caller]
    fn assert_code(&self, out: &Out, code: i32) {
        if out.code() != Some(code) {
            panic!("expected exit {code}: {out:#?}\n{}", self.diagnostics());
        }
    }

    /// `podman run <opts>` of the image with the test's cgroup parent and no network.
    fn run_image(&self, opts: &[&str], cmd: &[&str]) -> Out {
        let mut args = vec!["run", "--network", "none"];
        args.extend(["--cgroup-parent", &self.cgroup_parent]);
        args.extend(opts);
        args.push(IMAGE);
        args.extend(cmd);
        self.run(&args)
    }

    /// `run -d` with the test's cgroup parent and no network; returns the container's id.
    fn run_detached(&self, opts: &[&str], cmd: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--network", "none"];
        args.extend(["--cgroup-parent", &self.cgroup_parent]);
        args.extend(opts);
        args.push(IMAGE);
        args.extend(cmd);
        self.ok(&args).trim().to_owned()
    }

    fn inspect(&self, id: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, id]).trim().to_owned()
    }

    /// The container's rootfs seen from the host (a plain directory with vfs).
    fn rootfs(&self, id: &str) -> PathBuf {
        PathBuf::from(self.ok(&["mount", id]).trim())
    }

    /// `script -eqc "podman args..."`: podman on a terminal of its own, its exit code passed
    /// through. For each (expect, send) of `dialogue`, waits until the terminal has shown
    /// `expect`, then types `send`.
    fn on_terminal(&self, args: &[&str], dialogue: &[(&str, &str)]) -> Out {
        let mut cmd = Command::new("script");
        cmd.args(["-eqc", &self.shell_line(args), "/dev/null"])
            .envs(self.command().get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::piped());
        let mut running: Running = self.cli.spawn_with(&mut cmd, args);
        let mut stdin = running.stdin().expect("script's stdin");
        for (expect, send) in dialogue {
            let deadline = Instant::now() + STATE_TIMEOUT;
            while !running.stdout_so_far().contains(expect) {
                if Instant::now() > deadline {
                    panic!(
                        "podman {args:?}: no {expect:?} on the terminal after {STATE_TIMEOUT:?}; \
                         it shows {:?}\n{}",
                        running.stdout_so_far(),
                        self.diagnostics()
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            stdin.write_all(send.as_bytes()).expect("writing to script");
        }
        drop(stdin);
        running.wait()
    }
}

impl PodmanWorld for Podman {
    fn command(&self) -> Command {
        let mut cmd = self.cli.command();
        cmd.arg("--runroot")
            .arg(self.dir.path.join("run"))
            .args(["--storage-driver", PODMAN_DRIVER])
            .args(["--cgroup-manager", "cgroupfs"])
            .args(["--runtime", "berth"])
            .env("CONTAINERS_CONF", &self.conf)
            .env("CONTAINERS_STORAGE_CONF", &self.storage_conf);
        cmd
    }
    fn cli(&self) -> &Runtime {
        &self.cli
    }
    fn dir(&self) -> &Path {
        &self.dir.path
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // try_wait: a timeout here must not panic again while a failed test unwinds.
        let args = ["rm", "--all", "--force", "--time", "0"];
        let rm = self
            .cli
            .spawn_with(self.command().args(args).stdin(Stdio::null()), &args);
        if rm.try_wait().is_none_or(|out| !out.success()) {
            eprintln!(
                "podman rm --all failed: containers may be left in {}",
                self.dir.path.display()
            );
        }
        remove_cgroup_parent(&self.cgroup_parent);
    }
}

/// Removes `/sys/fs/cgroup/<hierarchy>/<parent>` and what podman made in it (conmon's cgroup;
/// the containers' own the runtime removed). conmon may still be exiting: retried for a while.
fn remove_cgroup_parent(parent: &str) {
    fn rmdir_tree(dir: &Path) -> bool {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.filter_map(Result::ok) {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    rmdir_tree(&e.path());
                }
            }
        }
        std::fs::remove_dir(dir).is_ok() || !dir.exists()
    }
    for _ in 0..100 {
        let mut all = true;
        for h in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            all &= rmdir_tree(&h.path().join(parent));
        }
        if all {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("cgroup parent {parent} could not be removed");
}

/// Where the runtime podman drives keeps its state: podman passes no `--root`.
fn runtime_state_dir(id: &str) -> PathBuf {
    let rt = engine_runtime();
    let name = rt.file_name().unwrap().to_string_lossy().into_owned();
    Path::new("/run").join(name).join(id)
}

#[test]
fn run_rm_passes_the_exit_code_through() {
    let podman = Podman::new("run_rm");
    let out = podman.run_image(&["--rm"], &["sh", "-c", "echo nofile=$(ulimit -n); exit 7"]);
    podman.assert_code(&out, 7);
    // The configured default_ulimits reached the container's process.
    assert_contains(&out.stdout, "nofile=1024");
    assert_eq!(podman.ok(&["ps", "--all", "--quiet"]), "");
}

/// podman reads the runtime's error from its `--log-format=json` log and maps it to the
/// shell's codes: 127 for a program that does not exist, 126 for one that cannot run.
#[test]
fn runtime_errors_reach_podman_with_their_exit_codes() {
    let podman = Podman::new("exec_errors");
    for (program, code) in [("/nonexistent", 127), ("/etc/passwd", 126)] {
        let out = podman.run_image(&["--rm"], &[program]);
        podman.assert_code(&out, code);
        assert_contains(&out.stderr, program);
    }
    assert_eq!(podman.ok(&["ps", "--all", "--quiet"]), "");
}

#[test]
fn detached_container_lifecycle() {
    let podman = Podman::new("lifecycle");
    // A counter the test can watch from the host; TERM ends it with a code of its own, so the
    // stop shows the signal reached the container rather than podman's fallback SIGKILL.
    let script = "trap 'exit 3' TERM; i=0; while true; do i=$((i+1)); echo $i > /tmp/count; \
                  sleep 0.1; done";
    let id = podman.run_detached(
        &["--memory", "64m", "--pids-limit", "50"],
        &["sh", "-c", script],
    );
    assert_eq!(podman.inspect(&id, "{{.State.Status}}"), "running");

    let out = podman.run(&["exec", &id, "sh", "-c", "exit 5"]);
    podman.assert_code(&out, 5);
    let limits = podman.ok(&[
        "exec",
        &id,
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/pids/pids.max",
    ]);
    assert_eq!(limits, "67108864\n50\n");

    let tty = podman.on_terminal(&["exec", "-it", &id, "tty"], &[]);
    podman.assert_code(&tty, 0);
    assert_contains(&tty.stdout, "/dev/pts/");
    let tty_code = podman.on_terminal(&["exec", "-it", &id, "sh", "-c", "exit 6"], &[]);
    podman.assert_code(&tty_code, 6);

    let top = podman.ok(&["top", &id, "pid", "args"]);
    assert_contains(&top, "trap 'exit 3' TERM");
    assert_contains(
        &podman.ok(&["ps", "--format", "{{.ID}} {{.Status}}"]),
        "Up ",
    );

    pause_and_resume(&podman, &id);

    // podman 4.3's `update` changes cpu, memory and blkio, not the pids limit.
    podman.ok(&["update", "--memory", "96m", &id]);
    let memory = podman.ok(&[
        "exec",
        &id,
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]);
    assert_eq!(memory.trim(), "100663296");

    podman.ok(&["stop", "--time", "30", &id]);
    assert_eq!(podman.inspect(&id, "{{.State.Status}}"), "exited");
    assert_eq!(podman.inspect(&id, "{{.State.ExitCode}}"), "3");

    podman.ok(&["rm", &id]);
    assert_eq!(podman.ok(&["ps", "--all", "--quiet"]), "");
    let state = runtime_state_dir(&id);
    assert!(!state.exists(), "{} left after rm", state.display());
}

/// The value of the counter the container writes to /tmp/count, read from the host so that it
/// can be read while the container is paused.
fn counter(rootfs: &Path) -> u64 {
    let text = std::fs::read_to_string(rootfs.join("tmp/count")).unwrap_or_default();
    text.trim().parse().unwrap_or(0)
}

/// Waits until the counter moves past `from`; returns its value.
fn counter_passes(rootfs: &Path, from: u64) -> u64 {
    poll(STATE_TIMEOUT, "the container's counter to advance", || {
        let now = counter(rootfs);
        (now > from).then_some(now)
    })
}

fn pause_and_resume(podman: &Podman, id: &str) {
    let rootfs = podman.rootfs(id);
    let before = counter_passes(&rootfs, 0);
    counter_passes(&rootfs, before);
    podman.ok(&["pause", id]);
    assert_eq!(podman.inspect(id, "{{.State.Status}}"), "paused");
    let frozen = counter(&rootfs);
    // Not a synchronisation: long enough for several increments had it been running.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        counter(&rootfs),
        frozen,
        "the counter advanced while paused"
    );
    let out = podman.run(&["exec", id, "true"]);
    assert!(!out.success(), "exec into a paused container: {out:#?}");
    podman.ok(&["unpause", id]);
    assert_eq!(podman.inspect(id, "{{.State.Status}}"), "running");
    counter_passes(&rootfs, frozen);
}

#[test]
fn interactive_terminal_session() {
    let podman = Podman::new("run_it");
    let cgroup_parent = podman.cgroup_parent.clone();
    let out = podman.on_terminal(
        &[
            "run",
            "-it",
            "--rm",
            "--network",
            "none",
            "--cgroup-parent",
            &cgroup_parent,
            IMAGE,
            "sh",
        ],
        &[
            ("/ # ", "echo hi-$((6*7)); tty\n"),
            ("/dev/pts/", "exit 4\n"),
        ],
    );
    podman.assert_code(&out, 4);
    // The shell computed it: the terminal echo of the command line has no "hi-42".
    assert_contains(&out.stdout, "hi-42");
    assert_eq!(podman.ok(&["ps", "--all", "--quiet"]), "");
}

/// `podman run -d --sdnotify=container` (systemd units made by `podman generate systemd`):
/// READY=1 from the container reaches the NOTIFY_SOCKET podman was given, played here by the
/// test. podman 4.3 brings its own socket into the container's config (the test also passes
/// with a runtime stripped of NOTIFY_SOCKET), so this checks that berth's handling keeps that
/// path working; tests/sd_notify.rs checks berth's own relay.
#[test]
fn sdnotify_container_reaches_the_hosts_socket() {
    let p = Podman::new("sdnotify");
    let host_path = p.dir.path.join("host-notify.sock");
    let host_sock = std::os::unix::net::UnixDatagram::bind(&host_path).expect("binding");
    let fixture = p.dir.path.join("sdfx");
    std::fs::create_dir_all(&fixture).unwrap();
    integration_tests::sd::build_fixture(&fixture.join("sdfx"));
    let volume = format!("{}:/sdfx:ro", fixture.display());
    let mut args = vec!["run", "-d", "--network", "none", "--sdnotify=container"];
    args.extend(["--cgroup-parent", &p.cgroup_parent, "-v", &volume, IMAGE]);
    args.extend([
        "sh",
        "-c",
        "/sdfx/sdfx notify READY=1 || exit 9; exec sleep 1000",
    ]);
    let mut cmd = p.command();
    cmd.env("NOTIFY_SOCKET", &host_path)
        .args(&args)
        .stdin(Stdio::null());
    let out = p.cli.spawn_with(&mut cmd, &args).wait();
    if !out.success() {
        panic!("podman {args:?} failed: {out:#?}\n{}", p.diagnostics());
    }
    host_sock.set_nonblocking(true).unwrap();
    let mut lines = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = host_sock.recv(&mut buf) {
        lines.extend(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_owned),
        );
    }
    assert!(
        lines.iter().any(|l| l == "READY=1"),
        "no READY=1 at the host once podman returned: {lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("MAINPID=")), "{lines:?}");
    // The container's notify succeeded (sdfx exits 9 when NOTIFY_SOCKET is missing or
    // unreachable), so it still sleeps.
    let id = out.stdout.trim();
    assert_eq!(p.inspect(id, "{{.State.Running}}"), "true");
}
