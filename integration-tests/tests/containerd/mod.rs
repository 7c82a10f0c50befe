//! A containerd 1.6 of the suite's own (config, root, state and sockets under an `EngineDir`),
//! driven with `ctr`, with the runtime behind a recording wrapper so that the tests can see the
//! exact calls the shim made and what each returned.

use integration_tests::engines::{engine_runtime, Daemon, EngineDir};
use integration_tests::{Bundle, STATE_TIMEOUT};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long one ctr command may take before the test fails instead of hanging.
const COMMAND_SECS: u64 = 60;

/// Plugins this suite has no use for: CRI (needs CNI and wants the system's paths), the
/// snapshotters other than native and overlayfs, and tracing.
const DISABLED_PLUGINS: &[&str] = &[
    "io.containerd.grpc.v1.cri",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.internal.v1.opt",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
];

/// One runtime invocation by the shim, as the wrapper recorded it.
#[derive(Debug, Clone)]
pub struct Call {
    pub code: i32,
    pub args: Vec<String>,
}

impl Call {
    /// The subcommand: the first argument after the global flags.
    pub fn command(&self) -> &str {
        let mut args = self.args.iter();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--root" | "--log" | "--log-format" | "--criu" => {
                    args.next();
                }
                a if a.starts_with('-') => {}
                a => return a,
            }
        }
        ""
    }

    pub fn has(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag)
    }

    /// The value following `flag`.
    pub fn value(&self, flag: &str) -> Option<&str> {
        let i = self.args.iter().position(|a| a == flag)?;
        self.args.get(i + 1).map(String::as_str)
    }
}

/// The world of one test: a containerd, a namespace, a busybox rootfs for `ctr run --rootfs`.
pub struct Ctr {
    pub dir: EngineDir,
    pub namespace: String,
    pub rootfs: PathBuf,
    wrapper: PathBuf,
    calls: PathBuf,
    daemon_log: PathBuf,
    ids: std::cell::RefCell<Vec<String>>,
    // Dropped after the containers are gone (Drop below), before the dir.
    daemon: Option<Daemon>,
}

impl Ctr {
    pub fn start(test: &str) -> Self {
        let dir = EngineDir::new(&format!("containerd-{test}"));
        let d = dir.path.clone();
        let namespace = d
            .file_name()
            .expect("the engine dir has a name")
            .to_string_lossy()
            .into_owned();
        let config = d.join("config.toml");
        std::fs::write(&config, config_toml(&d)).expect("writing containerd's config");
        let calls = d.join("runtime-calls.log");
        let wrapper = d.join("runtime-wrapper.sh");
        write_wrapper(&wrapper, &engine_runtime(), &calls);
        let rootfs = Bundle::new(&d.join("image"), &["true"]).rootfs();
        let daemon_log = d.join("containerd.log");
        let address = d.join("containerd.sock");
        let daemon = Daemon::start(
            "containerd",
            Command::new("containerd").arg("--config").arg(&config),
            &daemon_log,
            || {
                address.exists()
                    && ctr_command(&address, &namespace, &["version"])
                        .output()
                        .is_ok_and(|o| o.status.success())
            },
        );
        Self {
            dir,
            namespace,
            rootfs,
            wrapper,
            calls,
            daemon_log,
            ids: Default::default(),
            daemon: Some(daemon),
        }
    }

    fn address(&self) -> PathBuf {
        self.dir.path.join("containerd.sock")
    }

    /// A fresh container id, removed (task killed and deleted first) when the world drops.
    pub fn id(&self, what: &str) -> String {
        let id = format!("{what}-{}", self.ids.borrow().len());
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// `ctr run` flags making the shim use the runtime under test, with its state (`--root`)
    /// under the engine dir rather than /run/containerd/runc.
    pub fn runtime_flags(&self) -> Vec<String> {
        vec![
            "--runc-binary".into(),
            self.wrapper.display().to_string(),
            "--runc-root".into(),
            self.dir.path.join("runc-root").display().to_string(),
        ]
    }

    /// The state root the shim passes as `--root` for this namespace.
    pub fn runtime_root(&self) -> PathBuf {
        self.dir.path.join("runc-root").join(&self.namespace)
    }

    /// The bundle the shim made for `id` (config.json and the runtime's log.json).
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.dir
            .path
            .join("state/io.containerd.runtime.v2.task")
            .join(&self.namespace)
            .join(id)
    }

    /// `ctr run --rootfs <busybox> <extra...> ID ARGS...` with the runtime flags and a PATH
    /// (ctr's default spec without an image has no environment at all).
    pub fn run_args(&self, extra: &[&str], id: &str, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec!["run".into()];
        v.extend(self.runtime_flags());
        v.extend(["--env".into(), format!("PATH={}", ENV_PATH)]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(["--rootfs".into(), self.rootfs.display().to_string()]);
        v.push(id.into());
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    /// Runs ctr to completion (bounded by `timeout`).
    pub fn ctr<S: AsRef<str>>(&self, args: &[S]) -> Output {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        bounded(&mut ctr_command(&self.address(), &self.namespace, &args))
            .unwrap_or_else(|e| self.fail(&format!("running ctr {args:?}: {e}")))
    }

    /// Runs ctr and asserts it succeeded; returns stdout.
    pub fn ctr_ok<S: AsRef<str>>(&self, args: &[S]) -> String {
        let out = self.ctr(args);
        self.check(&out, args, out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs ctr and asserts its exit code.
    pub fn ctr_code<S: AsRef<str>>(&self, args: &[S], code: i32) -> Output {
        let out = self.ctr(args);
        self.check(&out, args, out.status.code() == Some(code));
        out
    }

    /// Fails the test with the command's output and the logs unless `ok`.
    #[track_caller]
    pub fn check<S: AsRef<str>>(&self, out: &Output, args: &[S], ok: bool) {
        if !ok {
            let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
            self.fail(&format!(
                "ctr {args:?} exited with {}\nstdout: {}\nstderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }

    /// Panics with `what`, the runtime calls (with the runtime's log of each failed one) and
    /// the daemon's log: what a CI failure needs to be diagnosed from its output alone.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        let calls = std::fs::read_to_string(&self.calls).unwrap_or_default();
        let log = std::fs::read_to_string(&self.daemon_log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{what}\n--- runtime calls (code, args; runtime log after failures):\n{calls}\
             --- containerd log (last 60 lines):\n{}",
            tail.join("\n")
        );
    }

    /// Every runtime call recorded so far.
    pub fn calls(&self) -> Vec<Call> {
        let text = std::fs::read_to_string(&self.calls).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let (code, args) = l.split_once('\t')?;
                Some(Call {
                    code: code.parse().ok()?,
                    args: args.split('\t').map(str::to_owned).collect(),
                })
            })
            .collect()
    }

    /// Polls `check` until Some, failing with the logs after STATE_TIMEOUT.
    pub fn wait_for<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + STATE_TIMEOUT;
        loop {
            if let Some(v) = check() {
                return v;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "timed out after {STATE_TIMEOUT:?} waiting for {what}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The task's (pid, status) from `ctr task ls`.
    pub fn task(&self, id: &str) -> Option<(u32, String)> {
        let out = self.ctr_ok(&["task", "ls"]);
        out.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| (f[1].parse().unwrap_or(0), f[2].to_owned()))
        })
    }

    pub fn wait_status(&self, id: &str, status: &str) -> u32 {
        self.wait_for(&format!("task {id} to be {status}"), || {
            self.task(id)
                .filter(|(_, s)| s == status)
                .map(|(pid, _)| pid)
        })
    }

    /// Runs `cmd` (a ctr command line) under `script` so that ctr has a terminal, feeding it
    /// `input` and keeping its stdin open until it exits (an EOF would reach the container as
    /// ^D). Returns the exit code and everything the terminal showed.
    pub fn in_terminal(&self, ctr_args: &[String], input: &str) -> (Option<i32>, String) {
        let mut line = format!(
            "ctr --address {} --namespace {}",
            self.address().display(),
            self.namespace
        );
        for a in ctr_args {
            line.push(' ');
            line.push_str(&shell_quote(a));
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let out_path = self.dir.path.join(format!("script-{n}.out"));
        let out = std::fs::File::create(&out_path).expect("creating script's output file");
        let mut child = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("running script (util-linux)");
        let mut stdin = child.stdin.take().expect("script's stdin");
        stdin
            .write_all(input.as_bytes())
            .expect("writing to script");
        let deadline = Instant::now() + Duration::from_secs(COMMAND_SECS);
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for script") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let text = std::fs::read_to_string(&out_path).unwrap_or_default();
                self.fail(&format!(
                    "{line} did not exit; the terminal showed:\n{text}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(stdin);
        let text = std::fs::read_to_string(&out_path).unwrap_or_default();
        (status.code(), text)
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        // containerd leaves its shims (and their containers) running when it stops, by design:
        // remove every container through it first.
        for id in self.ids.borrow().iter() {
            let cmd = |args: &[&str]| {
                let _ = bounded(&mut ctr_command(&self.address(), &self.namespace, args));
            };
            // A frozen task cannot die of SIGKILL until it is thawed.
            cmd(&["task", "resume", id]);
            cmd(&["task", "kill", "--all", "--signal", "SIGKILL", id]);
            let _ = poll_quietly(|| {
                let out = bounded(&mut ctr_command(
                    &self.address(),
                    &self.namespace,
                    &["task", "ls"],
                ))
                .ok()?;
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let running = text.lines().any(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.first() == Some(&id.as_str()) && f.get(2) != Some(&"STOPPED")
                });
                (!running).then_some(())
            });
            cmd(&["task", "delete", "--force", id]);
            cmd(&["container", "rm", id]);
        }
        drop(self.daemon.take());
        // The runtime removes each container's cgroup; the per-namespace parent containerd
        // names in its cgroupsPath (/<namespace>/<id>) is ours to remove.
        if let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") {
            for c in controllers.flatten() {
                let _ = std::fs::remove_dir(c.path().join(&self.namespace));
            }
        }
    }
}

/// PATH for the container: busybox's applets live in /bin.
pub const ENV_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

fn config_toml(d: &Path) -> String {
    let disabled: Vec<String> = DISABLED_PLUGINS.iter().map(|p| format!("{p:?}")).collect();
    format!(
        "version = 2\n\
         root = \"{d}/root\"\n\
         state = \"{d}/state\"\n\
         disabled_plugins = [{}]\n\
         [grpc]\n  address = \"{d}/containerd.sock\"\n\
         [ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
         [debug]\n  address = \"{d}/debug.sock\"\n  level = \"debug\"\n\
         [metrics]\n  address = \"\"\n",
        disabled.join(", "),
        d = d.display()
    )
}

/// A runtime in front of the real one that appends `code<TAB>arg<TAB>arg...` per call, and
/// after a failed call the runtime's own --log file, indented.
fn write_wrapper(path: &Path, runtime: &Path, calls: &Path) {
    let script = format!(
        "#!/bin/sh\n\
         log=\nprev=\n\
         for a in \"$@\"; do [ \"$prev\" = --log ] && log=$a; prev=$a; done\n\
         {rt} \"$@\"\n\
         rc=$?\n\
         (IFS=\"$(printf '\\t')\"; printf '%s\\t%s\\n' \"$rc\" \"$*\") >> {calls}\n\
         if [ $rc -ne 0 ] && [ -n \"$log\" ]; then sed 's/^/    log: /' \"$log\" >> {calls}; fi\n\
         exit $rc\n",
        rt = shell_quote(&runtime.display().to_string()),
        calls = shell_quote(&calls.display().to_string()),
    );
    std::fs::write(path, script).expect("writing the runtime wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .expect("making the wrapper executable");
}

fn ctr_command(address: &Path, namespace: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args([
        "--kill-after=5",
        &COMMAND_SECS.to_string(),
        "ctr",
        "--address",
    ])
    .arg(address)
    .args(["--namespace", namespace])
    .args(args)
    .stdin(Stdio::null());
    cmd
}

fn bounded(cmd: &mut Command) -> std::io::Result<Output> {
    cmd.output()
}

/// Polls for up to STATE_TIMEOUT without panicking (for cleanup).
fn poll_quietly(mut check: impl FnMut() -> Option<()>) -> Option<()> {
    let deadline = Instant::now() + STATE_TIMEOUT;
    while Instant::now() < deadline {
        if check().is_some() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
