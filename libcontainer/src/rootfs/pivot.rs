//! Making the prepared rootfs the process's root.

use super::mounts::{Ctx, NONE};
use super::RootfsError;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root as sys_pivot_root};
use std::path::Path;

/// pivot_root(".", "."): the old root ends up stacked under the new one at "/", from where it
/// is detached, with no directory needed inside the rootfs to hold it.
pub(super) fn pivot_root(rootfs: &Path) -> Result<(), RootfsError> {
    let ctx = Ctx::new("root.path", rootfs);
    let new_root = open(
        rootfs,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(ctx.fail("open"))?;
    fchdir(&new_root).map_err(ctx.fail("chdir"))?;
    sys_pivot_root(".", ".").map_err(ctx.fail("pivot_root"))?;
    // The old root may still be shared with the host: make it a slave first so detaching it
    // here does not unmount anything there.
    mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
        .map_err(ctx.fail("make the old root a slave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(ctx.fail("detach the old root"))?;
    chdir("/").map_err(ctx.fail("chdir /"))
}

/// `--no-pivot`: move the rootfs mount over "/" and chroot into it (for hosts whose root is
/// a ramfs, where pivot_root is not allowed). The old root stays reachable underneath, as
/// with runc --no-pivot.
pub(super) fn move_root(rootfs: &Path) -> Result<(), RootfsError> {
    let ctx = Ctx::new("root.path", rootfs);
    chdir(rootfs).map_err(ctx.fail("chdir"))?;
    mount(Some(rootfs), "/", NONE, MsFlags::MS_MOVE, NONE).map_err(ctx.fail("move mount to /"))?;
    chroot(".").map_err(ctx.fail("chroot"))?;
    chdir("/").map_err(ctx.fail("chdir /"))
}
