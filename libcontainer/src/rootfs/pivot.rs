//! Making the prepared rootfs the process's root.

use super::mounts::{Ctx, NONE};
use super::RootfsError;
use crate::proc_root::ProcRoot;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root as sys_pivot_root};
use std::path::Path;

/// pivot_root(".", "."): the old root ends up stacked under the new one at "/", from where it
/// is detached, with no directory needed inside the rootfs to hold it.
pub(super) fn pivot_root(rootfs: &Path) -> Result<(), RootfsError> {
    let ctx = Ctx::new("root.path", rootfs);
    let old_root = open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(ctx.fail("open /"))?;
    let new_root = open(
        rootfs,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(ctx.fail("open"))?;
    fchdir(&new_root).map_err(ctx.fail("chdir"))?;
    sys_pivot_root(".", ".").map_err(ctx.fail("pivot_root"))?;
    // "." is still the new root; only from the old root's directory does "." name the old root
    // mount stacked on top. Without this, the rslave below would turn every shared mount of
    // the container into a slave.
    fchdir(&old_root).map_err(ctx.fail("chdir to the old root"))?;
    // The old root may still be shared with the host: make it a slave first so detaching it
    // here does not unmount anything there.
    mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
        .map_err(ctx.fail("make the old root a slave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(ctx.fail("detach the old root"))?;
    chdir("/").map_err(ctx.fail("chdir /"))
}

/// `--no-pivot`: move the rootfs mount over "/" and chroot into it (for hosts whose root is
/// a ramfs, where pivot_root is not allowed). The old root stays underneath, reachable by a
/// chroot escape, so the host's proc and sysfs mounts are detached first (as runc does):
/// they are what would let a container see or change the host's kernel state.
pub(super) fn move_root(rootfs: &Path) -> Result<(), RootfsError> {
    let ctx = Ctx::new("root.path", rootfs);
    hide_host_proc_and_sys(rootfs)?;
    chdir(rootfs).map_err(ctx.fail("chdir"))?;
    mount(Some(rootfs), "/", NONE, MsFlags::MS_MOVE, NONE).map_err(ctx.fail("move mount to /"))?;
    chroot(".").map_err(ctx.fail("chroot"))?;
    chdir("/").map_err(ctx.fail("chdir /"))
}

fn hide_host_proc_and_sys(rootfs: &Path) -> Result<(), RootfsError> {
    let read = Ctx::new("root.path", "/proc/self/mountinfo");
    let infos = ProcRoot::new()
        .map_err(read.fail("open a private procfs"))?
        .mountinfo()
        .map_err(|_| read.fail("read")(Errno::EIO))?;
    for info in infos {
        let host_side = !info.mount_point.starts_with(rootfs);
        if !host_side || !matches!(info.fs_type.as_str(), "proc" | "sysfs") {
            continue;
        }
        let at = &info.mount_point;
        let ctx = Ctx::new("root.path", at);
        // A slave first, so the detach does not propagate to the host.
        match mount(NONE, at, NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE) {
            Ok(()) => {}
            // Already detached along with a parent mount.
            Err(Errno::EINVAL | Errno::ENOENT) => continue,
            Err(e) => return Err(ctx.fail("make host mount a slave")(e)),
        }
        match umount2(at, MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::EINVAL) => {}
            // Locked in a user namespace: cover it instead.
            Err(Errno::EPERM) => mount(Some("tmpfs"), at, Some("tmpfs"), MsFlags::empty(), NONE)
                .map_err(ctx.fail("cover host mount"))?,
            Err(e) => return Err(ctx.fail("detach host mount")(e)),
        }
    }
    Ok(())
}
