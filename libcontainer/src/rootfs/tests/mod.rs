//! Tests: validation in-process; everything that mounts runs in a forked child with its own
//! mount namespace (made rprivate first), so nothing reaches the host's mount table.

mod setup;
mod validate;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe2, ForkResult};
use oci_spec::runtime::Spec;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A directory removed on drop, even when the test fails.
pub(super) struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("berth-rootfs-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn spec(json: &str) -> Spec {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("test spec: {e}\n{json}"))
}

/// Runs `f` in a forked child inside a new, private mount namespace (and a user namespace
/// mapping root to root with `userns`); the child's error message fails the test.
pub(super) fn in_child(userns: bool, f: impl FnOnce() -> Result<(), String>) {
    let result = forked(|| {
        enter_namespaces(userns)?;
        f()
    });
    if let Err(message) = result {
        panic!("in the child: {message}");
    }
}

/// Runs `f` in a forked child and returns its outcome (its error message, or how it died).
pub(super) fn forked(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (rd, wr) = pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: the child only makes system calls and exits with _exit.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(rd);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let message = match result {
                Ok(Ok(())) => String::new(),
                Ok(Err(m)) => m,
                Err(_) => "the child panicked".to_string(),
            };
            let mut out = std::fs::File::from(wr);
            let _ = out.write_all(message.as_bytes());
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { libc::_exit(if message.is_empty() { 0 } else { 1 }) }
        }
        ForkResult::Parent { child } => {
            drop(wr);
            let mut message = String::new();
            let _ = std::fs::File::from(rd).read_to_string(&mut message);
            let status = waitpid(child, None).map_err(|e| format!("waitpid: {e}"))?;
            if !message.is_empty() {
                return Err(message);
            }
            match status {
                WaitStatus::Exited(_, 0) => Ok(()),
                other => Err(format!("child ended with {other:?}")),
            }
        }
    }
}

fn enter_namespaces(userns: bool) -> Result<(), String> {
    if userns {
        unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| format!("unshare user: {e}"))?;
        std::fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
        std::fs::write("/proc/self/uid_map", "0 0 1").map_err(|e| format!("uid_map: {e}"))?;
        std::fs::write("/proc/self/gid_map", "0 0 1").map_err(|e| format!("gid_map: {e}"))?;
    }
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare mount: {e}"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("make / rprivate: {e}"))
}

/// The mounts this process sees, as (mount point, fs type, per-mount options, optional fields).
pub(super) fn mounts() -> Result<Vec<procfs::process::MountInfo>, String> {
    procfs::process::Process::myself()
        .and_then(|p| p.mountinfo())
        .map(|m| m.0)
        .map_err(|e| format!("mountinfo: {e}"))
}

pub(super) fn mount_at(path: &Path) -> Result<procfs::process::MountInfo, String> {
    mounts()?
        .into_iter()
        .rfind(|m| m.mount_point == path)
        .ok_or_else(|| format!("nothing mounted at {}", path.display()))
}

pub(super) fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// The host's mount table must not mention `dir` (nothing leaked out of the child).
pub(super) fn assert_nothing_mounted_under(dir: &Path) {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !table.contains(dir.to_str().unwrap()),
        "mounts leaked to the host under {}",
        dir.display()
    );
}
