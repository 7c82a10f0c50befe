//! The public API's error: one variant per step, each wrapping that step's own typed error.

use super::Status;
use std::path::PathBuf;

/// Errors of the public API. Each wraps the failing step's own error, which names the field,
/// path or argument at fault.
///
/// Non-exhaustive: a later version may tell more failures apart (a typed error from the
/// container's setup, say) without breaking a caller's `match`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The container id is not acceptable.
    #[error("container id {id:?}: {reason}")]
    InvalidId {
        /// The container's id.
        id: String,
        /// What is wrong, in words.
        reason: &'static str,
    },
    /// No container of this id exists in the state root.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// Its directory exists but its record cannot be read (missing, empty, torn or corrupt
    /// state.json): only `delete --force` and `kill` act on it, from what is left.
    #[error("container {id} is broken: {reason} (delete --force removes what is left of it)")]
    Broken {
        /// The container's id.
        id: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// `delete --force` of a broken container removed what it could; these are what it could
    /// not.
    #[error("container {id}: could not clean up: {}", failures.join("; "))]
    Cleanup {
        /// The container's id.
        id: String,
        /// Each cleanup step that failed, with its error.
        failures: Vec<String>,
    },
    /// A container of this id exists already.
    #[error("container {0} already exists")]
    AlreadyExists(String),
    /// The operation is not possible in the container's current status.
    #[error("container {id} is {status}: {reason}")]
    WrongStatus {
        /// The container's id.
        id: String,
        /// Its status.
        status: Status,
        /// What is wrong, in words.
        reason: &'static str,
    },
    /// The bundle directory cannot be used.
    #[error("bundle {path}: {reason}")]
    Bundle {
        /// The path at fault.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// A config field (or a library option) is invalid or not supported.
    #[error("{field}: {reason}")]
    Config {
        /// The config field at fault (JSON path).
        field: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
    /// A signal name or number that is not a signal.
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    /// config.json could not be read or parsed.
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// The state root or the container's record failed.
    #[error(transparent)]
    State(crate::state::StateError),
    /// Namespaces: see [`errors::NamespaceError`](crate::errors::NamespaceError).
    #[error(transparent)]
    Namespace(#[from] crate::namespaces::NamespaceError),
    /// Rootfs and mounts: see [`errors::RootfsError`](crate::errors::RootfsError).
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    /// Cgroups: see [`errors::CgroupError`](crate::errors::CgroupError).
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    /// Capabilities: see [`errors::CapsError`](crate::errors::CapsError).
    #[error(transparent)]
    Capabilities(#[from] crate::capabilities::CapsError),
    /// Resource limits: see [`errors::RlimitError`](crate::errors::RlimitError).
    #[error(transparent)]
    Rlimit(#[from] crate::rlimits::RlimitError),
    /// Sysctls: see [`errors::SysctlError`](crate::errors::SysctlError).
    #[error(transparent)]
    Sysctl(#[from] crate::sysctl::SysctlError),
    /// Process attributes: see [`errors::AttributeError`](crate::errors::AttributeError).
    #[error(transparent)]
    Attribute(#[from] crate::attributes::AttributeError),
    /// Seccomp: see [`errors::SeccompError`](crate::errors::SeccompError).
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    /// Hooks: see [`errors::HookError`](crate::errors::HookError).
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    /// The container's processes: see [`errors::ProcessError`](crate::errors::ProcessError).
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    /// The terminal: see [`errors::TtyError`](crate::errors::TtyError).
    #[error(transparent)]
    Tty(#[from] crate::tty::TtyError),
    /// The sd_notify relay: see [`errors::NotifyError`](crate::errors::NotifyError).
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
    /// The caller did not run [`crate::ensure_sealed_exe`] first (CVE-2019-5736).
    #[error(transparent)]
    Exe(#[from] crate::process::sealed_exe::SealError),
    /// The executor: see [`errors::ExecutorError`](crate::errors::ExecutorError).
    #[error(transparent)]
    Executor(#[from] crate::process::ExecutorError),
    /// `start` failed: the init reported a setup error after `start`
    /// ([`StartError::Setup`](crate::errors::StartError::Setup)), exited without answering,
    /// or the start connection failed. `source()` is the
    /// [`errors::StartError`](crate::errors::StartError).
    #[error("start: {0}")]
    Start(#[source] crate::process::StartError),
    /// A rootless container made where its user may create no cgroup
    /// (`ContainerBuilder::rootless`).
    #[error(
        "container {id} has no cgroup (rootless, and this user may create none: cgroup v1, or \
         v2 without a delegated subtree): {what} needs one"
    )]
    NoCgroup {
        /// The container.
        id: String,
        /// The command or step that needs a cgroup.
        what: &'static str,
    },
    /// A system call of the runtime itself failed.
    #[error("{what}: {reason}")]
    Io {
        /// What was being done, to what.
        what: String,
        /// What is wrong, in words.
        reason: String,
    },
}

impl From<crate::state::StateError> for Error {
    fn from(e: crate::state::StateError) -> Self {
        use crate::state::StateError as S;
        match e {
            S::NotFound(id) => Error::NotFound(id),
            S::AlreadyExists(id) => Error::AlreadyExists(id),
            other => Error::State(other),
        }
    }
}
