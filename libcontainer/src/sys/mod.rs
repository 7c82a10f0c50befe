//! Every raw system call berth makes (the ones libc and nix do not wrap, or wrap in a way berth
//! cannot use), each once, one file per family, each with the reasoning that makes its `unsafe`
//! sound and a typed return (`nix::Result`, `io::Result`, an `OwnedFd` for a new fd).
//!
//! The lowest layer: it uses nothing of the crate's, so any module may call it.
//!
//! ENOSYS (a kernel too old, or a seccomp profile refusing the call the way Docker's does) comes
//! back to the caller as the error, and each wrapper's doc says what its callers do with it.
//! The one fallback kept inside is clone3 → clone ([`clone::clone_into`]): every caller wants
//! the same child either way. The other fallbacks differ per caller (mount(2) instead of the
//! mount API, a memfd copy instead of a read-only view, kill(2) instead of a pidfd), so they
//! stay with the callers.

pub mod bpf;
pub mod clone;
pub mod exec;
pub mod fds;
pub mod keyctl;
pub mod mount;
pub mod pidfd;
pub mod sched;
pub mod seccomp;

use std::os::fd::{FromRawFd, OwnedFd};

/// A new fd returned by a raw syscall, or the errno.
fn new_fd(r: libc::c_long) -> nix::Result<OwnedFd> {
    if r < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: the syscall just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// A syscall's integer result, or the errno.
fn result(r: libc::c_long) -> nix::Result<libc::c_long> {
    if r < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(r)
}
