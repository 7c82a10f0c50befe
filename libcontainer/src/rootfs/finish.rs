//! After pivot_root: read-only and masked paths, a shared rootfs propagation, a read-only root.

use super::mounts::{self, is_dev, Ctx, NONE};
use super::options::{self, MOUNT_ATTR_RDONLY};
use super::paths;
use super::{attach, RootfsError};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, major, minor, SFlag};
use nix::sys::statfs::{statfs, PROC_SUPER_MAGIC};
use oci_spec::runtime::Spec;
use std::os::fd::OwnedFd;
use std::path::Path;

pub(super) fn finish(spec: &Spec) -> Result<(), RootfsError> {
    let root =
        paths::open_dir(Path::new("/")).map_err(Ctx::new("root.path", "/").fail("open /"))?;
    let linux = spec.linux().as_ref();
    let readonly = linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or_default();
    let masked = linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or_default();
    if !readonly.is_empty() || !masked.is_empty() {
        require_procfs()?;
    }
    for (index, path) in readonly.iter().enumerate() {
        let ctx = Ctx::new(format!("linux.readonlyPaths[{index}]"), path);
        readonly_path(&root, Path::new(path), &ctx)?;
    }
    let mut null = None;
    for (index, path) in masked.iter().enumerate() {
        let ctx = Ctx::new(format!("linux.maskedPaths[{index}]"), path);
        mask_path(&root, Path::new(path), &mut null, &ctx)?;
    }
    read_only_dev(&root, spec)?;
    // The container's "/" is the rootfs bind, which inherited its propagation from the
    // rootfs's parent, and shared or unbindable had to wait for pivot_root: set it as asked.
    // Shared is a peer group of its own, as with runc, not also a slave of the host's.
    if let Some(flags) = options::rootfs_propagation(spec)? {
        let ctx = Ctx::new("linux.rootfsPropagation", "/");
        if flags.contains(MsFlags::MS_SHARED) {
            let private = MsFlags::MS_PRIVATE | (flags & MsFlags::MS_REC);
            mount(NONE, "/", NONE, private, NONE).map_err(ctx.fail("make / private"))?;
        }
        mount(NONE, "/", NONE, flags, NONE).map_err(ctx.fail("set propagation of /"))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        let ctx = Ctx::new("root.readonly", "/");
        let fd = paths::resolve(&root, Path::new("/")).map_err(ctx.fail("open /"))?;
        // Only "/" itself: /dev, /proc and the other mounts keep their own flags, as with runc.
        attach::setattr_or_remount(&fd, MOUNT_ATTR_RDONLY, MsFlags::MS_RDONLY, false)
            .map_err(ctx.fail("make / read-only"))?;
    }
    Ok(())
}

/// A /dev mount asked to be read-only was mounted writable (see `mounts::mount_entry`) so
/// that what goes under it could be made: remount it with its flags now, read-only included.
fn read_only_dev(root: &OwnedFd, spec: &Spec) -> Result<(), RootfsError> {
    let entries = spec.mounts().as_deref().unwrap_or_default();
    // The last /dev entry is the one mounted on top, the one the container sees.
    let Some((index, entry)) = entries
        .iter()
        .enumerate()
        .rfind(|(_, m)| is_dev(m.destination()))
    else {
        return Ok(());
    };
    let ctx = Ctx::new(format!("mounts[{index}]"), "/dev");
    // Parsed and validated before anything was mounted: it cannot fail here.
    let Ok(parsed) = options::parse(entry) else {
        return Ok(());
    };
    if !parsed.flags.contains(MsFlags::MS_RDONLY) {
        return Ok(());
    }
    let flags = parsed.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let dev = paths::resolve(root, Path::new("/dev")).map_err(ctx.fail("open /dev"))?;
    attach::remount(&dev, flags).map_err(ctx.fail("remount /dev read-only"))
}

/// The paths are mounted on through /proc/self/fd: that must be the container's procfs, not
/// a missing directory or something the image or a volume put at /proc.
fn require_procfs() -> Result<(), RootfsError> {
    let ctx = Ctx::new("linux.maskedPaths and linux.readonlyPaths", "/proc");
    let st = statfs("/proc/self/fd").map_err(ctx.fail("need a proc mount at /proc"))?;
    if st.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(ctx.fail("need a proc mount at /proc")(Errno::EINVAL));
    }
    Ok(())
}

/// Opens a path of the list inside the container (following symlinks inside it, or, with
/// `no_follow`, not at the last component); a missing one is skipped.
fn open_existing(
    root: &OwnedFd,
    path: &Path,
    no_follow: bool,
    ctx: &Ctx,
) -> Result<Option<OwnedFd>, RootfsError> {
    let opened = if no_follow {
        paths::resolve_no_follow(root, path)
    } else {
        paths::resolve(root, path)
    };
    match opened {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
        Err(e) => Err(ctx.fail("open")(e)),
    }
}

/// Bind the path onto itself and make that mount (and any below it) read-only, through the
/// new mount's fd; mount_setattr changes only the read-only bit, so nosuid, nodev and noexec
/// stay as they were.
fn readonly_path(root: &OwnedFd, path: &Path, ctx: &Ctx) -> Result<(), RootfsError> {
    let Some(fd) = open_existing(root, path, false, ctx)? else {
        return Ok(());
    };
    let made = attach::bind(&fd, &fd, true).map_err(ctx.fail("bind onto itself"))?;
    let mounted = mounts::placed(made, root, path, ctx)?;
    attach::make_readonly(&mounted).map_err(ctx.fail("make read-only"))
}

/// The container's /dev/null, checked on the fd that will be bound to be the null device
/// (char 1:3): a symlink there is not followed and anything else is refused, so a bind-mounted
/// /dev cannot turn a mask into a window on another file (CVE-2025-31133).
fn null_device(root: &OwnedFd, ctx: &Ctx) -> Result<OwnedFd, RootfsError> {
    let fd = paths::resolve_no_follow(root, Path::new("/dev/null"))
        .map_err(ctx.fail("open /dev/null"))?;
    let st = fstat(&fd).map_err(ctx.fail("stat /dev/null"))?;
    let is_char = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if !is_char || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3 {
        return Err(ctx.refuse(
            "/dev/null in the container is not the null device (char 1:3): \
             refusing to mask with it"
                .into(),
        ));
    }
    Ok(fd)
}

/// A directory is hidden under an empty read-only tmpfs, anything else under /dev/null; both
/// are mounted onto the fd of the path itself, a symlink included (never its target).
fn mask_path(
    root: &OwnedFd,
    path: &Path,
    null: &mut Option<OwnedFd>,
    ctx: &Ctx,
) -> Result<(), RootfsError> {
    let Some(fd) = open_existing(root, path, true, ctx)? else {
        return Ok(());
    };
    let st = fstat(&fd).map_err(ctx.fail("stat"))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
        mounts::new_fs(&fd, ("tmpfs", "tmpfs"), MsFlags::MS_RDONLY, &[])
            .map(drop)
            .map_err(ctx.fail("mount tmpfs"))
    } else {
        let null = match null {
            Some(null) => null,
            None => null.insert(null_device(root, ctx)?),
        };
        attach::bind(null, &fd, false)
            .map(drop)
            .map_err(ctx.fail("bind /dev/null"))
    }
}
