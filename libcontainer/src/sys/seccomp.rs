//! seccomp(2) (Linux 3.17) with SECCOMP_SET_MODE_FILTER: loading a filter, and probing which
//! flags the kernel knows. prctl(PR_SET_SECCOMP) cannot take flags, hence the raw call.

use super::new_fd;
use nix::errno::Errno;
use std::os::fd::OwnedFd;

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, program): loads `program` into the calling thread
/// (and its siblings with TSYNC). With SECCOMP_FILTER_FLAG_NEW_LISTENER the kernel answers with
/// the notify listener, returned here; without it, `None`. No fallback: on any error (ENOSYS
/// included) the caller fails, since a container must not run without its filter.
pub fn set_mode_filter(
    flags: libc::c_ulong,
    program: seccompiler::BpfProgramRef<'_>,
) -> nix::Result<Option<OwnedFd>> {
    let prog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: seccompiler's sock_filter is repr(C) with the kernel's layout, as libc's is, and
    // `prog` points to `len` of them; the kernel copies the program during the call (it never
    // writes through the pointer) and both outlive it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    // The kernel refuses NEW_LISTENER with TSYNC unless TSYNC_ESRCH is set too (EINVAL), so a
    // non-negative answer is the listener, never the id of a thread TSYNC could not sync.
    new_fd(rc).map(Some)
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL), which always fails: the kernel checks the
/// flags before it reads the program, so EFAULT means it knows `flags` and EINVAL that it does
/// not (or not in this combination); nothing is ever installed. ENOSYS (no seccomp(2) at all)
/// the callers count as "not known", as libseccomp does.
pub fn probe_flags(flags: libc::c_ulong) -> nix::Result<()> {
    // SAFETY: a NULL program makes the call fail before it changes anything; no memory of ours
    // is read or written.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    super::result(rc).map(drop)
}
