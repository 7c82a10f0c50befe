//! The container's filesystem view: mounts, /dev, masked and read-only paths, pivot_root.
//!
//! Runs inside the container's init, in its new mount namespace, as root of the container's
//! user namespace. Every destination from the config is resolved inside the rootfs without
//! following a symlink out of it (openat2 RESOLVE_IN_ROOT), and the mount is attached onto the
//! resolved fd and finished (flags, read-only, propagation) through the new mount's own fd
//! (attach.rs: open_tree/fsmount + move_mount + mount_setattr; mount(2) through
//! /proc/self/fd/N where that API is missing), so a malicious rootfs cannot redirect a mount
//! onto the host. Nothing is mounted at or inside /proc but a procfs at /proc
//! (proc_check.rs), and masks use only the real null device.
//!
//! Sequence (called by `process::init`):
//! 1. `validate_mounts` — in the parent, before anything is created: unknown mount types,
//!    bad options, relative destinations are rejected here so bad input leaves nothing behind.
//!    `IdmappedMounts::prepare` — in the parent too, on the host side: the idmapped bind mounts,
//!    made detached (idmapped.rs), for the init to attach in step 2.
//! 2. `prepare_rootfs` — rootfsPropagation, bind the rootfs onto itself, every `mounts` entry in
//!    order, default devices and `linux.devices`, /dev symlinks (fd, stdin, stdout, stderr, ptmx).
//! 3. (createRuntime / createContainer hooks run here, by the caller)
//! 4. `pivot_rootfs` — pivot_root (or MS_MOVE + chroot with `no_pivot`).
//! 5. `finish_rootfs` — readonlyPaths, maskedPaths, a read-only /dev (mounted writable in 2 so
//!    its submounts and nodes could be made, as runc does), a shared rootfsPropagation,
//!    `root.readonly`.
//!
//! What the caller must have done: `prepare_rootfs` runs after the init is in its cgroup (a
//! `cgroup` mount without a cgroup namespace binds the init's own cgroup directories) and in
//! its cgroup namespace, and while the host's /proc is still at /proc (it reads the mount
//! table there). `finish_rootfs` insists on a `proc` mount at /proc when it has paths to mask
//! or make read-only: where the mount API is missing they are mounted through /proc/self/fd.
//! `prepare_rootfs` leaves the working directory and umask as it found them; `pivot_rootfs`
//! leaves the working directory at the new "/".

mod attach;
mod cgroup;
mod copyup;
mod devices;
mod finish;
mod idmapped;
mod inherited;
mod mounts;
mod options;
mod paths;
mod pivot;
mod proc_check;
#[cfg(test)]
mod tests;

pub use idmapped::IdmappedMounts;
pub use inherited::{bind_rootfs_in_place, check_rootfs, detach_rootfs};
pub use options::{idmap_supported, supported_mount_options};

use crate::proc_root::ProcRoot;
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// What `prepare_rootfs` needs besides the spec.
#[derive(Debug, Clone)]
pub struct RootfsOptions {
    /// Absolute, canonical host path of the rootfs (`root.path` resolved against the bundle).
    pub rootfs: PathBuf,
    /// Absolute path of the bundle: relative bind sources are resolved against it.
    pub bundle: PathBuf,
    /// The container has its own user namespace: device nodes cannot be mknod'ed and are
    /// bind-mounted from the host instead; some mount flags must be kept (locked) as the host has them.
    pub in_user_ns: bool,
    /// The container has its own cgroup namespace (affects how `cgroup` mounts are made).
    pub in_cgroup_ns: bool,
    /// The container shares the runtime's mount namespace: the parent already bound the
    /// rootfs (`bind_rootfs_in_place`), and nothing of `/` may change (see `inherited`).
    pub inherited_mount_ns: bool,
    /// `mounts[index]` is a bind whose source the parent already cloned, as a detached mount
    /// (fd, open until execve), where the host's permissions apply: it is attached as it is
    /// rather than bound by path (the notify directory in the 0700 state root).
    pub premade: Option<(usize, std::os::fd::RawFd)>,
}

/// The rootfs, `mounts`, `linux.devices` or the masked and read-only paths are invalid or could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A `mounts` entry is invalid (found by `validate_mounts`, before anything exists).
    #[error("mounts[{index}] ({destination}): {reason}")]
    InvalidMount {
        /// Its position in the config's list.
        index: usize,
        /// The entry's destination.
        destination: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// A setting berth does not implement (rejected rather than ignored).
    #[error("{field}: {reason}")]
    Unsupported {
        /// The config field at fault (JSON path).
        field: &'static str,
        /// What is wrong, in words.
        reason: &'static str,
    },
    /// A `linux.devices` entry is invalid.
    #[error("linux.devices[{index}] ({path}): {reason}")]
    InvalidDevice {
        /// Its position in the config's list.
        index: usize,
        /// The path at fault.
        path: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// Refused at mount time for what the rootfs holds (e.g. a symlink at /proc).
    #[error("{field} ({path}): {reason}")]
    Refused {
        /// The config field at fault (JSON path).
        field: String,
        /// The path at fault.
        path: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// `linux.rootfsPropagation` is not one of the propagation types.
    #[error("linux.rootfsPropagation: unknown value {0:?} (expected shared, slave, private, unbindable, or their r-prefixed forms)")]
    InvalidPropagation(String),
    /// A system call failed while setting up `field` (e.g. `mounts[2]`, `linux.devices[0]`,
    /// `linux.maskedPaths[1]`, `root.path`) at `path`.
    #[error("{field} ({path}): {op}: {source}")]
    Op {
        /// The config field at fault (JSON path).
        field: String,
        /// The path at fault.
        path: String,
        /// The system call or step that failed.
        op: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl RootfsError {
    pub(crate) fn op(
        field: impl Into<String>,
        path: impl AsRef<Path>,
        op: &'static str,
        errno: nix::errno::Errno,
    ) -> Self {
        RootfsError::Op {
            field: field.into(),
            path: path.as_ref().display().to_string(),
            op,
            source: errno.into(),
        }
    }

    /// The config field at fault (`mounts[3]`, `linux.devices[0]`), where the error names one.
    pub(crate) fn field(&self) -> Option<String> {
        match self {
            RootfsError::InvalidMount { index, .. } => Some(format!("mounts[{index}]")),
            RootfsError::InvalidDevice { index, .. } => Some(format!("linux.devices[{index}]")),
            RootfsError::Unsupported { field, .. } => Some((*field).to_owned()),
            RootfsError::Refused { field, .. } | RootfsError::Op { field, .. } => {
                Some(field.clone())
            }
            RootfsError::InvalidPropagation(_) => Some("linux.rootfsPropagation".into()),
        }
    }
}

/// Checks, without touching anything, what the rootfs setup will use: no `linux.mountLabel`
/// (unsupported); every `mounts` entry has an absolute destination, a known filesystem type
/// and known options (others go to the filesystem as data, as with mount(8));
/// `linux.rootfsPropagation` is a propagation type; `linux.devices` have absolute paths and
/// node types.
pub fn validate_mounts(spec: &Spec) -> Result<(), RootfsError> {
    let label = spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref());
    if label.is_some_and(|l| !l.is_empty()) {
        return Err(RootfsError::Unsupported {
            field: "linux.mountLabel",
            reason: "SELinux mount labels are not supported",
        });
    }
    options::validate(spec)?;
    devices::validate(spec)
}

/// Sets up the rootfs in the init's (new) mount namespace, before pivot_root: propagation of
/// `/`, the rootfs bind-mounted onto itself, every `mounts` entry in order, then /dev.
/// `idmapped` holds the idmapped mounts the parent made (`IdmappedMounts::prepare`).
pub fn prepare_rootfs(
    spec: &Spec,
    opts: &RootfsOptions,
    idmapped: &IdmappedMounts,
) -> Result<(), RootfsError> {
    // The mount table and cgroups are read through berth's own procfs (proc_root), not
    // whatever /proc this mount namespace has.
    let proc = ProcRoot::new()
        .map_err(|e| mounts::Ctx::new("root.path", "/proc").fail("open a private procfs")(e))?;
    let root = if opts.inherited_mount_ns {
        let ctx = mounts::Ctx::new("root.path", &opts.rootfs);
        paths::open_dir(&opts.rootfs).map_err(ctx.fail("open"))?
    } else {
        let propagation = options::rootfs_propagation(spec)?;
        mounts::prepare_root(&proc, &opts.rootfs, propagation)?
    };
    let entries = spec.mounts().as_deref().unwrap_or_default();
    for (index, mount) in entries.iter().enumerate() {
        mounts::mount_entry(&proc, &root, index, mount, opts, idmapped)?;
    }
    if devices::needs_dev(entries) {
        devices::setup_dev(&root, spec, opts.in_user_ns)?;
    }
    Ok(())
}

/// Makes the prepared rootfs the process's `/`: pivot_root, or with `no_pivot` a move mount
/// and chroot (for ramfs-rooted hosts where pivot_root is impossible).
pub fn pivot_rootfs(rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    if no_pivot {
        pivot::move_root(rootfs)
    } else {
        pivot::pivot_root(rootfs)
    }
}

/// Makes the prepared rootfs the process's `/` in an inherited mount namespace: chroot, as
/// runc does there (pivot_root would move the root of every process sharing the namespace).
pub fn chroot_rootfs(rootfs: &Path) -> Result<(), RootfsError> {
    inherited::chroot_into(rootfs)
}

/// After pivot: `linux.readonlyPaths`, `linux.maskedPaths`, a shared `rootfsPropagation`,
/// and `root.readonly`.
pub fn finish_rootfs(spec: &Spec) -> Result<(), RootfsError> {
    finish::finish(spec)
}
