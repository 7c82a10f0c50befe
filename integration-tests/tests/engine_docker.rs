//! Docker (dockerd 20.10, /usr/bin/docker) driving the runtime under test, added with
//! `--add-runtime berth=<bin>` and made the default. Each test runs its own dockerd (and the
//! containerd it manages) with every root, socket and pid file under an `EngineDir`, no
//! networking of its own (`--iptables=false --bridge=none`) and a cgroup parent of its own, so
//! the tests run in parallel with each other and with the other engines' suites.
//!
//! What dockerd cannot be told to put elsewhere: containerd's shim sockets
//! (/run/containerd/s/<hash of our containerd's address>, removed with each shim) and the empty
//! plugin discovery dir /run/docker/plugins.
//!
//! The image is `docker import` of the busybox rootfs (no registry here); its containers are
//! checked from inside (cgroup files, /proc) and through what docker reports (exit codes, top,
//! logs).

use integration_tests::engines::{busybox_rootfs_tar, engine_runtime, Daemon, EngineDir};
use integration_tests::{assert_contains, host, poll};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The client matching dockerd 20.10 (/usr/local/bin/docker is an unrelated newer one).
const DOCKER: &str = "/usr/bin/docker";
const IMAGE: &str = "busybox:berth";
/// How long one docker command may take on a loaded 2-core machine before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a state change (a paused counter resuming) may take.
const STATE_TIMEOUT: Duration = Duration::from_secs(30);

static CALLS: AtomicU32 = AtomicU32::new(0);

/// What one docker (or `script`) command did.
#[derive(Debug)]
struct Out {
    args: String,
    status: ExitStatus,
    stdout: String,
    #[allow(dead_code)] // shown (Debug) when a check fails
    stderr: String,
}

impl Out {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn success(&self) -> bool {
        self.status.success()
    }
}

/// One dockerd with its managed containerd, all state under `dir`; torn down (containers
/// removed, daemon stopped, cgroup parent removed) on drop, or checked clean by `finish`.
struct Docker {
    // Declared before `dir`: stopped before the dir goes.
    daemon: Option<Daemon>,
    dir: EngineDir,
    sock: PathBuf,
    exec_root: PathBuf,
    log: PathBuf,
    /// `--cgroup-parent`: the containers' cgroups are /<parent>/<id> in every hierarchy.
    cgroup_parent: String,
}

impl Docker {
    fn start(test: &str) -> Self {
        let dir = EngineDir::new(&format!("docker-{test}"));
        let d = dir.path.clone();
        let sock = d.join("docker.sock");
        let exec_root = d.join("x");
        let log = d.join("dockerd.log");
        let config = d.join("daemon.json");
        // Not /etc/docker/key.json, where dockerd writes its trust key otherwise (a setting with
        // no flag).
        let settings = serde_json::json!({ "deprecated-key-path": d.join("key.json") });
        std::fs::write(&config, settings.to_string()).expect("writing daemon.json");
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        let cgroup_parent = format!("berth-{name}");
        let runtime = runtime();
        let mut cmd = Command::new("dockerd");
        cmd.arg("--iptables=false")
            .arg("--bridge=none")
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(&exec_root)
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            // Not /etc/docker/daemon.json.
            .arg("--config-file")
            .arg(&config)
            .arg("--add-runtime")
            .arg(format!("berth={}", runtime.display()))
            .arg("--default-runtime")
            .arg("berth")
            .arg("--cgroup-parent")
            .arg(format!("/{cgroup_parent}"));
        let ready_sock = sock.clone();
        let daemon = Daemon::start("dockerd", &mut cmd, &log, move || {
            std::os::unix::net::UnixStream::connect(&ready_sock).is_ok()
        });
        let docker = Self {
            daemon: Some(daemon),
            dir,
            sock,
            exec_root,
            log,
            cgroup_parent,
        };
        let tar = busybox_rootfs_tar(&docker.dir.path);
        docker.ok(&["import", tar.to_str().unwrap(), IMAGE]);
        docker
    }

    /// Runs `docker args...` with `input` on its stdin, kept open until it exits; panics,
    /// with the logs, if it does not finish in time.
    fn run(&self, args: &[&str], input: Option<&str>) -> Out {
        let what = format!("docker {}", args.join(" "));
        let mut cmd = Command::new(DOCKER);
        cmd.args(args);
        self.spawn(cmd, &what, input).unwrap_or_else(|| {
            let logs = self.diagnostics();
            panic!("{what} did not finish within {COMMAND_TIMEOUT:?}\n{logs}")
        })
    }

    /// Like `run`, None (the command killed) if it does not finish: for the teardown, which
    /// must not panic while a failed test unwinds.
    fn try_run(&self, args: &[&str]) -> Option<Out> {
        let mut cmd = Command::new(DOCKER);
        cmd.args(args);
        self.spawn(cmd, &format!("docker {}", args.join(" ")), None)
    }

    /// Runs `shell_cmd` (which calls docker) on a terminal made by `script`, feeding it `input`;
    /// `script -e` passes the command's exit code through.
    fn script(&self, shell_cmd: &str, input: &str) -> Out {
        let mut cmd = Command::new("script");
        cmd.args(["-qec", shell_cmd, "/dev/null"]);
        let what = format!("script -qec {shell_cmd:?}");
        self.spawn(cmd, &what, Some(input)).unwrap_or_else(|| {
            let logs = self.diagnostics();
            panic!("{what} did not finish within {COMMAND_TIMEOUT:?}\n{logs}")
        })
    }

    /// Runs `cmd` against this daemon, bounded by COMMAND_TIMEOUT (None: it was killed).
    fn spawn(&self, mut cmd: Command, what: &str, input: Option<&str>) -> Option<Out> {
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        let stdout = self.dir.path.join(format!("cmd{n}.out"));
        let stderr = self.dir.path.join(format!("cmd{n}.err"));
        let file = |p: &Path| std::fs::File::create(p).expect("creating an output file");
        cmd.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            // Not /root/.docker.
            .env("DOCKER_CONFIG", self.dir.path.join("client"))
            .stdin(Stdio::piped())
            .stdout(file(&stdout))
            .stderr(file(&stderr));
        let mut child = Killed(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("starting {what}: {e}")),
        );
        let mut stdin = child.0.stdin.take().expect("piped stdin");
        if let Some(text) = input {
            stdin.write_all(text.as_bytes()).expect("writing stdin");
        }
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = child.0.try_wait().expect("waiting for a command") {
                break status;
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        drop(stdin);
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        Some(Out {
            args: what.to_owned(),
            status,
            stdout: read(&stdout),
            stderr: read(&stderr),
        })
    }

    /// `docker args...`, which must succeed; returns its stdout.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        self.check(out.success(), &out, "to succeed");
        out.stdout
    }

    /// Panics with the command's output, the daemon's and the runtime's logs unless `cond`.
    #[track_caller]
    fn check(&self, cond: bool, out: &Out, expected: &str) {
        if !cond {
            panic!(
                "expected {:?} {expected}, got {out:#?}\n{}",
                out.args,
                self.diagnostics()
            );
        }
    }

    /// `docker inspect -f FORMAT name`, trimmed.
    fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, name]).trim().to_owned()
    }

    /// The daemon's log and every runtime log (the shim passes `--log <bundle>/log.json`) of
    /// containers still known to containerd.
    fn diagnostics(&self) -> String {
        let mut text = String::new();
        let daemon_log = std::fs::read_to_string(&self.log).unwrap_or_default();
        // Without the gRPC and plugin-loading chatter of every start.
        let tail: Vec<&str> = daemon_log
            .lines()
            .rev()
            .filter(|l| !l.contains("module=grpc") && !l.contains("loading plugin"))
            .take(80)
            .collect();
        let _ = writeln!(text, "--- dockerd log (last 80 lines):");
        for line in tail.iter().rev() {
            let _ = writeln!(text, "{line}");
        }
        let tasks = self
            .exec_root
            .join("containerd/daemon/io.containerd.runtime.v2.task/moby");
        for id in host::dir_entries(&tasks) {
            let log = tasks.join(&id).join("log.json");
            let runtime_log = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = writeln!(text, "--- runtime log {}:\n{runtime_log}", log.display());
        }
        text
    }

    /// Removes every container, stops the daemon and removes the cgroup parent; the names of
    /// what is left (cgroups, mounts), if anything.
    fn teardown(&mut self) -> Vec<String> {
        if self.daemon.is_none() {
            return Vec::new();
        }
        let ids = self.try_run(&["ps", "-aq"]).map(|o| o.stdout);
        let ids: Vec<&str> = ids.iter().flat_map(|s| s.split_whitespace()).collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            let _ = self.try_run(&args);
        }
        self.daemon.take();
        let mut left = Vec::new();
        for hierarchy in host::dir_entries(Path::new("/sys/fs/cgroup")) {
            let parent = Path::new("/sys/fs/cgroup")
                .join(hierarchy)
                .join(&self.cgroup_parent);
            for child in host::dir_entries(&parent) {
                let child = parent.join(child);
                if child.is_dir() {
                    left.push(child.display().to_string());
                }
            }
            if parent.exists() && std::fs::remove_dir(&parent).is_err() {
                left.push(parent.display().to_string());
            }
        }
        left.extend(host::mounts_under(&self.dir.path));
        left
    }

    /// The teardown, asserting the engine and runtime left nothing behind.
    fn finish(mut self) {
        let left = self.teardown();
        assert!(
            left.is_empty(),
            "left behind after dockerd stopped: {left:#?}"
        );
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let left = self.teardown();
        if !left.is_empty() {
            eprintln!("left behind after dockerd stopped: {left:#?}");
        }
    }
}

/// A child killed (and reaped) when dropped, e.g. by a panicking test.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The runtime dockerd is given, absolute: the daemon and its shims run it from other dirs
/// (BERTH_BIN may be relative to the workspace).
fn runtime() -> PathBuf {
    let bin = engine_runtime();
    std::fs::canonicalize(&bin).unwrap_or_else(|e| panic!("runtime {}: {e}", bin.display()))
}

/// What the counter container last wrote to its /count, read from the host through the
/// container's rootfs: synchronous (unlike `docker logs`, which dockerd copies behind) and
/// readable while paused. 0 while the file is being rewritten.
fn read_count(rootfs: &Path) -> u64 {
    let text = std::fs::read_to_string(rootfs.join("count")).unwrap_or_default();
    text.trim().parse().unwrap_or(0)
}

#[test]
fn run_rm_passes_the_exit_code_and_a_terminal_session() {
    let docker = Docker::start("run");

    let out = docker.run(&["run", "--rm", IMAGE, "sh", "-c", "exit 7"], None);
    docker.check(out.code() == Some(7), &out, "to exit 7 like its container");
    let left = docker.ok(&["ps", "-aq"]);
    assert!(left.trim().is_empty(), "--rm left containers: {left}");

    // --network none: a network namespace holding only the loopback device.
    let dev = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "cat",
        "/proc/net/dev",
    ]);
    let ifaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"], "/proc/net/dev with --network none:\n{dev}");

    // An interactive shell on a terminal: its input is typed in, it answers on a pty, and its
    // exit code comes back through `docker run` and `script`.
    let cmd = format!("{DOCKER} run -it --rm --network none {IMAGE} sh");
    let out = docker.script(&cmd, "echo hi $((6*7)); tty; exit 3\n");
    docker.check(out.code() == Some(3), &out, "to exit 3 like the shell");
    // The typed line is echoed unexpanded; only the shell prints the sum.
    assert_contains(&out.stdout, "hi 42");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.trim().starts_with("/dev/pts/")),
        "tty in the container is not a pty:\n{}",
        out.stdout
    );
    docker.finish();
}

#[test]
fn detached_container_exec_top_pause_stop_rm() {
    let docker = Docker::start("life");
    let name = "counter";
    // A counter in /count, ending with 42 on SIGTERM.
    let id = docker.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 42' TERM; i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.05; done",
    ]);
    let id = id.trim();
    assert_eq!(docker.inspect(name, "{{.HostConfig.Runtime}}"), "berth");
    let options = docker
        .exec_root
        .join("containerd/daemon/io.containerd.runtime.v2.task/moby")
        .join(id)
        .join("options.json");
    let options = std::fs::read_to_string(&options)
        .unwrap_or_else(|e| panic!("reading {}: {e}", options.display()));
    assert_contains(&options, &runtime().display().to_string());

    // exec joins the container (its pid 1 is the counter) and passes its exit code through.
    let cmdline = docker.ok(&["exec", name, "cat", "/proc/1/cmdline"]);
    assert_contains(&cmdline, "trap 'exit 42' TERM");
    let out = docker.run(&["exec", name, "sh", "-c", "exit 5"], None);
    docker.check(
        out.code() == Some(5),
        &out,
        "to exit 5 like the exec'd process",
    );

    let cmd = format!("{DOCKER} exec -it {name} sh -c 'tty; exit 4'");
    let out = docker.script(&cmd, "");
    docker.check(
        out.code() == Some(4),
        &out,
        "to exit 4 like the exec'd shell",
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.trim().starts_with("/dev/pts/")),
        "exec -it did not get a pty:\n{}",
        out.stdout
    );

    // top lists the container's processes, its init by its host pid.
    let pid = docker.inspect(name, "{{.State.Pid}}");
    let top = docker.ok(&["top", name]);
    assert!(
        top.lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some(pid.as_str())),
        "pid {pid} not in docker top:\n{top}"
    );

    // Paused, the counter stands still (frozen, read from the cgroup); unpaused, it goes on.
    let rootfs = PathBuf::from(docker.inspect(name, "{{.GraphDriver.Data.MergedDir}}"));
    poll(STATE_TIMEOUT, "the counter to start", || {
        (read_count(&rootfs) > 0).then_some(())
    });
    docker.ok(&["pause", name]);
    assert_eq!(docker.inspect(name, "{{.State.Status}}"), "paused");
    let freezer = Path::new("/sys/fs/cgroup/freezer")
        .join(&docker.cgroup_parent)
        .join(id)
        .join("freezer.state");
    let state = std::fs::read_to_string(&freezer).unwrap_or_default();
    assert_eq!(state.trim(), "FROZEN", "{}", freezer.display());
    let paused_at = read_count(&rootfs);
    // Time for ~10 counts, had the container not been frozen.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(read_count(&rootfs), paused_at, "counted while paused");
    docker.ok(&["unpause", name]);
    poll(STATE_TIMEOUT, "the counter to go on after unpause", || {
        (read_count(&rootfs) > paused_at).then_some(())
    });

    // The runtime keeps its state under the exec root (dockerd 20.10 passes --root
    // <exec-root>/runtime-runc/moby whatever the runtime).
    let state_dir = docker.exec_root.join("runtime-runc/moby");
    let states = host::dir_entries(&state_dir);
    assert!(
        states.iter().any(|s| s == id),
        "no state for {id} in {}: {states:?}",
        state_dir.display()
    );

    // stop delivers SIGTERM (the trap's exit code) and the container is gone after rm, with
    // its cgroup and the runtime's state.
    docker.ok(&["stop", "-t", "60", name]);
    assert_eq!(docker.inspect(name, "{{.State.ExitCode}}"), "42");
    docker.ok(&["rm", name]);
    let left = docker.ok(&["ps", "-aq"]);
    assert!(left.trim().is_empty(), "rm left containers: {left}");
    assert!(
        !freezer.parent().unwrap().exists(),
        "the container's cgroup outlived rm"
    );
    let states = host::dir_entries(&state_dir);
    assert!(states.is_empty(), "runtime state left after rm: {states:?}");
    docker.finish();
}

#[test]
fn memory_and_pids_limits_and_update() {
    let docker = Docker::start("limits");
    let name = "limited";
    docker.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let read = |file: &str| docker.ok(&["exec", name, "cat", file]).trim().to_owned();
    let memory = "/sys/fs/cgroup/memory/memory.limit_in_bytes";
    let pids = "/sys/fs/cgroup/pids/pids.max";
    assert_eq!(read(memory), (64 << 20).to_string());
    assert_eq!(read(pids), "50");

    // docker update goes through the runtime's `update` while the container runs.
    docker.ok(&["update", "--memory", "96m", "--pids-limit", "80", name]);
    assert_eq!(read(memory), (96 << 20).to_string());
    assert_eq!(read(pids), "80");
    docker.finish();
}
