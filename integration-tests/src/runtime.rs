//! Running the runtime binary: every invocation gets the test's `--root`, a bounded run time,
//! and stdout/stderr captured through files (not pipes: a created container inherits the
//! runtime's stdio, and a pipe would not reach EOF until the container exits).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How long one runtime command may take before the test fails instead of hanging.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

static CALLS: AtomicU32 = AtomicU32::new(0);

pub struct Runtime {
    pub bin: PathBuf,
    pub root: PathBuf,
    out_dir: PathBuf,
}

/// What one command did.
#[derive(Debug)]
pub struct Out {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    #[track_caller]
    pub fn assert_ok(&self, what: &str) {
        assert!(self.success(), "{what} failed: {self:#?}");
    }

    /// Asserts a failure whose stderr mentions one of `words` (case-insensitive).
    #[track_caller]
    pub fn assert_fails_naming(&self, words: &[&str]) {
        assert!(!self.success(), "expected a failure: {self:#?}");
        let err = self.stderr.to_lowercase();
        assert!(
            words.iter().any(|w| err.contains(&w.to_lowercase())),
            "stderr names none of {words:?}: {self:#?}"
        );
    }
}

/// A runtime command running in the background (e.g. a foreground `run`).
pub struct Running {
    child: Child,
    args: Vec<String>,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Running {
    /// The command's stdin, when it was spawned with `Stdio::piped()` (taken: once).
    pub fn stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    /// The command's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the command has printed so far, for a dialogue with an interactive command.
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stdout).unwrap_or_default()).into_owned()
    }

    /// Waits (bounded) for the command to finish; panics naming it if it does not, or if the
    /// runtime panicked: no input may panic it (a release build aborts, leaving its state
    /// behind), so every command the suite runs checks that.
    pub fn wait(self) -> Out {
        let what = format!("runtime {:?} to exit within {COMMAND_TIMEOUT:?}", self.args);
        let out = self
            .try_wait()
            .unwrap_or_else(|| panic!("timed out waiting for {what}"));
        assert_no_panic(&out);
        out
    }

    /// Like `wait`, but None (and the command killed, on drop) when it does not finish: for
    /// cleanup, which must not panic while a failed test is already unwinding.
    pub fn try_wait(mut self) -> Option<Out> {
        let deadline = std::time::Instant::now() + COMMAND_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    let args = std::mem::take(&mut self.args);
                    return Some(collect(args, status, &self.stdout, &self.stderr));
                }
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => return None,
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Runtime {
    pub fn new(bin: PathBuf, root: PathBuf, out_dir: PathBuf) -> Self {
        Self { bin, root, out_dir }
    }

    /// A command with `--root` set; the caller adds the rest.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(&self.root);
        cmd
    }

    /// Starts `berth --root R args...` with stdin from /dev/null.
    pub fn spawn(&self, args: &[&str]) -> Running {
        self.spawn_with(self.command().args(args).stdin(Stdio::null()), args)
    }

    /// Starts a configured command (global flags, stdin) with captured stdout and stderr.
    pub fn spawn_with(&self, cmd: &mut Command, args: &[&str]) -> Running {
        std::fs::create_dir_all(&self.out_dir).expect("creating the output dir");
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        let stdout = self.out_dir.join(format!("{n}.out"));
        let stderr = self.out_dir.join(format!("{n}.err"));
        let file = |p: &Path| File::create(p).expect("creating an output file");
        let child = cmd
            .stdout(file(&stdout))
            .stderr(file(&stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        let args = args.iter().map(|s| s.to_string()).collect();
        Running {
            child,
            args,
            stdout,
            stderr,
        }
    }

    /// Runs `berth --root R args...` to completion.
    pub fn run_cmd(&self, args: &[&str]) -> Out {
        self.spawn(args).wait()
    }

    /// The parsed `state` of a container, or None if the runtime does not know it.
    pub fn state(&self, id: &str) -> Option<serde_json::Value> {
        let out = self.run_cmd(&["state", id]);
        if !out.success() {
            return None;
        }
        Some(
            serde_json::from_str(&out.stdout)
                .unwrap_or_else(|e| panic!("state JSON: {e}: {out:#?}")),
        )
    }
}

/// A panic shows as Rust's message on stderr, and in a release build (panic=abort) as death
/// by SIGABRT.
#[track_caller]
pub fn assert_no_panic(out: &Out) {
    use std::os::unix::process::ExitStatusExt;
    assert!(
        out.status.signal() != Some(libc::SIGABRT) && !out.stderr.contains("panicked at"),
        "the runtime panicked: {out:#?}"
    );
}

fn collect(args: Vec<String>, status: ExitStatus, stdout: &Path, stderr: &Path) -> Out {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Out {
        args,
        status,
        stdout: read(stdout),
        stderr: read(stderr),
    }
}
