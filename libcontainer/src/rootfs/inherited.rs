//! A container that inherits the runtime's mount namespace (no `mount` entry, or one joining
//! the runtime's own namespace by path): the spec says it shares that namespace, and runc
//! then sets the rootfs up in it and chroots. berth does the same without touching anything
//! of the host's: no propagation change of `/` or of the rootfs's parent (runc makes the
//! host's `/` rslave), and no pivot_root (it would move the root of every host process).
//!
//! The parent (`berth create`) bind-mounts the rootfs onto itself, private, before the init
//! exists: every mount the init makes lands under that bind, none propagates to other
//! namespaces, and detaching the bind at delete (or when create fails) removes them all, where
//! runc leaves them on the host. The bind's mount id is kept so that only it is detached, never
//! a mount the caller had at the rootfs (containerd's overlay).

use super::mounts::{Ctx, NONE};
use super::RootfsError;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::Path;

/// The runtime's own root cannot be the rootfs here: a bind of `/` onto itself is stacked
/// where no path lookup reaches it, so the container's mounts (/proc, /dev) would land on the
/// host's own directories. (`rootfs` is canonical.)
pub fn check_rootfs(rootfs: &Path) -> Result<(), RootfsError> {
    if rootfs == Path::new("/") {
        return Err(RootfsError::Unsupported {
            field: "root.path",
            reason: "\"/\" needs a mount namespace of the container's own: in the \
                     runtime's, its mounts would cover the host's /proc and /dev",
        });
    }
    Ok(())
}

/// Bind-mounts `rootfs` onto itself (recursively), private; returns the bind's mount id.
pub fn bind_rootfs_in_place(rootfs: &Path) -> Result<u64, RootfsError> {
    let ctx = Ctx::new("root.path", rootfs);
    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some(rootfs), rootfs, NONE, bind, NONE).map_err(ctx.fail("bind-mount onto itself"))?;
    let private = MsFlags::MS_PRIVATE | MsFlags::MS_REC;
    let made = mount(NONE, rootfs, NONE, private, NONE)
        .map_err(ctx.fail("make the rootfs bind private"))
        .and_then(|()| top_mount_id(rootfs).ok_or_else(|| ctx.fail("find the bind")(Errno::EIO)));
    if made.is_err() {
        let _ = umount2(rootfs, MntFlags::MNT_DETACH);
    }
    made
}

/// Detaches the bind `bind_rootfs_in_place` made (with everything mounted under it), if it is
/// still the top mount at `rootfs`.
pub fn detach_rootfs(rootfs: &Path, mount_id: u64) -> Result<(), RootfsError> {
    if top_mount_id(rootfs) != Some(mount_id) {
        return Ok(());
    }
    umount2(rootfs, MntFlags::MNT_DETACH)
        .map_err(Ctx::new("root.path", rootfs).fail("detach the rootfs bind"))
}

/// The id of the mount on top at `path` in this mount namespace, from mountinfo.
fn top_mount_id(path: &Path) -> Option<u64> {
    let infos = procfs::process::Process::myself().ok()?.mountinfo().ok()?;
    infos
        .into_iter()
        .rfind(|m| m.mount_point == path)
        .and_then(|m| u64::try_from(m.mnt_id).ok())
}

/// chroot into the prepared rootfs (the init, in the inherited namespace).
pub fn chroot_into(rootfs: &Path) -> Result<(), RootfsError> {
    let ctx = Ctx::new("root.path", rootfs);
    nix::unistd::chroot(rootfs).map_err(ctx.fail("chroot"))?;
    nix::unistd::chdir("/").map_err(ctx.fail("chdir /"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtimes_root_is_refused_as_an_inherited_rootfs() {
        let e = check_rootfs(Path::new("/")).unwrap_err().to_string();
        assert!(e.starts_with("root.path:"), "{e}");
        check_rootfs(Path::new("/tmp/bundle/rootfs")).unwrap();
    }
}
