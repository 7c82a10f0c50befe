//! libcontainer: an OCI runtime (runtime-spec v1.2) as a library.
//!
//! The module graph flows one way, lower layers first: `sys` (every raw system call) → `spec`
//! → the helpers the setup steps share (`identity`, `pause_point`, `fdpass`, then
//! `proc_root`) → one module per concept (`namespaces`, `idmap`, `activation`, `rootfs`,
//! `cgroups`, `seccomp`, `capabilities`, `rlimits`, `sysctl`, `hooks`, `tty`, `channel`,
//! `attributes`) → `state` → `process` → `container` (and `features`, `notify`) → this
//! crate's root. A lower module never imports a higher one; `tests/layering.rs` holds the same
//! list and fails on an import against it. See docs/process-model.md for which process does
//! what, in which order, over which channel.
#![doc = include_str!("guide.md")]
#![warn(missing_docs)]

mod activation;
mod attributes;
mod capabilities;
mod cgroups;
mod channel;
mod container;
mod fdpass;
mod features;
mod hooks;
mod identity;
mod idmap;
mod namespaces;
mod notify;
mod pause_point;
mod proc_root;
mod process;
mod rlimits;
mod rootfs;
mod seccomp;
pub mod spec;
mod state;
mod sys;
mod sysctl;
mod tty;

pub use activation::listen_fds_from_env;
pub use container::{
    delete_broken, kill_broken, list, parse_kill_signal, parse_signal, Container, ContainerBuilder,
    Created, Error, ExecChild, ExecOptions, ExecProcess, Listed, Overrides, Status, Stdio,
    DEFAULT_ROOT,
};
pub use features::{features_json, OCI_VERSION_MAX, OCI_VERSION_MIN};
pub use namespaces::in_user_namespace;
/// Signals are nix's type, re-exported so that an embedder need not depend on nix (or on the
/// same version of it) to name one: `libcontainer::Signal::SIGTERM`.
pub use nix::sys::signal::Signal;
pub use notify::HostSocket;
pub use process::reserve_preserved_fds;
pub use process::sealed_exe::{check_sealed_exe, ensure_sealed_exe};
pub use process::{Executor, ExecutorContext, ExecutorFn};
pub use state::format_rfc3339;
pub use tty::ConsoleSocket;

/// The error types [`Error`] wraps, one per step of the runtime, for an embedder that matches
/// on the step that failed. Each names the field, path or argument at fault and keeps the
/// underlying error as its `source()` where there is one.
pub mod errors {
    pub use crate::attributes::AttributeError;
    pub use crate::capabilities::CapsError;
    pub use crate::cgroups::CgroupError;
    pub use crate::channel::ChannelError;
    pub use crate::hooks::HookError;
    pub use crate::namespaces::NamespaceError;
    pub use crate::notify::NotifyError;
    pub use crate::process::sealed_exe::SealError;
    pub use crate::process::{ExecutorError, InitExecutableError};
    pub use crate::process::{ListenerFdError, ProcessError, SetupError, StartError, Step};
    pub use crate::rlimits::RlimitError;
    pub use crate::rootfs::RootfsError;
    pub use crate::seccomp::SeccompError;
    pub use crate::spec::SpecError;
    pub use crate::state::StateError;
    pub use crate::sysctl::SysctlError;
    pub use crate::tty::TtyError;
    /// nix's errno type, re-exported because several errors carry the errno a system call
    /// failed with (it is a plain `#[repr(i32)]` enum of the kernel's numbers).
    pub use nix::errno::Errno;
}

/// Usage statistics of a container's cgroup, as [`Container::stats`] returns them (runc's
/// `events --stats` shape).
pub mod stats {
    pub use crate::cgroups::stats::{
        Blkio, BlkioEntry, Cpu, CpuUsage, Hugetlb, Memory, MemoryEntry, Pids, Stats, Throttling,
    };
}

/// Internals the fuzz targets (fuzz/, its own workspace) drive directly: the parsers and
/// checks that take input from outside berth, below the public API's level. Not part of the
/// API: no stability, no docs; everything else of the crate stays private.
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::cgroups::validate as validate_resources;
    /// What the parent decodes from the container's processes (the hostile direction).
    pub use crate::channel::ToParent as Msg;
    pub use crate::channel::Wire;
    pub use crate::namespaces::plan_namespaces;
    pub use crate::rootfs::validate_mounts;
    pub use crate::seccomp::compile as compile_seccomp;
}
