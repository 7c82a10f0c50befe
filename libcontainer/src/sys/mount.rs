//! The fd-based mount API (Linux 5.2+: open_tree, move_mount, fsopen, fsconfig, fsmount; 5.12+:
//! mount_setattr). A mount made this way is an fd from the start: it is configured while
//! detached, attached onto an fd berth already holds, and changed afterwards through the same
//! fd, so no path (and no /proc/self/fd magic link) is resolved again between the steps.
//!
//! Neither nix nor libc wrap these calls. On ENOSYS (or EPERM from a seccomp profile) the
//! callers fall back: rootfs and proc_root to mount(2) on paths they verify, the sealed exe to
//! a sealed memfd copy.

use super::new_fd;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

fn cstr(s: &str) -> nix::Result<CString> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

fn path_cstr(p: &Path) -> nix::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

/// open_tree(dir, path, flags): a new fd on the mount at `path` (a detached copy of it with
/// OPEN_TREE_CLONE).
fn open_tree(dir: BorrowedFd<'_>, path: &Path, flags: u32) -> nix::Result<OwnedFd> {
    let c = path_cstr(path)?;
    // SAFETY: an open dirfd (or AT_FDCWD), a NUL-terminated path that outlives the call and
    // flags only; the kernel returns a new fd or -1.
    new_fd(unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), c.as_ptr(), flags) })
}

/// A detached copy of the mount at `path` (relative to `dir`, or `dir` itself when `path` is
/// empty), with every mount below it when `recursive`. Symlinks in `path` are not followed at
/// its end.
pub fn clone_tree(dir: &impl AsFd, path: &Path, recursive: bool) -> nix::Result<OwnedFd> {
    let mut flags =
        libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_SYMLINK_NOFOLLOW as u32;
    if path.as_os_str().is_empty() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    open_tree(dir.as_fd(), path, flags)
}

/// A detached bind mount of just the file `path` names, symlinks followed (as the magic link
/// /proc/self/exe must be): attached nowhere, dissolved when its last fd is closed.
pub fn clone_file(path: &Path) -> nix::Result<OwnedFd> {
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    open_tree(nix::fcntl::AT_FDCWD, path, flags)
}

/// Attaches the detached mount `mnt` onto what `target` (an O_PATH fd) names. `target` is
/// not resolved again: the mount lands exactly where the fd points.
pub fn attach(mnt: &impl AsFd, target: &impl AsFd) -> nix::Result<()> {
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: two valid fds, NUL-terminated empty paths and flags only.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_fd().as_raw_fd(),
            c"".as_ptr(),
            target.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
        )
    };
    Errno::result(ret).map(drop)
}

/// A new filesystem context (fsopen), configured by `FsConfig` and turned into a mount.
pub struct FsContext {
    fd: OwnedFd,
}

impl FsContext {
    pub fn new(fstype: &str) -> nix::Result<Self> {
        let t = cstr(fstype)?;
        // SAFETY: a NUL-terminated name and flags only.
        let fd =
            new_fd(unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), libc::FSOPEN_CLOEXEC) })?;
        Ok(FsContext { fd })
    }

    fn config(&self, cmd: u32, key: Option<&CString>, value: Option<&CString>) -> nix::Result<()> {
        let key = key.map_or(std::ptr::null(), |k| k.as_ptr());
        let value = value.map_or(std::ptr::null(), |v| v.as_ptr());
        // SAFETY: a valid fs context fd, and for the three commands this private fn is called
        // with (SET_FLAG: key; SET_STRING: key and value; CMD_CREATE: neither) NUL-terminated
        // strings that outlive the call, or NULL where the command takes none.
        let ret =
            unsafe { libc::syscall(libc::SYS_fsconfig, self.fd.as_raw_fd(), cmd, key, value, 0) };
        Errno::result(ret).map(drop)
    }

    /// One `key` or `key=value` of a mount(2) data string: the kernel splits legacy data the
    /// same way.
    pub fn set(&self, option: &str) -> nix::Result<()> {
        match option.split_once('=') {
            Some((k, v)) => {
                self.config(libc::FSCONFIG_SET_STRING, Some(&cstr(k)?), Some(&cstr(v)?))
            }
            None => self.config(libc::FSCONFIG_SET_FLAG, Some(&cstr(option)?), None),
        }
    }

    pub fn set_source(&self, source: &str) -> nix::Result<()> {
        self.config(
            libc::FSCONFIG_SET_STRING,
            Some(&cstr("source")?),
            Some(&cstr(source)?),
        )
    }

    /// Creates the superblock and returns a detached mount of it with `attrs` (MOUNT_ATTR_*).
    pub fn mount(self, attrs: u64) -> nix::Result<OwnedFd> {
        self.config(libc::FSCONFIG_CMD_CREATE, None, None)?;
        // SAFETY: a valid fs context fd and flags only.
        new_fd(unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.fd.as_raw_fd(),
                libc::FSMOUNT_CLOEXEC,
                attrs as libc::c_uint,
            )
        })
    }
}

/// mount_setattr(2) on the mount `fd` is the root of (recursively with `recursive`):
/// `set` and `clr` are MOUNT_ATTR_* bits, `propagation` an MS_* propagation type or 0.
pub fn setattr(
    fd: &impl AsFd,
    set: u64,
    clr: u64,
    propagation: u64,
    recursive: bool,
) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: set,
        attr_clr: clr,
        propagation,
        userns_fd: 0,
    };
    setattr_raw(fd, &attr, recursive)
}

/// Makes the detached mount `fd` (and every mount below it when `recursive`) an idmapped
/// mount with the id maps of the user namespace `userns` (MOUNT_ATTR_IDMAP, Linux 5.12). The
/// kernel allows this once per mount, only before it is attached anywhere.
pub fn set_idmap(fd: &impl AsFd, userns: &impl AsFd, recursive: bool) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_fd().as_raw_fd() as u64,
    };
    setattr_raw(fd, &attr, recursive)
}

fn setattr_raw(fd: &impl AsFd, attr: &libc::mount_attr, recursive: bool) -> nix::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: a valid fd, a NUL-terminated empty path and a mount_attr of the size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(ret).map(drop)
}
