//! Issue 12 item 1, CVE-2019-5736: a container must not get the host's runtime binary as a
//! file it can write, during the run or after the runtime exits.
//!
//! Each attack runs against a COPY of the runtime (in the test's temp dir), never the binary
//! under test itself: the "victim" copy starts the container process under attack, a
//! "manager" copy does everything else, so after the attack no process runs the victim copy
//! and a write through a kept fd would land (ETXTBSY only protects a running executable).
//!
//! The container process runs the runtime again through `/proc/self/exe` (a symlink to it,
//! or a `#!/proc/self/exe` script), as the init (`run -d`, sharing the attacker's pid
//! namespace so the attacker outlives it) or through `exec -d`. Its stdout and stderr are a
//! pipe the test filled: the runtime blocks on its first write (the version, or the usage
//! error the script's argv earns), so the attacker in the container finds it, opens
//! `/proc/<pid>/exe` read-only and tries to write it while it runs; the test drains the pipe
//! (EOF = every writer gone), deletes the container, and lets the attacker try
//! `/proc/self/fd/3` for writing. No sleeps: every step waits for the previous one's fact.

use integration_tests::{poll, Bundle, Runtime, TestEnv, STATE_TIMEOUT};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::stat::Mode;
use serde_json::json;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Finds the process running the attack program by its whole argv (runc's own `runc init`
/// is `/proc/self/exe init`, and must not be taken for it), opens its exe, tries to write it
/// while it runs, then (after `/go`) once it is gone.
const ATTACKER: &str = r#"
lookup() {
  for d in /proc/[0-9]*; do
    case "$(tr '\0' ' ' < $d/cmdline 2>/dev/null)" in
      "/evil --version "|"/proc/self/exe --help /evil ") echo ${d#/proc/}; return 0;;
    esac
  done
  return 1
}
until p=$(lookup); do :; done
attack "$p"
"#;

/// Shared by both attackers: open the exe, write while it runs, wait, write after.
const ATTACK_FN: &str = r#"
try_write() {
  if err=$( (echo x >> "$1") 2>&1 ); then echo "$2-write-OK"; else echo "$2-write-refused: $err"; fi
}
attack() {
  if exec 3</proc/$1/exe; then echo opened; else echo open-refused; fi
  try_write /proc/$1/exe running-exe
  try_write /proc/self/fd/3 running-fd
  echo ready
  read go < /go
  try_write /proc/self/fd/3 after
}
"#;

/// The attacker given the pid on `/pid` (the ptrace case).
const PID_ATTACKER: &str = r#"
read p < /pid
attack "$p"
"#;

#[derive(Clone, Copy)]
enum Program {
    /// `/evil -> /proc/self/exe`, run as `/evil --version`.
    Symlink,
    /// `/evil` is a script whose interpreter is `/proc/self/exe` (with `--help`, so both
    /// runtimes answer on stdout).
    Script,
}

impl Program {
    /// Puts `/evil` in `rootfs`, with the libraries `runtime` needs (a dynamically linked
    /// runtime, like runc, runs in a container that has them: most images have a libc).
    fn install(self, rootfs: &Path, runtime: &Path) {
        install_libraries(runtime, rootfs);
        let evil = rootfs.join("evil");
        match self {
            Program::Symlink => std::os::unix::fs::symlink("/proc/self/exe", &evil).unwrap(),
            Program::Script => {
                std::fs::write(&evil, "#!/proc/self/exe --help\n").unwrap();
                let mode = std::fs::Permissions::from_mode(0o755);
                std::fs::set_permissions(&evil, mode).unwrap();
            }
        }
    }

    fn args(self) -> Vec<&'static str> {
        match self {
            Program::Symlink => vec!["/evil", "--version"],
            Program::Script => vec!["/evil"],
        }
    }
}

/// The runtime copies and the attacker's container.
struct Setup {
    env: TestEnv,
    victim: Runtime,
    manager: Runtime,
    victim_bytes: Vec<u8>,
    attacker_id: String,
    attacker_rootfs: PathBuf,
    attacker_pid: i64,
}

impl Setup {
    /// Copies the runtime twice and starts the attacker's container (`sleep`), with the
    /// default capabilities (those of the victim's process: the attacker may open its exe)
    /// plus CAP_SYS_PTRACE if `ptrace`.
    fn new(test: &str, ptrace: bool) -> Self {
        let env = TestEnv::new(test);
        let copy = |name: &str| {
            let path = env.dir.join(name);
            std::fs::copy(&env.rt.bin, &path).expect("copying the runtime");
            Runtime::new(
                path,
                env.rt.root.clone(),
                env.dir.join(format!("out-{name}")),
            )
        };
        let victim = copy("victim-runtime");
        let manager = copy("manager-runtime");
        let victim_bytes = std::fs::read(&victim.bin).unwrap();
        let mut b = env.bundle(&["sleep", "300"]);
        if ptrace {
            for set in ["bounding", "effective", "permitted"] {
                let list = b.config["process"]["capabilities"][set]
                    .as_array_mut()
                    .unwrap();
                list.push(json!("CAP_SYS_PTRACE"));
            }
        }
        for fifo in ["go", "pid"] {
            nix::unistd::mkfifo(&b.rootfs().join(fifo), Mode::from_bits_truncate(0o600)).unwrap();
        }
        b.save();
        let attacker_id = env.id();
        manager
            .run_cmd(&["run", "-d", "--bundle", b.path_str(), &attacker_id])
            .assert_ok("run -d (attacker)");
        let state = manager.state(&attacker_id).expect("attacker's state");
        let attacker_pid = state["pid"].as_i64().expect("pid");
        Self {
            env,
            victim,
            manager,
            victim_bytes,
            attacker_rootfs: b.rootfs(),
            attacker_id,
            attacker_pid,
        }
    }

    /// A bundle whose processes live in the attacker's pid namespace (so it outlives them).
    fn victim_bundle(&self, args: &[&str]) -> Bundle {
        let mut b = self.env.bundle(args);
        let ns = format!("/proc/{}/ns/pid", self.attacker_pid);
        b.add_namespace("pid", Some(&ns));
        b
    }

    fn start_attacker(&self, script: &str) -> integration_tests::runtime::Running {
        let script = format!("{ATTACK_FN}{script}");
        self.manager
            .spawn(&["exec", &self.attacker_id, "sh", "-c", &script])
    }

    /// Runs the victim copy (detached) with stdout on `pipe`'s full write end: the process it
    /// starts inherits it.
    fn victim_detached(&self, args: &[&str], pipe: &OwnedFd) {
        let err = self.env.dir.join("victim.err");
        let out = self
            .victim
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(pipe.try_clone().unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .expect("running the victim copy");
        let err = std::fs::read_to_string(&err).unwrap_or_default();
        assert!(out.success(), "victim {args:?}: {out}: {err}");
    }

    /// Tells the attacker to go on: opens the FIFO once the attacker reads it.
    fn send(&self, fifo: &str, text: &str) {
        let path = self.attacker_rootfs.join(fifo);
        let file = poll(
            STATE_TIMEOUT,
            &format!("the attacker to read {fifo}"),
            || {
                std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(nix::libc::O_NONBLOCK)
                    .open(&path)
                    .ok()
            },
        );
        use std::io::Write;
        (&file).write_all(text.as_bytes()).unwrap();
    }

    /// The attacker's verdict, and the victim copy unchanged.
    fn assert_refused(&self, attacker: integration_tests::runtime::Running) {
        self.send("go", "go\n");
        let out = attacker.wait();
        out.assert_ok("attacker");
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(
            lines.contains(&"opened"),
            "the attack did not start: {out:#?}"
        );
        assert!(
            lines.iter().all(|l| !l.ends_with("-OK")),
            "a write to the runtime's exe succeeded: {out:#?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("after-write-refused")),
            "{out:#?}"
        );
        eprintln!("attacker: {}", out.stdout);
        let now = std::fs::read(&self.victim.bin).unwrap();
        assert!(now == self.victim_bytes, "the runtime copy was modified");
    }
}

/// Copies the shared libraries `ldd` lists for `bin` to the same paths under `rootfs`.
fn install_libraries(bin: &Path, rootfs: &Path) {
    let out = std::process::Command::new("ldd")
        .arg(bin)
        .output()
        .expect("ldd");
    let text = String::from_utf8_lossy(&out.stdout);
    let libs = text
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')));
    for lib in libs {
        let dest = rootfs.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(lib, &dest).unwrap_or_else(|e| panic!("copying {lib}: {e}"));
    }
}

/// A pipe whose buffer is full: the first write to its write end blocks until the test reads.
fn full_pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    fcntl(w.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
    let chunk = [0u8; 4096];
    while nix::unistd::write(&w, &chunk).is_ok() {}
    while nix::unistd::write(&w, &chunk[..1]).is_ok() {}
    fcntl(w.as_fd(), FcntlArg::F_SETFL(OFlag::empty())).unwrap();
    (r, w)
}

/// Reads the pipe until every writer has closed it (the blocked runtime has exited).
fn drain(r: OwnedFd) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::fs::File::from(r).read_to_end(&mut sink);
        let _ = tx.send(());
    });
    rx.recv_timeout(integration_tests::runtime::COMMAND_TIMEOUT)
        .expect("the runtime in the container never exited");
}

fn wait_ready(attacker: &integration_tests::runtime::Running) {
    poll(
        STATE_TIMEOUT,
        "the attacker to open the runtime's exe",
        || attacker.stdout_so_far().contains("ready\n").then_some(()),
    );
}

/// The container's init is the runtime, through `program`.
fn attack_init(test: &str, program: Program) {
    let s = Setup::new(test, false);
    let b = s.victim_bundle(&program.args());
    program.install(&b.rootfs(), &s.victim.bin);
    b.save();
    let attacker = s.start_attacker(ATTACKER);
    let (r, w) = full_pipe();
    let id = s.env.id();
    s.victim_detached(&["run", "-d", "--bundle", b.path_str(), &id], &w);
    drop(w);
    wait_ready(&attacker);
    drain(r);
    s.manager
        .run_cmd(&["delete", "--force", &id])
        .assert_ok("delete");
    s.assert_refused(attacker);
}

/// A process `exec`'d into the container is the runtime, through `program`.
fn attack_exec(test: &str, program: Program) {
    let s = Setup::new(test, false);
    program.install(&s.attacker_rootfs, &s.victim.bin);
    let attacker = s.start_attacker(ATTACKER);
    let (r, w) = full_pipe();
    let mut args = vec!["exec", "-d", &s.attacker_id];
    args.extend(program.args());
    s.victim_detached(&args, &w);
    drop(w);
    wait_ready(&attacker);
    drain(r);
    s.assert_refused(attacker);
}

#[test]
fn init_via_proc_self_exe_symlink_cannot_write_the_runtime() {
    attack_init("exe_init_symlink", Program::Symlink);
}

#[test]
fn init_via_proc_self_exe_script_cannot_write_the_runtime() {
    attack_init("exe_init_script", Program::Script);
}

#[test]
fn exec_via_proc_self_exe_symlink_cannot_write_the_runtime() {
    attack_exec("exe_exec_symlink", Program::Symlink);
}

#[test]
fn exec_via_proc_self_exe_script_cannot_write_the_runtime() {
    attack_exec("exe_exec_script", Program::Script);
}

/// With CAP_SYS_PTRACE, non-dumpable is no barrier: the attacker opens the exe of a
/// container's init while it is still the runtime's image (blocked in a createContainer hook,
/// in the attacker's pid namespace), then writes it once everything has exited.
#[test]
fn ptrace_capable_container_cannot_write_the_runtime_during_setup() {
    let s = Setup::new("exe_ptrace_setup", true);
    let mut b = s.victim_bundle(&["true"]);
    let (init_pid, hook_go) = (s.env.dir.join("initpid"), s.env.dir.join("hookgo"));
    nix::unistd::mkfifo(&hook_go, Mode::from_bits_truncate(0o600)).unwrap();
    // A host busybox copy: hooks run before pivot_root, with host paths.
    let busybox = b.rootfs().join("bin/busybox");
    let script = format!(
        "cat > /dev/null; echo $PPID > {p}.tmp && mv {p}.tmp {p} && read x < {g}",
        p = init_pid.display(),
        g = hook_go.display()
    );
    b.config["hooks"] = json!({"createContainer": [{
        "path": busybox, "args": ["sh", "-c", script],
    }]});
    b.save();
    let attacker = s.start_attacker(PID_ATTACKER);
    let id = s.env.id();
    let create = s.victim.spawn(&["create", "--bundle", b.path_str(), &id]);
    let pid = poll(STATE_TIMEOUT, "the createContainer hook", || {
        std::fs::read_to_string(&init_pid).ok()
    });
    s.send("pid", &pid);
    wait_ready(&attacker);
    std::fs::write(&hook_go, "go\n").unwrap();
    create.wait().assert_ok("create");
    s.manager.run_cmd(&["start", &id]).assert_ok("start");
    poll(STATE_TIMEOUT, "the container to stop", || {
        let st = s.manager.state(&id)?;
        (st["status"] == "stopped").then_some(())
    });
    s.manager
        .run_cmd(&["delete", "--force", &id])
        .assert_ok("delete");
    s.assert_refused(attacker);
}
