//! `linux.seccomp`: compiled to BPF with seccompiler in the parent (before any process is
//! created, so a bad profile leaves nothing behind), installed by the init as its last step
//! before execve.

use oci_spec::runtime::LinuxSeccomp;
use std::os::fd::OwnedFd;
use std::path::Path;

/// A filter ready to load: BPF for every architecture the profile names, plus the flags.
#[derive(Debug, Clone)]
pub struct SeccompProgram {}

impl SeccompProgram {
    /// The profile uses SCMP_ACT_NOTIFY: `install` returns a listener fd.
    pub fn wants_listener(&self) -> bool {
        todo!()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("linux.seccomp.syscalls[{index}]: {reason}")]
    InvalidRule { index: usize, reason: String },
}

/// Compiles the profile. Unknown syscall names are skipped (as runc does); an unknown action,
/// op or architecture is an error naming the entry.
pub fn compile(_seccomp: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    todo!("seccomp::compile")
}

/// Loads the filter into the calling thread (TSYNC not needed: the init is single-threaded).
/// Returns the notify listener fd when the profile uses SCMP_ACT_NOTIFY.
pub fn install(_program: &SeccompProgram) -> Result<Option<OwnedFd>, SeccompError> {
    todo!("seccomp::install")
}

/// Sends the listener fd and the container state (with `listenerMetadata`) to the agent at
/// `listener_path`, as runtime-spec's "seccomp state" says.
pub fn send_listener(
    _listener_path: &Path,
    _listener: OwnedFd,
    _state_json: &[u8],
) -> Result<(), SeccompError> {
    todo!("seccomp::send_listener")
}
