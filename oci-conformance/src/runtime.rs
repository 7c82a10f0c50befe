//! Driving a runtime binary through runc's command line.

use crate::outcome::Outcome;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// No runtime operation here legitimately takes this long; past it the runtime is hung.
const TIMEOUT: Duration = Duration::from_secs(30);

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone)]
pub struct Runtime {
    pub path: PathBuf,
}

/// The result of one runtime invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub args: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Where stdout went; a container started by `create` keeps writing there.
    pub out_path: PathBuf,
}

impl Invocation {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Fails unless the invocation exited 0, quoting the runtime's stderr.
    pub fn check(self) -> Result<Invocation, Outcome> {
        if self.ok() {
            return Ok(self);
        }
        Err(Outcome::Fail(format!(
            "`{}` exited {:?}: {}",
            self.args,
            self.code,
            self.stderr.trim()
        )))
    }
}

impl Runtime {
    /// Runs `RUNTIME --root ROOT ARGS...`. Output goes to files under `io_dir`, not pipes:
    /// `create` hands its stdio to the container, so a pipe would stay open as long as the
    /// container lives.
    pub fn invoke(&self, root: &Path, io_dir: &Path, args: &[&str]) -> Result<Invocation, Outcome> {
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        let out_path = io_dir.join(format!("call{n}.out"));
        let err_path = io_dir.join(format!("call{n}.err"));
        let mut cmd = Command::new(&self.path);
        cmd.arg("--root").arg(root).args(args);
        cmd.stdin(Stdio::null())
            .stdout(File::create(&out_path)?)
            .stderr(File::create(&err_path)?);
        let mut child = cmd
            .spawn()
            .map_err(|e| Outcome::Fail(format!("cannot run {}: {e}", self.path.display())))?;
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            if start.elapsed() > TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Outcome::Fail(format!("`{}` timed out", args.join(" "))));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        Ok(Invocation {
            args: args.join(" "),
            code: status.code(),
            stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
            out_path,
        })
    }
}
