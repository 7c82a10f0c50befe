//! The container's filesystem view: mounts, /dev, masked and read-only paths, pivot_root.
//!
//! Runs inside the container's init, in its new mount namespace, as root of the container's
//! user namespace. Every destination from the config is resolved inside the rootfs without
//! following a symlink out of it (openat2 RESOLVE_IN_ROOT), and mounted through the resolved
//! fd (/proc/self/fd/N), so a malicious rootfs cannot redirect a mount onto the host.
//!
//! Sequence (called by `process::init`):
//! 1. `validate_mounts` — in the parent, before anything is created: unknown mount types,
//!    bad options, relative destinations are rejected here so bad input leaves nothing behind.
//! 2. `prepare_rootfs` — rootfsPropagation, bind the rootfs onto itself, every `mounts` entry in
//!    order, default devices and `linux.devices`, /dev symlinks (fd, stdin, stdout, stderr, ptmx).
//! 3. (createRuntime / createContainer hooks run here, by the caller)
//! 4. `pivot_rootfs` — pivot_root (or MS_MOVE + chroot with `no_pivot`).
//! 5. `finish_rootfs` — maskedPaths, readonlyPaths, `root.readonly`.

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
}

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("mounts[{index}] ({destination}): {reason}")]
    InvalidMount { index: usize, destination: String, reason: String },
}

pub fn validate_mounts(_spec: &Spec) -> Result<(), RootfsError> {
    todo!("rootfs::validate_mounts")
}

pub fn prepare_rootfs(_spec: &Spec, _opts: &RootfsOptions) -> Result<(), RootfsError> {
    todo!("rootfs::prepare_rootfs")
}

pub fn pivot_rootfs(_rootfs: &Path, _no_pivot: bool) -> Result<(), RootfsError> {
    todo!("rootfs::pivot_rootfs")
}

pub fn finish_rootfs(_spec: &Spec) -> Result<(), RootfsError> {
    todo!("rootfs::finish_rootfs")
}
