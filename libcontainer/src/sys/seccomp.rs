//! seccomp(2) (Linux 3.17) with SECCOMP_SET_MODE_FILTER: loading a filter, and probing which
//! flags the kernel knows. prctl(PR_SET_SECCOMP) cannot take flags, hence the raw call.

use super::new_fd;
use nix::errno::Errno;
use std::os::fd::OwnedFd;

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, program): loads `program` into the calling thread
/// (and its siblings with TSYNC). With SECCOMP_FILTER_FLAG_NEW_LISTENER the kernel answers with
/// the notify listener, returned here; without it, `None`. NEW_LISTENER with TSYNC needs
/// TSYNC_ESRCH too (else the kernel reports a thread it could not sync as a positive number,
/// which would pass for the fd): EINVAL without it. No fallback: on any error (ENOSYS
/// included) the caller fails, since a container must not run without its filter.
pub fn set_mode_filter(
    flags: libc::c_ulong,
    program: seccompiler::BpfProgramRef<'_>,
) -> nix::Result<Option<OwnedFd>> {
    let listener = flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0;
    let tsync = libc::SECCOMP_FILTER_FLAG_TSYNC | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    if listener && flags & tsync == libc::SECCOMP_FILTER_FLAG_TSYNC {
        return Err(Errno::EINVAL);
    }
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
    if !listener {
        return Ok(None);
    }
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
