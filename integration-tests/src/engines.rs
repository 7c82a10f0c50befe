//! What the engine suites (tests/engine_*.rs, `make engines`) share: the runtime the engine is
//! told to use, a temp world per suite, a daemon that is stopped even when a test panics, and
//! the busybox image every engine imports (none can pull one here).

use crate::bundle::Bundle;
use crate::poll;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where every engine suite's temp dir lives; apart from the integration suite's so that its
/// leak check never sees a daemon's files.
pub const ENGINE_TMP: &str = "/tmp/berth-engines";

/// The runtime binary the engine drives: $ENGINE_RUNTIME (e.g. /usr/sbin/runc, to prove a suite
/// tests the engine rather than berth's quirks), else the berth under test. Empty counts as
/// unset: an empty runtime path would fail every test for a reason that is not the engine's.
pub fn engine_runtime() -> PathBuf {
    match std::env::var_os("ENGINE_RUNTIME") {
        Some(bin) if !bin.is_empty() => PathBuf::from(bin),
        _ => crate::runtime_bin(),
    }
}

/// A suite's temp dir, removed on drop unless something is still mounted under it (then it is
/// left, and named, rather than letting `remove_dir_all` walk into a mounted filesystem).
pub struct EngineDir {
    pub path: PathBuf,
}

impl EngineDir {
    pub fn new(engine: &str) -> Self {
        let path = Path::new(ENGINE_TMP).join(crate::unique_name(engine));
        std::fs::create_dir_all(&path).expect("creating the engine's temp dir");
        Self { path }
    }
}

impl Drop for EngineDir {
    fn drop(&mut self) {
        let mounts = crate::host::mounts_under(&self.path);
        if mounts.is_empty() {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            eprintln!("leaving {}: still mounted {mounts:?}", self.path.display());
        }
    }
}

/// A daemon process, stopped with SIGTERM (then SIGKILL) when dropped, so its containers and
/// mounts are torn down by the daemon itself before the temp dir goes.
pub struct Daemon {
    name: String,
    child: Child,
}

impl Daemon {
    /// Starts `cmd` with its output in `log` and waits until `ready` holds.
    pub fn start(name: &str, cmd: &mut Command, log: &Path, ready: impl Fn() -> bool) -> Self {
        let out = std::fs::File::create(log).expect("creating the daemon's log");
        let err = out.try_clone().expect("cloning the log fd");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let mut daemon = Self {
            name: name.to_owned(),
            child,
        };
        poll(
            Duration::from_secs(60),
            &format!("{name} to be ready"),
            || {
                if let Ok(Some(status)) = daemon.child.try_wait() {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    panic!("{name} exited with {status} before it was ready:\n{text}");
                }
                ready().then_some(())
            },
        );
        daemon
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..300 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{} ignored SIGTERM for 30 s; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tar of the busybox rootfs the integration bundles use (with /etc/passwd and /etc/group),
/// for `podman import` or a hand-built image; made once per suite in `dir`.
pub fn busybox_rootfs_tar(dir: &Path) -> PathBuf {
    let bundle = Bundle::new(&dir.join("image-bundle"), &["true"]);
    let tar = dir.join("busybox-rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(bundle.rootfs())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("running tar");
    assert!(status.success(), "tar of the busybox rootfs failed");
    tar
}

/// The config files of one podman world under `dir`, named in CONTAINERS_CONF and
/// CONTAINERS_STORAGE_CONF.
pub struct PodmanConf {
    pub conf: PathBuf,
    pub storage_conf: PathBuf,
}

impl PodmanConf {
    /// Writes them: events log, file locks (the default shm segment /dev/shm/libpod_lock is
    /// shared by every podman on the host), libpod's tmp dir, volumes, network config and the
    /// vfs storage (a plain copy per container, so nothing stays mounted after a failed test)
    /// all under `dir`; conmon, the cgroupfs manager, and the runtime under test as `runtime`.
    /// Root podman asks for nofile/nproc 1048576, which a machine without CAP_SYS_RESOURCE
    /// cannot grant: its default ulimits are lowered. Rootless podman keeps its storage here too.
    pub fn write(dir: &Path, runtime: &str, rootless: bool) -> Self {
        let p = dir.display();
        let containers = if rootless {
            String::new()
        } else {
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n".into()
        };
        let conf = dir.join("containers.conf");
        std::fs::write(
            &conf,
            format!(
                r#"{containers}[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{p}/events.log"
lock_type = "file"
tmp_dir = "{p}/libpod-tmp"
volume_path = "{p}/volumes"
conmon_path = ["/usr/bin/conmon"]
runtime = "{runtime}"
runtime_supports_json = ["{runtime}"]
[engine.runtimes]
{runtime} = ["{rt}"]
[network]
network_config_dir = "{p}/networks"
"#,
                rt = engine_runtime().display(),
            ),
        )
        .expect("writing containers.conf");
        let rootless_storage = if rootless {
            format!("rootless_storage_path = \"{p}/storage\"\n")
        } else {
            String::new()
        };
        let storage_conf = dir.join("storage.conf");
        std::fs::write(
            &storage_conf,
            format!(
                "[storage]\ndriver = \"{PODMAN_DRIVER}\"\ngraphroot = \"{p}/storage\"\n\
                 runroot = \"{p}/run\"\n{rootless_storage}"
            ),
        )
        .expect("writing storage.conf");
        Self { conf, storage_conf }
    }
}

/// The storage driver of the podman suites (see `PodmanConf::write`).
pub const PODMAN_DRIVER: &str = "vfs";

/// What a podman world under `dir` tells about a failure: the runtime's log of every container
/// still stored (podman passes `--log` to a runtime named in runtime_supports_json) and the
/// newest podman events, enough to tell from a CI log alone which step failed and why.
pub fn podman_diagnostics(dir: &Path) -> String {
    let mut text = String::new();
    for log in find_files(dir, "oci-log") {
        let body = std::fs::read_to_string(&log).unwrap_or_default();
        text += &format!("--- runtime log {}:\n{body}\n", log.display());
    }
    let events = std::fs::read_to_string(dir.join("events.log")).unwrap_or_default();
    let tail: Vec<&str> = events.lines().rev().take(20).collect();
    text + "--- podman events (newest first):\n" + &tail.join("\n")
}

/// The files called `name` under `dir`, at most 8 levels down.
fn find_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) && depth < 8 {
                stack.push((path, depth + 1));
            } else if e.file_name() == name {
                found.push(path);
            }
        }
    }
    found
}

/// A podman command's stdout, or a panic with its output and the diagnostics of the world
/// under `dir`.
#[track_caller]
pub fn podman_stdout(out: crate::Out, args: &[&str], dir: &Path) -> String {
    if !out.success() {
        panic!(
            "podman {args:?} failed: {out:#?}\n{}",
            podman_diagnostics(dir)
        );
    }
    out.stdout
}

/// A podman suite's world (root or rootless): its podman command line, runs, output dir and
/// directory; the ways to run podman in it are shared.
pub trait PodmanWorld {
    /// `podman` with this world's storage, config and runtime; the caller adds the rest.
    fn command(&self) -> Command;
    /// What runs the podman commands (and keeps their output).
    fn cli(&self) -> &crate::Runtime;
    /// The world's directory (configs, storage, logs).
    fn dir(&self) -> &Path;

    /// Runs podman with `args`, stdin closed.
    fn run(&self, args: &[&str]) -> crate::Out {
        self.cli()
            .spawn_with(self.command().args(args).stdin(Stdio::null()), args)
            .wait()
    }

    /// Runs podman, asserting success (with the diagnostics if not); returns stdout.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        podman_stdout(self.run(args), args, self.dir())
    }

    /// What podman and the runtime logged, for a failure message.
    fn diagnostics(&self) -> String {
        podman_diagnostics(self.dir())
    }
}
