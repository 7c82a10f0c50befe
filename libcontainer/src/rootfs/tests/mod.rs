//! Tests: validation in-process; everything that mounts runs in a forked child with its own
//! mount namespace (made rprivate first), so nothing reaches the host's mount table.

mod container;
mod mounts;
mod paths;
mod validate;

use super::RootfsOptions;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::{major, minor, stat};
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

pub(super) struct Bundle {
    pub dir: TempDir,
    pub rootfs: PathBuf,
}

pub(super) fn bundle(tag: &str) -> Bundle {
    let dir = TempDir::new(tag);
    let rootfs = dir.0.join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    Bundle { dir, rootfs }
}

impl Bundle {
    pub fn opts(&self, in_user_ns: bool) -> RootfsOptions {
        RootfsOptions {
            rootfs: self.rootfs.clone(),
            bundle: self.dir.0.clone(),
            in_user_ns,
            in_cgroup_ns: false,
            inherited_mount_ns: false,
            premade: None,
        }
    }
}

pub(super) fn err<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

pub(super) fn expect_erofs(path: &str) -> Result<(), String> {
    match std::fs::write(path, "x") {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => Ok(()),
        other => Err(format!("writing {path}: expected EROFS, got {other:?}")),
    }
}

pub(super) fn expect_writable(path: &str) -> Result<(), String> {
    std::fs::write(path, "x").map_err(|e| format!("writing {path}: {e}"))
}

pub(super) fn check_char_device(
    path: &str,
    mode: u32,
    dev: (u64, u64),
    owner: (u32, u32),
) -> Result<(), String> {
    let st = stat(path).map_err(|e| format!("stat {path}: {e}"))?;
    let got = (
        st.st_mode,
        (major(st.st_rdev), minor(st.st_rdev)),
        (st.st_uid, st.st_gid),
    );
    check(got == (libc::S_IFCHR | mode, dev, owner), || {
        format!("{path}: got {got:?}")
    })
}

pub(super) fn check_link(path: &str, target: &str) -> Result<(), String> {
    let got = std::fs::read_link(path).map_err(|e| format!("readlink {path}: {e}"))?;
    check(got == Path::new(target), || {
        format!("{path} -> {}", got.display())
    })
}

pub(super) fn check_fs(path: &str, fs_type: &str, ro: bool) -> Result<(), String> {
    let m = mount_at(Path::new(path))?;
    check(m.fs_type == fs_type, || {
        format!("{path}: fs type {}", m.fs_type)
    })?;
    let is_ro = m.mount_options.contains_key("ro");
    check(is_ro == ro, || format!("{path}: read-only is {is_ro}"))
}
