//! A procfs that berth made and verified itself, for every read and write it makes under /proc
//! on the container side (sysctls, oom_score_adj, setgroups, timens_offsets).
//!
//! The container's /proc is the container's to shape: an image symlink and a volume can put
//! anything at /proc/sys/kernel/..., a rootfs without a proc mount has plain files there, and
//! mounts raced in by another container sharing a volume can redirect a path between checks
//! (CVE-2019-16884, CVE-2025-52881). So berth does not use it: it makes a procfs instance of
//! its own with fsopen("proc") + fsmount, never attached anywhere, checks the fd is the root
//! of a procfs, and opens files below it with openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_XDEV: no symlink and no mount point is crossed on the way.
//!
//! Fallbacks, each still verified to be a procfs root: where fsopen is missing (before 5.2)
//! or refused (a procfs of a pid namespace owned by a user namespace we are not privileged
//! in), a detached, non-recursive copy of the /proc mount (open_tree OPEN_TREE_CLONE: mounts
//! stacked inside /proc are left out); then /proc itself. Where openat2 is missing, the file
//! is reached one O_NOFOLLOW step at a time, each step checked to stay on this procfs.
//!
//! Per-process files are named by the pid this procfs gives us (its `self` link, read, not
//! followed), so they are right in whichever pid namespace the procfs belongs to.

use crate::sys::{self, mount::FsContext};
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, Mode};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// The root directory of every procfs instance has inode 1.
const PROC_ROOT_INO: u64 = 1;

/// An fd of the root of a procfs berth verified.
#[derive(Debug)]
pub struct ProcRoot {
    root: OwnedFd,
}

/// Checks `fd` is the root directory of a procfs.
fn verify_root(fd: &OwnedFd) -> nix::Result<()> {
    let fs = fstatfs(fd)?;
    let st = fstat(fd)?;
    if fs.filesystem_type() != PROC_SUPER_MAGIC || st.st_ino != PROC_ROOT_INO {
        return Err(Errno::EXDEV);
    }
    Ok(())
}

fn private_procfs() -> nix::Result<OwnedFd> {
    let fc = FsContext::new("proc")?;
    fc.set_source("proc")?;
    let attrs = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC;
    fc.mount(attrs)
}

fn cloned_proc_mount() -> nix::Result<OwnedFd> {
    let cwd = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    sys::mount::clone_tree(&cwd, Path::new("proc"), false)
}

fn plain_proc() -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

impl ProcRoot {
    /// A private procfs of the caller's pid namespace (or, failing that, the fallbacks above).
    pub fn new() -> nix::Result<Self> {
        let mut last = Errno::ENOENT;
        for make in [private_procfs, cloned_proc_mount, plain_proc] {
            match make().and_then(|fd| verify_root(&fd).map(|()| fd)) {
                Ok(root) => return Ok(ProcRoot { root }),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Opens `rel` (e.g. `sys/net/ipv4/ip_forward`) below the root, crossing no symlink and no
    /// mount point, with `flags` (O_CLOEXEC and O_NOFOLLOW are added).
    pub fn open(&self, rel: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        let flags = flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
        let how = OpenHow::new().flags(flags).resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_XDEV
                | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
        match openat2(&self.root, rel, how) {
            Err(Errno::ENOSYS) => self.open_by_steps(rel, flags),
            other => other,
        }
    }

    /// `open` without openat2: every component O_NOFOLLOW, and every step must still be on
    /// this procfs instance (same device), so a mount stacked on the way is refused.
    fn open_by_steps(&self, rel: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        let dev = fstat(&self.root)?.st_dev;
        let names: Vec<_> = rel
            .components()
            .map(|c| match c {
                Component::Normal(n) => Ok(n),
                _ => Err(Errno::EXDEV),
            })
            .collect::<Result<_, _>>()?;
        let (last, dirs) = names.split_last().ok_or(Errno::EINVAL)?;
        let step = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mut current = openat(&self.root, ".", step, Mode::empty())?;
        for name in dirs {
            current = openat(&current, *name, step, Mode::empty())?;
            same_fs(&current, dev)?;
        }
        let fd = openat(&current, *last, flags, Mode::empty())?;
        same_fs(&fd, dev)?;
        Ok(fd)
    }

    /// Our pid as this procfs numbers it (the target of its `self` link).
    pub fn pid(&self) -> nix::Result<String> {
        let target = readlinkat(&self.root, "self")?;
        let pid = target.to_str().ok_or(Errno::EINVAL)?;
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Errno::EINVAL);
        }
        Ok(pid.to_owned())
    }

    /// `<pid>/<name>` of the calling process.
    pub fn own(&self, name: &str) -> nix::Result<PathBuf> {
        Ok(PathBuf::from(self.pid()?).join(name))
    }

    /// This process's own `name` file (e.g. `mountinfo`), opened for reading.
    pub fn open_own(&self, name: &str) -> std::io::Result<std::fs::File> {
        let rel = self.own(name)?;
        Ok(std::fs::File::from(self.open(&rel, OFlag::O_RDONLY)?))
    }

    /// This process's mount table, as its mount namespace has it.
    pub fn mountinfo(&self) -> std::io::Result<Vec<procfs::process::MountInfo>> {
        use procfs::FromRead;
        let file = self.open_own("mountinfo")?;
        procfs::process::MountInfos::from_read(file)
            .map(|m| m.0)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// This process's cgroup memberships (`/proc/<pid>/cgroup`).
    pub fn cgroups(&self) -> std::io::Result<Vec<procfs::ProcessCGroup>> {
        use procfs::FromRead;
        let file = self.open_own("cgroup")?;
        procfs::ProcessCGroups::from_read(file)
            .map(|c| c.0)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// Writes `value` to `rel` (a procfs file is written in one go).
    pub fn write(&self, rel: &Path, value: &str) -> std::io::Result<()> {
        let fd = self.open(rel, OFlag::O_WRONLY)?;
        std::fs::File::from(fd).write_all(value.as_bytes())
    }

    /// Reads `rel`, which is small (a procfs setting).
    pub fn read(&self, rel: &Path) -> std::io::Result<String> {
        let fd = self.open(rel, OFlag::O_RDONLY)?;
        let mut text = String::new();
        std::fs::File::from(fd)
            .take(64 * 1024)
            .read_to_string(&mut text)?;
        Ok(text)
    }
}

fn same_fs(fd: &impl AsFd, dev: u64) -> nix::Result<()> {
    let st = fstat(fd)?;
    let fs = fstatfs(fd)?;
    if st.st_dev != dev || fs.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(Errno::EXDEV);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::test_fork;

    #[test]
    fn reads_and_writes_through_its_own_procfs() {
        let proc = ProcRoot::new().unwrap();
        assert_eq!(proc.pid().unwrap(), std::process::id().to_string());
        let last = proc.read(Path::new("sys/kernel/cap_last_cap")).unwrap();
        assert_eq!(
            last,
            std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap()
        );
        test_fork::in_child(|| {
            let proc = ProcRoot::new().map_err(|e| e.to_string())?;
            let path = proc.own("oom_score_adj").map_err(|e| e.to_string())?;
            proc.write(&path, "123").map_err(|e| e.to_string())?;
            let now = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
            if now.trim() != "123" {
                return Err(format!("oom_score_adj {now:?}"));
            }
            Ok(())
        });
    }

    /// Only the root directory of a procfs passes: not another filesystem, not a directory
    /// inside a procfs (a bind of /proc/sys over /proc would be one).
    #[test]
    fn verifies_the_root_of_a_procfs() {
        let open =
            |p: &str| nix::fcntl::open(p, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
        assert_eq!(verify_root(&open("/")), Err(Errno::EXDEV));
        assert_eq!(verify_root(&open("/proc/sys")), Err(Errno::EXDEV));
        verify_root(&open("/proc")).unwrap();
    }

    #[test]
    fn refuses_symlinks_and_escapes() {
        let proc = ProcRoot::new().unwrap();
        // `self` and `mounts` are symlinks in procfs.
        for rel in ["self/status", "mounts", "../etc/passwd", "/etc/passwd"] {
            assert!(proc.open(Path::new(rel), OFlag::O_RDONLY).is_err(), "{rel}");
        }
    }

    #[test]
    fn falls_back_without_openat2_and_fsopen() {
        fallback(&[libc::SYS_openat2, libc::SYS_fsopen]);
    }

    /// Before Linux 5.2: neither fsopen nor open_tree; /proc itself, checked to be a procfs.
    #[test]
    fn falls_back_to_a_verified_proc_without_the_mount_api() {
        fallback(&[libc::SYS_openat2, libc::SYS_fsopen, libc::SYS_open_tree]);
    }

    fn fallback(refused: &[libc::c_long]) {
        test_fork::in_child(|| {
            for nr in refused {
                test_fork::refuse_with_enosys(*nr)?;
            }
            let proc = ProcRoot::new().map_err(|e| e.to_string())?;
            let own = proc.own("status").map_err(|e| e.to_string())?;
            let status = proc.read(&own).map_err(|e| e.to_string())?;
            if !status.contains("CapBnd:") {
                return Err(format!("status {status:?}"));
            }
            if proc.open(Path::new("self/status"), OFlag::O_RDONLY).is_ok() {
                return Err("followed the self symlink".into());
            }
            Ok(())
        });
    }
}
