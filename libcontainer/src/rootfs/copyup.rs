//! `tmpcopyup`: a tmpfs mounted over an image directory starts with a copy of what it covers
//! (contents, owners, modes, symlinks, nodes), as runc and crun do for podman's tmpfs mounts.

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{dup, fchownat, symlinkat, Gid, Uid};
use std::ffi::CStr;
use std::os::fd::OwnedFd;

fn open_dir_at(dir: &OwnedFd, name: &CStr) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(dir, name, flags, Mode::empty())
}

/// Copies the contents of directory `from` into directory `to` (both opened O_RDONLY).
pub(super) fn copy_dir(from: &OwnedFd, to: &OwnedFd) -> nix::Result<()> {
    for entry in Dir::from_fd(dup(from)?)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        copy_entry(from, to, name)?;
    }
    Ok(())
}

fn copy_entry(from: &OwnedFd, to: &OwnedFd, name: &CStr) -> nix::Result<()> {
    let st = fstatat(from, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
    match kind {
        SFlag::S_IFDIR => {
            mkdirat(to, name, Mode::from_bits_truncate(0o700))?;
            copy_dir(&open_dir_at(from, name)?, &open_dir_at(to, name)?)?;
        }
        SFlag::S_IFREG => {
            // The directory may be a volume a running container also writes: the entry can be
            // swapped for a FIFO after the fstatat. Non-blocking, and checked again on the fd,
            // so that cannot stall `create`.
            let src = openat(
                from,
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let opened = nix::sys::stat::fstat(&src)?;
            if SFlag::from_bits_truncate(opened.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
                return Err(Errno::EINVAL);
            }
            let create = OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC;
            let dst = openat(to, name, create, Mode::from_bits_truncate(0o600))?;
            std::io::copy(&mut std::fs::File::from(src), &mut std::fs::File::from(dst))
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(from, name)?;
            symlinkat(target.as_os_str(), to, name)?;
        }
        _ => mknodat(to, name, kind, mode, st.st_rdev)?,
    }
    let (uid, gid) = (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid));
    fchownat(to, name, Some(uid), Some(gid), AtFlags::AT_SYMLINK_NOFOLLOW)?;
    // After chown, which clears set-id bits; symlinks have no mode of their own.
    if kind != SFlag::S_IFLNK {
        fchmodat(to, name, mode, FchmodatFlags::FollowSymlink)?;
    }
    Ok(())
}
