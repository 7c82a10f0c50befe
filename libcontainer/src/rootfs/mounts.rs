//! The rootfs bind mount and the config's `mounts`, each made onto an fd resolved inside the
//! rootfs and finished (flags, propagation) through the fd of the new mount (attach.rs).

use super::idmapped::IdmappedMounts;
use super::options::{self, MountOptions, MOUNT_ATTR_ATIME_MASK};
use super::paths::{self, Kind};
use super::{attach, cgroup, copyup, proc_check, RootfsError, RootfsOptions};
use crate::proc_root::ProcRoot;
use crate::sys;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, Mode, SFlag};
use oci_spec::runtime::Mount;
use std::os::fd::{AsFd, OwnedFd};
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

    pub fn refuse(&self, reason: String) -> RootfsError {
        RootfsError::Refused {
            field: self.field.clone(),
            path: self.path.display().to_string(),
            reason,
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
    proc: &ProcRoot,
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
    make_parent_private(proc, rootfs)
        .map_err(ctx.fail("make the rootfs's parent mount private"))?;
    let dir = paths::open_dir(rootfs).map_err(ctx.fail("open"))?;
    let made =
        attach::bind(&dir, &dir, true).map_err(ctx.fail("bind-mount the rootfs onto itself"))?;
    match made {
        Some(mnt) => Ok(mnt),
        None => paths::open_dir(rootfs).map_err(ctx.fail("open")),
    }
}

fn make_parent_private(proc: &ProcRoot, rootfs: &Path) -> nix::Result<()> {
    let infos = proc.mountinfo().map_err(|_| Errno::EIO)?;
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
    proc: &ProcRoot,
    root: &OwnedFd,
    index: usize,
    entry: &Mount,
    opts: &RootfsOptions,
    idmapped: &IdmappedMounts,
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
    // An exec'd init reads the premade mounts from its plan: one is used only for an entry
    // that asks for it.
    let premade = idmapped.get(index);
    if parsed.idmap.is_some() != premade.is_some() {
        return Err(
            ctx.refuse("idmapped mount: the runtime's plan does not match the entry".into())
        );
    }
    // The notify directory, cloned by the parent for an init in a user namespace.
    let notify = opts
        .premade
        .filter(|(i, _)| *i == index && parsed.is_bind());
    let mnt = if let Some(premade) = premade {
        attach_premade(root, premade.as_fd(), dest, &parsed, &ctx)?
    } else if let Some((_, fd)) = notify {
        // SAFETY: the parent made this fd for the init, which keeps it open until its execve.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        attach_premade(root, fd, dest, &parsed, &ctx)?
    } else if parsed.is_bind() {
        let source = bind_source_in(entry, &opts.bundle);
        bind(root, &source, dest, &parsed, &ctx)?
    } else if typ == "cgroup" {
        cgroup::mount_cgroup(proc, root, dest, &parsed, opts, &ctx)?
    } else {
        mount_fs(root, entry, typ, &parsed, &ctx)?
    };
    apply_after(&mnt, &parsed, &ctx)
}

/// The destination is /dev (however it is spelled: `/dev/`, `//dev`).
pub(super) fn is_dev(dest: &Path) -> bool {
    dest.components().eq(Path::new("/dev").components())
}

/// A bind entry's source: relative ones are relative to the bundle.
pub(super) fn bind_source_in(entry: &Mount, bundle: &Path) -> PathBuf {
    let source = entry.source().clone().unwrap_or_default();
    if source.is_absolute() {
        source
    } else {
        bundle.join(source)
    }
}

/// Attaches a detached mount the parent made (an idmapped bind, idmapped.rs; the notify
/// directory, `RootfsOptions::premade`) where `dest` resolves inside the rootfs, then sets the
/// flags of the entry on it, as `bind` does. Returns a new fd of the mount.
fn attach_premade(
    root: &impl AsFd,
    mnt: std::os::fd::BorrowedFd<'_>,
    dest: &Path,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<OwnedFd, RootfsError> {
    let st = fstat(mnt).map_err(ctx.fail("stat the premade mount"))?;
    let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    let kind = if is_dir { Kind::Dir } else { Kind::File };
    let target =
        paths::resolve_or_create(root, dest, kind).map_err(ctx.fail("create destination"))?;
    proc_check::check_target(ctx, &target)?;
    sys::mount::attach(&mnt, &target).map_err(ctx.fail("attach the premade mount"))?;
    let mnt = mnt
        .try_clone_to_owned()
        .map_err(|e| ctx.fail("dup")(super::idmapped::errno_of(&e)))?;
    let rest = parsed.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !rest.is_empty() {
        attach::remount(&mnt, rest).map_err(ctx.fail("remount bind mount with its options"))?;
    }
    Ok(mnt)
}

/// The fd of a mount just made: the mount API's own, or (where mount(2) made it) the
/// destination resolved again inside the rootfs, which now leads onto the new mount.
pub(super) fn placed(
    made: Option<OwnedFd>,
    root: &impl AsFd,
    dest: &Path,
    ctx: &Ctx,
) -> Result<OwnedFd, RootfsError> {
    match made {
        Some(mnt) => Ok(mnt),
        None => paths::resolve(root, dest).map_err(ctx.fail("open the new mount")),
    }
}

/// Bind-mounts a host path, then sets the flags the bind itself ignored on the new mount.
/// Returns the new mount's fd.
pub(super) fn bind(
    root: &impl AsFd,
    source: &Path,
    dest: &Path,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<OwnedFd, RootfsError> {
    let src = nix::fcntl::open(source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(ctx.fail("stat bind source"))?;
    let st = fstat(&src).map_err(ctx.fail("stat bind source"))?;
    let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    let kind = if is_dir { Kind::Dir } else { Kind::File };
    let target =
        paths::resolve_or_create(root, dest, kind).map_err(ctx.fail("create destination"))?;
    // Data next to `bind` is accepted as runc accepts it; the kernel ignores it on a bind.
    if !parsed.data.is_empty() {
        log::debug!(
            "{}: data {:?} on a bind mount: ignored",
            ctx.field,
            parsed.data
        );
    }
    proc_check::check_target(ctx, &target)?;
    let recursive = parsed.flags.contains(MsFlags::MS_REC);
    let made = attach::bind(&src, &target, recursive).map_err(ctx.fail("bind mount"))?;
    let mnt = placed(made, root, dest, ctx)?;
    let rest = parsed.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !rest.is_empty() {
        attach::remount(&mnt, rest).map_err(ctx.fail("remount bind mount with its options"))?;
    }
    Ok(mnt)
}

/// A new filesystem of `typ` onto the held `target`: made detached and attached (the mount
/// API; returns its fd), or mounted with mount(2) where that is missing (returns None).
pub(super) fn new_fs(
    target: &impl AsFd,
    (typ, source): (&str, &str),
    flags: MsFlags,
    data: &[String],
) -> nix::Result<Option<OwnedFd>> {
    match attach::detached_fs(typ, source, flags, data) {
        Ok(mnt) => sys::mount::attach(&mnt, target).map(|()| Some(mnt)),
        Err(Errno::ENOSYS) => attach::mount_at(typ, source, flags, data, target).map(|()| None),
        Err(e) => Err(e),
    }
}

/// A new filesystem instance (proc, tmpfs, devpts, mqueue, sysfs...).
fn mount_fs(
    root: &OwnedFd,
    entry: &Mount,
    typ: &str,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<OwnedFd, RootfsError> {
    let dest = entry.destination();
    let target = if matches!(typ, "proc" | "sysfs") {
        proc_check::fs_mount_point(root, typ, ctx)?
    } else {
        let target = paths::resolve_or_create(root, dest, Kind::Dir)
            .map_err(ctx.fail("create destination"))?;
        proc_check::check_target(ctx, &target)?;
        target
    };
    let source = entry.source().as_deref().unwrap_or(Path::new(typ));
    let source = source.to_string_lossy();
    if parsed.copy_up {
        return tmpfs_copy_up(root, &target, &source, parsed, ctx);
    }
    match new_fs(&target, (typ, &source), parsed.flags, &parsed.data) {
        Ok(made) => placed(made, root, dest, ctx),
        // Without its own network namespace (or owning the one it is in) a container may
        // not mount sysfs: it gets the host's /sys instead, with the entry's flags applied to
        // every submount so a read-only /sys stays read-only all the way down.
        Err(Errno::EPERM | Errno::EBUSY) if typ == "sysfs" => {
            sysfs_fallback(root, &target, parsed, ctx)
        }
        Err(e) => Err(ctx.fail("mount")(e)),
    }
}

/// A tmpfs holding a copy of the directory it covers: filled while still detached (with the
/// mount API), and made read-only only after the copy.
fn tmpfs_copy_up(
    root: &OwnedFd,
    target: &OwnedFd,
    source: &str,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<OwnedFd, RootfsError> {
    let covered = paths::readable_dir(target).map_err(ctx.fail("open for tmpcopyup"))?;
    let flags = parsed.flags - MsFlags::MS_RDONLY;
    let (mnt, attached) = match attach::detached_fs("tmpfs", source, flags, &parsed.data) {
        Ok(mnt) => (mnt, false),
        Err(Errno::ENOSYS) => {
            attach::mount_at("tmpfs", source, flags, &parsed.data, target)
                .map_err(ctx.fail("mount"))?;
            (placed(None, root, &ctx.path, ctx)?, true)
        }
        Err(e) => return Err(ctx.fail("mount")(e)),
    };
    let mounted = paths::readable_dir(&mnt).map_err(ctx.fail("open the new tmpfs"))?;
    copyup::copy_dir(&covered, &mounted).map_err(ctx.fail("tmpcopyup"))?;
    if !attached {
        sys::mount::attach(&mnt, target).map_err(ctx.fail("mount"))?;
    }
    if parsed.flags.contains(MsFlags::MS_RDONLY) {
        attach::remount(&mnt, parsed.flags).map_err(ctx.fail("remount read-only"))?;
    }
    Ok(mnt)
}

fn sysfs_fallback(
    root: &OwnedFd,
    target: &OwnedFd,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<OwnedFd, RootfsError> {
    let host = paths::open_dir(Path::new("/sys")).map_err(ctx.fail("open the host's /sys"))?;
    let made = attach::bind(&host, target, true).map_err(ctx.fail("bind-mount /sys"))?;
    let mounted = placed(made, root, &ctx.path, ctx)?;
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
    attach::setattr_or_remount(&mounted, set, ms, true)
        .map_err(ctx.fail("mount_setattr on the /sys bind"))?;
    Ok(mounted)
}

/// Propagation changes, then the recursive attributes (rro, rnosuid...), on the new mount.
pub(super) fn apply_after(
    mnt: &OwnedFd,
    parsed: &MountOptions,
    ctx: &Ctx,
) -> Result<(), RootfsError> {
    for &flags in &parsed.propagation {
        attach::set_propagation(mnt, flags).map_err(ctx.fail("set propagation"))?;
    }
    if parsed.has_recursive_attrs() {
        let mut set = parsed.attr_set;
        let mut clr = parsed.attr_clr;
        if let Some(atime) = parsed.attr_atime {
            set |= atime;
            clr |= MOUNT_ATTR_ATIME_MASK;
        }
        sys::mount::setattr(mnt, set, clr, 0, true).map_err(ctx.fail("mount_setattr"))?;
    }
    Ok(())
}
