//! `linux.seccomp`: compiled to BPF with seccompiler in the parent (before any process is
//! created, so a bad profile leaves nothing behind), installed by the init as its last step
//! before execve.

mod compile;
mod ext;
mod listener;
mod syscall_table;
#[cfg(test)]
mod tests;

pub use listener::send_listener;

use oci_spec::runtime::LinuxSeccomp;
use seccompiler::sock_filter;
use std::os::fd::{FromRawFd, OwnedFd};

/// A filter ready to load: BPF for every architecture the profile names, plus the flags.
#[derive(Debug, Clone)]
pub struct SeccompProgram {
    bpf: Vec<sock_filter>,
    flags: libc::c_ulong,
    listener: bool,
    skipped: Vec<String>,
}

impl SeccompProgram {
    /// The profile uses SCMP_ACT_NOTIFY: `install` returns a listener fd.
    pub fn wants_listener(&self) -> bool {
        self.listener
    }

    /// Syscall names of the profile that no filtered architecture knows; they were left out
    /// (as runc does) and the caller may debug-log them.
    pub fn skipped_syscalls(&self) -> &[String] {
        &self.skipped
    }

    /// Number of BPF instructions (the kernel accepts at most 4096).
    pub fn len(&self) -> usize {
        self.bpf.len()
    }

    /// Never true for a compiled profile; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.bpf.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("linux.seccomp.syscalls[{index}]: {reason}")]
    InvalidRule { index: usize, reason: String },
    #[error("linux.seccomp.{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error(
        "linux.seccomp.architectures: berth cannot filter {arch} \
         (supported: SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32)"
    )]
    UnsupportedArch { arch: String },
    #[error(
        "linux.seccomp: the profile compiles to {len} BPF instructions, the kernel allows 4096"
    )]
    TooLarge { len: usize },
    #[error("linux.seccomp: seccomp(SECCOMP_SET_MODE_FILTER, flags {flags:#x}) failed: {source}")]
    Install {
        flags: libc::c_ulong,
        source: std::io::Error,
    },
    #[error("linux.seccomp.listenerPath {path}: {op}: {source}")]
    Listener {
        path: std::path::PathBuf,
        op: &'static str,
        source: nix::Error,
    },
}

/// Compiles the profile. Unknown syscall names are skipped (as runc does); an unknown action,
/// op or architecture is an error naming the entry.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    compile::compile(seccomp)
}

/// Loads the filter into the calling thread (TSYNC not needed: the init is single-threaded).
/// Returns the notify listener fd when the profile uses SCMP_ACT_NOTIFY.
///
/// Does not set no_new_privs (seccompiler's `apply_filter` would): the caller does that per
/// `process.noNewPrivileges`, and without it the init still holds CAP_SYS_ADMIN.
pub fn install(program: &SeccompProgram) -> Result<Option<OwnedFd>, SeccompError> {
    let mut flags = program.flags;
    if program.listener {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            // TSYNC reports a failing thread through the return value, which NEW_LISTENER
            // needs for the fd; TSYNC_ESRCH makes TSYNC report through errno instead.
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    let prog = libc::sock_fprog {
        len: program.bpf.len() as libc::c_ushort,
        // seccompiler's sock_filter is repr(C) with the kernel's layout, as is libc's.
        filter: program.bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel copies the program during the call; `prog` and `bpf` outlive it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        let source = std::io::Error::last_os_error();
        return Err(SeccompError::Install { flags, source });
    }
    if !program.listener {
        return Ok(None);
    }
    // SAFETY: with NEW_LISTENER the kernel returns a new fd that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as i32) }))
}
