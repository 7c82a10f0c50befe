//! The rootfs bind mount and the config's `mounts`, each made through an fd resolved inside
//! the rootfs.

use super::options::{self, MountOptions, MOUNT_ATTR_ATIME_MASK};
use super::paths::{self, fd_path, Kind};
use super::{cgroup, copyup, RootfsError, RootfsOptions};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use oci_spec::runtime::Mount;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub(super) const NONE: Option<&str> = None;

/// Names the config entry being worked on, for errors.
pub(super) struct Ctx {
    pub field: String,
    pub path: PathBuf,
}

impl Ctx {
    pub fn new(field: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Ctx {
            field: field.into(),
            path: path.into(),
        }
    }

    pub fn fail(&self, op: &'static str) -> impl FnOnce(Errno) -> RootfsError + '_ {
        move |e| RootfsError::op(self.field.clone(), &self.path, op, e)
    }
}

/// Propagation of `/` (the requested one, or rslave so nothing we mount reaches the host;
/// shared and unbindable are applied only after pivot_root), the rootfs's
/// parent made private if shared (pivot_root needs that too), then the rootfs bind-mounted onto
/// itself so it is a mount point. Returns an fd of the rootfs mount.
pub(super) fn prepare_root(
    rootfs: &Path,
    propagation: Option<MsFlags>,
) -> Result<OwnedFd, RootfsError> {
    let ctx = Ctx::new("linux.rootfsPropagation", "/");
    // Always recursive: the rootfs is often a mount point of its own below "/", and a
    // non-recursive "slave" would leave it shared, so it would then be made private for
    // pivot_root and lose the master the config asked for (runc's bug). The mount namespace
    // is the container's own: recursion changes nothing on the host.
    let flags = match propagation {
        Some(p) if !options::applied_after_pivot(p) => p | MsFlags::MS_REC,
        _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    };
    mount(NONE, "/", NONE, flags, NONE).map_err(ctx.fail("set propagation of /"))?;
    let ctx = Ctx::new("root.path", rootfs);
    make_parent_private(rootfs).map_err(ctx.fail("make the rootfs's parent mount private"))?;
    mount(
        Some(rootfs),
        rootfs,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .map_err(ctx.fail("bind-mount the rootfs onto itself"))?;
    paths::open_dir(rootfs).map_err(ctx.fail("open"))
}

fn make_parent_private(rootfs: &Path) -> nix::Result<()> {
    let infos = procfs::process::Process::myself()
        .and_then(|p| p.mountinfo())
        .map_err(|_| Errno::EIO)?;
    let parent = infos
        .into_iter()
        .filter(|m| rootfs.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len());
    let Some(parent) = parent else { return Ok(()) };
    let shared = parent
        .opt_fields
        .iter()
        .any(|f| matches!(f, procfs::process::MountOptFields::Shared(_)));
    if shared {
        mount(NONE, &parent.mount_point, NONE, MsFlags::MS_PRIVATE, NONE)?;
    }
    Ok(())
}

/// Makes `mounts[index]` inside the rootfs.
pub(super) fn mount_entry(
    root: &OwnedFd,
    index: usize,
    entry: &Mount,
    opts: &RootfsOptions,
) -> Result<(), RootfsError> {
    let dest = entry.destination();
    let field = format!("mounts[{index}]");
    let mut parsed = options::parse(entry).map_err(|reason| RootfsError::InvalidMount {
        index,
        destination: dest.display().to_string(),
        reason,
    })?;
    if is_dev(dest) {
        // Its submounts (/dev/pts, /dev/shm), device nodes and symlinks are made in it first:
        // a read-only /dev is mounted writable and made read-only by `finish`, as with runc.
        parsed.flags.remove(MsFlags::MS_RDONLY);
    }
    let ctx = Ctx::new(field, dest);
    let typ = entry.typ().as_deref().unwrap_or("");
    if parsed.is_bind() {
        let source = bind_source(entry, opts);
        bind(root, &source, dest, &parsed, &ctx)?;
    } else if typ == "cgroup" {
        cgroup::mount_cgroup(root, dest, &parsed, opts, &ctx)?;
    } else {
        mount_fs(root, entry, typ, &parsed, &ctx)?;
    }
    apply_after(root, dest, &parsed, &ctx)
}

/// The destination is /dev (however it is spelled: `/dev/`, `//dev`).
pub(super) fn is_dev(dest: &Path) -> bool {
    dest.components().eq(Path::new("/dev").components())
}

fn bind_source(entry: &Mount, opts: &RootfsOptions) -> PathBuf {
    let source = entry.source().clone().unwrap_or_default();
    if source.is_absolute() {
        source
    } else {
        opts.bundle.join(source)
    }
}

/// Bind-mounts a host path, then remounts for the flags the bind itself ignored.
pub(super) fn bind(
    root: &OwnedFd,
    source: &Path,
    dest: &Path,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<(), RootfsError> {
    let meta = std::fs::metadata(source).map_err(|e| {
        ctx.fail("stat bind source")(Errno::from_raw(e.raw_os_error().unwrap_or(0)))
    })?;
    let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
    let target =
        paths::resolve_or_create(root, dest, kind).map_err(ctx.fail("create destination"))?;
    let flags = parsed.flags & (MsFlags::MS_BIND | MsFlags::MS_REC);
    // Data goes with the bind as runc passes it; the kernel ignores it there.
    let data = parsed.data();
    if let Some(data) = &data {
        log::debug!(
            "{}: data {data:?} on a bind mount: ignored by the kernel",
            ctx.field
        );
    }
    mount(
        Some(source),
        &fd_path(&target),
        NONE,
        flags,
        data.as_deref(),
    )
    .map_err(ctx.fail("bind mount"))?;
    let rest = parsed.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !rest.is_empty() {
        remount_bind(root, dest, rest).map_err(ctx.fail("remount bind mount with its options"))?;
    }
    Ok(())
}

/// Remounts the bind mount at `dest` with `flags`. In a user namespace the kernel refuses to
/// drop flags the host locked (nosuid, nodev, noexec, ro, atime): on EPERM retry keeping them.
pub(super) fn remount_bind(root: &impl AsFd, dest: &Path, flags: MsFlags) -> nix::Result<()> {
    let fd = paths::resolve(root, dest)?;
    let flags = flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount(NONE, &fd_path(&fd), NONE, flags, NONE) {
        Err(Errno::EPERM) => {
            let locked = locked_flags(&fd)?;
            mount(NONE, &fd_path(&fd), NONE, flags | locked, NONE)
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

/// A new filesystem instance (proc, tmpfs, devpts, mqueue, sysfs...).
fn mount_fs(
    root: &OwnedFd,
    entry: &Mount,
    typ: &str,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<(), RootfsError> {
    let dest = entry.destination();
    let target =
        paths::resolve_or_create(root, dest, Kind::Dir).map_err(ctx.fail("create destination"))?;
    let source = entry
        .source()
        .as_deref()
        .unwrap_or(Path::new(typ))
        .to_path_buf();
    if parsed.copy_up {
        return tmpfs_copy_up(root, &target, dest, &source, parsed, ctx);
    }
    let data = parsed.data();
    let made = mount(
        Some(&source),
        &fd_path(&target),
        Some(typ),
        parsed.flags,
        data.as_deref(),
    );
    match made {
        // Without its own network namespace (or owning the one it is in) a container may
        // not mount sysfs: it gets the host's /sys instead, with the entry's flags applied to
        // every submount so a read-only /sys stays read-only all the way down.
        Err(Errno::EPERM | Errno::EBUSY) if typ == "sysfs" => {
            sysfs_fallback(root, &target, dest, parsed, ctx)
        }
        other => other.map_err(ctx.fail("mount")),
    }
}

/// A tmpfs holding a copy of the directory it covers; made read-only only after the copy.
fn tmpfs_copy_up(
    root: &OwnedFd,
    target: &OwnedFd,
    dest: &Path,
    source: &Path,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<(), RootfsError> {
    let covered = paths::readable_dir(target).map_err(ctx.fail("open for tmpcopyup"))?;
    let data = parsed.data();
    let flags = parsed.flags - MsFlags::MS_RDONLY;
    mount(
        Some(source),
        &fd_path(target),
        Some("tmpfs"),
        flags,
        data.as_deref(),
    )
    .map_err(ctx.fail("mount"))?;
    let mounted = paths::resolve(root, dest)
        .and_then(|fd| paths::readable_dir(&fd))
        .map_err(ctx.fail("open the new tmpfs"))?;
    copyup::copy_dir(&covered, &mounted).map_err(ctx.fail("tmpcopyup"))?;
    if parsed.flags.contains(MsFlags::MS_RDONLY) {
        remount_bind(root, dest, parsed.flags).map_err(ctx.fail("remount read-only"))?;
    }
    Ok(())
}

fn sysfs_fallback(
    root: &OwnedFd,
    target: &OwnedFd,
    dest: &Path,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<(), RootfsError> {
    mount(
        Some("/sys"),
        &fd_path(target),
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .map_err(ctx.fail("bind-mount /sys"))?;
    let mounted = paths::resolve(root, dest).map_err(ctx.fail("open the /sys bind"))?;
    let pairs = [
        (MsFlags::MS_RDONLY, options::MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, options::MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, options::MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, options::MOUNT_ATTR_NOEXEC),
    ];
    let (ms, set) = pairs
        .iter()
        .filter(|(f, _)| parsed.flags.contains(*f))
        .fold((MsFlags::empty(), 0), |(ms, set), (f, a)| {
            (ms | *f, set | a)
        });
    setattr_or_remount(&mounted, set, ms, true).map_err(ctx.fail("mount_setattr on the /sys bind"))
}

/// Propagation changes, then the recursive attributes (rro, rnosuid...).
pub(super) fn apply_after(
    root: &OwnedFd,
    dest: &Path,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<(), RootfsError> {
    if parsed.propagation.is_empty() && !parsed.has_recursive_attrs() {
        return Ok(());
    }
    let fd = paths::resolve(root, dest).map_err(ctx.fail("open the mount"))?;
    for &flags in &parsed.propagation {
        mount(NONE, &fd_path(&fd), NONE, flags, NONE).map_err(ctx.fail("set propagation"))?;
    }
    if parsed.has_recursive_attrs() {
        let mut set = parsed.attr_set;
        let mut clr = parsed.attr_clr;
        if let Some(atime) = parsed.attr_atime {
            set |= atime;
            clr |= MOUNT_ATTR_ATIME_MASK;
        }
        mount_setattr(&fd, set, clr, true).map_err(ctx.fail("mount_setattr"))?;
    }
    Ok(())
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
    let raw = fd.as_fd().as_raw_fd();
    match mount_setattr(&raw, set, 0, recursive) {
        Err(Errno::ENOSYS) => {
            let flags = locked_flags(fd)? | ms | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
            mount(NONE, &fd_path(&raw), NONE, flags, NONE)
        }
        other => other,
    }
}

/// struct mount_attr of <linux/mount.h> (MOUNT_ATTR_SIZE_VER0); libc does not define it.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` is the root of (recursively with `recursive`).
/// Neither nix nor libc wrap it.
pub(super) fn mount_setattr(
    fd: &impl AsRawFd,
    set: u64,
    clr: u64,
    recursive: bool,
) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: a valid fd, a NUL-terminated empty path and a mount_attr of the size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret).map(drop)
}
