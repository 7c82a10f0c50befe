//! Making a mount onto a destination fd berth already holds, and changing that mount (flags,
//! read-only, propagation) through the fd of the new mount: nothing is looked up by path again
//! between the steps, so a symlink or a mount raced in meanwhile cannot redirect them.
//!
//! With the fd-based mount API (Linux 5.2: open_tree, move_mount, fsopen; 5.12:
//! mount_setattr) the new mount is an fd from the start. On ENOSYS the old calls are used:
//! mount(2) through the /proc/self/fd/N magic link of the held fd (of the mount's own fd,
//! where one exists, which names exactly that mount), and the caller finds a mount it made
//! that way by resolving its destination inside the rootfs again, the one step that is then
//! path-based.

use super::mounts::NONE;
use super::options::{MOUNT_ATTR_ATIME_MASK, MOUNT_ATTR_RDONLY};
use super::paths::fd_path;
use crate::sys::{self, mount::FsContext};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

const M_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);

/// The per-mount flags and their mount_setattr(2) bits (the atime modes are handled apart).
const PER_MOUNT: [(MsFlags, u64); 6] = [
    (MsFlags::MS_RDONLY, libc::MOUNT_ATTR_RDONLY),
    (MsFlags::MS_NOSUID, libc::MOUNT_ATTR_NOSUID),
    (MsFlags::MS_NODEV, libc::MOUNT_ATTR_NODEV),
    (MsFlags::MS_NOEXEC, libc::MOUNT_ATTR_NOEXEC),
    (MsFlags::MS_NODIRATIME, libc::MOUNT_ATTR_NODIRATIME),
    (M_NOSYMFOLLOW, libc::MOUNT_ATTR_NOSYMFOLLOW),
];

/// Superblock flags fsconfig knows by name; other superblock flags (silent, iversion) and
/// `remount` send the mount through mount(2).
const SB_WORDS: [(MsFlags, &str); 5] = [
    (MsFlags::MS_RDONLY, "ro"),
    (MsFlags::MS_SYNCHRONOUS, "sync"),
    (MsFlags::MS_DIRSYNC, "dirsync"),
    (MsFlags::MS_LAZYTIME, "lazytime"),
    (MsFlags::MS_MANDLOCK, "mand"),
];

fn atime_attr(flags: MsFlags) -> u64 {
    if flags.contains(MsFlags::MS_NOATIME) {
        libc::MOUNT_ATTR_NOATIME
    } else if flags.contains(MsFlags::MS_STRICTATIME) {
        libc::MOUNT_ATTR_STRICTATIME
    } else {
        libc::MOUNT_ATTR_RELATIME
    }
}

/// The attributes a new mount gets from mount(2) `flags`.
fn new_mount_attrs(flags: MsFlags) -> u64 {
    PER_MOUNT
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .fold(atime_attr(flags), |acc, (_, a)| acc | a)
}

/// (set, clear) for mount_setattr that leave a mount's flags as a bind remount with `flags`
/// would: exactly these per-mount flags, and the atime mode kept unless one is named.
fn remount_attrs(flags: MsFlags) -> (u64, u64) {
    let (mut set, mut clr) = (0, 0);
    for (f, a) in PER_MOUNT {
        if flags.contains(f) {
            set |= a;
        } else if f != MsFlags::MS_NODIRATIME {
            clr |= a;
        }
    }
    let atime = MsFlags::MS_NOATIME | MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME;
    if flags.intersects(atime | MsFlags::MS_NODIRATIME) {
        set |= atime_attr(flags);
        clr |= MOUNT_ATTR_ATIME_MASK;
        if !flags.contains(MsFlags::MS_NODIRATIME) {
            clr |= libc::MOUNT_ATTR_NODIRATIME;
        }
    }
    (set, clr)
}

/// Binds what `source` names onto `target` (with every mount below it when `recursive`).
/// Returns the new mount's fd, or None where the mount API is missing and mount(2) did it.
pub(super) fn bind(
    source: &impl AsFd,
    target: &impl AsFd,
    recursive: bool,
) -> nix::Result<Option<OwnedFd>> {
    match sys::mount::clone_tree(source, Path::new(""), recursive) {
        Ok(mnt) => sys::mount::attach(&mnt, target).map(|()| Some(mnt)),
        Err(Errno::ENOSYS) => {
            let rec = if recursive {
                MsFlags::MS_REC
            } else {
                MsFlags::empty()
            };
            let src = fd_path(&source.as_fd().as_raw_fd());
            let at = fd_path(&target.as_fd().as_raw_fd());
            mount(Some(&src), &at, NONE, MsFlags::MS_BIND | rec, NONE).map(|()| None)
        }
        Err(e) => Err(e),
    }
}

/// A new `typ` filesystem, detached, with mount(2)-style `flags` and `data`. ENOSYS where
/// the mount API is missing or a flag has no fsconfig word: the caller uses `mount_at`.
pub(super) fn detached_fs(
    typ: &str,
    source: &str,
    flags: MsFlags,
    data: &[String],
) -> nix::Result<OwnedFd> {
    let words = SB_WORDS.iter().fold(MsFlags::empty(), |a, (f, _)| a | *f);
    let handled = words
        | PER_MOUNT.iter().fold(MsFlags::empty(), |a, (f, _)| a | *f)
        | MsFlags::MS_NOATIME
        | MsFlags::MS_RELATIME
        | MsFlags::MS_STRICTATIME
        | MsFlags::MS_REC;
    if !handled.contains(flags) {
        return Err(Errno::ENOSYS);
    }
    let fc = FsContext::new(typ)?;
    fc.set_source(source)?;
    for option in data {
        fc.set(option)?;
    }
    for (f, word) in SB_WORDS {
        if flags.contains(f) {
            fc.set(word)?;
        }
    }
    fc.mount(new_mount_attrs(flags))
}

/// mount(2) of a new filesystem onto the held `target` (the fallback of `detached_fs`).
pub(super) fn mount_at(
    typ: &str,
    source: &str,
    flags: MsFlags,
    data: &[String],
    target: &impl AsFd,
) -> nix::Result<()> {
    let data = (!data.is_empty()).then(|| data.join(","));
    let at = fd_path(&target.as_fd().as_raw_fd());
    mount(Some(source), &at, Some(typ), flags, data.as_deref())
}

/// Sets the per-mount flags of the mount `mnt` is the root of as a bind remount with `flags`
/// does. In a user namespace the kernel refuses to drop flags the host locked (nosuid,
/// nodev, noexec, ro, atime): on EPERM it is retried keeping them.
pub(super) fn remount(mnt: &impl AsFd, flags: MsFlags) -> nix::Result<()> {
    let (set, clr) = remount_attrs(flags);
    match sys::mount::setattr(mnt, set, clr, 0, false) {
        Err(Errno::EPERM) => {
            let (set, clr) = remount_attrs(flags | locked_flags(mnt)?);
            sys::mount::setattr(mnt, set, clr, 0, false)
        }
        Err(Errno::ENOSYS) => {
            let at = fd_path(&mnt.as_fd().as_raw_fd());
            let flags = flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
            match mount(NONE, &at, NONE, flags, NONE) {
                Err(Errno::EPERM) => mount(NONE, &at, NONE, flags | locked_flags(mnt)?, NONE),
                other => other,
            }
        }
        other => other,
    }
}

/// A propagation change (MS_SHARED, MS_SLAVE..., with MS_REC for the whole tree) of the mount
/// `mnt` is the root of.
pub(super) fn set_propagation(mnt: &impl AsFd, flags: MsFlags) -> nix::Result<()> {
    let recursive = flags.contains(MsFlags::MS_REC);
    let propagation = (flags - MsFlags::MS_REC).bits();
    match sys::mount::setattr(mnt, 0, 0, propagation, recursive) {
        Err(Errno::ENOSYS) => {
            let at = fd_path(&mnt.as_fd().as_raw_fd());
            mount(NONE, &at, NONE, flags, NONE)
        }
        other => other,
    }
}

/// The flags of the mount `fd` is on that a less privileged user namespace cannot change.
pub(super) fn locked_flags(fd: &impl AsFd) -> nix::Result<MsFlags> {
    let st = fstatvfs(fd)?.flags();
    let pairs = [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    Ok(pairs
        .iter()
        .filter(|(s, _)| st.contains(*s))
        .fold(MsFlags::empty(), |acc, (_, m)| acc | *m))
}

/// Sets the `ms` flags (read-only, nosuid, nodev, noexec: `set` in mount_setattr's terms) on
/// the mount `fd` is the root of. Where mount_setattr answers ENOSYS (kernels before 5.12), a
/// bind remount does it for that mount alone, keeping its other flags, as runc does: mounts
/// below it keep their own flags there.
pub(super) fn setattr_or_remount(
    fd: &impl AsFd,
    set: u64,
    ms: MsFlags,
    recursive: bool,
) -> nix::Result<()> {
    match sys::mount::setattr(fd, set, 0, 0, recursive) {
        Err(Errno::ENOSYS) => {
            let flags = locked_flags(fd)? | ms | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
            let at = fd_path(&fd.as_fd().as_raw_fd());
            mount(NONE, &at, NONE, flags, NONE)
        }
        other => other,
    }
}

/// Read-only for the mount `fd` is the root of and every mount below it.
pub(super) fn make_readonly(fd: &impl AsFd) -> nix::Result<()> {
    setattr_or_remount(fd, MOUNT_ATTR_RDONLY, MsFlags::MS_RDONLY, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remount_attributes_keep_or_set_the_atime_mode() {
        let ro_nosuid = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID;
        let (set, clr) = remount_attrs(ro_nosuid);
        assert_eq!(set, libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID);
        assert_eq!(
            clr & MOUNT_ATTR_ATIME_MASK,
            0,
            "atime kept when none is named"
        );
        assert_ne!(clr & libc::MOUNT_ATTR_NODEV, 0);
        let (set, clr) = remount_attrs(MsFlags::MS_NOATIME);
        assert_eq!(set, libc::MOUNT_ATTR_NOATIME);
        assert_eq!(clr & MOUNT_ATTR_ATIME_MASK, MOUNT_ATTR_ATIME_MASK);
        assert_eq!(
            new_mount_attrs(MsFlags::MS_NODEV | MsFlags::MS_STRICTATIME),
            libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_STRICTATIME
        );
    }
}
