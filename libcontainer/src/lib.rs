//! libcontainer: an OCI runtime (runtime-spec v1.2) as a library.
//!
//! The module graph flows one way, lower layers first:
//! `spec` → (`namespaces`, `rootfs`, `cgroups`, `seccomp`, `capabilities`, `rlimits`, `identity`,
//! `sysctl`, `hooks`, `tty`, `channel`) → `state` → `process` → `container` → this crate's root.
//! A lower module never imports a higher one. See docs/process-model.md for which process does
//! what, in which order, over which channel.

pub mod activation;
pub mod attributes;
pub mod capabilities;
pub mod cgroups;
pub mod channel;
pub mod container;
pub mod features;
pub mod hooks;
pub mod identity;
pub mod mount_api;
pub mod namespaces;
pub mod notify;
pub mod pause_point;
pub mod proc_root;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod sysctl;
pub mod tty;

pub use container::{
    delete_broken, kill_broken, list, parse_kill_signal, parse_signal, Container, ContainerBuilder,
    Created, Error, ExecChild, ExecOptions, Listed, Signal, Status,
};
pub use process::sealed_exe::{check_sealed_exe, ensure_sealed_exe, SealError};

/// The state root used when none is given, as runc uses /run/runc.
pub const DEFAULT_ROOT: &str = "/run/berth";
